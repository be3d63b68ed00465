/*
 * Container logs on a real host: CRI containers (created through connectRuntime's runPod /
 * createContainer / startContainer) print known lines; readLogs reads them back over SSH as root,
 * through passwordless sudo (deploy) and through password sudo (sudopw); tail, since, stream
 * filters; follow mode gets lines printed later and stops on its signal (leaving no `tail` behind)
 * or when the container exits; a plain `ctr run` container in `default` reports "no log file";
 * empty logs and missing files give clear results.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSshPool, type Credentials, type HostConfig, type HostConnection, type SshPool } from '../../client/src/core/ssh';
import { connectRuntime, CRI_NAMESPACE, type ContainerInfo, type RuntimeClient } from '../../client/src/core/runtime';
import { LogError, readContainerLogs, readLogs, type LogLine, type ReadLogsResult } from '../../client/src/core/runtime/logs';
import { BUSYBOX, bootHosts, requireOrSkip, stopHosts, HOSTS_KEY, HOSTS_KNOWN_HOSTS, SUDOPW_PASSWORD, type TestHost } from '../hosts/testHosts';
import { criContainerConfig, criPodConfig, prepareCriHost } from '../helpers/criHost';

const credentials: Credentials = {
  confirmHostKey: async () => false, // every test host is in HOSTS_KNOWN_HOSTS
  passphrase: async () => undefined,
  password: async () => undefined,
  sudoPassword: async () => SUDOPW_PASSWORD,
  forget: async () => undefined,
};

const BIG = 40_000; // longer than containerd's 16 KiB max_container_log_line_size: written as partial records
const PRINTER = [
  'sh',
  '-c',
  `echo out-1; echo err-1 >&2; i=0; while [ $i -lt 5 ]; do echo "line $i"; i=$((i+1)); done; head -c ${BIG} /dev/zero | tr '\\0' x; echo; echo 'tab\there <b>&amp;</b>'; echo err-2 >&2; echo ready; exec sleep 100000`,
];
const EXPECT_STDOUT = ['out-1', 'line 0', 'line 1', 'line 2', 'line 3', 'line 4', 'x'.repeat(BIG), 'tab\there <b>&amp;</b>', 'ready'];
const EXPECT_STDERR = ['err-1', 'err-2'];

/** Bounded wait for a condition (polls; fails with `what` after `ms`). */
async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 60_000, every = 300): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

const msgs = (ls: LogLine[], stream?: 'stdout' | 'stderr') => ls.filter((l) => !stream || l.stream === stream).map((l) => l.message);

