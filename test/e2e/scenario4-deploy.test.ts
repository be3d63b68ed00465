/*
 * End-to-end scenario 4 (issue 6): deploy a taskserv to a real test host from the UI, confirming the
 * diff; the host then runs the new config. Everything on the VS Code side is done and checked on
 * the screen (DOM of the workbench + screenshots) in a real code-server with the packaged .vsix;
 * the host side is checked over ssh on the host itself:
 *
 *   - the Hosts view (activity bar "containerd") lists the booted host (containerd.hosts setting,
 *     key HOSTS_KEY, known_hosts HOSTS_KNOWN_HOSTS), probed as active and drifted;
 *   - cancel: the host item's inline Deploy action with test/e2e/workspace4/taskservs/deploy.k
 *     active shows the diff (current ↔ planned) and the modal; "Cancel" leaves the host untouched
 *     (config bytes, containerd MainPID, no backup set, no temp files);
 *   - deploy: right after the cancel, with that diff still the active editor (the deploy must still
 *     take the taskserv, not the diff's planned side), the host item's context menu "Deploy…", the
 *     diff with the taskserv's distinctive values (oom_score = 333, max_concurrent_downloads = 7),
 *     "Deploy", the success notification
 *     and the host shown "in sync"; on the host: config.toml holds the values, `containerd config
 *     dump` shows them, containerd is active with a new MainPID whose oom_score_adj is 333 and
 *     whose CRI plugin logged MaxConcurrentDownloads:7 (the running daemon read the new config),
 *     /etc/crictl.yaml was installed, and the backup set holds the old config byte for byte.
 *
 *   node scripts/build.mjs && HOSTS_BASE=... E2E_HOME=... node --test out/test/e2e/scenario4-deploy.test.js
 *
 * Skipped when the e2e prerequisites or the test hosts are missing; a failure with CI=true.
 * Screenshots: test-results/e2e/s4-*.png. E2E_VSIX=/path/x.vsix uses that .vsix instead of running
 * `npm run package`.
 */
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  closeBrowser,
  REPO_ROOT,
  RESULTS_DIR,
  e2eGate,
  launchBrowser,
  openFileByPath,
  openWorkbench,
  packageExtension,
  readEditorLines,
  runCommand,
  screenshot,
  startCodeServer,
  type Browser,
  type CodeServer,
} from './codeserver';
import {
  bootHosts,
  ensureHostsPrereqs,
  hostsSkipReason,
  stopHosts,
  HOSTS_KEY,
  HOSTS_KNOWN_HOSTS,
  type TestHost,
} from '../hosts/testHosts';
import type { Locator, Page } from 'playwright-core';

const FIXTURE = path.join(REPO_ROOT, 'test', 'e2e', 'workspace4');
const TASKSERV = 'taskservs/deploy.k';
const CONFIG = '/etc/containerd/config.toml';
const BACKUPS = '/etc/containerd/backups';
const CRICTL = '/etc/crictl.yaml';
/** The distinctive values of the fixture taskserv, as they appear in the rendered config.toml. */
const OOM_LINE = 'oom_score = 333';
const DOWNLOADS_LINE = 'max_concurrent_downloads = 7';

const gate = e2eGate('e2e scenario 4 (deploy)');
const hostsSkip = hostsSkipReason();
const skip = gate.skip || hostsSkip;
if (hostsSkip && !gate.skip) console.log(`# skipping e2e scenario 4: ${hostsSkip}`);

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

interface HostState {
  config: string;
  active: string;
  pid: string;
  backups: string[];
  temps: string;
}

