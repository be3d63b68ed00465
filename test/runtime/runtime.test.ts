/*
 * The runtime-access core (client/src/core/runtime) against real hosts (test/hosts/testHosts.ts:
 * Debian bookworm booted with systemd-nspawn, containerd 1.6 as a systemd service, sshd), through
 * the real SSH pool: gRPC over SSH streamlocal (root), over a sudo socat bridge (deploy), and the
 * ctr CLI fallback. Real CRI pods and containers are created through our client; plain containerd
 * containers with `ctr run -d`; answers are checked against what `ctr` itself reports on the host.
 * Without root or the tools the tests skip; with CI=true they fail loudly (requireOrSkip).
 */
import { after, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { bootHosts, killHost, requireOrSkip, stopHosts, HOSTS_KEY, HOSTS_KNOWN_HOSTS, SUDOPW_PASSWORD, BUSYBOX, type TestHost } from '../hosts/testHosts';
import { createSshPool, type Credentials, type HostConfig, type SshPool } from '../../client/src/core/ssh';
import { normalizeConfig } from '../../client/src/core/runtime/grpcClient';
import { stubs } from '../../client/src/core/runtime/proto';
import { eventSubject, groupContainerdImages, nsToMs, shortRuntime, tsToMs } from '../../client/src/core/runtime/map';
import { parseSize, parseTable } from '../../client/src/core/runtime/ctr';
import { parseGoTime } from '../../client/src/core/runtime/cliClient';
import { checkImageRef } from '../../client/src/core/runtime/validate';
import {
  connectRuntime,
  RuntimeError,
  CRI_NAMESPACE,
  ID_PATTERN,
  type ContainerInfo,
  type HostSnapshot,
  type RuntimeClient,
  type RuntimeEvent,
} from '../../client/src/core/runtime';

const credentials: Credentials = {
  confirmHostKey: async () => false, // every test host is in HOSTS_KNOWN_HOSTS
  passphrase: async () => undefined,
  password: async () => undefined,
  sudoPassword: async () => SUDOPW_PASSWORD,
  forget: async () => undefined,
};

/**
 * containerd config for the tests: the sandbox ("pause") image is the local busybox (no network on
 * the hosts; its default command is a TERM-aware idle loop), the host's registry on localhost:5000
 * is a plain-HTTP mirror for CRI pulls, and oom_score_adj stays ≥ containerd's own (inside nspawn a
 * negative oom_score_adj, which CRI gives sandboxes, is not permitted).
 */
const CONFIG = `version = 2

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "${BUSYBOX.ref}"
    restrict_oom_score_adj = true
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "/etc/cni/net.d"
    [plugins."io.containerd.grpc.v1.cri".registry.mirrors."localhost:5000"]
      endpoint = ["http://localhost:5000"]
  [plugins."io.containerd.internal.v1.opt"]
    path = "/var/lib/containerd/opt"
`;
const REGISTRY_REF = 'localhost:5000/busybox:test';

let hosts: TestHost[] = [];
let pool: SshPool;
const cfg = (h: TestHost, user = 'root'): HostConfig => ({
  name: user === 'root' ? h.name : `${user}@${h.name}`,
  host: h.address,
  port: h.port,
  user,
  identityFile: HOSTS_KEY,
  sudo: user === 'root' ? 'none' : user === 'sudopw' ? 'password' : 'nopasswd',
});

async function sh(h: TestHost, script: string, timeoutMs = 120_000): Promise<string> {
  const r = await h.ssh(['sh', '-c', script], { timeoutMs });
  assert.equal(r.code, 0, `${script}\n${r.stderr}`);
  return r.stdout;
}
const lines = (s: string): string[] => s.split('\n').map((l) => l.trim()).filter(Boolean).sort();
const ctrLs = async (h: TestHost, ns: string, what: 'containers' | 'images', ...filters: string[]): Promise<string[]> => {
  const r = await h.ssh(['ctr', '-n', ns, what, 'ls', '-q', ...filters]);
  assert.equal(r.code, 0, r.stderr);
  return lines(r.stdout);
};
const ids = (cs: { id: string }[]): string[] => cs.map((c) => c.id).sort();
const nsOf = (s: HostSnapshot, ns: string) => {
  const n = s.namespaces.find((x) => x.name === ns);
  assert.ok(n, `namespace ${ns} in the snapshot (have ${s.namespaces.map((x) => x.name).join(', ')})`);
  return n;
};
async function expectRefused(p: () => Promise<unknown>, what: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof RuntimeError, `${what}: ${String(e)}`);
    assert.equal(e.kind, 'invalid', `${what}: ${e.message}`);
    assert.match(e.message, /refusing|must be|not a field/, what);
    return true;
  });
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, f: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (let i = 0; i < 1000; i++) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) break;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Pod and container configs in crictl's JSON shape (snake_case); host network: no CNI needed. */
const podConfig = (name: string) => ({
  metadata: { name, namespace: 'rt-test', uid: `uid-${name}`, attempt: 0 },
  log_directory: `/var/log/pods/rt-test_${name}`,
  labels: { app: name },
  linux: { security_context: { namespace_options: { network: 2 } } }, // NamespaceMode NODE
});
const containerConfig = (name: string) => ({
  metadata: { name },
  image: { image: BUSYBOX.ref },
  log_path: `${name}.log`,
  labels: { role: 'test' },
});

