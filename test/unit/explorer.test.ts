// The container explorer's pure parts (client/src/explorer/model.ts, refresher.ts): the tree built
// from a runtime snapshot, grouping, the filter, labels, descriptions, icons, contextValue (and that
// package.json's menus offer each action exactly on the items where it is valid), and when the
// refresher subscribes, reloads and stops.
import { describe, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  buildHostNodes,
  containerContext,
  containerDescription,
  countMatches,
  formatAge,
  formatSize,
  highlightsFor,
  imageLabel,
  isImageRef,
  parseFilter,
  runtimeHandlers,
  serviceRows,
  shortImage,
  shortRuntime,
  walk,
  type NodeSpec,
} from '../../client/src/explorer/model';
import { Refresher } from '../../client/src/explorer/refresher';
import type { ContainerInfo, HostSnapshot, ImageInfo, PodInfo, RuntimeInfo } from '../../client/src/core/runtime/types';

const ROOT = process.env.CONTAINERD_TASKSERV_ROOT ?? path.resolve(__dirname, '../../..');
const NOW = Date.parse('2026-09-01T12:00:00Z');
const MIN = 60_000;

const pod = (id: string, name: string, extra: Partial<PodInfo> = {}): PodInfo => ({
  id, name, podNamespace: 'default', uid: `uid-${id}`, attempt: 0, state: 'ready', createdAt: NOW - 90 * MIN,
  labels: {}, annotations: {}, runtimeHandler: '', namespace: 'k8s.io', ...extra,
});
const ctr = (id: string, name: string, extra: Partial<ContainerInfo> = {}): ContainerInfo => ({
  id, name, namespace: 'k8s.io', image: 'docker.io/library/busybox:latest', state: 'running', createdAt: NOW - 5 * MIN,
  labels: {}, source: 'cri', ...extra,
});
const img = (id: string, tags: string[], ns = 'k8s.io', size = 2_200_000): ImageInfo => ({ id, namespace: ns, repoTags: tags, repoDigests: [], size });

const ID = (c: string) => c.repeat(64);

/** A host with CRI pods (two runtimes), a plain ctr container in default, images in both. */
function snapshot(): HostSnapshot {
  return {
    info: {
      access: 'grpc-streamlocal', version: '1.6.20', conditions: [], socket: '/run/containerd/containerd.sock',
    },
    warnings: [],
    takenAt: NOW,
    namespaces: [
      { name: 'default', pods: [], containers: [ctr('idle', 'idle', { namespace: 'default', source: 'containerd', runtime: 'io.containerd.runc.v2', podId: undefined })], images: [img(`sha256:${ID('b')}`, ['docker.io/library/busybox:latest'], 'default')] },
      {
        name: 'k8s.io',
        pods: [pod(ID('1'), 'web'), pod(ID('2'), 'batch', { runtimeHandler: 'crun', state: 'notready' })],
        containers: [
          ctr(ID('a'), 'nginx', { podId: ID('1'), image: 'docker.io/library/nginx:1.27' }),
          ctr(ID('c'), 'sidecar', { podId: ID('1') }),
          ctr(ID('d'), 'job', { podId: ID('2'), state: 'exited', exitCode: 1, runtime: 'crun' }),
          ctr(ID('e'), 'orphan', { podId: ID('9'), state: 'created' }),
          // the sandbox (pause) container of pod web, as containerd lists it: the pod item stands for it
          ctr(ID('1'), 'web', { podId: ID('1'), source: 'containerd', sandbox: true, image: 'registry.k8s.io/pause:3.6' }),
        ],
        images: [img(`sha256:${ID('b')}`, ['docker.io/library/busybox:latest']), img(`sha256:${ID('f')}`, ['docker.io/library/nginx:1.27', 'docker.io/library/nginx:latest'], 'k8s.io', 70_000_000)],
      },
      { name: 'moby', pods: [], containers: [], images: [] },
    ],
  };
}