describe('container logs on a real host', () => {
  let host: TestHost | undefined;
  let pool: SshPool;
  let conn: HostConnection;
  let rt: RuntimeClient;
  const cfg = (user: string, extra: Partial<HostConfig> = {}): HostConfig => ({
    name: user === 'root' ? host!.name : `${user}@${host!.name}`,
    host: host!.address,
    port: host!.port,
    user,
    identityFile: HOSTS_KEY,
    ...extra,
  });
  const containers: Record<string, ContainerInfo> = {};
  const pods: string[] = [];

  async function container(id: string): Promise<ContainerInfo> {
    const c = (await rt.listContainers(CRI_NAMESPACE)).find((x) => x.id === id);
    assert.ok(c, `container ${id} is listed`);
    return c;
  }
  async function startCri(name: string, command: string[], podOpts: Parameters<typeof criPodConfig>[1] = {}): Promise<ContainerInfo> {
    const pod = criPodConfig(name, podOpts);
    const podId = await rt.runPod(pod);
    pods.push(podId);
    const id = await rt.createContainer(podId, criContainerConfig(name, command), pod);
    await rt.startContainer(CRI_NAMESPACE, id);
    return container(id);
  }

  before(async () => {
    if (process.getuid?.() !== 0 && process.env.CI !== 'true') return;
    [host] = await bootHosts(1);
    await prepareCriHost(host);
    pool = createSshPool({ credentials, knownHostsPath: HOSTS_KNOWN_HOSTS, agentSocket: null, connectTimeoutMs: 10_000 });
    conn = await pool.get(cfg('root'));
    rt = await connectRuntime(conn);
    containers.printer = await startCri('printer', PRINTER);
    containers.quiet = await startCri('quiet', ['sleep', '100000']);
    // the printer is done once the last line of each stream is in the file (containerd copies stdout
    // and stderr in separate goroutines, so their order relative to each other is not fixed)
    await waitFor('the printer\'s output', async () => {
      const m = msgs((await readLogs(conn, containers.printer.logPath!)).lines);
      return m.includes('ready') && m.includes('err-2');
    });
  });
  after(async () => {
    try {
      for (const p of pods) {
        await rt?.stopPod(p).catch(() => undefined);
        await rt?.removePod(p).catch(() => undefined);
      }
    } finally {
      rt?.close();
      pool?.closeAll();
      await stopHosts();
    }
  });

  test('a CRI container has a root-only log file under its pod log directory', async (t) => {
    if (!requireOrSkip(t) || !host) return;
    const c = containers.printer;
    assert.equal(c.source, 'cri');
    assert.match(c.logPath ?? '', /^\/var\/log\/pods\/default_printer_[^/]+\/printer\/0\.log$/);
    const st = await host.ssh(['stat', '-c', '%U %a', c.logPath!]);
    assert.equal(st.stdout.trim(), 'root 640');
  });

  test('readLogs returns the lines printed, per stream, with the long line joined from partial records', async (t) => {
    if (!requireOrSkip(t) || !host) return;
    const r = await readLogs(conn, containers.printer.logPath!);
    assert.deepEqual(msgs(r.lines, 'stdout'), EXPECT_STDOUT);
    assert.deepEqual(msgs(r.lines, 'stderr'), EXPECT_STDERR);
    assert.equal(r.sudo, false, 'root reads it directly');
    assert.equal(r.limited, false);
    assert.equal(r.skipped, 0);
    // the long line really was split by containerd (else the join was not tested)
    const raw = await host.ssh(['grep', '-c', ' stdout P ', containers.printer.logPath!]);
    assert.ok(Number(raw.stdout.trim()) >= 2, `partial records in the file: ${raw.stdout}`);
    const long = r.lines.find((l) => l.message.length === BIG)!;
    assert.equal(long.truncated, undefined);
    assert.ok(Math.abs(long.ms - Date.now()) < 24 * 3600_000, 'times are parsed');
  });

  test('tail, since and stream filters', async (t) => {
    if (!requireOrSkip(t) || !host) return;
    const p = containers.printer.logPath!;
    assert.deepEqual(msgs((await readLogs(conn, p, { tail: 2, stream: 'stdout' })).lines), ['tab\there <b>&amp;</b>', 'ready']);
    const all = msgs((await readLogs(conn, p)).lines); // the file's order across both streams
    const last3 = await readLogs(conn, p, { tail: 3 });
    assert.equal(last3.lines.length, 3);
    assert.equal(last3.limited, true);
    assert.deepEqual(msgs(last3.lines), all.slice(-3));
    assert.ok(msgs(last3.lines).includes('ready') || msgs(last3.lines).includes('err-2'), 'the file ends with the last line of one of the streams');
    assert.deepEqual(msgs((await readLogs(conn, p, { stream: 'stderr' })).lines), EXPECT_STDERR);
    assert.deepEqual(msgs((await readLogs(conn, p, { stream: 'stderr', tail: 1 })).lines), ['err-2'], 'tail counts lines of the chosen stream');
    assert.equal((await readLogs(conn, p, { since: '1h' })).lines.length, EXPECT_STDOUT.length + EXPECT_STDERR.length);
    const future = await readLogs(conn, p, { since: new Date(Date.now() + 3600_000) });
    assert.deepEqual(future.lines, []);
    assert.equal((await readLogs(conn, p, { tail: 0 })).lines.length, 0);
  });

  test('a login user that cannot read the file goes through sudo (passwordless and with a password)', async (t) => {
    if (!requireOrSkip(t) || !host) return;
    for (const [user, extra] of [['deploy', {}], ['sudopw', { sudo: 'password' as const }]] as const) {
      const c = await pool.get(cfg(user, extra));
      const plain = await c.exec(['test', '-r', containers.printer.logPath!]);
      assert.notEqual(plain.code, 0, `${user} cannot read the file itself`);
      const r = await readLogs(c, containers.printer.logPath!);
      assert.equal(r.sudo, true, user);
      assert.deepEqual(msgs(r.lines, 'stdout'), EXPECT_STDOUT, user);
      // follow through sudo too (the history arrives, then the signal ends it)
      const ac = new AbortController();
      let history: string[] | undefined;
      const p = readLogs(c, containers.printer.logPath!, { follow: true, tail: 1, signal: ac.signal, onLines: (ls, phase) => phase === 'history' && ((history = msgs(ls)), ac.abort()) });
      const fr = await p;
      assert.deepEqual(history, msgs((await readLogs(conn, containers.printer.logPath!)).lines).slice(-1), user);
      assert.ok(history![0] === 'ready' || history![0] === 'err-2', `${user}: ${history}`);
      assert.equal(fr.ended, 'signal');
    }
  });

  test('follow gets lines printed later, filtered by stream, and stops on its signal without leaving tail behind', async (t) => {
    if (!requireOrSkip(t) || !host) return;
    const c = await startCri('follower', ['sh', '-c', 'echo before; while [ ! -e /tmp/go ]; do sleep 0.1; done; echo later-1; echo later-err >&2; echo later-2; exec sleep 100000']);
    const logPath = c.logPath!;
    await waitFor('"before" in the log', async () => msgs((await readLogs(conn, logPath)).lines).includes('before'));
    for (const stream of ['both', 'stdout'] as const) {
      const ac = new AbortController();
      const live: LogLine[] = [];
      let history: LogLine[] | undefined;
      const reading: Promise<ReadLogsResult> = readLogs(conn, logPath, {
        follow: true,
        stream,
        signal: ac.signal,
        onLines: (ls, phase) => (phase === 'history' ? (history = ls) : live.push(...ls)),
      });
      await waitFor('the history', async () => history);
      if (stream === 'both') {
        assert.deepEqual(msgs(history!), ['before']);
        const ex = await rt.execSync(CRI_NAMESPACE, c.id, ['touch', '/tmp/go']);
        assert.equal(ex.exitCode, 0);
        await waitFor('the later lines', async () => live.length >= 3);
        assert.deepEqual(msgs(live, 'stdout'), ['later-1', 'later-2']);
        assert.deepEqual(msgs(live, 'stderr'), ['later-err']);
      } else {
        // the file is complete now: history has every stdout line, nothing live yet
        assert.deepEqual(msgs(history!), ['before', 'later-1', 'later-2']);
      }
      ac.abort();
      const r = await reading;
      assert.equal(r.ended, 'signal');
      if (stream === 'stdout') assert.deepEqual(live, [], 'nothing of stderr came through');
    }
    // the remote tail processes are gone (bounded wait: the channel's TERM/close reaches them)
    await waitFor('no tail -F left on the host', async () => {
      const ps = await host!.ssh(['sh', '-c', 'ps -eo args | grep -F -- "$1" | grep -v grep || true', 'sh', logPath]);
      return !/tail/.test(ps.stdout);
    }, 30_000);
  });

  test('follow ends by itself when `until` says the container stopped; a stopped container reads without following', async (t) => {
    if (!requireOrSkip(t) || !host) return;
    const c = await startCri('stopper', ['sh', '-c', 'trap "echo bye; exit 0" TERM; echo hello; while :; do sleep 0.2; done']);
    await waitFor('"hello"', async () => msgs((await readLogs(conn, c.logPath!)).lines).includes('hello'));
    let history: string[] | undefined;
    const reading = readLogs(conn, c.logPath!, {
      follow: true,
      untilEveryMs: 300,
      until: async () => (await container(c.id)).state !== 'running',
      onLines: (ls, phase) => phase === 'history' && (history = msgs(ls)),
    });
    await waitFor('the history', async () => history);
    await rt.stopContainer(CRI_NAMESPACE, c.id, 10);
    const r = await reading;
    assert.equal(r.ended, 'until');
    assert.deepEqual(msgs(r.lines), ['hello']);
    const stopped = await container(c.id);
    assert.equal(stopped.state, 'exited');
    // the last line and the exit: readContainerLogs does not follow an exited container
    const again = await readContainerLogs(conn, stopped, { follow: true });
    assert.deepEqual(msgs(again.lines), ['hello', 'bye']);
    assert.equal(again.ended, undefined, 'no follow for an exited container');
  });

  test('empty logs give an empty history at once, in both modes', async (t) => {
    if (!requireOrSkip(t) || !host) return;
    const q = containers.quiet;
    const r = await readLogs(conn, q.logPath!);
    assert.deepEqual(r.lines, []);
    const ac = new AbortController();
    let history: LogLine[] | undefined;
    const f = readLogs(conn, q.logPath!, { follow: true, signal: ac.signal, onLines: (ls, phase) => phase === 'history' && ((history = ls), ac.abort()) });
    assert.equal((await f).ended, 'signal');
    assert.deepEqual(history, []);
  });

  test('a plain containerd container (ctr run in default) has no log file: a typed error says so', async (t) => {
    if (!requireOrSkip(t) || !host) return;
    const imp = await host.ssh(['ctr', '-n', 'default', 'images', 'import', '--base-name', 'docker.io/library/busybox', BUSYBOX.tar]);
    assert.equal(imp.code, 0, imp.stderr);
    const name = `plain-${process.pid}`;
    const run = await host.ssh(['ctr', '-n', 'default', 'run', '-d', BUSYBOX.ref, name]);
    assert.equal(run.code, 0, run.stderr);
    try {
      const c = (await rt.listContainers('default')).find((x) => x.id === name);
      assert.ok(c);
      assert.equal(c.source, 'containerd');
      assert.equal(c.logPath, undefined);
      await assert.rejects(readContainerLogs(conn, c), (e: unknown) => e instanceof LogError && e.kind === 'not-cri' && /no log file/.test(e.message));
    } finally {
      await host.ssh(['sh', '-c', 'ctr -n default tasks kill -s KILL "$1"; sleep 0.5; ctr -n default tasks rm -f "$1"; ctr -n default containers rm "$1"', 'sh', name]);
    }
  });

  test('a missing log file and a path that is not one are clear errors', async (t) => {
    if (!requireOrSkip(t) || !host) return;
    await assert.rejects(readLogs(conn, '/var/log/pods/none/x/0.log'), (e: unknown) => e instanceof LogError && e.kind === 'no-file');
    const dep = await pool.get(cfg('deploy'));
    await assert.rejects(readLogs(dep, '/var/log/pods/none/x/0.log'), (e: unknown) => e instanceof LogError && e.kind === 'no-file');
    await assert.rejects(readLogs(conn, 'relative/0.log'), (e: unknown) => e instanceof LogError);
    await assert.rejects(readLogs(conn, '/var/log/../../etc/shadow'), (e: unknown) => e instanceof LogError);
  });
});