/** Prepare a host: localhost name, registry without auth, our containerd config, busybox in k8s.io and default, busybox in the registry. */
async function prepare(h: TestHost): Promise<void> {
  await h.ssh(['sh', '-c', 'cat > /etc/containerd/config.toml'], { input: CONFIG });
  await sh(
    h,
    [
      'set -e',
      'grep -qw localhost /etc/hosts || echo "127.0.0.1 localhost" >> /etc/hosts',
      // Debian's registry config asks for htpasswd auth (with a directory as the file): plain HTTP without auth here
      `sed -i '/^auth:/,/^[^ ]/{/^auth:/d;/^  /d}' /etc/docker/registry/config.yml`,
      'systemctl restart docker-registry containerd',
      'for i in $(seq 100); do ctr version >/dev/null 2>&1 && break; sleep 0.2; done',
      `ctr -n ${CRI_NAMESPACE} images import --base-name docker.io/library/busybox ${BUSYBOX.tar} >/dev/null`,
      `ctr -n default images import --base-name docker.io/library/busybox ${BUSYBOX.tar} >/dev/null`,
      `ctr -n ${CRI_NAMESPACE} images tag ${BUSYBOX.ref} ${REGISTRY_REF} >/dev/null`,
      `for i in $(seq 50); do ctr -n ${CRI_NAMESPACE} images push --plain-http ${REGISTRY_REF} >/dev/null 2>&1 && break; sleep 0.3; done`,
      `ctr -n ${CRI_NAMESPACE} images push --plain-http ${REGISTRY_REF} >/dev/null`,
      `ctr -n ${CRI_NAMESPACE} images rm ${REGISTRY_REF} >/dev/null`,
    ].join('\n'),
  );
}

let skip: string | false = false;
const clients: RuntimeClient[] = [];
/** A client for this test, closed when the test ends (a bridge holds one of sshd's 10 sessions per connection). */
const connect = async (t: TestContext, h: TestHost, user = 'root', access?: 'grpc-streamlocal' | 'grpc-bridge' | 'cli'): Promise<RuntimeClient> => {
  const c = await connectRuntime(await pool.get(cfg(h, user)), { access });
  clients.push(c);
  t.after(() => c.close());
  return c;
};