const labels = (ns: readonly NodeSpec[]) => ns.map((n) => n.label);
const find = (nodes: readonly NodeSpec[], pred: (n: NodeSpec) => boolean) => [...walk(nodes)].find(pred);

describe('explorer model: tree', () => {
  test('namespace grouping: k8s.io first, then default, moby; pods with their containers, loose containers, images', () => {
    const nodes = buildHostNodes(snapshot(), { now: NOW });
    assert.deepEqual(labels(nodes), ['k8s.io', 'default', 'moby']);
    const k8s = nodes[0];
    assert.equal(k8s.contextValue, 'namespace.cri');
    assert.equal(k8s.description, '2 pods · 4 containers · 2 images');
    // pods sorted by name, then the container whose pod is unknown, then the Images folder
    assert.deepEqual(labels(k8s.children!), ['batch', 'web', 'orphan', 'Images']);
    const web = k8s.children![1];
    assert.equal(web.kind, 'pod');
    assert.equal(web.contextValue, 'pod.ready');
    assert.deepEqual(labels(web.children!), ['nginx', 'sidecar'], 'no sandbox container below its pod');
    assert.ok(web.children!.every((c) => c.pod?.id === ID('1')));
    assert.equal(k8s.children![0].contextValue, 'pod.notready');
    const images = k8s.children![3];
    assert.equal(images.contextValue, 'images.cri');
    assert.deepEqual(labels(images.children!), ['busybox:latest', 'nginx:1.27']);
    const def = nodes[1];
    assert.equal(def.contextValue, 'namespace');
    assert.deepEqual(labels(def.children!), ['idle', 'Images']);
    assert.equal(nodes[2].collapsible, 'none', 'an empty namespace cannot expand');
  });

  test('ids are unique and stable across rebuilds', () => {
    const a = [...walk(buildHostNodes(snapshot(), { now: NOW }))].map((n) => n.id);
    const b = [...walk(buildHostNodes(snapshot(), { now: NOW + 10 * MIN }))].map((n) => n.id);
    assert.equal(new Set(a).size, a.length, `duplicate ids: ${a.join(', ')}`);
    assert.deepEqual(a, b);
  });

  test('pod grouping: pods of every namespace first, then containers not in a pod, then all images', () => {
    const nodes = buildHostNodes(snapshot(), { now: NOW, groupBy: 'pod' });
    assert.deepEqual(labels(nodes), ['batch', 'web', 'Containers not in a pod', 'Images']);
    const loose = nodes[2];
    assert.deepEqual(labels(loose.children!), ['orphan', 'idle']);
    assert.match(loose.children![1].description!, /· default$/, 'loose containers name their namespace');
    assert.equal(nodes[3].contextValue, 'images');
    assert.equal(nodes[3].children!.length, 3);
    assert.ok(nodes[3].children!.some((i) => i.description?.endsWith('default')));
  });

  test('runtime grouping: one folder per runtime handler, default first', () => {
    const nodes = buildHostNodes(snapshot(), { now: NOW, groupBy: 'runtime' });
    assert.deepEqual(labels(nodes), ['default', 'crun', 'runc', 'Images']);
    const [def, crun, runc] = nodes;
    assert.deepEqual(labels(def.children!), ['web', 'orphan']);
    assert.deepEqual(labels(crun.children!), ['batch']);
    assert.deepEqual(labels(runc.children!), ['idle']);
    assert.equal(crun.description, '1 pod · 0 containers');
  });
});