async function rootSh(h: TestHost, cmd: string[]): Promise<string> {
  const r = await h.ssh(cmd);
  assert.equal(r.code, 0, `${cmd.join(' ')} on ${h.name} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

async function hostState(h: TestHost): Promise<HostState> {
  const config = await rootSh(h, ['cat', CONFIG]);
  const active = (await h.ssh(['systemctl', 'is-active', 'containerd'])).stdout.trim();
  const pid = (await rootSh(h, ['systemctl', 'show', '-p', 'MainPID', '--value', 'containerd'])).trim();
  const ls = await h.ssh(['ls', '-1', BACKUPS]);
  const backups = ls.code === 0 ? ls.stdout.split('\n').map((s) => s.trim()).filter(Boolean).sort() : [];
  const temps = (await rootSh(h, ['sh', '-c', 'ls -a /etc/containerd /etc /etc/systemd/system/containerd.service.d 2>/dev/null | grep taskserv- || true'])).trim();
  return { config, active, pid, backups, temps };
}

/** The visible text of the notification toasts. */
async function toastTexts(page: Page): Promise<string[]> {
  return (await page.locator('.notifications-toasts .notification-toast').allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim());
}

/** The modal dialog box (showWarningMessage with modal: true). */
const dialog = (page: Page): Locator => page.locator('.monaco-dialog-box').filter({ visible: true }).first();

/** Fail at once (with a screenshot) if the extension asks to trust an unknown host key: known_hosts was not used. */
async function refuseHostKeyPrompt(page: Page): Promise<void> {
  const box = dialog(page);
  if ((await box.count()) && /authenticity of host/i.test(await box.innerText().catch(() => ''))) {
    await screenshot(page, 's4-failure-host-key-prompt');
    throw new Error(`the extension asked to trust the host key: containerd.ssh.knownHostsFile (${HOSTS_KNOWN_HOSTS}) was not used`);
  }
}

describe('e2e scenario 4: deploy a taskserv to a test host from the Hosts view', { skip }, () => {
  let server: CodeServer | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let host: TestHost;
  let before0: HostState;
  /** backup sets the Hosts view lists after the deploy */
  let shownBackups: string[] = [];
  const timings: Record<string, number> = {};
  const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    try {
      return await fn();
    } catch (e) {
      if (page) await screenshot(page, `s4-failure-${name}`);
      throw e;
    } finally {
      timings[name] = Date.now() - t0;
    }
  };

  /** The tree row of the host in the Hosts view. */
  const hostRow = (): Locator =>
    page
      .locator('[id="workbench.view.extension.containerd"] .monaco-list-row')
      .filter({ has: page.locator('.label-name', { hasText: new RegExp(`^${host.name}$`) }) })
      .first();

  /** Poll the host row's text until it matches `re`; bounded. Returns the text. */
  async function waitForHostRow(re: RegExp, timeoutMs = 90_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let text = '';
    for (;;) {
      await refuseHostKeyPrompt(page);
      text = (await hostRow().innerText().catch(() => '')).replace(/\s+/g, ' ').trim();
      if (re.test(text)) return text;
      if (Date.now() > deadline) throw new Error(`the Hosts view row of ${host.name} did not match ${re} within ${timeoutMs} ms: ${JSON.stringify(text)}`);
      await page.waitForTimeout(250);
    }
  }

  /** Show the Hosts view: the "containerd" activity bar container (palette as a fallback). */
  async function showHostsView(): Promise<void> {
    const icon = page.locator('.activitybar .action-item a[aria-label^="containerd"]').first();
    try {
      await icon.waitFor({ timeout: 30_000 });
      const pane = page.locator('[id="workbench.view.extension.containerd"]');
      if (!(await pane.isVisible())) await icon.click();
      await pane.waitFor({ state: 'visible', timeout: 10_000 });
    } catch {
      await runCommand(page, 'containerd: Focus on Hosts View');
    }
    await hostRow().waitFor({ timeout: 30_000 });
    // widen the side bar (drag its sash) so that the host's description is readable in the screenshots
    const side = await page.locator('.part.sidebar').first().boundingBox().catch(() => null);
    if (side && side.width < 450) {
      await page.mouse.move(side.x + side.width + 1, side.y + side.height / 2);
      await page.mouse.down();
      await page.mouse.move(side.x + 480, side.y + side.height / 2, { steps: 5 });
      await page.mouse.up();
      await page.waitForTimeout(300);
    }
  }

  /** The tree row labelled exactly `label` in the Hosts view. */
  const treeRow = (label: string | RegExp): Locator =>
    page
      .locator('[id="workbench.view.extension.containerd"] .monaco-list-row')
      .filter({ has: page.locator('.label-name', { hasText: typeof label === 'string' ? new RegExp(`^${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) : label }) })
      .first();

  /** Expand a collapsed tree row (no-op when already expanded). */
  async function expand(row: Locator): Promise<void> {
    await row.waitFor({ timeout: 15_000 });
    if ((await row.getAttribute('aria-expanded')) !== 'true') await row.locator('.monaco-tl-twistie').click();
    const deadline = Date.now() + 10_000;
    while ((await row.getAttribute('aria-expanded')) !== 'true') {
      if (Date.now() > deadline) throw new Error(`tree row ${await row.innerText()} did not expand`);
      await page.waitForTimeout(100);
    }
  }

  /** Make the taskserv's editor the active one (the deploy takes the active editor's document). */
  async function activateTaskserv(): Promise<void> {
    const tab = page.locator(`.tabs-container .tab[data-resource-name="${path.posix.basename(TASKSERV)}"]`).first();
    if (await tab.count()) await tab.click();
    else await openFileByPath(page, TASKSERV);
    await page.locator(`.tabs-container .tab.active[data-resource-name="${path.posix.basename(TASKSERV)}"]`).first().waitFor({ timeout: 15_000 });
    await page.locator('#status\\.editor\\.mode').filter({ hasText: 'KCL' }).waitFor({ timeout: 15_000 });
  }

  /**
   * Wait for the diff editor the confirmation opens (current ↔ planned config.toml) and the modal
   * "Deploy … to <host>?" above it. Returns the lines of the planned side and the dialog's text.
   */
  async function waitForConfirmation(): Promise<{ planned: string[]; current: string[]; message: string; inserted: number }> {
    const box = dialog(page);
    const deadline = Date.now() + 60_000;
    for (;;) {
      await refuseHostKeyPrompt(page);
      if ((await box.count()) && /Deploy .* to /.test(await box.innerText().catch(() => ''))) break;
      if (Date.now() > deadline) throw new Error(`no deploy confirmation within 60 s; toasts: ${JSON.stringify(await toastTexts(page))}`);
      await page.waitForTimeout(250);
    }
    const diff = page.locator('.monaco-diff-editor').filter({ visible: true }).first();
    await diff.waitFor({ timeout: 15_000 });
    const modified = diff.locator('.editor.modified').first();
    const original = diff.locator('.editor.original').first();
    // the planned side is filled by the extension's content provider: wait for our values
    let planned: string[] = [];
    const d2 = Date.now() + 30_000;
    for (;;) {
      planned = (await readEditorLines(modified)).map((l) => l.text);
      if (planned.some((l) => l.includes('oom_score'))) break;
      if (Date.now() > d2) throw new Error(`the diff's planned side does not show oom_score: ${JSON.stringify(planned)}`);
      await page.waitForTimeout(250);
    }
    await page.waitForTimeout(500); // let the diff decorations settle before reading / the screenshot
    const current = (await original.count()) ? (await readEditorLines(original)).map((l) => l.text) : [];
    const inserted = await diff.locator('.editor.modified .line-insert, .editor.modified .char-insert, .editor.modified .gutter-insert').count();
    const message = (await box.innerText()).replace(/\s+/g, ' ').trim();
    return { planned, current, message, inserted };
  }

  /** Click the dialog button labelled exactly `label`; waits until the dialog is gone. */
  async function clickDialogButton(label: string): Promise<void> {
    const box = dialog(page);
    const button = box.locator('.dialog-buttons .monaco-button', { hasText: new RegExp(`^\\s*${label}\\s*$`) }).first();
    await button.click();
    await page.locator('.monaco-dialog-box').filter({ visible: true }).waitFor({ state: 'detached', timeout: 10_000 }).catch(async () => {
      await page.locator('.monaco-dialog-box').filter({ visible: true }).first().waitFor({ state: 'hidden', timeout: 5_000 });
    });
  }

  before(async () => {
    if (gate.unavailable) throw new Error(`${gate.unavailable}\n(CI=true, so this is a failure, not a skip)`);
    const missing = ensureHostsPrereqs();
    if (missing.length) throw new Error(`test hosts unavailable (CI=true, so this is a failure): ${missing.join(', ')}`);
    fs.mkdirSync(RESULTS_DIR, { recursive: true });
    for (const f of fs.readdirSync(RESULTS_DIR)) if (/^s4-.*\.(png|json|txt)$/.test(f)) fs.rmSync(path.join(RESULTS_DIR, f));

    let t0 = Date.now();
    [host] = await bootHosts(1);
    timings.bootHost = Date.now() - t0;
    // the host must be in the known_hosts file the extension is told to use
    assert.ok(fs.readFileSync(HOSTS_KNOWN_HOSTS, 'utf8').includes(host.knownHostsLine), `${HOSTS_KNOWN_HOSTS} lacks ${host.name}'s key`);
    before0 = await hostState(host);
    assert.equal(before0.active, 'active', `containerd on ${host.name} is not active before the scenario`);
    assert.ok(!before0.config.includes(OOM_LINE), `${host.name} already has ${OOM_LINE}`);
    fs.writeFileSync(path.join(RESULTS_DIR, 's4-host-config-before.txt'), before0.config);

    const pkg = packageExtension({ logName: 'scenario4-npm-run-package.log' });
    console.log(`# packaged ${path.relative(REPO_ROOT, pkg.vsix)} in ${pkg.ms} ms`);
    timings.package = pkg.ms;
    t0 = Date.now();
    const settings: Record<string, unknown> = {
      'workbench.editor.enablePreview': false,
      'containerd.hosts': [{ name: host.name, host: host.address, port: host.port, user: 'root', identityFile: HOSTS_KEY }],
      'containerd.ssh.knownHostsFile': HOSTS_KNOWN_HOSTS,
    };
    server = await startCodeServer({ workspace: FIXTURE, vsix: [pkg.vsix], label: 'scenario4', settings });
    // containerd.ssh.* are machine-scoped: in a remote window (code-server's workbench is one) VS Code
    // reads those from the remote machine's settings, not from the user settings. An empty ssh config
    // keeps hosts of the fake home's ~/.ssh/config (if any) out of the view.
    const emptySshConfig = path.join(server.runDir, 'ssh_config');
    fs.writeFileSync(emptySshConfig, '');
    const machine = { ...settings, 'containerd.ssh.configFile': emptySshConfig };
    fs.mkdirSync(path.join(server.userDataDir, 'Machine'), { recursive: true });
    fs.writeFileSync(path.join(server.userDataDir, 'Machine', 'settings.json'), JSON.stringify(machine, null, 2));
    const userFile = path.join(server.userDataDir, 'User', 'settings.json');
    fs.writeFileSync(userFile, JSON.stringify({ ...JSON.parse(fs.readFileSync(userFile, 'utf8')), 'containerd.ssh.configFile': emptySshConfig }, null, 2));
    console.log(`# code-server on ${server.url} (healthz after ${server.startupMs} ms); host ${host.name} at ${host.address}`);
    browser = await launchBrowser({ viewport: { width: 1440, height: 900 } });
    page = browser.page;
    await openWorkbench(page, server);
    timings.startup = Date.now() - t0;
  }, { timeout: 25 * 60_000 });

  after(async () => {
    console.log(`# timings (ms): ${JSON.stringify(timings)}`);
    await closeBrowser(browser, 's4');
    if (server) await server.stop();
    await stopHosts();
  }, { timeout: 2 * 60_000 });

  test('s4: the Hosts view lists the test host, reachable, active and drifted from the taskserv', { timeout: 3 * 60_000 }, () => timed('hosts-view', async () => {
    assert.ok(server && browser, 'set-up did not complete');
    await openFileByPath(page, TASKSERV);
    await page.locator('#status\\.editor\\.mode').filter({ hasText: 'KCL' }).waitFor({ timeout: 30_000 });
    await showHostsView();
    // probed over SSH: "containerd 1.6.x · active · drifted" (the host has Debian's config, not ours)
    const text = await waitForHostRow(/containerd \d+\.\d+\.\d+.*·\s*active\s*·\s*drifted/);
    console.log(`# Hosts view: ${text}`);
    await page.mouse.move(5, 5);
    await page.waitForTimeout(300);
    await screenshot(page, 's4-01-hosts-view');
  }));

  test('s4: cancelling at the diff confirmation leaves the host unchanged', { timeout: 3 * 60_000 }, () => timed('cancel', async () => {
    await activateTaskserv();
    // the host item's inline action (shown on hover)
    const row = hostRow();
    await row.hover();
    const inline = row.locator('.actions .action-label[aria-label^="Deploy"]').first();
    await inline.waitFor({ state: 'visible', timeout: 10_000 });
    await inline.click();
    const c = await waitForConfirmation();
    fs.writeFileSync(path.join(RESULTS_DIR, 's4-cancel-diff.json'), JSON.stringify(c, null, 1));
    await screenshot(page, 's4-cancel-01-diff');
    assert.match(c.message, new RegExp(`Deploy ${TASKSERV.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} to ${host.name}\\?`));
    assert.ok(c.planned.some((l) => l.trim() === OOM_LINE), `planned side: ${JSON.stringify(c.planned)}`);
    await clickDialogButton('Cancel');
    // nothing may start: no progress notification, no result notification
    await page.waitForTimeout(3000);
    const toasts = await toastTexts(page);
    await screenshot(page, 's4-cancel-02-after');
    assert.ok(!toasts.some((t) => /Deploying|Deployed|Deploy failed/.test(t)), `notifications after Cancel: ${JSON.stringify(toasts)}`);
    const now = await hostState(host);
    assert.equal(sha(now.config), sha(before0.config), `${CONFIG} changed although the deploy was cancelled:\n${now.config}`);
    assert.equal(now.active, 'active');
    assert.equal(now.pid, before0.pid, 'containerd was restarted although the deploy was cancelled');
    assert.deepEqual(now.backups, before0.backups, 'a backup set was made although the deploy was cancelled');
    assert.equal(now.temps, '', 'files of a deploy were uploaded although it was cancelled');
  }));

  test('s4: deploying from the host item\'s context menu, confirming the diff, reports success', { timeout: 5 * 60_000 }, () => timed('deploy', async () => {
    // as a user would: try again right away, with the diff of the cancelled attempt still the
    // active editor (the deploy must still take the taskserv, not the diff's planned side)
    const activeTab = (await page.locator('.tabs-container .tab.active').first().innerText()).trim();
    assert.match(activeTab, new RegExp(`^${host.name}: current ↔ `), `active tab before the second attempt: ${activeTab}`);
    // right-click the host → "Deploy…"
    await hostRow().click({ button: 'right' });
    const menu = page.locator('.context-view .monaco-menu').filter({ visible: true }).first();
    await menu.waitFor({ timeout: 10_000 });
    const entries = (await menu.locator('.action-label').allInnerTexts()).map((t) => t.trim()).filter(Boolean);
    fs.writeFileSync(path.join(RESULTS_DIR, 's4-context-menu.json'), JSON.stringify(entries, null, 1));
    const item = menu.locator('.action-item .action-label', { hasText: /^Deploy…$/ }).first();
    await item.hover();
    await page.waitForTimeout(200);
    await screenshot(page, 's4-02a-context-menu');
    await item.click();

    const c = await waitForConfirmation();
    fs.writeFileSync(path.join(RESULTS_DIR, 's4-diff.json'), JSON.stringify(c, null, 1));
    await screenshot(page, 's4-02-diff');
    assert.match(c.message, new RegExp(`Deploy ${TASKSERV.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} to ${host.name}\\?`));
    assert.match(c.message, /validates the new config .* backup/);
    // the planned side: our rendered config.toml with the distinctive values, marked as inserted
    assert.ok(c.planned.some((l) => l.trim() === OOM_LINE), `planned side: ${JSON.stringify(c.planned)}`);
    assert.ok(c.planned.some((l) => l.trim() === DOWNLOADS_LINE), `planned side: ${JSON.stringify(c.planned)}`);
    assert.ok(c.inserted > 0, 'the diff editor marks no inserted lines');
    // the current side (when shown side by side): the host's config, without our values
    if (c.current.length) {
      assert.ok(!c.current.some((l) => l.trim() === OOM_LINE), `current side: ${JSON.stringify(c.current)}`);
      const firstLine = before0.config.split('\n').find((l) => l.trim()) ?? '';
      assert.ok(c.current.some((l) => l.trim() === firstLine.trim()), `current side does not show the host's config (${JSON.stringify(firstLine)}): ${JSON.stringify(c.current)}`);
    }

    await clickDialogButton('Deploy');
    // progress, then "Deployed to 1 host(s)."
    const deadline = Date.now() + 3 * 60_000;
    let toasts: string[] = [];
    let sawProgress = false;
    for (;;) {
      toasts = await toastTexts(page);
      if (!sawProgress && toasts.some((t) => /Deploying/.test(t))) {
        sawProgress = true;
        await screenshot(page, 's4-02b-progress');
      }
      if (toasts.some((t) => /Deployed to 1 host/.test(t))) break;
      if (toasts.some((t) => /Deploy failed/.test(t))) {
        await screenshot(page, 's4-failure-deploy-failed');
        throw new Error(`the deploy failed: ${JSON.stringify(toasts)}`);
      }
      if (Date.now() > deadline) throw new Error(`no deploy result within 3 min; notifications: ${JSON.stringify(toasts)}`);
      await page.waitForTimeout(250);
    }
    console.log(`# notifications: ${JSON.stringify(toasts)} (progress seen: ${sawProgress})`);
    await screenshot(page, 's4-03-deployed');
    // the view re-probes the host after the deploy: now in sync with the taskserv
    const text = await waitForHostRow(/containerd \d+\.\d+\.\d+.*·\s*active\s*·\s*in sync/, 60_000);
    console.log(`# Hosts view after the deploy: ${text}`);
    // expand the host: its config item says "in sync", its Backups list the set the deploy made
    await expand(hostRow());
    const cfgRow = treeRow(CONFIG);
    await cfgRow.waitFor({ timeout: 30_000 });
    assert.match((await cfgRow.innerText()).replace(/\s+/g, ' '), /in sync/, 'the config item of the host');
    await expand(treeRow('Backups'));
    const backupRow = treeRow(/^\d{8}T\d{6}Z$/);
    await backupRow.waitFor({ timeout: 30_000 });
    shownBackups = (await page.locator('[id="workbench.view.extension.containerd"] .monaco-list-row .label-name').allInnerTexts())
      .map((t) => t.trim()).filter((t) => /^\d{8}T\d{6}Z$/.test(t));
    console.log(`# Backups shown: ${JSON.stringify(shownBackups)}`);
    await page.mouse.move(5, 5);
    await page.waitForTimeout(300);
    await screenshot(page, 's4-04-in-sync');
  }));

  test('s4: the host runs the new config (config.toml, config dump, restarted containerd, backup)', { timeout: 2 * 60_000 }, () => timed('host', async () => {
    const now = await hostState(host);
    fs.writeFileSync(path.join(RESULTS_DIR, 's4-host-config-after.txt'), now.config);
    // the file
    assert.ok(now.config.split('\n').some((l) => l.trim() === OOM_LINE), `${CONFIG}:\n${now.config}`);
    assert.ok(now.config.split('\n').some((l) => l.trim() === DOWNLOADS_LINE), `${CONFIG}:\n${now.config}`);
    // what the host's containerd makes of it
    const dump = await rootSh(host, ['containerd', 'config', 'dump']);
    assert.match(dump, /^oom_score = 333$/m, 'containerd config dump');
    assert.match(dump, /^\s*max_concurrent_downloads = 7$/m, 'containerd config dump');
    // restarted, running, and the running daemon took the config: containerd sets its own
    // oom_score_adj to `oom_score` at start, and its CRI plugin logs the config it started with
    assert.equal(now.active, 'active');
    assert.ok(Number(now.pid) > 0, `MainPID ${now.pid}`);
    assert.notEqual(now.pid, before0.pid, 'containerd has the same MainPID as before the deploy: it was not restarted');
    const adj = (await rootSh(host, ['cat', `/proc/${now.pid}/oom_score_adj`])).trim();
    assert.equal(adj, '333', 'oom_score_adj of the running containerd');
    let cri = '';
    for (let i = 0; i < 20 && !cri; i++) {
      const log = await rootSh(host, ['journalctl', '--no-pager', '-o', 'cat', `_PID=${now.pid}`]);
      cri = log.split('\n').find((l) => l.includes('Start cri plugin with config')) ?? '';
      if (!cri) await new Promise((r) => setTimeout(r, 500));
    }
    assert.match(cri, /MaxConcurrentDownloads:7\b/, `the CRI plugin of containerd ${now.pid} did not log MaxConcurrentDownloads:7: ${cri.slice(0, 300)}`);
    // the taskserv's other file
    const crictl = await rootSh(host, ['cat', CRICTL]);
    assert.match(crictl, /^runtime-endpoint: unix:\/\/\/run\/containerd\/containerd\.sock$/m, CRICTL);
    // a new backup set holding the old config byte for byte; no temp files or lock left behind
    const added = now.backups.filter((b) => !before0.backups.includes(b));
    assert.equal(added.length, 1, `backup sets before ${JSON.stringify(before0.backups)}, after ${JSON.stringify(now.backups)}`);
    assert.deepEqual(shownBackups, added, 'the backup sets the Hosts view listed after the deploy');
    const set = `${BACKUPS}/${added[0]}`;
    const files = (await rootSh(host, ['ls', '-1', set])).split('\n').filter(Boolean);
    assert.ok(files.includes('manifest'), `${set}: ${JSON.stringify(files)}`);
    const saved = files.find((f) => /^\d+\.config\.toml$/.test(f));
    assert.ok(saved, `${set} has no config.toml: ${JSON.stringify(files)}`);
    assert.equal(sha(await rootSh(host, ['cat', `${set}/${saved}`])), sha(before0.config), 'the backup is not the old config');
    assert.equal(now.temps, '', 'temp files of the deploy left on the host');
    assert.notEqual((await host.ssh(['test', '-e', '/run/containerd-taskserv.lock'])).code, 0, 'the deploy lock is still held');
  }));
});