describe('runtime access on real hosts', { timeout: 900_000 }, () => {
  // Hosts boot on first use (not in a before hook): a run filtered to the host-less tests boots none.
  let booting: Promise<void> | undefined;
  const setup = () =>
    (booting ??= (async () => {
      try {
        hosts = await bootHosts(2);
      } catch (e) {
        if (process.env.CI === 'true') throw e;
        skip = `the test hosts did not boot: ${e instanceof Error ? e.message : String(e)}`;
        return;
      }
      pool = createSshPool({ credentials, knownHostsPath: HOSTS_KNOWN_HOSTS, agentSocket: null, connectTimeoutMs: 10_000 });
      await Promise.all(hosts.map(prepare));
    })());
  after(async () => {
    for (const c of clients) c.close();
    pool?.closeAll();
    if (booting) await stopHosts();
  });
  const ready = async (t: TestContext): Promise<boolean> => {
    if (!requireOrSkip(t)) return false;
    await setup();
    if (skip) t.skip(skip);
    return !skip;
  };

  test('root gets gRPC over streamlocal, deploy (NOPASSWD sudo, no socket access) and sudopw get the sudo bridge', async (t) => {
    if (!(await ready(t))) return;
    const h = hosts[0];
    const root = await connect(t, h);
    assert.equal(root.access, 'grpc-streamlocal');
    const ri = await root.info();
    assert.equal(ri.access, 'grpc-streamlocal');
    assert.equal(ri.accessNote, undefined);
    assert.match(ri.version, /^1\.6\./);
    assert.equal(ri.cri?.runtimeName, 'containerd');
    assert.equal(ri.cri?.runtimeApiVersion, 'v1');
    assert.deepEqual(ri.conditions.find((c) => c.type === 'RuntimeReady')?.status, true);
    assert.ok(ri.criInfo && 'config' in ri.criInfo, 'verbose CRI status info');
    assert.ok(ri.imageFs?.length && ri.imageFs[0].mountpoint.startsWith('/var/lib/containerd'), JSON.stringify(ri.imageFs));

    // the deploy user really cannot open the socket itself
    assert.notEqual((await h.ssh(['socat', '-u', '/dev/null', 'UNIX-CONNECT:/run/containerd/containerd.sock'], { user: 'deploy' })).code, 0);
    for (const user of ['deploy', 'sudopw']) {
      const c = await connect(t, h, user);
      assert.equal(c.access, 'grpc-bridge', user);
      const info = await c.info();
      assert.match(info.accessNote ?? '', /cannot open \/run\/containerd\/containerd\.sock/, user);
      assert.match(info.accessNote ?? '', /sudo socat/, user);
      assert.equal(info.version, ri.version);
      t.diagnostic(`${user}: ${info.accessNote}`);
    }
  });

  test('CRI pods and containers created through our client; snapshot = ctr + CRI; exec, stop, remove', async (t) => {
    if (!(await ready(t))) return;
    const h = hosts[0];
    const rt = await connect(t, h, 'deploy'); // through the sudo bridge
    const podA = await rt.runPod(podConfig('pod-a'));
    const podB = await rt.runPod(podConfig('pod-b'), '');
    assert.match(podA, ID_PATTERN);
    const c1 = await rt.createContainer(podA, containerConfig('c1'), podConfig('pod-a'));
    const c2 = await rt.createContainer(podA, containerConfig('c2'), podConfig('pod-a'));
    const c3 = await rt.createContainer(podB, { ...containerConfig('c3'), command: ['sh', '-c', 'echo to-log; exec sleep 1000'] }, podConfig('pod-b'));
    for (const c of [c1, c2, c3]) await rt.startContainer(CRI_NAMESPACE, c);
    const c4 = await rt.createContainer(podB, containerConfig('c4'), podConfig('pod-b')); // created, never started

    const snap = await rt.snapshot();
    assert.deepEqual(snap.warnings, []);
    const k8s = nsOf(snap, CRI_NAMESPACE);
    assert.deepEqual(ids(k8s.containers), await ctrLs(h, CRI_NAMESPACE, 'containers'), 'k8s.io containers = ctr -n k8s.io containers ls -q');
    assert.deepEqual(ids(k8s.pods), await ctrLs(h, CRI_NAMESPACE, 'containers', 'labels."io.cri-containerd.kind"==sandbox'), 'pods = the CRI sandboxes');
    assert.deepEqual(
      ids(k8s.containers.filter((c) => c.source === 'cri')),
      await ctrLs(h, CRI_NAMESPACE, 'containers', 'labels."io.cri-containerd.kind"==container'),
      'CRI containers = the CRI container records',
    );
    const pa = k8s.pods.find((p) => p.id === podA)!;
    assert.equal(pa.name, 'pod-a');
    assert.equal(pa.podNamespace, 'rt-test');
    assert.equal(pa.uid, 'uid-pod-a');
    assert.equal(pa.state, 'ready');
    assert.equal(pa.labels.app, 'pod-a');
    assert.equal(pa.namespace, CRI_NAMESPACE);
    assert.ok(Math.abs(pa.createdAt - Date.now()) < 10 * 60_000, `createdAt in ms: ${pa.createdAt}`);
    const byId = new Map(k8s.containers.map((c) => [c.id, c]));
    const tasks = new Map(lines((await sh(h, `ctr -n ${CRI_NAMESPACE} tasks ls | tail -n +2`))).map((l) => l.split(/\s+/)).map(([id, pid, st]) => [id, { pid: Number(pid), st }]));
    for (const [id, name, pod, state] of [
      [c1, 'c1', podA, 'running'],
      [c2, 'c2', podA, 'running'],
      [c3, 'c3', podB, 'running'],
      [c4, 'c4', podB, 'created'],
    ] as const) {
      const c = byId.get(id)!;
      assert.equal(c.source, 'cri');
      assert.equal(c.name, name);
      assert.equal(c.podId, pod);
      assert.equal(c.state, state, `${name} state`);
      assert.equal(c.image, BUSYBOX.ref);
      assert.match(c.imageRef ?? '', /^sha256:[0-9a-f]{64}$/);
      assert.equal(c.runtime, 'runc');
      assert.equal(c.logPath, `/var/log/pods/rt-test_${pod === podA ? 'pod-a' : 'pod-b'}/${name}.log`);
      assert.equal(c.labels.role, 'test');
      assert.ok(c.createdAt >= pa.createdAt - 1000, `${name} createdAt`);
      if (state === 'running') {
        assert.equal(c.pid, tasks.get(id)?.pid, `${name} pid = ctr tasks ls`);
        assert.ok(c.startedAt && c.startedAt >= c.createdAt);
      } else assert.equal(c.pid, undefined);
    }
    const sb = byId.get(podA)!;
    assert.equal(sb.sandbox, true);
    assert.equal(sb.podId, podA);
    assert.equal(sb.name, 'pod-a');
    // the log file CRI reports is really there, with the container's output
    await until('c3 output in its log', async () => ((await h.ssh(['cat', byId.get(c3)!.logPath!])).stdout.includes('to-log') ? true : undefined));

    // exec through CRI ExecSync
    const ex = await rt.execSync(CRI_NAMESPACE, c1, ['sh', '-c', 'echo out-$((6*7)); echo err >&2; exit 3']);
    assert.deepEqual(ex, { stdout: 'out-42\n', stderr: 'err\n', exitCode: 3 });
    const insp = (await rt.inspectContainer(CRI_NAMESPACE, c1)) as { status: { logPath: string }; info: { info?: { pid?: number } } };
    assert.equal(insp.status.logPath, byId.get(c1)!.logPath);
    assert.equal(insp.info.info?.pid, byId.get(c1)!.pid, 'verbose info carries the pid');
    const podInsp = (await rt.inspectPod(podA)) as { status: { metadata: { name: string } } };
    assert.equal(podInsp.status.metadata.name, 'pod-a');
    const stats = await rt.containerStats!(c1);
    assert.ok((stats.memoryWorkingSetBytes ?? 0) > 0, JSON.stringify(stats));

    // stop: exited right after; remove: gone from ctr too
    await rt.stopContainer(CRI_NAMESPACE, c1, 5);
    const afterStop = new Map((await rt.listContainers(CRI_NAMESPACE)).map((c) => [c.id, c]));
    assert.equal(afterStop.get(c1)?.state, 'exited');
    assert.equal(afterStop.get(c1)?.exitCode, 0, 'busybox idle loop exits 0 on SIGTERM');
    assert.ok(afterStop.get(c1)?.finishedAt);
    assert.equal(afterStop.get(c2)?.state, 'running');
    await rt.removeContainer(CRI_NAMESPACE, c1);
    assert.ok(!(await ctrLs(h, CRI_NAMESPACE, 'containers')).includes(c1), 'c1 removed');
    await rt.stopPod(podB);
    const pods = new Map((await rt.listPods()).map((p) => [p.id, p]));
    assert.equal(pods.get(podB)?.state, 'notready');
    assert.equal(pods.get(podA)?.state, 'ready');
    const afterPodStop = new Map((await rt.listContainers(CRI_NAMESPACE)).map((c) => [c.id, c]));
    assert.equal(afterPodStop.get(c3)?.state, 'exited', 'stopping a pod stops its containers');
    await rt.removePod(podB);
    assert.deepEqual(ids(await rt.listPods()), [podA]);
    const left = await ctrLs(h, CRI_NAMESPACE, 'containers');
    for (const gone of [podB, c3, c4]) assert.ok(!left.includes(gone), `${gone} removed with its pod`);
    await rt.stopPod(podA);
    await rt.removePod(podA);
    assert.deepEqual(await ctrLs(h, CRI_NAMESPACE, 'containers'), []);
  });

  test('plain containerd containers (ctr run -d in default): listed exactly, stop/start/exec/remove, sandbox refused', async (t) => {
    if (!(await ready(t))) return;
    const h = hosts[0];
    await sh(h, `ctr -n default run -d --label purpose=rt ${BUSYBOX.ref} plain-1 && ctr -n default run -d ${BUSYBOX.ref} plain-2 && ctr -n default containers create ${BUSYBOX.ref} plain-3`);
    for (const user of ['root', 'deploy']) {
      const rt = await connect(t, h, user);
      const snap = await rt.snapshot();
      const def = nsOf(snap, 'default');
      assert.deepEqual(ids(def.containers), await ctrLs(h, 'default', 'containers'), `${user}: default containers = ctr -n default c ls -q`);
      assert.deepEqual(def.pods, []);
      const p1 = def.containers.find((c) => c.id === 'plain-1')!;
      assert.equal(p1.source, 'containerd');
      assert.equal(p1.state, 'running');
      assert.equal(p1.image, BUSYBOX.ref);
      assert.match(p1.imageRef ?? '', /^sha256:/);
      assert.equal(p1.runtime, 'runc');
      assert.equal(p1.labels.purpose, 'rt');
      assert.equal(p1.logPath, undefined);
      assert.equal(p1.podId, undefined);
      const pid = Number((await sh(h, 'ctr -n default tasks ls | awk \'$1=="plain-1"{print $2}\'')).trim());
      assert.equal(p1.pid, pid);
      assert.equal(def.containers.find((c) => c.id === 'plain-3')!.state, 'created', 'no task yet');
      // images of every namespace = ctr images ls (k8s.io: CRI's view, whose names cover ctr's)
      for (const n of snap.namespaces) {
        const names = await ctrLs(h, n.name, 'images');
        const ours = new Set(n.images.flatMap((i) => [...i.repoTags, ...i.repoDigests, i.id]));
        for (const name of names) assert.ok(ours.has(name), `${user}: ${n.name} image ${name} in the snapshot`);
        for (const tag of n.images.flatMap((i) => i.repoTags)) assert.ok(names.includes(tag), `${user}: ${n.name} tag ${tag} known to ctr`);
      }
      // image sizes outside CRI (read from the content store) = CRI's size of the same image in k8s.io,
      // and agree with the SIZE column of `ctr images ls` (which ctr prints with one decimal: "2.1 MiB")
      const plain = def.images.find((i) => i.repoTags.includes(BUSYBOX.ref));
      const viaCri = nsOf(snap, CRI_NAMESPACE).images.find((i) => i.repoTags.includes(BUSYBOX.ref));
      assert.ok(plain && viaCri, `${user}: busybox in default and k8s.io`);
      assert.ok(plain.size > 100_000, `${user}: size ${plain.size}`);
      assert.equal(plain.size, viaCri.size, `${user}: the same size as CRI reports`);
      assert.equal((await rt.listImages('default')).find((i) => i.id === plain.id)?.size, plain.size, `${user}: listImages too`);
      const ctrCol = (await sh(h, `ctr -n default images ls | awk -v r=${BUSYBOX.ref} '$1==r{print $4, $5}'`)).trim();
      const halfDigit = parseSize(`0.05 ${ctrCol.split(' ')[1] ?? 'B'}`) + 1;
      assert.ok(Math.abs(parseSize(ctrCol) - plain.size) <= halfDigit, `${user}: ctr says ${ctrCol}, we say ${plain.size}`);
    }
    const rt = await connect(t, h, 'deploy');
    for (let i = 0; i < 5; i++) {
      // short commands: their output must not get lost (ctr tasks exec of 1.6 may lose it)
      const ex = await rt.execSync('default', 'plain-1', ['sh', '-c', `echo in-$((6*7))-${i}; echo e${i} >&2; exit 4`]);
      assert.deepEqual(ex, { stdout: `in-42-${i}\n`, stderr: `e${i}\n`, exitCode: 4 });
    }
    await assert.rejects(rt.execSync('default', 'plain-1', ['sleep', '30'], 1), (e: RuntimeError) => e.kind === 'timeout');
    assert.equal((await sh(h, 'ls /run | grep -c cts-exec || true')).trim(), '0', 'exec temp dirs removed');
    await assert.rejects(rt.removeContainer('default', 'plain-1'), (e: RuntimeError) => e.kind === 'invalid' && /stop it first/.test(e.message));
    await rt.stopContainer('default', 'plain-1', 5);
    let st = (await rt.listContainers('default')).find((c) => c.id === 'plain-1')!;
    assert.equal(st.state, 'exited');
    assert.equal(st.exitCode, 0);
    assert.match((await sh(h, 'ctr -n default tasks ls')), /plain-1\s+\d+\s+STOPPED/);
    await rt.startContainer('default', 'plain-1');
    st = (await rt.listContainers('default')).find((c) => c.id === 'plain-1')!;
    assert.equal(st.state, 'running');
    assert.match((await sh(h, 'ctr -n default tasks ls')), /plain-1\s+\d+\s+RUNNING/);
    await rt.startContainer('default', 'plain-3');
    assert.equal((await rt.listContainers('default')).find((c) => c.id === 'plain-3')!.state, 'running');
    const insp = (await rt.inspectContainer('default', 'plain-1')) as { container: { spec: { process: { args: string[] } } }; task: { pid: number } };
    assert.ok(Array.isArray(insp.container.spec.process.args), 'the OCI spec is decoded');
    for (const id of ['plain-1', 'plain-2', 'plain-3']) {
      await rt.stopContainer('default', id, 5);
      await rt.removeContainer('default', id);
    }
    assert.deepEqual(await ctrLs(h, 'default', 'containers'), []);
    const snaps = lines(await sh(h, "ctr -n default snapshots ls | awk 'NR>1{print $1}'"));
    for (const id of ['plain-1', 'plain-2', 'plain-3']) assert.ok(!snaps.includes(id), `the snapshot of ${id} is removed too`);

    // a CRI sandbox is not a container to act on through ctr
    const pod = await rt.runPod(podConfig('pod-s'));
    await assert.rejects(rt.stopContainer(CRI_NAMESPACE, pod), (e: RuntimeError) => e.kind === 'invalid' && /sandbox/.test(e.message));
    await rt.stopPod(pod);
    await rt.removePod(pod);
  });

  test('pull through CRI from the host registry (localhost:5000, plain HTTP mirror); remove and prune images', async (t) => {
    if (!(await ready(t))) return;
    const h = hosts[0];
    const rt = await connect(t, h);
    assert.ok(!(await ctrLs(h, CRI_NAMESPACE, 'images')).includes(REGISTRY_REF));
    const served = async () => Number((await sh(h, `journalctl -u docker-registry --no-pager -o cat | grep -c '"HEAD /v2/busybox/manifests/test HTTP/1.1" 200' || true`)).trim());
    const servedBefore = await served();
    const progress: string[] = [];
    const ref = await rt.pullImage(REGISTRY_REF, { onProgress: (p) => progress.push(p.message) });
    assert.match(ref, /^sha256:[0-9a-f]{64}$/);
    assert.equal(progress.length, 2);
    assert.ok((await ctrLs(h, CRI_NAMESPACE, 'images')).includes(REGISTRY_REF), 'pulled image known to containerd');
    const img = (await rt.listImages(CRI_NAMESPACE)).find((i) => i.repoTags.includes(REGISTRY_REF))!;
    assert.equal(img.id, ref);
    assert.ok(img.size > 100_000, `size ${img.size}`);
    assert.ok(img.repoDigests.some((d) => d.startsWith('localhost:5000/busybox@sha256:')));
    const st = (await rt.inspectImage(CRI_NAMESPACE, REGISTRY_REF)) as { image: { id: string } };
    assert.equal(st.image.id, ref);
    assert.ok((await served()) > servedBefore, 'the registry answered the pull');
    await assert.rejects(rt.pullImage('localhost:5000/busybox:missing'), (e: RuntimeError) => e.kind !== 'invalid' && /not found|failed to pull/.test(e.message));

    // remove (CRI removes the whole image, every tag); in default through containerd's Images API
    await rt.removeImage(CRI_NAMESPACE, REGISTRY_REF);
    assert.ok(!(await ctrLs(h, CRI_NAMESPACE, 'images')).includes(REGISTRY_REF));
    // …which took busybox (the same image) along: import it again for the sandboxes of later tests
    await sh(h, `ctr -n ${CRI_NAMESPACE} images import --base-name docker.io/library/busybox ${BUSYBOX.tar} >/dev/null`);
    await sh(h, `ctr -n default images tag ${BUSYBOX.ref} example.org/extra:1`);
    await rt.removeImage('default', 'example.org/extra:1');
    assert.deepEqual(await ctrLs(h, 'default', 'images'), [BUSYBOX.ref]);
    // prune: an image a container uses stays, an unused one goes
    await sh(h, `ctr -n prune-test images import --base-name docker.io/library/busybox ${BUSYBOX.tar} >/dev/null && ctr -n prune-test images tag ${BUSYBOX.ref} example.org/unused:1 && ctr -n prune-test containers create ${BUSYBOX.ref} keeper`);
    // both names point at the same image: nothing to prune while keeper uses it
    assert.deepEqual(await rt.pruneImages('prune-test'), []);
    await sh(h, 'ctr -n prune-test containers rm keeper');
    assert.deepEqual((await rt.pruneImages('prune-test')).sort(), [BUSYBOX.ref, 'example.org/unused:1']);
    assert.deepEqual(await ctrLs(h, 'prune-test', 'images'), []);
  });

  test('hostile IDs, names, refs, commands and paths are refused before anything runs', async (t) => {
    if (!(await ready(t))) return;
    const h = hosts[0];
    const rt = await connect(t, h, 'deploy');
    const badIds = ['a;reboot', '$(reboot)', '`id`', '-rf', '--all', '../etc', 'a b', '', 'x'.repeat(200), 'a\nb', 'a/b', "a'b", '.hidden'];
    for (const id of badIds) {
      await expectRefused(() => rt.stopContainer('default', id), `stop ${JSON.stringify(id)}`);
      await expectRefused(() => rt.removeContainer('default', id), `rm ${JSON.stringify(id)}`);
      await expectRefused(() => rt.startContainer('default', id), `start ${JSON.stringify(id)}`);
      await expectRefused(() => rt.execSync('default', id, ['true']), `exec ${JSON.stringify(id)}`);
      await expectRefused(() => rt.inspectContainer('default', id), `inspect ${JSON.stringify(id)}`);
      await expectRefused(() => rt.shellArgv('default', id), `shell ${JSON.stringify(id)}`);
      await expectRefused(() => rt.stopPod(id), `stopp ${JSON.stringify(id)}`);
      await expectRefused(() => rt.listContainers(id), `namespace ${JSON.stringify(id)}`);
    }
    for (const ref of ['busybox;reboot', '--all', 'Busybox:latest', 'busybox:la test', 'a@sha256:zz', '$(id)', 'busybox:' + 'x'.repeat(200), '']) {
      await expectRefused(() => rt.pullImage(ref), `pull ${JSON.stringify(ref)}`);
      await expectRefused(() => rt.removeImage('default', ref), `rmi ${JSON.stringify(ref)}`);
      await expectRefused(() => rt.inspectImage('default', ref), `inspecti ${JSON.stringify(ref)}`);
    }
    // references that are fine
    for (const ok of ['busybox', 'docker.io/library/busybox:1.36', 'localhost:5000/a/b:c', 'sha256:' + 'a'.repeat(64), 'a'.repeat(64), 'reg.example:443/x@sha256:' + 'b'.repeat(64)])
      await assert.doesNotReject(rt.inspectImage('default', ok).catch((e: RuntimeError) => assert.notEqual(e.kind, 'invalid', ok)));
    await expectRefused(() => rt.shellArgv('default', 'plain-x', 'sh -c reboot'), 'shell with arguments');
    await expectRefused(() => rt.execSync('default', 'plain-x', []), 'empty command');
    await expectRefused(() => rt.execSync('default', 'plain-x', ['sh', 'a\0b']), 'NUL in command');
    await expectRefused(() => rt.stopContainer('default', 'plain-x', -1), 'negative timeout');
    await expectRefused(() => rt.runPod({ metadata: { name: 'x' }, hostname_injection: 'x' }), 'unknown pod config field');
    await expectRefused(() => rt.runPod(podConfig('ok'), 'runc;reboot'), 'runtime handler');
    await expectRefused(() => rt.createContainer('0'.repeat(64), { metadata: { name: 'x' }, image: { image: 'busybox;reboot' } }, podConfig('x')), 'container image');
    await expectRefused(() => connectRuntime(rt.conn, { socket: '/run/containerd/containerd.sock,fork' }), 'socat address options in the socket path');
    await expectRefused(() => connectRuntime(rt.conn, { socket: 'relative.sock' }), 'relative socket path');
    // an arbitrary argument starting with '-' is data for the command, never an option of ctr
    await sh(h, `ctr -n default run -d ${BUSYBOX.ref} plain-x`);
    const r = await rt.execSync('default', 'plain-x', ['echo', '--help', '-n', '$(id)', ';reboot']);
    assert.equal(r.stdout, '--help -n $(id) ;reboot\n');
    await rt.stopContainer('default', 'plain-x', 2);
    await rt.removeContainer('default', 'plain-x');
  });

  test('an interactive shell through shellArgv on a pty of the pooled connection', async (t) => {
    if (!(await ready(t))) return;
    const h = hosts[0];
    await sh(h, `ctr -n default run -d ${BUSYBOX.ref} shell-1`);
    for (const user of ['root', 'deploy']) {
      const rt = await connect(t, h, user);
      const { argv, sudo } = await rt.shellArgv('default', 'shell-1');
      assert.equal(sudo, user !== 'root');
      assert.deepEqual(argv.slice(0, 7), ['ctr', '--address', '/run/containerd/containerd.sock', '--namespace', 'default', 'tasks', 'exec']);
      const p = await rt.conn.spawn(argv, { sudo, pty: { rows: 24, cols: 80 } });
      let out = '';
      p.stdout.on('data', (b: Buffer) => (out += b.toString()));
      p.stdin.write('echo marker-$((6*7)); exit\n');
      const ex = await Promise.race([p.exited, sleep(20_000).then(() => 'timeout' as const)]);
      assert.notEqual(ex, 'timeout', `shell did not exit: ${out}`);
      assert.match(out, /marker-42/, user);
    }
    await sh(h, 'ctr -n default tasks kill -s SIGKILL shell-1; sleep 0.5; ctr -n default containers rm shell-1');
  });

  test('forced cli access lists the same containers and images as gRPC', async (t) => {
    if (!(await ready(t))) return;
    const h = hosts[0];
    const rt = await connect(t, h, 'deploy');
    const pod = await rt.runPod(podConfig('pod-cli'));
    const c = await rt.createContainer(pod, containerConfig('c-cli'), podConfig('pod-cli'));
    await rt.startContainer(CRI_NAMESPACE, c);
    await sh(h, `ctr -n other images import --base-name docker.io/library/busybox ${BUSYBOX.tar} >/dev/null && ctr -n default run -d ${BUSYBOX.ref} cli-1 && ctr -n other run -d ${BUSYBOX.ref} cli-2`);
    const cli = await connect(t, h, 'deploy', 'cli');
    assert.equal(cli.access, 'cli');
    const [g, s] = await Promise.all([rt.snapshot(), cli.snapshot()]);
    assert.deepEqual(s.warnings, []);
    assert.equal(s.info.access, 'cli');
    assert.equal(s.info.version, g.info.version);
    assert.deepEqual(s.namespaces.map((n) => n.name), g.namespaces.map((n) => n.name));
    const view = (cs: ContainerInfo[]) => cs.map((x) => `${x.id} ${x.state} ${x.image} ${x.runtime} ${x.pid ?? '-'} ${x.sandbox ?? false}`).sort();
    for (const n of g.namespaces) {
      const m = s.namespaces.find((x) => x.name === n.name)!;
      assert.deepEqual(view(m.containers), view(n.containers), `containers of ${n.name}`);
      if (n.name !== CRI_NAMESPACE) assert.deepEqual(m.images.map((i) => i.repoTags.join()).sort(), n.images.map((i) => i.repoTags.join()).sort(), `images of ${n.name}`);
      else assert.deepEqual(ids(m.pods), ids(n.pods), 'pods (sandboxes) without crictl');
    }
    // cli: stdout and stderr arrive merged (ctr --log-uri), the exit code is the command's
    for (let i = 0; i < 5; i++) {
      const ex = await cli.execSync('default', 'cli-1', ['sh', '-c', `echo cli-exec-${i}; exit 2`]);
      assert.deepEqual(ex, { stdout: `cli-exec-${i}\n`, stderr: '', exitCode: 2 });
    }
    await cli.stopContainer('other', 'cli-2', 5);
    assert.equal((await cli.listContainers('other')).find((x) => x.id === 'cli-2')?.state, 'exited');
    assert.equal((await rt.listContainers('other')).find((x) => x.id === 'cli-2')?.state, 'exited');
    await cli.startContainer('other', 'cli-2');
    assert.equal((await rt.listContainers('other')).find((x) => x.id === 'cli-2')?.state, 'running');
    for (const [ns, id] of [['default', 'cli-1'], ['other', 'cli-2']]) {
      await cli.stopContainer(ns, id, 5);
      await cli.removeContainer(ns, id);
    }
    assert.deepEqual(await ctrLs(h, 'other', 'containers'), []);
    await assert.rejects(cli.stopPod(pod), (e: RuntimeError) => e.kind === 'unsupported');
    await rt.stopPod(pod);
    await rt.removePod(pod);
  });

  test('events: a container started with ctr shows up on the stream (gRPC and cli)', async (t) => {
    if (!(await ready(t))) return;
    const h = hosts[0];
    for (const [user, access] of [['root', undefined], ['deploy', 'cli']] as const) {
      const rt = await connect(t, h, user, access);
      const seen: RuntimeEvent[] = [];
      const ac = new AbortController();
      const done = rt.subscribe((e) => seen.push(e), ac.signal);
      // The subscription sends no "ready" message, so a container started at once may come before
      // it is registered: start one every few seconds (at most 8) until the stream shows one.
      const names: string[] = [];
      let name = '';
      let start: RuntimeEvent | undefined;
      for (let i = 0; i < 8 && !start; i++) {
        name = `ev-${user}-${i}`;
        names.push(name);
        await sh(h, `ctr -n default run -d ${BUSYBOX.ref} ${name}`);
        start = await until(`/tasks/start of ${name} (${access ?? 'grpc'})`, async () => seen.find((e) => e.topic === '/tasks/start' && e.subject === name), 4000).catch(() => undefined);
      }
      assert.ok(start, `no /tasks/start on the ${access ?? 'grpc'} stream for ${names.join(', ')}; saw ${JSON.stringify(seen.slice(-5))}`);
      assert.equal(start.namespace, 'default');
      assert.ok(Math.abs(start.timestamp - Date.now()) < 10 * 60_000, 'timestamp in ms');
      assert.ok(seen.some((e) => e.topic === '/containers/create' && e.subject === name && e.namespace === 'default'));
      ac.abort();
      await done; // resolves once cancelled
      for (const n of names) await sh(h, `ctr -n default tasks kill -s SIGKILL ${n}; sleep 0.5; ctr -n default containers rm ${n}`);
      t.diagnostic(`${access ?? 'grpc'}: ${seen.length} events, topics ${[...new Set(seen.map((e) => e.topic))].join(' ')}`);
    }
  });

  test('close() ends the proxy, the channel and the remote bridge', async (t) => {
    if (!(await ready(t))) return;
    const h = hosts[0];
    const count = async () => Number((await h.ssh(['sh', '-c', 'pgrep -c -f "^socat - UNIX-CONNECT:" || true'])).stdout.trim() || '0');
    const before = await count();
    const rt = await connectRuntime(await pool.get(cfg(h, 'deploy')));
    await rt.snapshot();
    assert.ok((await count()) > before, 'a bridge runs while the client is open');
    const dirs = () => fs.readdirSync(os.tmpdir()).filter((d) => d.startsWith('cts-rt-'));
    const open = dirs();
    assert.ok(open.length >= 1);
    rt.close();
    await until('the bridge to exit', async () => ((await count()) === before ? true : undefined));
    assert.ok(dirs().length < open.length, 'the private socket dir is removed');
    await assert.rejects(rt.namespaces(), (e: RuntimeError) => e.kind === 'cancelled');
  });

  test('a host that goes down fails fast with a clear error while another host still answers', async (t) => {
    if (!(await ready(t))) return;
    const [h1, h2] = hosts;
    const a = await connect(t, h1);
    const b = await connect(t, h2, 'deploy');
    await Promise.all([a.snapshot(), b.snapshot()]);
    await killHost(h2.name);
    const t0 = Date.now();
    await assert.rejects(b.snapshot(), (e: RuntimeError) => {
      assert.ok(e instanceof RuntimeError, String(e));
      assert.equal(e.kind, 'unavailable', e.message); // not 'timeout': the drop was noticed, not waited out
      assert.match(e.message, new RegExp(`containerd on deploy@${h2.name} is not reachable`));
      return true;
    });
    t.diagnostic(`down host: error after ${Date.now() - t0} ms`);
    const t1 = Date.now();
    await assert.rejects(connectRuntime(b.conn), (e: RuntimeError) => e instanceof RuntimeError && e.kind === 'unavailable');
    t.diagnostic(`connect with the dead connection: error after ${Date.now() - t1} ms`);
    const snap = await a.snapshot();
    assert.equal(snap.info.access, 'grpc-streamlocal', 'the other host still answers');
  });
});