describe('explorer model: labels, descriptions, icons, contextValue', () => {
  test('contextValue carries kind, state and CRI or plain', () => {
    assert.equal(containerContext(ctr('x', 'x')), 'container.running.cri');
    assert.equal(containerContext(ctr('x', 'x', { state: 'exited', source: 'containerd' })), 'container.exited.plain');
    assert.equal(containerContext(ctr('x', 'x', { state: 'bogus' as never })), 'container.unknown.cri');
    const nodes = buildHostNodes(snapshot(), { now: NOW });
    assert.equal(find(nodes, (n) => n.label === 'job')!.contextValue, 'container.exited.cri');
    assert.equal(find(nodes, (n) => n.label === 'orphan')!.contextValue, 'container.created.cri');
    assert.equal(find(nodes, (n) => n.label === 'idle')!.contextValue, 'container.running.plain');
    assert.equal(find(nodes, (n) => n.kind === 'image')!.contextValue, 'image');
  });

  test('descriptions: state, image, age, runtime; exit codes; pods; images', () => {
    assert.equal(containerDescription(ctr('x', 'x'), NOW), 'running · busybox:latest · 5m · default');
    assert.equal(containerDescription(ctr('x', 'x', { state: 'exited', exitCode: 137, runtime: 'crun', createdAt: NOW - 3 * 3600_000 }), NOW), 'exited (137) · busybox:latest · 3h · crun');
    assert.equal(containerDescription(ctr('x', 'x', { source: 'containerd', runtime: 'io.containerd.runc.v2', image: 'registry.local:5000/team/app@sha256:' + ID('0') }), NOW),
      'running · registry.local:5000/team/app@sha256:000000000000 · 5m · runc');
    const nodes = buildHostNodes(snapshot(), { now: NOW });
    assert.equal(find(nodes, (n) => n.label === 'batch')!.description, 'not ready · default · 1h · crun · 1 container');
    assert.equal(find(nodes, (n) => n.label === 'nginx:1.27')!.description, `70 MB · sha256:ffffffffffff · +1 tags`);
  });

  test('icons follow the state with theme colors', () => {
    const nodes = buildHostNodes(snapshot(), { now: NOW });
    assert.deepEqual(find(nodes, (n) => n.label === 'nginx')!.icon, { id: 'vm-running', color: 'charts.green' });
    assert.deepEqual(find(nodes, (n) => n.label === 'job')!.icon, { id: 'vm', color: 'charts.red' });
    assert.deepEqual(find(nodes, (n) => n.label === 'orphan')!.icon, { id: 'vm-outline', color: 'charts.blue' });
    assert.equal(find(nodes, (n) => n.label === 'batch')!.icon.color, 'disabledForeground');
  });

  test('formatting helpers', () => {
    assert.deepEqual([0, 59_000, 60_000, 3599_000, 3600_000, 47 * 3600_000, 48 * 3600_000, -5000].map(formatAge), ['0s', '59s', '1m', '59m', '1h', '47h', '2d', '0s']);
    assert.equal(formatSize(0), '');
    assert.equal(formatSize(999), '999 B');
    assert.equal(formatSize(4_400_000), '4.4 MB');
    assert.equal(shortImage('docker.io/library/busybox:latest'), 'busybox:latest');
    assert.equal(shortImage('docker.io/bitnami/redis:7'), 'bitnami/redis:7');
    assert.equal(shortImage('quay.io/x/y:1'), 'quay.io/x/y:1');
    assert.equal(shortImage(`sha256:${ID('a')}`), 'sha256:aaaaaaaaaaaa');
    assert.equal(shortRuntime('io.containerd.runc.v2'), 'runc');
    assert.equal(shortRuntime('io.containerd.runsc.v1'), 'runsc');
    assert.equal(shortRuntime('youki'), 'youki');
    assert.equal(shortRuntime(''), 'default');
    assert.equal(imageLabel(img(`sha256:${ID('3')}`, [])), 'sha256:333333333333');
  });

  test('Service rows: version, CRI, conditions like crictl info, access path with its note, socket', () => {
    const info: RuntimeInfo = {
      access: 'grpc-bridge', accessNote: 'the login user cannot open the socket; using sudo socat',
      version: '1.6.20', revision: '1.6.20~ds1-1+b1',
      cri: { runtimeName: 'containerd', runtimeVersion: '1.6.20', runtimeApiVersion: 'v1' },
      conditions: [{ type: 'RuntimeReady', status: true }, { type: 'NetworkReady', status: false, reason: 'NetworkPluginNotReady', message: 'cni plugin not initialized' }],
      socket: '/run/containerd/containerd.sock',
    };
    const rows = serviceRows(info);
    assert.deepEqual(rows.map((r) => r.label), ['containerd 1.6.20', 'CRI v1', 'RuntimeReady', 'NetworkReady', 'gRPC over an SSH exec bridge (socat)', '/run/containerd/containerd.sock']);
    assert.equal(rows[3].description, 'false · NetworkPluginNotReady: cni plugin not initialized');
    assert.equal(rows[3].icon.id, 'error');
    assert.equal(rows[2].icon.id, 'pass');
    assert.equal(rows[4].description, info.accessNote);
    assert.match(serviceRows({ ...info, cri: undefined, access: 'cli' })[1].description!, /not available/);
  });
});

