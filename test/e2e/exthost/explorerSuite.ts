/*
 * The container explorer inside code-server's extension host, against a real test host booted by
 * test/e2e/exthost/explorer.test.ts (which bundles this file and passes the host in
 * EXPLORER_TEST_HOST). The tree is read through the extension's TreeDataProvider (the `hostsView`
 * the extension's activate() returns) exactly as VS Code reads it, and compared with what `ctr` run
 * over ssh says the host has. Commands run through vscode.commands like menu clicks do.
 *
 * Settings (user settings of the code-server run): containerd.hosts = the test host and a host that
 * refuses connections (127.0.0.1:1); containerd.explorer.pollInterval = 0, so only containerd's
 * events can refresh the tree.
 */
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import Mocha from 'mocha';
import * as vscode from 'vscode';

const EXTENSION_ID = 'containerd-taskserv.containerd-taskserv';

interface TestHostEnv {
  /** display name in the Hosts view */
  name: string;
  address: string;
  port: number;
  key: string;
  knownHosts: string;
  /** the name of the host that refuses connections */
  downName: string;
  /** an image only the host's registry has */
  registryImage: string;
}

// Minimal shapes of the extension's tree nodes (hosts/hostsView.ts Node), read only.
interface Spec {
  id: string;
  kind: string;
  label: string;
  contextValue: string;
  namespace?: string;
  children?: Spec[];
  container?: { id: string; name: string; namespace: string; state: string; source: string };
  pod?: { id: string; name: string };
  image?: { id: string; namespace: string; repoTags: string[]; repoDigests: string[] };
}
interface TreeNode {
  kind: string;
  host?: { name: string };
  spec?: Spec;
  text?: string;
}
interface Api {
  hostsView: vscode.TreeDataProvider<TreeNode>;
  explorer: {
    view: vscode.TreeView<TreeNode> | undefined;
    setFilter(text: string | undefined): Promise<void>;
    stats(): { visible: boolean; subscribed: string[]; polling: string[]; counts: Record<string, { events: number; refreshes: number; subscriptions: number }>; loads: Record<string, number>; clients: string[] };
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(100);
  }
}

function env(): TestHostEnv {
  const raw = process.env.EXPLORER_TEST_HOST;
  assert.ok(raw, 'EXPLORER_TEST_HOST is not set (run through test/e2e/exthost/explorer.test.ts)');
  return JSON.parse(raw) as TestHostEnv;
}