describe('runtime core pieces without a host', () => {
  test('image references: the distribution grammar and image IDs pass, anything else is refused', () => {
    for (const ok of ['busybox', 'busybox:1.36', 'docker.io/library/busybox:latest', 'localhost:5000/busybox:test', 'registry.k8s.io/pause:3.9',
      '[::1]:5000/x/y:z', 'a/b/c@sha256:' + 'a'.repeat(64), 'sha256:' + 'f'.repeat(64), 'f'.repeat(64), 'quay.io/org/my_app-x.y:v1.2_3'])
      assert.equal(checkImageRef(ok), ok);
    for (const bad of ['', 'Busybox', 'busybox:', ':tag', 'busybox:-x', 'busybox;id', 'a b', '--all', '-busybox', 'a//b', 'a@sha256:xyz', 'busybox:' + 'x'.repeat(129), 'a\nb', '$(id)'])
      assert.throws(() => checkImageRef(bad), (e: RuntimeError) => e.kind === 'invalid', JSON.stringify(bad));
  });

  test('the bundled protos parse and carry upstream field numbers', () => {
    const { root } = stubs();
    const num = (type: string, field: string) => root.lookupType(type).fields[field].id;
    assert.equal(num('runtime.v1.ContainerStatus', 'logPath'), 15);
    assert.equal(num('runtime.v1.PodSandboxConfig', 'logDirectory'), 3);
    assert.equal(num('runtime.v1.LinuxSandboxSecurityContext', 'runAsGroup'), 8);
    assert.equal(num('runtime.v1.ImageSpec', 'userSpecifiedImage'), 18);
    assert.equal(num('containerd.services.events.v1.Envelope', 'topic'), 3);
    assert.equal(num('containerd.services.containers.v1.Container', 'createdAt'), 8);
    assert.equal(num('containerd.v1.types.Process', 'exitedAt'), 10);
    assert.equal(num('containerd.services.images.v1.Image', 'createdAt'), 7);
  });

  test('CRI configs in crictl\'s snake_case JSON or camelCase; map keys kept; unknown fields refused', () => {
    const { root } = stubs();
    const t = root.lookupType('runtime.v1.PodSandboxConfig');
    const n = normalizeConfig(t, { metadata: { name: 'p' }, log_directory: '/l', labels: { 'a_b.c/d': 'x' }, linux: { security_context: { namespace_options: { network: 2 } } } }, 'pod');
    assert.deepEqual(n, { metadata: { name: 'p' }, logDirectory: '/l', labels: { 'a_b.c/d': 'x' }, linux: { securityContext: { namespaceOptions: { network: 2 } } } });
    const back = t.toObject(t.fromObject(n), { enums: String });
    assert.equal(back.linux.securityContext.namespaceOptions.network, 'NODE');
    assert.throws(() => normalizeConfig(t, { metadata: { name: 'p', nam: 'x' } }, 'pod'), /pod\.metadata\.nam: not a field/);
    assert.throws(() => normalizeConfig(t, { port_mappings: {} }, 'pod'), /must be a list/);
    assert.throws(() => normalizeConfig(t, [], 'pod'), /must be an object/);
  });

  test('times, runtimes, ctr tables, event subjects', () => {
    assert.equal(nsToMs('1700000000123456789'), 1700000000123);
    assert.equal(nsToMs('0'), 0);
    assert.equal(tsToMs({ seconds: '1700000000', nanos: 999_000_000 }), 1700000000999);
    assert.equal(tsToMs({ seconds: '0', nanos: 0 }), undefined);
    assert.equal(parseGoTime('2026-11-29 05:27:01.241012356 +0000 UTC'), Date.parse('2026-11-29T05:27:01.241Z'));
    assert.equal(shortRuntime('io.containerd.runc.v2'), 'runc');
    assert.equal(shortRuntime('io.containerd.runsc.v1'), 'runsc');
    assert.equal(shortRuntime('/usr/bin/crun'), '/usr/bin/crun');
    // as Go's tabwriter aligns `ctr images ls` (padding 1: a column is as wide as its widest cell + 1)
    const cols = [['REF', 'docker.io/library/busybox:latest'], ['TYPE', 'application/vnd.oci.image.manifest.v1+json'], ['DIGEST', 'sha256:a'], ['SIZE', '1.0 MiB'], ['PLATFORMS', 'linux/amd64'], ['LABELS', '-']];
    const w = cols.map(([h, v]) => Math.max(h.length, v.length) + 1);
    const rows = parseTable(cols.map(([h], i) => h.padEnd(w[i])).join('') + '\n' + cols.map(([, v], i) => v.padEnd(w[i])).join('') + '\n');
    assert.deepEqual(rows, [{ REF: 'docker.io/library/busybox:latest', TYPE: 'application/vnd.oci.image.manifest.v1+json', DIGEST: 'sha256:a', SIZE: '1.0 MiB', PLATFORMS: 'linux/amd64', LABELS: '-' }]);
    assert.equal(parseSize('1.0 MiB'), 1048576);
    assert.equal(parseSize('512 B'), 512);
    assert.equal(parseSize('2 kB'), 2000);
    // TaskStart{container_id: "abc", pid: 7} encoded by hand: field 1 (len) "abc", field 2 varint 7
    assert.equal(eventSubject({ value: Buffer.from([0x0a, 3, 0x61, 0x62, 0x63, 0x10, 7]) }), 'abc');
    // a payload whose field 1 is not a string (varint): no subject
    assert.equal(eventSubject({ value: Buffer.from([0x08, 1]) }), undefined);
    assert.equal(eventSubject({ value: Buffer.from([0xff]) }), undefined);
    const imgs = groupContainerdImages('default', [
      { name: 'a:1', target: { digest: 'sha256:x' } },
      { name: 'a@sha256:x', target: { digest: 'sha256:x' } },
      { name: 'sha256:' + 'c'.repeat(64), target: { digest: 'sha256:x' } },
      { name: 'b:2', target: { digest: 'sha256:y' } },
    ]);
    assert.deepEqual(imgs.map((i) => [i.id, i.repoTags, i.repoDigests]), [['sha256:x', ['a:1'], ['a@sha256:x']], ['sha256:y', ['b:2'], []]]);
  });
});