describe('explorer model: filter', () => {
  test('parseFilter: words and key:value terms, aliases, blank', () => {
    assert.equal(parseFilter('  '), undefined);
    assert.equal(parseFilter(undefined), undefined);
    assert.deepEqual(parseFilter('Busybox state:Running namespace:k8s.io foo:bar')!.terms, [
      { value: 'busybox' }, { key: 'state', value: 'running' }, { key: 'ns', value: 'k8s.io' }, { value: 'foo:bar' },
    ]);
  });

  test('a word matches names, images, states, runtimes and id prefixes; all terms must match', () => {
    const count = (text: string) => countMatches(snapshot(), parseFilter(text));
    assert.deepEqual(count('nginx'), { containers: 1, pods: 0, images: 1 });
    assert.deepEqual(count('busybox'), { containers: 4, pods: 0, images: 2 });
    assert.deepEqual(count('state:exited'), { containers: 1, pods: 0, images: 0 });
    assert.deepEqual(count('crun'), { containers: 1, pods: 1, images: 0 });
    assert.deepEqual(count('busybox state:running ns:k8s.io'), { containers: 1, pods: 0, images: 0 }, 'images have no state');
    assert.deepEqual(count('busybox ns:k8s.io'), { containers: 3, pods: 0, images: 1 });
    assert.deepEqual(count(`id:${'d'.repeat(8)}`), { containers: 1, pods: 0, images: 0 });
    assert.deepEqual(count('dddd'), { containers: 1, pods: 0, images: 0 }, 'bare words match ids only as a prefix');
    assert.deepEqual(count('pod:web'), { containers: 2, pods: 1, images: 0 });
    assert.deepEqual(count('nothing-like-this'), { containers: 0, pods: 0, images: 0 });
  });

  test('the filtered tree keeps only matches (and their parents), expanded', () => {
    const nodes = buildHostNodes(snapshot(), { now: NOW, filter: parseFilter('sidecar') });
    assert.deepEqual(labels(nodes), ['k8s.io']);
    assert.deepEqual(labels(nodes[0].children!), ['web']);
    assert.deepEqual(labels(nodes[0].children![0].children!), ['sidecar']);
    assert.equal(nodes[0].collapsible, 'expanded');
    assert.equal(nodes[0].children![0].collapsible, 'expanded');
    // a matching pod shows all its containers
    const web = buildHostNodes(snapshot(), { now: NOW, filter: parseFilter('web') });
    assert.deepEqual(labels(web[0].children![0].children!), ['nginx', 'sidecar']);
    // images only
    const nginxImages = buildHostNodes(snapshot(), { now: NOW, filter: parseFilter('nginx:latest') });
    assert.deepEqual(labels(nginxImages[0].children!), ['Images']);
    assert.equal(nginxImages[0].children![0].description, '1 of 2');
    // a namespace term alone shows the whole namespace and hides the others
    assert.deepEqual(labels(buildHostNodes(snapshot(), { now: NOW, filter: parseFilter('ns:default') })), ['default']);
    assert.deepEqual(buildHostNodes(snapshot(), { now: NOW, filter: parseFilter('zzz') }), []);
  });

  test('the filter applies in the other groupings too', () => {
    const byPod = buildHostNodes(snapshot(), { now: NOW, groupBy: 'pod', filter: parseFilter('idle') });
    assert.deepEqual(labels(byPod), ['Containers not in a pod']);
    assert.deepEqual(labels(byPod[0].children!), ['idle']);
    const byRt = buildHostNodes(snapshot(), { now: NOW, groupBy: 'runtime', filter: parseFilter('state:exited') });
    assert.deepEqual(labels(byRt), ['crun']);
  });

  test('highlights mark the words in labels', () => {
    assert.deepEqual(highlightsFor(parseFilter('box'), 'busybox:latest'), [[4, 7]]);
    assert.deepEqual(highlightsFor(parseFilter('busy ybox'), 'busybox:latest'), [[0, 7]]);
    assert.equal(highlightsFor(parseFilter('state:running'), 'running-thing'), undefined);
    assert.equal(highlightsFor(undefined, 'x'), undefined);
  });
});