/** `argv` on the test host as root, over the system ssh (the same key the extension uses). */
function ssh(h: TestHostEnv, argv: string[]): Promise<string> {
  const q = (s: string) => (/^[A-Za-z0-9_\-./:=@,+%]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  return new Promise((resolve, reject) => {
    execFile(
      'ssh',
      ['-i', h.key, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${h.knownHosts}`,
        '-o', 'ConnectTimeout=5', '-o', 'LogLevel=ERROR', '-p', String(h.port), `root@${h.address}`, '--', argv.map(q).join(' ')],
      { timeout: 60_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => (err ? reject(new Error(`${argv.join(' ')}: ${err.message}\n${stderr}`)) : resolve(stdout)),
    );
  });
}

const lines = (s: string) => s.split('\n').map((l) => l.trim()).filter(Boolean).sort();

async function ctrState(h: TestHostEnv): Promise<{ namespaces: string[]; containers: Record<string, string[]>; images: Record<string, string[]> }> {
  const namespaces = lines(await ssh(h, ['ctr', 'namespaces', 'ls', '-q']));
  const containers: Record<string, string[]> = {};
  const images: Record<string, string[]> = {};
  for (const ns of namespaces) {
    containers[ns] = lines(await ssh(h, ['ctr', '-n', ns, 'containers', 'ls', '-q']));
    images[ns] = lines(await ssh(h, ['ctr', '-n', ns, 'images', 'ls', '-q']));
  }
  return { namespaces, containers, images };
}

function defineTests(root: Mocha.Suite): void {
  const s = Mocha.Suite.create(root, 'container explorer in the code-server extension host');
  const add = (title: string, fn: () => Promise<void>) => s.addTest(new Mocha.Test(title, fn));
  const h = env();
  let api: Api;
  let hostNode: TreeNode;
  const children = async (n?: TreeNode): Promise<TreeNode[]> => ((await api.hostsView.getChildren(n)) ?? []) as TreeNode[];
  const item = async (n: TreeNode) => api.hostsView.getTreeItem(n);
  const labelOf = async (n: TreeNode) => {
    const l = (await item(n)).label;
    return typeof l === 'string' ? l : l?.label ?? '';
  };
  /** Every explorer node below `n`, depth first, as VS Code would fetch them. */
  const subtree = async (n: TreeNode): Promise<TreeNode[]> => {
    const out: TreeNode[] = [];
    for (const c of await children(n)) {
      out.push(c);
      if (c.kind === 'explorer') out.push(...(await subtree(c)));
    }
    return out;
  };
  const hostKeyOf = () => Object.keys(api.explorer.stats().loads).find((k) => k.includes(`@${h.address}:`)) ?? '';
  const explorerNodes = async () => (await subtree(hostNode)).filter((n) => n.kind === 'explorer');
  const containerNamed = async (name: string) => (await explorerNodes()).find((n) => n.spec?.kind === 'container' && n.spec.container?.name === name);

  add('the Hosts view lists the test host and the host that is down', async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext, `${EXTENSION_ID} is not loaded`);
    // the Hosts half is a separate bundle loaded on first use; activate() returns its loader
    const exports = (await ext.activate()) as { loadHosts(): Promise<Api> };
    api = await exports.loadHosts();
    assert.ok(api?.hostsView && api.explorer, 'loadHosts() returned no hostsView/explorer');
    const roots = await waitFor('two hosts', async () => {
      const r = await children();
      return r.length === 2 && r;
    });
    const names = roots.map((n) => n.host?.name).sort();
    assert.deepEqual(names, [h.name, h.downName].sort());
    hostNode = roots.find((n) => n.host?.name === h.name)!;
    assert.equal(hostNode.kind, 'host');
  });

  add('a host that is down shows its error with Retry, and does not hold up the other host', async () => {
    const down = (await children()).find((n) => n.host?.name === h.downName)!;
    const [goodKids, downKids] = await Promise.all([children(hostNode), children(down)]);
    assert.ok(goodKids.some((n) => n.kind === 'explorer'), 'the test host lists its namespaces');
    assert.equal(downKids.length, 1, `down host children: ${JSON.stringify(downKids.map((n) => n.kind))}`);
    const err = await item(downKids[0]);
    assert.equal(err.contextValue, 'explorerError');
    assert.match(String(typeof err.label === 'string' ? err.label : err.label?.label), /Cannot connect/);
    assert.equal(err.command?.command, 'containerd.explorer.retry');
    await vscode.commands.executeCommand('containerd.explorer.retry', downKids[0]);
    const again = await children(down);
    assert.equal(again[0].kind, 'explorerError', 'still down after Retry');
  });

  add('the tree lists exactly the namespaces, pods, containers and images ctr reports', async () => {
    const want = await ctrState(h);
    const kids = await children(hostNode);
    assert.deepEqual(kids.slice(0, 3).map((k) => k.kind), ['service', 'config', 'backups']);
    const namespaces = kids.filter((k) => k.kind === 'explorer' && k.spec?.kind === 'namespace');
    assert.deepEqual(namespaces.map((n) => n.spec!.label).sort(), want.namespaces);
    for (const nsNode of namespaces) {
      const ns = nsNode.spec!.label;
      const below = await subtree(nsNode);
      const specs = below.map((n) => n.spec!).filter(Boolean);
      // containers + pods (= their sandbox containers) are ctr's containers
      const ids = [...specs.filter((x) => x.kind === 'container').map((x) => x.container!.id), ...specs.filter((x) => x.kind === 'pod').map((x) => x.pod!.id)].sort();
      assert.deepEqual(ids, want.containers[ns], `containers of ${ns}`);
      // every image name ctr lists belongs to one image item, and the items name nothing else
      const images = specs.filter((x) => x.kind === 'image').map((x) => x.image!);
      const names = new Set(images.flatMap((i) => [i.id, ...i.repoTags, ...i.repoDigests]));
      for (const n of want.images[ns]) assert.ok(names.has(n), `ctr image ${n} in ${ns} is not in the tree (${[...names].join(', ')})`);
      for (const t of images.flatMap((i) => i.repoTags)) assert.ok(want.images[ns].includes(t), `tree image ${t} in ${ns} is not in ctr images ls`);
      assert.equal(new Set(images.map((i) => i.id)).size, images.length, 'one item per image');
    }
    // the CRI pod holds its container, with kind+state in contextValue
    const talker = (await containerNamed('talker'))!;
    assert.ok(talker, 'no talker container');
    assert.equal(talker.spec!.contextValue, 'container.running.cri');
    assert.equal(talker.spec!.pod?.name, 'explorer-pod');
    assert.equal((await containerNamed('idle-a'))!.spec!.contextValue, 'container.running.plain');
    assert.equal((await containerNamed('created-b'))!.spec!.contextValue, 'container.created.plain');
  });

  add('the Service item shows the version, the CRI conditions, the access path and the journal', async () => {
    const service = (await children(hostNode)).find((k) => k.kind === 'service')!;
    const rows = await children(service);
    const labels = await Promise.all(rows.map(labelOf));
    const version = (await ssh(h, ['containerd', '--version'])).split(/\s+/)[2];
    assert.ok(labels.includes(`containerd ${version}`), `${JSON.stringify(labels)} lacks containerd ${version}`);
    assert.ok(labels.includes('RuntimeReady'), JSON.stringify(labels));
    assert.ok(labels.some((l) => /^gRPC over|ctr \/ crictl/.test(l)), `no access path in ${JSON.stringify(labels)}`);
    const journal = rows.find((r) => r.kind === 'journal')!;
    assert.equal((await item(journal)).command?.command, 'containerd.hosts.journal');
  });

  add('a container started on the host appears through containerd events (no polling)', async () => {
    await vscode.commands.executeCommand('workbench.view.extension.containerd');
    await waitFor('the view to be visible', () => api.explorer.stats().visible);
    const key = hostKeyOf();
    await waitFor('the event stream of the host', () => api.explorer.stats().subscribed.includes(key));
    const before = api.explorer.stats().counts[key]?.events ?? 0;
    await ssh(h, ['ctr', '-n', 'default', 'run', '-d', 'docker.io/library/busybox:latest', 'by-event']);
    // created, then its task started: two events, the tree follows both
    const n = await waitFor('by-event running in the tree', async () => {
      const c = await containerNamed('by-event');
      return c?.spec?.container?.state === 'running' && c;
    }, 20_000);
    assert.equal(n.spec!.contextValue, 'container.running.plain');
    assert.ok(api.explorer.stats().counts[key].events > before, 'no event was counted: the tree was not refreshed by an event');
    assert.deepEqual(api.explorer.stats().polling, [], 'pollInterval 0: no poll timer');
  });

  add('while the view is hidden nothing is watched; showing it again catches up', async () => {
    const key = hostKeyOf();
    await vscode.commands.executeCommand('workbench.view.explorer');
    await waitFor('the Hosts view to be hidden', () => !api.explorer.stats().visible);
    await waitFor('the stream to close', () => !api.explorer.stats().subscribed.includes(key));
    const events = api.explorer.stats().counts[key].events;
    const loads = api.explorer.stats().loads[key];
    await ssh(h, ['ctr', '-n', 'default', 'run', '-d', 'docker.io/library/busybox:latest', 'while-hidden']);
    await sleep(1500);
    assert.equal(api.explorer.stats().counts[key].events, events, 'events arrived while hidden');
    assert.equal(api.explorer.stats().loads[key], loads, 'the host was reloaded while hidden');
    await vscode.commands.executeCommand('workbench.view.extension.containerd');
    await waitFor('while-hidden in the tree after showing the view', () => containerNamed('while-hidden'), 20_000);
    await waitFor('the stream to reopen', () => api.explorer.stats().subscribed.includes(key));
  });

  add('collapsing the host closes its event stream; expanding reopens it', async () => {
    const key = hostKeyOf();
    const view = api.explorer.view!;
    assert.ok(view, 'the explorer has no TreeView');
    await view.reveal(hostNode, { expand: true, select: false, focus: false });
    await waitFor('the stream (expanded)', () => api.explorer.stats().subscribed.includes(key));
    await vscode.commands.executeCommand('workbench.actions.treeView.containerd.hosts.collapseAll');
    await waitFor('the stream to close after collapsing', () => !api.explorer.stats().subscribed.includes(key), 10_000);
    await view.reveal(hostNode, { expand: true, select: false, focus: false });
    await waitFor('the stream to reopen after expanding', () => api.explorer.stats().subscribed.includes(key), 10_000);
  });

  add('Stop on a running CRI container stops it on the host and the item turns exited', async () => {
    const talker = (await containerNamed('talker'))!;
    await vscode.commands.executeCommand('containerd.explorer.stop', talker);
    const info = await ssh(h, ['ctr', '-n', 'k8s.io', 'tasks', 'ls']);
    const row = info.split('\n').find((l) => l.startsWith(talker.spec!.container!.id));
    assert.ok(!row || /STOPPED/.test(row), `task still running: ${row}`);
    const after = await waitFor('talker exited in the tree', async () => {
      const n = await containerNamed('talker');
      return n?.spec?.container?.state === 'exited' && n;
    }, 20_000);
    assert.equal(after.spec!.contextValue, 'container.exited.cri');
  });

  add('Start on a created plain container starts its task', async () => {
    const created = (await containerNamed('created-b'))!;
    await vscode.commands.executeCommand('containerd.explorer.start', created);
    const tasks = await ssh(h, ['ctr', '-n', 'default', 'tasks', 'ls']);
    assert.match(tasks, /^created-b\s+\d+\s+RUNNING/m);
    await waitFor('created-b running in the tree', async () => (await containerNamed('created-b'))?.spec?.contextValue === 'container.running.plain', 20_000);
  });

  add('Inspect opens the container JSON read-only; Copy ID copies the full id', async () => {
    const idle = (await containerNamed('idle-a'))!;
    await vscode.commands.executeCommand('containerd.explorer.inspect', idle);
    const doc = await waitFor('the inspect document', () => vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'containerd-inspect' && d.uri.path.includes('idle-a')));
    const json = JSON.parse(doc.getText()) as { container?: { id?: string } };
    assert.equal(json.container?.id, 'idle-a');
    assert.equal(doc.languageId, 'json');
    await vscode.commands.executeCommand('containerd.explorer.copyId', (await containerNamed('talker'))!);
    const talker = (await containerNamed('talker'))!;
    assert.equal(await vscode.env.clipboard.readText(), talker.spec!.container!.id);
  });

  add('Open Shell runs a shell in the container over an SSH pty', async () => {
    const idle = (await containerNamed('idle-a'))!;
    const before = vscode.window.terminals.length;
    await vscode.commands.executeCommand('containerd.explorer.exec', idle);
    const term = await waitFor('a new terminal', () => vscode.window.terminals.length > before && vscode.window.terminals[vscode.window.terminals.length - 1]);
    assert.match(term.name, /idle-a/);
    // sent at once, while the channel may still be opening: input typed early is kept, not dropped
    term.sendText('echo explorer-pty-$((6*7)) > /tmp/pty-proof; exit');
    const proof = await waitFor('the file the shell wrote', async () => {
      const out = await ssh(h, ['ctr', '-n', 'default', 'tasks', 'exec', '--exec-id', `check-${Date.now()}`, 'idle-a', 'cat', '/tmp/pty-proof']).catch(() => '');
      return out.includes('explorer-pty-42') && out;
    }, 20_000);
    assert.match(proof, /explorer-pty-42/);
  });

  add('the filter keeps only matches on every host; clearing it restores the tree', async () => {
    await api.explorer.setFilter('talker');
    const top = (await children(hostNode)).filter((n) => n.kind === 'explorer');
    assert.deepEqual(top.map((n) => n.spec!.label), ['k8s.io']);
    const names = (await subtree(top[0])).filter((n) => n.spec?.kind === 'container').map((n) => n.spec!.label);
    assert.deepEqual(names, ['talker']);
    assert.match(api.explorer.view?.description ?? '', /talker/);
    await api.explorer.setFilter('no-such-thing');
    const none = await children(hostNode);
    assert.ok(none.some((n) => n.kind === 'message' && /Nothing matches/.test(n.text ?? '')), JSON.stringify(none.map((n) => n.kind)));
    await vscode.commands.executeCommand('containerd.explorer.clearFilter');
    assert.equal(api.explorer.view?.description, undefined);
    assert.ok((await containerNamed('idle-a')) && (await containerNamed('talker')));
  });

  add('group by pod, then by runtime, through the command (and back to namespaces)', async () => {
    await vscode.commands.executeCommand('containerd.explorer.groupBy', 'pod');
    await waitFor('pod grouping', async () => (await children(hostNode)).some((n) => n.spec?.kind === 'pod'));
    const byPod = (await children(hostNode)).filter((n) => n.kind === 'explorer').map((n) => n.spec!.label);
    assert.deepEqual(byPod, ['explorer-pod', 'Containers not in a pod', 'Images']);
    await vscode.commands.executeCommand('containerd.explorer.groupBy', 'runtime');
    await waitFor('runtime grouping', async () => (await children(hostNode)).some((n) => n.spec?.contextValue === 'group.runtime'));
    assert.equal(vscode.workspace.getConfiguration('containerd.explorer').get('groupBy'), 'runtime');
    await vscode.commands.executeCommand('containerd.explorer.groupBy', 'namespace');
    await waitFor('namespace grouping', async () => (await children(hostNode)).some((n) => n.spec?.kind === 'namespace'));
  });

  add('Pull Image pulls through CRI from the host\'s registry and the image appears in k8s.io', async () => {
    const ref = h.registryImage;
    const before = lines(await ssh(h, ['ctr', '-n', 'k8s.io', 'images', 'ls', '-q']));
    assert.ok(!before.includes(ref), 'the image is there already');
    await vscode.commands.executeCommand('containerd.explorer.pullImage', hostNode, ref);
    const after = lines(await ssh(h, ['ctr', '-n', 'k8s.io', 'images', 'ls', '-q']));
    assert.ok(after.includes(ref), `ctr does not list ${ref} after the pull: ${after.join(', ')}`);
    await waitFor('the pulled image in the tree', async () => (await explorerNodes()).some((n) => n.spec?.image?.repoTags.includes(ref)), 20_000);
  });

  add('Runtime Version and Info opens the runtime info JSON', async () => {
    await vscode.commands.executeCommand('containerd.explorer.runtimeInfo', hostNode);
    const doc = await waitFor('the runtime info document', () => vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'containerd-inspect' && d.uri.path.endsWith('/runtime/info.json')));
    const info = JSON.parse(doc.getText()) as { version?: string; conditions?: unknown[]; access?: string };
    assert.match(info.version ?? '', /^1\.6\./);
    assert.ok(Array.isArray(info.conditions) && info.conditions.length >= 1);
    assert.ok(info.access);
  });
}

/** Entry point called by the extension host (extensionTestsPath). */
export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'tdd', color: false, timeout: 90_000, reporter: 'spec' });
  defineTests(mocha.suite);
  console.log('EXTHOST-SUITE-START'); // test/e2e/codeserver.ts mochaLines() prints what follows
  return new Promise<void>((resolve, reject) => {
    mocha.run((failures) => (failures ? reject(new Error(`${failures} extension-host test(s) failed`)) : resolve()));
  });
}
