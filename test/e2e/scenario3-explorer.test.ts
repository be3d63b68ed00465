/*
 * End-to-end scenario 3 (issue 5): the remote container explorer, against a real test host.
 *
 * One host is booted (test/hosts/testHosts.ts) and given containers, a CRI pod and images
 * (test/e2e/exthost/explorerFixture.ts). Then:
 *
 *   UI (code-server + chromium, the packaged .vsix, checked on the screen): the workspace settings
 *   name the host (containerd.hosts; key and known_hosts as machine settings); the Hosts view lists
 *   it; expanding it shows its namespaces (k8s.io, default), the CRI pod with its container, the
 *   plain containers and the images; "Show Logs" on the CRI container opens the log viewer
 *   (webview), which shows the container's output; the context menu of a created container offers
 *   Start and Remove… but not Stop, Open Shell or Show Logs; Remove… asks first (Cancel keeps it,
 *   Remove deletes it on the host and from the tree); Run Pod from Config Files… on the host takes
 *   the CRI pod and container JSON configs from the workspace through two Quick Picks and the pod
 *   runs on the host; Stop Pod… and Remove Pod… ask first and act on the host and the tree;
 *   Remove Image… and Prune Unused Images… ask first and act on the host.
 *
 *   Extension host (mocha, test/e2e/exthost/explorerSuite.ts, bundled here): the tree read through
 *   the extension's TreeDataProvider equals what `ctr` over ssh lists; events refresh it, a hidden
 *   view or a collapsed host watches nothing; the commands act on the host; a host that is down
 *   shows an error with Retry and does not hold up the others.
 *
 *   node scripts/build.mjs && HOSTS_BASE=... E2E_HOME=... node --test out/test/e2e/scenario3-explorer.test.js
 *
 * Skipped when the e2e prerequisites or the test hosts are missing; a failure with CI=true.
 * Screenshots: test-results/e2e/s3-*.png; with E2E_UPDATE_DOCS_IMAGES=1 and the UI part passing,
 * s3-03-logs.png (the tree beside the log viewer) is copied to docs/images/explorer.png. E2E_VSIX=/path/x.vsix uses that .vsix
 * instead of running `npm run package`; E2E_EXTENSION_PATH (a folder with package.json and dist/)
 * replaces the repo root as the extension of the extension-host part.
 */
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  closeBrowser,
  REPO_ROOT,
  RESULTS_DIR,
  buildExthostSuite,
  e2eGate,
  launchBrowser,
  mochaLines,
  openWorkbench,
  packageExtension,
  runCommand,
  runExtensionTests,
  screenshot,
  startCodeServer,
  type Browser,
  type CodeServer,
} from './codeserver';
import { bootHosts, ensureHostsPrereqs, hostsSkipReason, stopHosts, HOSTS_KNOWN_HOSTS, type TestHost } from '../hosts/testHosts';
import { createSshPool } from '../../client/src/core/ssh';
import { connectRuntime } from '../../client/src/core/runtime';
import { CRI_CONTAINER, LOG_MARK, PLAIN_CREATED, PLAIN_RUNNING, POD_NAME, REGISTRY_IMAGE, ctrInventory, hostSettings, prepareHost, prepareRegistry, runCriPod } from './exthost/explorerFixture';
import type { Locator, Page } from 'playwright-core';

const FIXTURE = path.join(REPO_ROOT, 'test', 'e2e', 'workspace');
const EXTENSION = process.env.E2E_EXTENSION_PATH ?? REPO_ROOT;
const DOCS_IMAGE = { from: 's3-03-logs.png', to: 'explorer.png' };
/** What a user keeps next to their manifests for `crictl runp` / `create` (host network: no CNI on test hosts). */
const UI_POD = {
  metadata: { name: 'ui-pod', namespace: 'ui-test', uid: 'ui-pod-uid-1', attempt: 0 },
  log_directory: '/var/log/pods/ui-test_ui-pod_ui-pod-uid-1',
  linux: { security_context: { namespace_options: { network: 2 } } },
};
const UI_CONTAINER = {
  metadata: { name: 'ui-web', attempt: 0 },
  image: { image: 'docker.io/library/busybox:latest' },
  command: ['sh', '-c', "trap 'exit 0' TERM; echo ui-web-started; while true; do sleep 2 & wait $!; done"],
  log_path: 'ui-web/0.log',
};