describe('explorer model: input checks', () => {
  test('image references', () => {
    for (const ok of ['busybox', 'busybox:latest', 'docker.io/library/busybox:1.36', 'localhost:5000/team/app:v1.2_3', `quay.io/a/b@sha256:${ID('0')}`, '127.0.0.1:5000/x']) {
      assert.ok(isImageRef(ok), ok);
    }
    for (const bad of ['', 'Busybox', 'busy box', 'x;rm -rf /', '$(id)', 'a//b', 'x:', ':tag', `x@sha256:${ID('0').slice(1)}`, '-x', 'a'.repeat(600)]) {
      assert.ok(!isImageRef(bad), bad);
    }
  });

  test('runtime handlers from the verbose CRI status, default first', () => {
    const info = { config: { containerd: { defaultRuntimeName: 'runc', runtimes: { youki: {}, runc: {}, crun: {} } } } };
    assert.deepEqual(runtimeHandlers(info), ['runc', 'crun', 'youki']);
    assert.deepEqual(runtimeHandlers(undefined), []);
    assert.deepEqual(runtimeHandlers({ config: 'nope' }), []);
  });
});

// ---- package.json menus against the contextValues --------------------------------------------------

interface MenuItem { command: string; when?: string; group?: string }
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  contributes: { commands: { command: string; title: string; category?: string; icon?: string; enablement?: string }[]; menus: Record<string, MenuItem[]>; configuration: { properties: Record<string, unknown> } };
};
const nls = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.nls.json'), 'utf8')) as Record<string, string>;

