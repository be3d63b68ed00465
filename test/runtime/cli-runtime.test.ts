/*
 * `containerd-taskserv ps | pods | images | logs` end to end: the real CLI (bin/containerd-taskserv,
 * no terminal) against a real host with a CRI pod and a plain `ctr run` container, compared with
 * what `ctr` itself reports on the host; logs in every form, follow ended by Ctrl-C and by the
 * container's exit; usage errors (exit 2) and failures (exit 1).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { createSshPool, type Credentials, type SshPool } from '../../client/src/core/ssh';
import { connectRuntime, CRI_NAMESPACE, type ContainerInfo, type ImageInfo, type PodInfo, type RuntimeClient } from '../../client/src/core/runtime';
import { BUSYBOX, bootHosts, requireOrSkip, stopHosts, HOSTS_KEY, HOSTS_KNOWN_HOSTS, REPO_ROOT, SUDOPW_PASSWORD, type TestHost } from '../hosts/testHosts';
import { criContainerConfig, criPodConfig, prepareCriHost } from '../helpers/criHost';

const CLI = path.join(REPO_ROOT, 'bin', 'containerd-taskserv');
const credentials: Credentials = {
  confirmHostKey: async () => false,
  passphrase: async () => undefined,
  password: async () => undefined,
  sudoPassword: async () => SUDOPW_PASSWORD,
  forget: async () => undefined,
};

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI as a child process; `onStdout` sees output as it comes (for follow), `kill` ends it. */
function cli(args: string[], o: { onStdout?: (all: string, child: ReturnType<typeof spawn>) => void; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      o.onStdout?.(stdout, child);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`CLI timed out: ${args.join(' ')}\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, o.timeoutMs ?? 180_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const lines = (s: string) => s.split('\n').filter((l) => l.length > 0);

describe('containerd-taskserv ps/pods/images/logs (CLI) on a real host', () => {
  let host: TestHost | undefined;
  let pool: SshPool;
  let rt: RuntimeClient;
  let target: string[] = [];
  let printer: string;
  let podId: string;
  const plain = `plain-${process.pid}`;

  const sh = async (cmd: string[]): Promise<string> => {
    const r = await host!.ssh(cmd);
    assert.equal(r.code, 0, `${cmd.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const ctrList = async (ns: string, what: 'containers' | 'images', filter: string[] = []) => lines(await sh(['ctr', '-n', ns, what, 'ls', '-q', ...filter])).sort();

  async function startCri(name: string, command: string[]): Promise<string> {
    const pod = criPodConfig(name);
    const p = await rt.runPod(pod);
    const id = await rt.createContainer(p, criContainerConfig(name, command), pod);
    await rt.startContainer(CRI_NAMESPACE, id);
    return id;
  }
  /** Waits until `text` is in the log's stdout (or, with `stderrText`, also that in its stderr). */
  async function waitForLog(id: string, text: string, stderrText?: string): Promise<void> {
    const end = Date.now() + 60_000;
    for (;;) {
      const r = await cli(['logs', id, ...target]);
      if (r.stdout.includes(text) && (!stderrText || r.stderr.includes(stderrText))) return;
      if (Date.now() > end) throw new Error(`"${text}" never appeared in the log of ${id}: ${r.stdout} ${r.stderr}`);
      await new Promise((res) => setTimeout(res, 300));
    }
  }

  before(async () => {
    if (process.getuid?.() !== 0 && process.env.CI !== 'true') return;
    [host] = await bootHosts(1);
    await prepareCriHost(host);
    target = ['--host', `root@${host.address}`, '-i', HOSTS_KEY, '--known-hosts', HOSTS_KNOWN_HOSTS];
    pool = createSshPool({ credentials, knownHostsPath: HOSTS_KNOWN_HOSTS, agentSocket: null, connectTimeoutMs: 10_000 });
    rt = await connectRuntime(await pool.get({ name: host.name, host: host.address, user: 'root', identityFile: HOSTS_KEY }));
    const pod = criPodConfig('cli-pod');
    podId = await rt.runPod(pod);
    printer = await rt.createContainer(podId, criContainerConfig('cli-printer', ['sh', '-c', 'echo alpha; echo beta >&2; echo gamma; exec sleep 100000']), pod);
    await rt.startContainer(CRI_NAMESPACE, printer);
    await sh(BUSYBOX.importCmd.map((x) => x)); // `default` namespace
    await sh(['ctr', '-n', 'default', 'run', '-d', BUSYBOX.ref, plain]);
  });
  after(async () => {
    try {
      await host?.ssh(['sh', '-c', 'ctr -n default tasks kill -s KILL "$1"; sleep 0.5; ctr -n default tasks rm -f "$1"; ctr -n default containers rm "$1"', 'sh', plain]);
    } finally {
      rt?.close();
      pool?.closeAll();
      await stopHosts();
    }
  });

  test('ps --json lists every container ctr lists, sandboxes only with --sandboxes', async (t) => {
    if (!requireOrSkip(t) || !host) return;
    const r = await cli(['ps', ...target, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const got = JSON.parse(r.stdout) as ContainerInfo[];
    const sandboxes = await ctrList(CRI_NAMESPACE, 'containers', ['labels."io.cri-containerd.kind"==sandbox']);
    assert.ok(sandboxes.includes(podId), 'the pod\'s sandbox is a containerd container');
    const expected: string[] = [];
    for (const ns of lines(await sh(['ctr', 'namespaces', 'ls', '-q'])))
      for (const id of await ctrList(ns, 'containers')) expected.push(`${ns}/${id}`);
    const key = (c: ContainerInfo) => `${c.namespace}/${c.id}`;
    assert.deepEqual(got.map(key).sort(), expected.filter((k) => !sandboxes.some((s) => k === `${CRI_NAMESPACE}/${s}`)).sort());
    const p = got.find((c) => c.id === printer)!;
    assert.equal(p.name, 'cli-printer');
    assert.equal(p.podId, podId);
    assert.equal(p.state, 'running');
    assert.equal(got.find((c) => c.id === plain)?.source, 'containerd');

    const all = await cli(['ps', ...target, '--json', '--sandboxes']);
    assert.deepEqual((JSON.parse(all.stdout) as ContainerInfo[]).map(key).sort(), expected.sort());
    const one = await cli(['ps', ...target, '--json', '--namespace', 'default']);
    assert.deepEqual((JSON.parse(one.stdout) as ContainerInfo[]).map(key), [`default/${plain}`]);
  });

  test('ps as a table', async (t) => {
    if (!requireOrSkip(t) || !host) return;
    const r = await cli(['ps', ...target]);
    assert.equal(r.code, 0, r.stderr);
    const [head, ...rows] = lines(r.stdout);
    assert.match(head, /^NAMESPACE\s+CONTAINER\s+NAME\s+IMAGE\s+STATE\s+CREATED\s+POD$/);
    const row = rows.find((l) => l.includes('cli-printer'));
    assert.ok(row, r.stdout);
    assert.match(row, new RegExp(`^k8s\\.io\\s+${printer.slice(0, 13)}\\s+cli-printer\\s+docker\\.io/library/busybox:latest\\s+running\\s+\\d+[smhd] ago\\s+${podId.slice(0, 13)}$`));
    assert.ok(rows.some((l) => l.startsWith('default') && l.includes(plain)));
  });

  test('pods --json matches the CRI sandboxes ctr knows', async (t) => {
    if (!requireOrSkip(t) || !host) return;
    const r = await cli(['pods', ...target, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const got = JSON.parse(r.stdout) as PodInfo[];
    assert.deepEqual(got.map((p) => p.id).sort(), await ctrList(CRI_NAMESPACE, 'containers', ['labels."io.cri-containerd.kind"==sandbox']));
    const p = got.find((x) => x.id === podId)!;
    assert.deepEqual([p.name, p.podNamespace, p.state], ['cli-pod', 'default', 'ready']);
    const table = await cli(['pods', ...target]);
    assert.match(lines(table.stdout)[0], /^POD ID\s+CREATED\s+STATE\s+NAME\s+NAMESPACE\s+ATTEMPT\s+RUNTIME$/);
    assert.ok(lines(table.stdout).some((l) => l.startsWith(podId.slice(0, 13)) && /\bready\s+cli-pod\s+default\s+0\b/.test(l)), table.stdout);
  });

  test('images --json: the names ctr lists in each namespace', async (t) => {
    if (!requireOrSkip(t) || !host) return;
    const r = await cli(['images', ...target, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const got = JSON.parse(r.stdout) as ImageInfo[];
    for (const ns of lines(await sh(['ctr', 'namespaces', 'ls', '-q']))) {
      const names = (await ctrList(ns, 'images')).filter((n) => !/^sha256:[0-9a-f]{64}$/.test(n));
      const mine = got.filter((i) => i.namespace === ns).flatMap((i) => [...i.repoTags, ...i.repoDigests]);
      assert.deepEqual([...new Set(mine)].filter((n) => names.includes(n)).sort(), names, ns);
    }
    assert.ok(got.some((i) => i.namespace === CRI_NAMESPACE && i.repoTags.includes(BUSYBOX.ref) && i.size > 0));
    const table = await cli(['images', ...target, '--namespace', 'k8s.io']);
    assert.match(table.stdout, /^NAMESPACE\s+IMAGE\s+IMAGE ID\s+SIZE\n/);
    assert.match(table.stdout, /k8s\.io\s+docker\.io\/library\/busybox:latest\s+[0-9a-f]{13}\s+[\d.]+[kM]?B\n/);
  });

  test('logs: stdout to stdout, stderr to stderr; --json, --tail, --stream, --timestamps, by name and ID prefix', async (t) => {
    if (!requireOrSkip(t) || !host) return;
    // stdout and stderr are copied to the file separately: wait for the last line of each
    await waitForLog(printer, 'gamma', 'beta');
    const r = await cli(['logs', printer, ...target]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(lines(r.stdout), ['alpha', 'gamma']);
    assert.deepEqual(lines(r.stderr), ['beta']);
    const j = await cli(['logs', 'cli-printer', ...target, '--json']);
    assert.equal(j.code, 0, j.stderr);
    const recs = lines(j.stdout).map((l) => JSON.parse(l) as { time: string; stream: string; message: string });
    assert.deepEqual(recs.filter((x) => x.stream === 'stdout').map((x) => x.message), ['alpha', 'gamma']);
    assert.deepEqual(recs.filter((x) => x.stream === 'stderr').map((x) => x.message), ['beta']);
    for (const x of recs) assert.match(x.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
    const tail = await cli(['logs', printer.slice(0, 12), ...target, '--tail', '1', '--stream', 'stdout', '--timestamps']);
    assert.equal(tail.code, 0, tail.stderr);
    assert.match(tail.stdout, /^\d{4}-\d\d-\d\dT\S+ gamma\n$/);
    const err = await cli(['logs', printer, ...target, '--stream', 'stderr']);
    assert.deepEqual([err.stdout, lines(err.stderr)], ['', ['beta']]);
    const none = await cli(['logs', printer, ...target, '--since', '2099-01-01T00:00:00Z']);
    assert.deepEqual([none.code, none.stdout, none.stderr], [0, '', '']);
  });

  test('logs --follow prints later lines and ends on Ctrl-C (exit 0) or when the container exits', async (t) => {
    if (!requireOrSkip(t) || !host) return;
    const id = await startCri('cli-follow', ['sh', '-c', 'trap "echo bye; exit 0" TERM; echo first; while [ ! -e /tmp/go ]; do sleep 0.1; done; echo second; while :; do sleep 0.2; done']);
    await waitForLog(id, 'first');
    let touched = false;
    let interrupted = false;
    const r = await cli(['logs', id, ...target, '--follow'], {
      onStdout: (all, child) => {
        if (all.includes('first') && !touched) {
          touched = true;
          void rt.execSync(CRI_NAMESPACE, id, ['touch', '/tmp/go']);
        }
        if (all.includes('second') && !interrupted) {
          interrupted = true;
          child.kill('SIGINT');
        }
      },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(lines(r.stdout), ['first', 'second']);
    // follow again; stopping the container ends the command by itself
    let stopped = false;
    const e = await cli(['logs', id, ...target, '-f'], {
      onStdout: (all) => {
        if (all.includes('second') && !stopped) {
          stopped = true;
          void rt.stopContainer(CRI_NAMESPACE, id, 10);
        }
      },
    });
    assert.equal(e.code, 0, e.stderr);
    assert.equal(lines(e.stdout)[0], 'first');
    assert.ok(lines(e.stdout).includes('second'));
    // an exited container: --follow prints its log and says there is nothing to follow
    const done = await cli(['logs', id, ...target, '--follow']);
    assert.equal(done.code, 0, done.stderr);
    assert.deepEqual(lines(done.stdout), ['first', 'second', 'bye']);
    assert.match(done.stderr, /exited.*nothing to follow/);
  });

  test('failures exit 1 with a clear message: no log file outside CRI, unknown container, unreachable host', async (t) => {
    if (!requireOrSkip(t) || !host) return;
    const p = await cli(['logs', plain, ...target]);
    assert.equal(p.code, 1);
    assert.match(p.stderr, /not created through CRI: containerd keeps no log file/);
    const u = await cli(['logs', 'no-such-container', ...target]);
    assert.equal(u.code, 1);
    assert.match(u.stderr, /no container "no-such-container"/);
    const down = await cli(['ps', '--host', 'root@127.0.0.1:1', '-i', HOSTS_KEY, '--known-hosts', HOSTS_KNOWN_HOSTS]);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /127\.0\.0\.1/);
  });

  test('usage errors exit 2 (before connecting anywhere)', async () => {
    for (const args of [
      ['ps'],
      ['logs', '--host', 'root@10.0.0.1'],
      ['logs', 'x', '--host', 'root@10.0.0.1', '--tail', 'many'],
      ['logs', 'x', '--host', 'root@10.0.0.1', '--stream', 'stdin'],
      ['logs', 'x', '--host', 'root@10.0.0.1', '--since', 'yesterday'],
      ['logs', 'a;b', '--host', 'root@10.0.0.1'],
      ['ps', '--host', 'root@10.0.0.1', '--tail', '3'],
      ['pods', '--host', 'root@10.0.0.1', '--namespace', 'default'],
      ['images', '--host', 'root@10.0.0.1', '--namespace', 'bad/ns'],
    ]) {
      const r = await cli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^containerd-taskserv: /, args.join(' '));
    }
  });
});