const gate = e2eGate('e2e scenario 3 (container explorer)');
const hostsSkip = hostsSkipReason();
const skip = gate.skip || hostsSkip;
if (hostsSkip && !gate.skip) console.log(`# skipping e2e scenario 3: ${hostsSkip}`);

const noPrompts = {
  confirmHostKey: async () => false,
  passphrase: async () => undefined,
  password: async () => undefined,
  sudoPassword: async () => undefined,
  forget: async () => undefined,
};

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * containerd.ssh.* are machine-scoped: a remote window (code-server's workbench is one) reads them
 * from the remote machine's settings. An empty ssh config keeps the fake home's ~/.ssh/config out.
 */
function writeMachineSettings(server: CodeServer, extra: Record<string, unknown> = {}): void {
  const emptySshConfig = path.join(server.runDir, 'ssh_config');
  fs.writeFileSync(emptySshConfig, '');
  const machine = { 'containerd.ssh.knownHostsFile': HOSTS_KNOWN_HOSTS, 'containerd.ssh.configFile': emptySshConfig, ...extra };
  fs.mkdirSync(path.join(server.userDataDir, 'Machine'), { recursive: true });
  fs.writeFileSync(path.join(server.userDataDir, 'Machine', 'settings.json'), JSON.stringify(machine, null, 2));
  const userFile = path.join(server.userDataDir, 'User', 'settings.json');
  fs.writeFileSync(userFile, JSON.stringify({ ...JSON.parse(fs.readFileSync(userFile, 'utf8')), ...machine }, null, 2));
}

function bundleSuite(): Promise<string> {
  return buildExthostSuite('test/e2e/exthost/explorerSuite.ts', 'exthost-explorer');
}

describe('e2e scenario 3: the container explorer on a test host', { skip }, () => {
  let host: TestHost;
  const timings: Record<string, number> = {};

  before(async () => {
    if (gate.unavailable) throw new Error(`${gate.unavailable}\n(CI=true, so this is a failure, not a skip)`);
    const missing = ensureHostsPrereqs();
    if (missing.length) throw new Error(`test hosts unavailable (CI=true, so this is a failure): ${missing.join(', ')}`);
    fs.mkdirSync(RESULTS_DIR, { recursive: true });
    for (const f of fs.readdirSync(RESULTS_DIR)) if (/^(s3-|explorer-exthost).*\.(png|json|txt|log)$/.test(f)) fs.rmSync(path.join(RESULTS_DIR, f));
    let t0 = Date.now();
    [host] = await bootHosts(1);
    timings.bootHost = Date.now() - t0;
    t0 = Date.now();
    await prepareHost(host);
    await prepareRegistry(host); // an image the extension-host suite pulls through CRI
    const pool = createSshPool({ credentials: noPrompts, knownHostsPath: HOSTS_KNOWN_HOSTS });
    try {
      const rt = await connectRuntime(await pool.get({ name: host.name, host: host.address, port: host.port, user: 'root', identityFile: host.rootKey }));
      try {
        await runCriPod(rt);
      } finally {
        rt.close();
      }
    } finally {
      pool.closeAll();
    }
    timings.fixture = Date.now() - t0;
    fs.writeFileSync(path.join(RESULTS_DIR, 's3-host-inventory.json'), JSON.stringify(await ctrInventory(host), null, 1));
  }, { timeout: 25 * 60_000 });

  after(async () => {
    console.log(`# timings (ms): ${JSON.stringify(timings)}`);
    await stopHosts();
  }, { timeout: 2 * 60_000 });

  // ------------------------------------------------------------------------------------------
  // On the screen
  // ------------------------------------------------------------------------------------------

  describe('s3 UI: Hosts view → namespaces → pods, containers, images; logs in the log viewer', () => {
    let server: CodeServer | undefined;
    let browser: Browser | undefined;
    let page: Page;
    const failed: string[] = [];
    const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
      const t0 = Date.now();
      try {
        return await fn();
      } catch (e) {
        failed.push(name);
        if (page) await screenshot(page, `s3-failure-${name}`);
        throw e;
      } finally {
        timings[name] = Date.now() - t0;
      }
    };
    const hostName = () => `explorer-${host.name}`;
    const pane = () => page.locator('[id="workbench.view.extension.containerd"]');
    /** The tree row whose label is exactly `label` (or matches it) in the Hosts view. */
    const treeRow = (label: string | RegExp): Locator =>
      pane()
        .locator('.monaco-list-row')
        .filter({ has: page.locator('.label-name', { hasText: typeof label === 'string' ? new RegExp(`^${escapeRe(label)}$`) : label }) })
        .first();

    async function expand(row: Locator): Promise<void> {
      await row.waitFor({ timeout: 60_000 });
      const expanded = async () => (await row.getAttribute('aria-expanded')) === 'true';
      // A click can be lost when an event-driven refresh re-renders the row under the pointer:
      // click again when, 5 s later, the row is neither expanded nor loading its children.
      const twistie = row.locator('.monaco-tl-twistie');
      const deadline = Date.now() + 60_000;
      let clickedAt = 0;
      while (!(await expanded())) {
        if (Date.now() > deadline) throw new Error(`tree row ${await row.innerText()} did not expand`);
        const loading = /loading/.test((await twistie.getAttribute('class').catch(() => null)) ?? '');
        if (!loading && Date.now() - clickedAt > 5_000) {
          await twistie.click();
          clickedAt = Date.now();
        }
        await page.waitForTimeout(100);
      }
    }

    const dialog = () => page.locator('.monaco-dialog-box').filter({ visible: true }).first();
    const quickInput = () => page.locator('.quick-input-widget').filter({ visible: true }).first();

    /**
     * Right-click `row` and click the menu item `label`; returns the menu's labels. A click that lands
     * while the menu is still animating in can be dropped by the workbench: if `shows` does not show
     * up and the menu is gone or still there, the item is clicked again (at most 3 times).
     */
    async function fromMenu(row: Locator, label: string, shows: () => Locator): Promise<string[]> {
      await row.click({ button: 'right' });
      const item = page.locator('.context-view .monaco-menu .action-item', { hasText: new RegExp(`^\\s*${escapeRe(label)}\\s*$`) }).first();
      await item.waitFor({ timeout: 15_000 });
      const labels = (await page.locator('.context-view .monaco-menu .action-item').allInnerTexts()).map((t) => t.trim()).filter(Boolean);
      for (let attempt = 1; ; attempt++) {
        await item.click();
        if (await shows().waitFor({ timeout: 5_000 }).then(() => true, () => false)) return labels;
        if (attempt >= 3) throw new Error(`nothing came after ${attempt} clicks on ${label}`);
        if (!(await item.isVisible())) {
          await row.click({ button: 'right' });
          await item.waitFor({ timeout: 15_000 });
        }
      }
    }

    /** Poll `f` (every 300 ms) until it holds; fails naming `what` after `ms`. */
    async function until(what: string, f: () => Promise<boolean>, ms = 60_000): Promise<void> {
      const deadline = Date.now() + ms;
      while (!(await f())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await page.waitForTimeout(300);
      }
    }

    /** Click `button` of the visible modal dialog and wait for it to close. */
    async function answer(button: string): Promise<void> {
      await dialog().locator('.dialog-buttons .monaco-button', { hasText: new RegExp(`^\\s*${escapeRe(button)}\\s*$`) }).first().click();
      await page.locator('.monaco-dialog-box').filter({ visible: true }).first().waitFor({ state: 'hidden', timeout: 10_000 }).catch(() => undefined);
    }

    /** The text of the rows the view renders, top to bottom. */
    async function rows(): Promise<string[]> {
      // (runs in the page; `any` because this file is compiled without DOM typings)
      return pane().locator('.monaco-list-row').evaluateAll((els: any[]) =>
        els
          .map((e: any) => ({ top: parseFloat(e.style.top) || 0, text: String(e.innerText || '').replace(/\s+/g, ' ').trim() }))
          .sort((a, b) => a.top - b.top)
          .map((r) => r.text),
      );
    }

    before(async () => {
      const pkg = packageExtension({ logName: 'scenario3-npm-run-package.log' });
      console.log(`# packaged ${path.relative(REPO_ROOT, pkg.vsix)} in ${pkg.ms} ms`);
      timings.package = pkg.ms;
      const t0 = Date.now();
      server = await startCodeServer({ workspace: FIXTURE, vsix: [pkg.vsix], label: 'scenario3', settings: { 'workbench.editor.enablePreview': false } });
      writeMachineSettings(server);
      // the host as a workspace setting (what a team would commit); key and known_hosts are machine settings
      const { 'containerd.hosts': hosts } = hostSettings(host, HOSTS_KNOWN_HOSTS);
      fs.mkdirSync(path.join(server.workspaceDir, '.vscode'), { recursive: true });
      const wsFile = path.join(server.workspaceDir, '.vscode', 'settings.json');
      const ws = fs.existsSync(wsFile) ? (JSON.parse(fs.readFileSync(wsFile, 'utf8')) as Record<string, unknown>) : {};
      fs.writeFileSync(wsFile, JSON.stringify({ ...ws, 'containerd.hosts': hosts }, null, 2));
      browser = await launchBrowser({ viewport: { width: 1440, height: 900 } });
      page = browser.page;
      await openWorkbench(page, server);
      timings.startup = Date.now() - t0;
    }, { timeout: 10 * 60_000 });

    after(async () => {
      await closeBrowser(browser, 's3');
      if (server) await server.stop();
      if (process.env.E2E_UPDATE_DOCS_IMAGES === '1') {
        if (failed.length || !fs.existsSync(path.join(RESULTS_DIR, DOCS_IMAGE.from))) {
          console.log(`# not updating docs/images: failed=${JSON.stringify(failed)}`);
        } else {
          fs.copyFileSync(path.join(RESULTS_DIR, DOCS_IMAGE.from), path.join(REPO_ROOT, 'docs', 'images', DOCS_IMAGE.to));
          console.log(`# docs/images/${DOCS_IMAGE.to} <- test-results/e2e/${DOCS_IMAGE.from}`);
        }
      }
    }, { timeout: 60_000 });

    test('s3: the Hosts view lists the host; expanding it shows namespaces, the pod, containers and images', { timeout: 5 * 60_000 }, () => timed('tree', async () => {
      assert.ok(server && browser, 'set-up did not complete');
      const icon = page.locator('.activitybar .action-item a[aria-label^="containerd"]').first();
      try {
        await icon.waitFor({ timeout: 30_000 });
        if (!(await pane().isVisible())) await icon.click();
        await pane().waitFor({ state: 'visible', timeout: 10_000 });
      } catch {
        await runCommand(page, 'containerd: Focus on Hosts View');
      }
      // a wider side bar, so that descriptions are readable in the screenshot
      const side = await page.locator('.part.sidebar').first().boundingBox().catch(() => null);
      if (side && side.width < 560) {
        await page.mouse.move(side.x + side.width + 1, side.y + side.height / 2);
        await page.mouse.down();
        await page.mouse.move(side.x + 600, side.y + side.height / 2, { steps: 5 });
        await page.mouse.up();
        await page.waitForTimeout(300);
      }
      const hostRow = treeRow(hostName());
      await hostRow.waitFor({ timeout: 60_000 });
      await expand(hostRow);
      // the Service item: version, CRI and its conditions, the access path
      await expand(treeRow(/^Service: /));
      await treeRow('RuntimeReady').waitFor({ timeout: 60_000 });
      await treeRow(/^containerd \d+\.\d+\.\d+/).waitFor({ timeout: 10_000 });
      // k8s.io comes expanded (the CRI namespace), default collapsed
      const k8s = treeRow('k8s.io');
      await k8s.waitFor({ timeout: 90_000 });
      assert.match((await k8s.innerText()).replace(/\s+/g, ' '), /1 pod · 1 container/);
      await expand(k8s);
      const pod = treeRow(POD_NAME);
      await expand(pod);
      const talker = treeRow(CRI_CONTAINER);
      await talker.waitFor({ timeout: 30_000 });
      assert.match((await talker.innerText()).replace(/\s+/g, ' '), /running · busybox:latest/);
      const def = treeRow('default');
      await expand(def);
      await treeRow(PLAIN_RUNNING).waitFor({ timeout: 30_000 });
      await treeRow(PLAIN_CREATED).waitFor({ timeout: 30_000 });
      // the Images folders (one per namespace): open the one of default
      const images = pane().locator('.monaco-list-row').filter({ has: page.locator('.label-name', { hasText: /^Images$/ }) });
      assert.equal(await images.count(), 2, 'one Images folder per namespace');
      await expand(images.last());
      await pane().locator('.monaco-list-row').filter({ has: page.locator('.label-name', { hasText: /^busybox:latest$/ }) }).first().waitFor({ timeout: 30_000 });
      const shown = await rows();
      fs.writeFileSync(path.join(RESULTS_DIR, 's3-tree-rows.json'), JSON.stringify(shown, null, 1));
      for (const want of [hostName(), 'RuntimeReady', 'k8s.io', POD_NAME, CRI_CONTAINER, 'default', PLAIN_RUNNING, PLAIN_CREATED, 'busybox:latest']) {
        assert.ok(shown.some((r) => r.startsWith(want)), `no row ${want} in ${JSON.stringify(shown)}`);
      }
      assert.ok(shown.some((r) => /^created-b\s*created ·/.test(r)), `created-b is not shown as created: ${JSON.stringify(shown)}`);
      assert.ok(shown.some((r) => /^talker\s*running ·/.test(r)), `talker is not shown as running: ${JSON.stringify(shown)}`);
      await treeRow(CRI_CONTAINER).hover(); // shows its inline actions (logs, shell)
      await page.waitForTimeout(400);
      await screenshot(page, 's3-01-tree');
    }));

    test('s3: Show Logs on the CRI container opens the log viewer with its output', { timeout: 3 * 60_000 }, () => timed('logs', async () => {
      const talker = treeRow(CRI_CONTAINER);
      await talker.click({ button: 'right' });
      const item = page.locator('.context-view .monaco-menu .action-item', { hasText: /^\s*Show Logs\s*$/ }).first();
      await item.waitFor({ timeout: 15_000 });
      await screenshot(page, 's3-02-context-menu');
      await item.click();
      // the log viewer is a webview: its document lives in nested iframes
      const deadline = Date.now() + 60_000;
      let found = '';
      while (!found) {
        for (const frame of page.frames()) {
          const text = await frame.evaluate('document.body ? document.body.innerText : ""').then(String, () => '');
          if (text.includes(LOG_MARK)) {
            found = text;
            break;
          }
        }
        if (found) break;
        if (Date.now() > deadline) throw new Error(`no webview shows ${LOG_MARK} within 60 s`);
        await page.waitForTimeout(500);
      }
      assert.match(found, /tick \d+/, 'the log viewer shows the ticks after the first line');
      await page.mouse.move(700, 880); // no tooltip in the screenshot
      await page.waitForTimeout(800);
      await screenshot(page, 's3-03-logs');
    }));

    test('s3: Remove… asks first: Cancel keeps the container, Remove deletes it on the host', { timeout: 3 * 60_000 }, () => timed('remove', async () => {
      const remove = async (button: string) => {
        const labels = await fromMenu(treeRow(PLAIN_CREATED), 'Remove…', dialog);
        // only what fits a created container: no Stop, no Open Shell, no Show Logs (not a CRI container)
        fs.writeFileSync(path.join(RESULTS_DIR, 's3-created-menu.json'), JSON.stringify(labels, null, 1));
        for (const no of ['Stop', 'Open Shell', 'Show Logs']) assert.ok(!labels.includes(no), `${no} offered on a created plain container: ${JSON.stringify(labels)}`);
        assert.ok(labels.includes('Start'), `no Start on a created container: ${JSON.stringify(labels)}`);
        assert.match(await dialog().innerText(), new RegExp(`Remove container ${PLAIN_CREATED} on ${escapeRe(hostName())}\\?`));
        if (button === 'Remove') await screenshot(page, 's3-04-remove-confirm');
        await answer(button);
      };
      const listed = async () => (await host.ssh(['ctr', '-n', 'default', 'containers', 'ls', '-q'])).stdout.split('\n').map((l) => l.trim());
      await remove('Cancel');
      await page.waitForTimeout(1000);
      assert.ok((await listed()).includes(PLAIN_CREATED), 'Cancel removed the container');
      await treeRow(PLAIN_CREATED).waitFor({ timeout: 5_000 });
      await remove('Remove');
      const deadline = Date.now() + 30_000;
      while ((await listed()).includes(PLAIN_CREATED)) {
        if (Date.now() > deadline) throw new Error(`${PLAIN_CREATED} is still on the host after Remove`);
        await page.waitForTimeout(250);
      }
      await treeRow(PLAIN_CREATED).waitFor({ state: 'detached', timeout: 30_000 });
    }));

    test('s3: Run Pod from Config Files… runs the workspace\'s CRI configs; Stop Pod… and Remove Pod… ask first', { timeout: 4 * 60_000 }, () => timed('pod', async () => {
      // crictl-style JSON configs in the workspace (written now: the fixture folder is shared by every scenario)
      const dir = path.join(server!.workspaceDir, 'cri');
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'ui-pod-config.json'), JSON.stringify(UI_POD, null, 2));
      fs.writeFileSync(path.join(dir, 'ui-container-config.json'), JSON.stringify(UI_CONTAINER, null, 2));
      const k8s = async (argv: string[]) => (await host.ssh(['ctr', '-n', 'k8s.io', ...argv])).stdout;
      const containerIds = async () => (await k8s(['containers', 'ls', '-q'])).split('\n').map((l) => l.trim()).filter(Boolean);
      const before = new Set(await containerIds());
      /** The new CRI container whose OCI spec runs UI_CONTAINER's command (CRI adds no name label of its own). */
      const uiContainerId = async () => {
        for (const id of (await containerIds()).filter((x) => !before.has(x))) if ((await k8s(['containers', 'info', id])).includes('ui-web-started')) return id;
        return '';
      };
      const running = async (id: string) => (await k8s(['tasks', 'ls'])).split('\n').some((l) => l.startsWith(`${id} `) && /\bRUNNING\b/.test(l));

      // host → Run Pod from Config Files… → the pod config → the container config (a multi-select)
      await fromMenu(treeRow(hostName()), 'Run Pod from Config Files…', quickInput);
      const rowsOf = () => quickInput().locator('.monaco-list-row');
      await page.keyboard.type('ui-pod-config');
      await rowsOf().filter({ hasText: 'cri/ui-pod-config.json' }).first().waitFor({ timeout: 15_000 });
      await page.keyboard.press('Enter');
      const placeholder = async () => (await quickInput().locator('.quick-input-box input').first().getAttribute('placeholder', { timeout: 1_000 }).catch(() => null)) ?? '';
      await until('the container config pick', async () => /^Container configs/.test(await placeholder()), 15_000);
      await page.keyboard.type('ui-container');
      const cRow = rowsOf().filter({ hasText: 'cri/ui-container-config.json' }).first();
      await cRow.waitFor({ timeout: 15_000 });
      await screenshot(page, 's3-05-run-pod-pick');
      // check it: its checkbox when the row has one, else the row (both toggle in a multi-select pick)
      const box = cRow.locator('.quick-input-list-checkbox, input[type="checkbox"]').first();
      if (await box.isVisible().catch(() => false)) await box.click();
      else await cRow.click();
      await until('the container config to be checked', async () => (await cRow.getAttribute('aria-checked')) === 'true', 5_000);
      await page.keyboard.press('Enter');
      // a host with more than one runtime handler asks which: take the default (first)
      let handlerPick = false;
      for (const end = Date.now() + 3_000; Date.now() < end && !handlerPick; await page.waitForTimeout(200)) handlerPick = /^Runtime handler/.test(await placeholder());
      if (handlerPick) await page.keyboard.press('Enter');

      // on the host: the pod's container runs; in the tree: the pod and its container
      await until('the UI pod\'s container running on the host', async () => {
        const id = await uiContainerId();
        return !!id && (await running(id));
      }, 90_000);
      const podRow = treeRow(UI_POD.metadata.name);
      await podRow.waitFor({ timeout: 30_000 });
      await expand(podRow);
      await treeRow(UI_CONTAINER.metadata.name).waitFor({ timeout: 30_000 });
      assert.match((await treeRow(UI_CONTAINER.metadata.name).innerText()).replace(/\s+/g, ' '), /running · busybox:latest/);
      const podText = (await podRow.innerText()).replace(/\s+/g, ' ');
      assert.match(podText, /ready · ui-test · .* · 1 container/);
      assert.doesNotMatch(podText, /not ready/);
      const cid = await uiContainerId();
      const sandboxId = (await containerIds()).find((x) => !before.has(x) && x !== cid);
      assert.ok(sandboxId, 'a new sandbox container next to the UI container');
      const log = await host.ssh(['cat', `${UI_POD.log_directory}/${UI_CONTAINER.log_path}`]);
      assert.match(log.stdout, /stdout F ui-web-started/, 'the container wrote its log where the configs say');

      // Stop Pod…: asked first; then the pod is not ready and its container no longer runs
      await fromMenu(podRow, 'Stop Pod…', dialog);
      assert.match(await dialog().innerText(), new RegExp(`Stop pod ${UI_POD.metadata.name} on ${escapeRe(hostName())}\\?`));
      await answer('Cancel');
      await page.waitForTimeout(1000);
      assert.ok(await running(cid), 'Cancel stopped the pod');
      await fromMenu(podRow, 'Stop Pod…', dialog);
      await answer('Stop Pod');
      await until('the UI pod\'s container to stop', async () => !(await running(cid)));
      await until('the pod shown as not ready', async () => /not ready/.test(await podRow.innerText()), 30_000);

      // Remove Pod…: asked first; then the pod and its container are gone from the host and the tree
      const labels = await fromMenu(podRow, 'Remove Pod…', dialog);
      assert.ok(!labels.includes('Stop Pod…'), `Stop Pod… offered on a stopped pod: ${JSON.stringify(labels)}`);
      assert.match(await dialog().innerText(), new RegExp(`Remove pod ${UI_POD.metadata.name} on ${escapeRe(hostName())}\\?`));
      await answer('Remove Pod');
      await until('the UI pod\'s containers to be removed', async () => {
        const left = await containerIds();
        return !left.includes(cid) && !left.includes(sandboxId);
      });
      await podRow.waitFor({ state: 'detached', timeout: 30_000 });
    }));

    test('s3: Remove Image… and Prune Unused Images… ask first and act on the host', { timeout: 4 * 60_000 }, () => timed('images', async () => {
      // two namespaces of their own: one image with two names in ui-images, one unused image in ui-prune
      const TOOL = 'example.org/ui/tool:latest';
      const UNUSED = 'example.org/ui/unused:latest';
      const root = async (argv: string[]) => {
        const r = await host.ssh(argv, { timeoutMs: 120_000 });
        assert.equal(r.code, 0, `${argv.join(' ')}: ${r.stderr}`);
        return r.stdout;
      };
      const images = async (ns: string) => (await root(['ctr', '-n', ns, 'images', 'ls', '-q'])).split('\n').map((l) => l.trim()).filter(Boolean);
      await root(['ctr', '-n', 'ui-images', 'images', 'import', '--base-name', 'example.org/ui/tool', '/opt/images/busybox.tar']);
      await root(['ctr', '-n', 'ui-images', 'images', 'tag', TOOL, 'example.org/ui/tool:v2']);
      await root(['ctr', '-n', 'ui-prune', 'images', 'import', '--base-name', 'example.org/ui/unused', '/opt/images/busybox.tar']);
      assert.deepEqual(await images('ui-images'), ['example.org/ui/tool:latest', 'example.org/ui/tool:v2']);
      // the new namespaces arrive by containerd's events; only theirs are left open
      const nsRow = treeRow('ui-images');
      await nsRow.waitFor({ timeout: 30_000 });
      await treeRow('ui-prune').waitFor({ timeout: 30_000 });
      for (const ns of ['k8s.io', 'default']) {
        const r = treeRow(ns);
        if ((await r.getAttribute('aria-expanded')) === 'true') await r.locator('.monaco-tl-twistie').click();
      }
      await expand(nsRow);
      await expand(treeRow('Images'));
      const toolRow = treeRow(TOOL);
      await toolRow.waitFor({ timeout: 30_000 });
      assert.match((await toolRow.innerText()).replace(/\s+/g, ' '), /\d+(\.\d+)? [kM]B · sha256:[0-9a-f]{12}/, 'size and digest shown');

      // Remove Image…: Cancel keeps it; Remove takes both of its names
      await fromMenu(toolRow, 'Remove Image…', dialog);
      assert.match(await dialog().innerText(), new RegExp(`Remove image ${escapeRe(TOOL)} from ${escapeRe(hostName())}\\?`));
      await answer('Cancel');
      await page.waitForTimeout(1000);
      assert.equal((await images('ui-images')).length, 2, 'Cancel removed the image');
      await fromMenu(toolRow, 'Remove Image…', dialog);
      await answer('Remove');
      await until('the image gone from ui-images', async () => (await images('ui-images')).length === 0);
      await toolRow.waitFor({ state: 'detached', timeout: 30_000 });

      // Prune Unused Images… on the namespace: asked first, then the unused image is gone
      await fromMenu(treeRow('ui-prune'), 'Prune Unused Images…', dialog);
      assert.match(await dialog().innerText(), new RegExp(`Remove every image in namespace ui-prune on ${escapeRe(hostName())} that no container uses\\?`));
      await answer('Prune');
      await until('the unused image pruned', async () => !(await images('ui-prune')).includes(UNUSED));
      assert.deepEqual(await images('default'), ['docker.io/library/busybox:latest'], 'other namespaces untouched');
      await root(['ctr', 'namespaces', 'rm', 'ui-images', 'ui-prune']);
    }));
  });

  // ------------------------------------------------------------------------------------------
  // In the extension host
  // ------------------------------------------------------------------------------------------

  describe('s3 extension host: the tree against ctr, events, commands', () => {
    let server: CodeServer | undefined;
    let browser: Browser | undefined;
    let testsPath = '';

    before(async () => {
      assert.ok(fs.existsSync(path.join(EXTENSION, 'dist/client.js')), `${EXTENSION}/dist/client.js is missing: run the build first`);
      // the UI part changed the host: the suite starts from the fixture's state
      await prepareHost(host);
      const pool = createSshPool({ credentials: noPrompts, knownHostsPath: HOSTS_KNOWN_HOSTS });
      try {
        const rt = await connectRuntime(await pool.get({ name: host.name, host: host.address, port: host.port, user: 'root', identityFile: host.rootKey }));
        try {
          await runCriPod(rt);
        } finally {
          rt.close();
        }
      } finally {
        pool.closeAll();
      }
      testsPath = await bundleSuite();
      const settings = hostSettings(host, HOSTS_KNOWN_HOSTS);
      const down = { name: 'down-host', host: '127.0.0.1', port: 1, user: 'root', group: 'explorer-test' };
      settings['containerd.hosts'] = [...(settings['containerd.hosts'] as object[]), down];
      settings['containerd.explorer.pollInterval'] = 0; // only events may refresh the tree
      delete settings['containerd.ssh.knownHostsFile'];
      process.env.EXPLORER_TEST_HOST = JSON.stringify({
        name: `explorer-${host.name}`, address: host.address, port: host.port, key: host.rootKey, knownHosts: HOSTS_KNOWN_HOSTS, downName: down.name,
        registryImage: REGISTRY_IMAGE,
      });
      server = await startCodeServer({ workspace: FIXTURE, smokeTestDriver: true, label: 'exthost-explorer', settings });
      // machine-overridable: a remote window takes containerd.hosts from the machine (or workspace) settings
      writeMachineSettings(server, { 'containerd.hosts': settings['containerd.hosts'] });
      browser = await launchBrowser();
    }, { timeout: 10 * 60_000 });

    after(async () => {
      if (browser) await browser.close();
      if (server) await server.stop();
    }, { timeout: 60_000 });

    test('the explorer suite passes inside the extension host', { timeout: 10 * 60_000 }, async () => {
      assert.ok(server && browser, 'set-up did not complete');
      const t0 = Date.now();
      const r = await runExtensionTests({ server, browser, extensionDevelopmentPath: EXTENSION, extensionTestsPath: testsPath, timeoutMs: 9 * 60_000 });
      timings.exthost = Date.now() - t0;
      await screenshot(browser.page, 'explorer-exthost-final');
      const lines = mochaLines(r.log);
      fs.writeFileSync(path.join(RESULTS_DIR, 'explorer-exthost-mocha.log'), lines.join('\n'));
      fs.writeFileSync(path.join(RESULTS_DIR, 'explorer-exthost-codeAutomationLog.log'), r.log.join('\n'));
      console.log(lines.join('\n'));
      assert.equal(r.timedOut, false, `no codeAutomationExit within the timeout; last log lines:\n${r.log.slice(-30).join('\n')}`);
      assert.ok(lines.some((l) => /\d+ passing/.test(l)), `no mocha summary in the log:\n${r.log.slice(-60).join('\n')}`);
      assert.equal(r.exitCode, 0, `mocha failed inside the extension host:\n${lines.join('\n')}`);
    });
  });
});