/** Evaluate the `viewItem =~ /re/` / `viewItem == x` parts of a when clause for one contextValue (other terms true). */
function offered(command: string, contextValue: string): boolean {
  const items = (pkg.contributes.menus['view/item/context'] ?? []).filter((m) => m.command === command);
  return items.some((m) => {
    const when = m.when ?? '';
    const re = /viewItem\s*=~\s*\/((?:\\\/|[^/])+)\/([a-z]*)/.exec(when);
    if (re) return new RegExp(re[1].replace(/\\\//g, '/'), re[2]).test(contextValue);
    const eq = /viewItem\s*==\s*([\w.-]+)/.exec(when);
    return eq ? eq[1] === contextValue : false;
  });
}

describe('package.json: explorer actions only where they are valid', () => {
  const CONTAINERS = ['created', 'running', 'exited', 'paused', 'unknown'].flatMap((s) => [`container.${s}.cri`, `container.${s}.plain`]);
  const expectOn = (command: string, valid: string[], universe: string[]) => {
    for (const cv of universe) assert.equal(offered(command, cv), valid.includes(cv), `${command} on ${cv}: expected ${valid.includes(cv) ? 'offered' : 'not offered'}`);
  };

  test('container actions follow the state', () => {
    expectOn('containerd.explorer.start', ['container.created.cri', 'container.created.plain', 'container.exited.plain'], CONTAINERS);
    expectOn('containerd.explorer.stop', ['container.running.cri', 'container.running.plain'], CONTAINERS);
    expectOn('containerd.explorer.exec', ['container.running.cri', 'container.running.plain'], CONTAINERS);
    expectOn('containerd.explorer.remove', CONTAINERS.filter((c) => !c.startsWith('container.running.')), CONTAINERS);
    expectOn('containerd.explorer.logs', CONTAINERS.filter((c) => c.endsWith('.cri')), CONTAINERS);
    expectOn('containerd.explorer.inspect', CONTAINERS, CONTAINERS);
  });

  test('pods, images, folders', () => {
    const ALL = ['pod.ready', 'pod.notready', 'image', 'images', 'images.cri', 'namespace', 'namespace.cri', 'group.plain', 'group.runtime', 'container.running.cri', 'explorerError', 'message'];
    expectOn('containerd.explorer.stopPod', ['pod.ready'], ALL);
    expectOn('containerd.explorer.removePod', ['pod.ready', 'pod.notready'], ALL);
    expectOn('containerd.explorer.removeImage', ['image'], ALL);
    expectOn('containerd.explorer.pruneImages', ['images', 'images.cri', 'namespace', 'namespace.cri'], ALL);
    expectOn('containerd.explorer.copyId', ['pod.ready', 'pod.notready', 'image', 'container.running.cri'], ALL);
    expectOn('containerd.explorer.retry', ['explorerError'], ALL);
    expectOn('containerd.explorer.pullImage', ['images.cri', 'namespace.cri', 'host.active'], [...ALL, 'host.active', 'host.unreachable']);
  });

  test('every explorer command has the category, an icon, a title; item-only ones are hidden from the palette; destructive ones end in …', () => {
    const cmds = pkg.contributes.commands.filter((c) => c.command.startsWith('containerd.explorer.'));
    assert.ok(cmds.length >= 18, `only ${cmds.length} explorer commands`);
    const hidden = new Set((pkg.contributes.menus.commandPalette ?? []).filter((m) => m.when === 'false').map((m) => m.command));
    for (const c of cmds) {
      assert.equal(c.category, 'containerd', c.command);
      assert.match(c.icon ?? '', /^\$\([a-z-]+\)$/, `${c.command} icon`);
      const title = c.title.replace(/^%(.+)%$/, (_m, k: string) => nls[k] ?? `MISSING ${k}`);
      assert.doesNotMatch(title, /MISSING/, `${c.command}: no title in package.nls.json`);
      if (/remove|prune|stopPod/i.test(c.command)) assert.match(title, /…$/, `${c.command} is destructive: "${title}" should end in …`);
      const itemOnly = !['filter', 'clearFilter', 'groupBy', 'pullImage', 'pruneImages', 'runPod', 'runtimeInfo', 'refresh'].includes(c.command.replace('containerd.explorer.', ''));
      assert.equal(hidden.has(c.command), itemOnly, `${c.command}: ${itemOnly ? 'should be' : 'should not be'} hidden from the palette`);
      if (!['filter', 'clearFilter', 'groupBy', 'copyId'].includes(c.command.replace('containerd.explorer.', ''))) {
        assert.equal(c.enablement, 'isWorkspaceTrusted', `${c.command} reaches hosts: needs a trusted workspace`);
      }
    }
    const props = pkg.contributes.configuration.properties;
    assert.ok(props['containerd.explorer.groupBy'] && props['containerd.explorer.pollInterval']);
  });
});

// ---- refresher ------------------------------------------------------------------------------------

/** Records what the refresher asks for; `emit(key)` delivers an event on the host's open stream. */
function recorder() {
  const streams = new Map<string, { onEvent: () => void; end: (e?: unknown) => void; signal: AbortSignal }>();
  const calls: string[] = [];
  const deps = {
    subscribe(key: string, onEvent: () => void, signal: AbortSignal) {
      calls.push(`subscribe ${key}`);
      return new Promise<void>((resolve, reject) => {
        const end = (e?: unknown) => {
          streams.delete(key);
          if (e) reject(e);
          else resolve();
        };
        streams.set(key, { onEvent, end, signal });
        signal.addEventListener('abort', () => {
          calls.push(`unsubscribe ${key}`);
          end();
        });
      });
    },
    refresh(key: string, reason: string) {
      calls.push(`refresh ${key} ${reason}`);
    },
    onStreamEnded(key: string) {
      calls.push(`ended ${key}`);
    },
  };
  return { deps, calls, streams, emit: (key: string) => streams.get(key)?.onEvent(), end: (key: string, e?: unknown) => streams.get(key)?.end(e) };
}

const flush = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

describe('refresher', () => {
  test('subscribes only while the view is visible and the host expanded; resumes with one reload', async () => {
    mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] });
    try {
      const r = recorder();
      const ref = new Refresher(r.deps, { pollMs: 0 });
      ref.setExpanded('h1', true);
      assert.deepEqual(r.calls, [], 'hidden view: nothing');
      ref.setVisible(true);
      assert.deepEqual(r.calls, ['subscribe h1']);
      ref.setExpanded('h2', false);
      assert.deepEqual(ref.stats().subscribed, ['h1'], 'collapsed h2 is not watched');
      ref.setVisible(false);
      await flush();
      assert.deepEqual(ref.stats().subscribed, []);
      r.calls.length = 0;
      ref.setVisible(true);
      await flush();
      assert.deepEqual(r.calls, ['subscribe h1', 'refresh h1 resume']);
      ref.setSuspended('h1', true); // its group collapsed
      await flush();
      assert.deepEqual(ref.stats().subscribed, []);
      ref.dispose();
    } finally {
      mock.timers.reset();
    }
  });

  test('every opened stream is followed by one settle reload (what changed before it was registered)', async () => {
    mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] });
    try {
      const r = recorder();
      const ref = new Refresher(r.deps, { pollMs: 0, settleMs: 2000, resubscribeDelaysMs: [1000] });
      ref.setVisible(true);
      ref.setExpanded('h1', true);
      mock.timers.tick(1999);
      await flush();
      assert.deepEqual(r.calls, ['subscribe h1']);
      mock.timers.tick(1);
      await flush();
      assert.deepEqual(r.calls, ['subscribe h1', 'refresh h1 settle']);
      mock.timers.tick(60_000);
      await flush();
      assert.equal(r.calls.length, 2, 'once per stream, not a poll');
      // closed before it settles: no reload for it
      r.calls.length = 0;
      ref.setExpanded('h1', false);
      ref.setExpanded('h1', true);
      ref.setExpanded('h1', false);
      mock.timers.tick(5000);
      await flush();
      assert.deepEqual(r.calls.filter((c) => c.startsWith('refresh')), ['refresh h1 resume'], r.calls.join('\n'));
      // a reopened stream settles too
      ref.setExpanded('h1', true);
      await flush();
      r.calls.length = 0;
      r.end('h1', new Error('dropped'));
      await flush();
      mock.timers.tick(1000); // resubscribe
      await flush();
      mock.timers.tick(2000);
      await flush();
      assert.deepEqual(r.calls, ['ended h1', 'refresh h1 stream-ended', 'subscribe h1', 'refresh h1 settle']);
      ref.dispose();
    } finally {
      mock.timers.reset();
    }
  });

  test('a burst of events is one reload after the debounce; a long burst reloads by maxWait', async () => {
    mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] });
    try {
      const r = recorder();
      const ref = new Refresher(r.deps, { pollMs: 0, debounceMs: 300, maxWaitMs: 2000 });
      ref.setVisible(true);
      ref.setExpanded('h1', true);
      for (let i = 0; i < 20; i++) {
        r.emit('h1');
        mock.timers.tick(10);
      }
      assert.equal(r.calls.filter((c) => c.startsWith('refresh')).length, 0, 'nothing during the burst');
      mock.timers.tick(300);
      await flush();
      assert.deepEqual(r.calls.filter((c) => c.startsWith('refresh')), ['refresh h1 event']);
      // an endless stream of events, 100 ms apart, still reloads (every ≤ 2 s)
      for (let i = 0; i < 45; i++) {
        r.emit('h1');
        mock.timers.tick(100);
        await flush();
      }
      const n = r.calls.filter((c) => c.startsWith('refresh')).length;
      assert.ok(n >= 3, `only ${n} reloads during a 4.5 s burst`);
      assert.equal(ref.stats().counts.h1.events, 65);
      ref.dispose();
    } finally {
      mock.timers.reset();
    }
  });

  test('fallback poll only while active; a changed interval applies at once', async () => {
    mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] });
    try {
      const r = recorder();
      const ref = new Refresher(r.deps, { pollMs: 30_000, settleMs: 0 }); // (polls only: no settle reload)
      ref.setExpanded('h1', true);
      mock.timers.tick(120_000);
      assert.equal(r.calls.length, 0, 'no polling while hidden');
      ref.setVisible(true);
      mock.timers.tick(61_000);
      await flush();
      assert.equal(r.calls.filter((c) => c === 'refresh h1 poll').length, 2);
      ref.setExpanded('h1', false);
      mock.timers.tick(120_000);
      await flush();
      assert.equal(r.calls.filter((c) => c === 'refresh h1 poll').length, 2, 'no polling while collapsed');
      ref.setExpanded('h1', true);
      ref.setPollInterval(0);
      assert.deepEqual(ref.stats().polling, []);
      ref.dispose();
    } finally {
      mock.timers.reset();
    }
  });

  test('a stream that ends by itself reloads and reopens a bounded number of times', async () => {
    mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] });
    try {
      const r = recorder();
      const ref = new Refresher(r.deps, { pollMs: 0, resubscribeDelaysMs: [1000, 5000] });
      ref.setVisible(true);
      ref.setExpanded('h1', true);
      for (let i = 0; i < 4; i++) {
        r.end('h1', new Error('connection closed'));
        await flush();
        mock.timers.tick(5000);
        await flush();
      }
      assert.equal(r.calls.filter((c) => c === 'subscribe h1').length, 3, r.calls.join('\n'));
      assert.equal(r.calls.filter((c) => c === 'ended h1').length, 3);
      assert.equal(r.calls.filter((c) => c === 'refresh h1 stream-ended').length, 3);
      // an event resets the failure count
      ref.setExpanded('h1', false);
      ref.setExpanded('h1', true);
      await flush();
      assert.equal(ref.stats().subscribed.length, 1);
      ref.dispose();
      await flush();
      assert.deepEqual(ref.stats().subscribed, []);
    } finally {
      mock.timers.reset();
    }
  });

  test('reloads of one host never overlap; requests during one coalesce into one more', async () => {
    let running = 0;
    let max = 0;
    let count = 0;
    let release: () => void = () => undefined;
    const ref = new Refresher({
      subscribe: (_k, _e, signal) => new Promise<void>((res) => signal.addEventListener('abort', () => res())),
      refresh: async () => {
        running++;
        count++;
        max = Math.max(max, running);
        await new Promise<void>((res) => (release = res));
        running--;
      },
    }, { pollMs: 0, debounceMs: 0 });
    ref.setExpanded('h1', true);
    ref.setVisible(true);
    ref.restart('h1'); // → one 'resume' reload
    await flush();
    assert.equal(count, 1);
    ref.restart('h1');
    ref.restart('h1');
    await flush();
    assert.equal(count, 1, 'still the first reload');
    release();
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(count, 2, 'one more after it');
    release();
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(max, 1);
    ref.dispose();
  });
});
