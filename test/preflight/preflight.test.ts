/*
 * Preflight checks on a real host (test/hosts/testHosts.ts: Debian bookworm in systemd-nspawn,
 * containerd 1.6.20 + runc, sshd), through the real SSH pool and the real CLI. Each planted
 * problem must be caught: a missing runtime binary, a version 3 config for containerd 1.6, a
 * socket path another program listens on, a full disk under `root`; a clean config passes; a
 * deploy whose preflight fails uploads nothing unless overridden.
 * Without root or the tools the tests skip; with CI=true they fail loudly (requireOrSkip).
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bootHosts, requireOrSkip, stopHosts, HOSTS_KEY, HOSTS_KNOWN_HOSTS, REPO_ROOT, SUDOPW_PASSWORD, type TestHost } from '../hosts/testHosts';
import { createSshPool, type Credentials, type HostConfig, type SshPool } from '../../client/src/core/ssh';
import { runPreflight, formatReport, type PreflightReport } from '../../client/src/core/preflight';
import { deploy, type DeployPlan } from '../../client/src/core/deploy/pipeline';
import { deployGroup } from '../../client/src/core/deploy/group';

const CONFIG = '/etc/containerd/config.toml';
const CLI = path.join(REPO_ROOT, 'bin', 'containerd-taskserv');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cts-preflight-'));

/** A clean version 2 config like Debian's, with a marker to find it again. */
const clean = (oom = -300) => `version = 2
oom_score = ${oom}
[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "/etc/cni/net.d"
  [plugins."io.containerd.internal.v1.opt"]
    path = "/var/lib/containerd/opt"
`;

const missingRuntime = (oom = -301) => `version = 2
oom_score = ${oom}
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
    BinaryName = "/opt/nope/runc"
`;

const v3 = `version = 3
[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
`;

const credentials: Credentials = {
  confirmHostKey: async () => false, // every test host is in HOSTS_KNOWN_HOSTS
  passphrase: async () => undefined,
  password: async () => undefined,
  sudoPassword: async () => SUDOPW_PASSWORD,
  forget: async () => undefined,
};
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

let h: TestHost | undefined;
let pool: SshPool;
let bootError: unknown;
const cfg = (user = 'root', extra: Partial<HostConfig> = {}): HostConfig => ({
  name: user === 'root' ? h!.name : `${user}@${h!.name}`,
  host: h!.address,
  port: h!.port,
  user,
  identityFile: HOSTS_KEY,
  ...extra,
});

function ready(t: TestContext): boolean {
  if (!requireOrSkip(t)) return false;
  if (bootError) throw bootError;
  return !!h;
}

async function rootSh(script: string): Promise<string> {
  const r = await h!.ssh(['sh', '-c', script]);
  assert.equal(r.code, 0, `${script}: ${r.stderr}`);
  return r.stdout;
}

function byId(r: PreflightReport, id: string, subject?: string) {
  const c = r.checks.find((x) => x.id === id && (subject === undefined || x.subject === subject));
  assert.ok(c, `no ${id}${subject ? ` ${subject}` : ''} check in:\n${formatReport(r)}`);
  return c;
}

function log(t: TestContext, r: PreflightReport): void {
  t.diagnostic(`${formatReport(r).split('\n').filter((l) => !l.startsWith('  ✔')).join(' | ')} (${r.ms} ms)`);
}

async function hostState(): Promise<{ sha: string; pid: string; uploads: string }> {
  const content = (await h!.ssh(['cat', CONFIG])).stdout;
  const pid = (await h!.ssh(['systemctl', 'show', '-p', 'MainPID', '--value', 'containerd'])).stdout.trim();
  const uploads = (await h!.ssh(['sh', '-c', 'ls -a /tmp /etc/containerd | grep -E "^containerd-taskserv-|taskserv-new" || true'])).stdout.trim();
  return { sha: sha(content), pid, uploads };
}

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 180_000, stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const sshArgs = () => ['--host', `root@${h!.address}`, '-i', HOSTS_KEY, '--known-hosts', HOSTS_KNOWN_HOSTS];

describe('preflight checks on a real host', { timeout: 600_000 }, () => {
  before(async () => {
    if (process.getuid?.() !== 0 && process.env.CI !== 'true') return;
    try {
      [h] = await bootHosts(1);
    } catch (e) {
      bootError = e;
      return;
    }
    pool = createSshPool({ credentials, knownHostsPath: HOSTS_KNOWN_HOSTS, agentSocket: null, connectTimeoutMs: 10_000 });
    // a known starting point: the clean config, containerd active
    await rootSh(`cat > ${CONFIG} <<'EOF'\n${clean()}EOF\nsystemctl restart containerd && systemctl is-active containerd`);
  });
  after(async () => {
    pool?.closeAll();
    await stopHosts();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('a clean config passes (the given text and the host\'s own file)', async (t) => {
    if (!ready(t)) return;
    const conn = await pool.get(cfg());
    for (const input of [{ config: clean() }, {}]) {
      const r = await runPreflight(conn, input);
      log(t, r);
      assert.equal(r.ok, true, formatReport(r));
      assert.equal(r.checks.filter((c) => c.status === 'fail').length, 0);
      assert.match(r.containerdVersion ?? '', /^1\.6\./);
      assert.equal(byId(r, 'containerd').status, 'pass');
      assert.equal(byId(r, 'config-version').status, 'pass');
      assert.equal(byId(r, 'runtime', 'runc').status, 'pass');
      assert.match(byId(r, 'runtime', 'runc').message, /runc version/);
      assert.match(byId(r, 'socket').message, /served by the running containerd/);
      assert.equal(byId(r, 'snapshotter', 'overlayfs').status, 'pass');
    }
  });

  test('a runtime whose BinaryName does not exist fails', async (t) => {
    if (!ready(t)) return;
    const r = await runPreflight(await pool.get(cfg()), { config: missingRuntime() });
    log(t, r);
    assert.equal(r.ok, false);
    const c = byId(r, 'runtime', 'runc');
    assert.equal(c.status, 'fail');
    assert.match(c.message, /\/opt\/nope\/runc does not exist/);
    assert.ok(c.fix);
  });

  test('a version 3 config for containerd 1.6 fails, naming what 1.6 does with it', async (t) => {
    if (!ready(t)) return;
    const r = await runPreflight(await pool.get(cfg()), { config: v3 });
    log(t, r);
    assert.equal(r.ok, false);
    const c = byId(r, 'config-version');
    assert.equal(c.status, 'fail');
    assert.match(c.message, /containerd 1\.6\.20 does not know config version 3/);
    assert.match(c.detail ?? '', /needs containerd 2\.0 or later/);
    assert.match(c.fix ?? '', /2\.0/);
  });

  test('a socket path another program listens on fails (as root and through sudo with a password)', async (t) => {
    if (!ready(t)) return;
    const pid = (await rootSh('mkdir -p /run/other && rm -f /run/other/containerd.sock && (setsid socat UNIX-LISTEN:/run/other/containerd.sock,fork EXEC:/bin/cat </dev/null >/dev/null 2>&1 & echo $!)')).trim();
    try {
      // socat binds asynchronously: wait (bounded) until it listens
      for (let i = 0; i < 50 && (await h!.ssh(['test', '-S', '/run/other/containerd.sock'])).code !== 0; i++) await new Promise((r) => setTimeout(r, 100));
      const config = `${clean()}[grpc]\n  address = "/run/other/containerd.sock"\n`;
      for (const host of [cfg(), cfg('sudopw', { sudo: 'password' })]) {
        const r = await runPreflight(await pool.get(host), { config });
        log(t, r);
        assert.equal(r.ok, false, `${host.name}: ${formatReport(r)}`);
        const c = byId(r, 'socket');
        assert.equal(c.status, 'fail');
        assert.match(c.message, /already in use by socat \(pid \d+\)/);
      }
      // the same path free again: no socket problem
      await rootSh(`kill ${Number(pid)}; sleep 0.2; rm -f /run/other/containerd.sock`);
      const r = await runPreflight(await pool.get(cfg()), { config });
      assert.equal(byId(r, 'socket').status, 'pass', formatReport(r));
    } finally {
      await h!.ssh(['sh', '-c', `kill ${Number(pid)} 2>/dev/null; rm -rf /run/other`]);
    }
  });

  test('a full filesystem under root (a filled 1M tmpfs) fails', async (t) => {
    if (!ready(t)) return;
    await rootSh('mkdir -p /mnt/tiny && (mountpoint -q /mnt/tiny || mount -t tmpfs -o size=1M tmpfs /mnt/tiny) && (dd if=/dev/zero of=/mnt/tiny/fill bs=64k 2>/dev/null || true)');
    try {
      const r = await runPreflight(await pool.get(cfg()), { config: `root = "/mnt/tiny/containerd"\n${clean()}` });
      log(t, r);
      assert.equal(r.ok, false);
      const c = byId(r, 'disk', 'root');
      assert.equal(c.status, 'fail');
      assert.match(c.message, /\/mnt\/tiny/);
      assert.match(c.message, /100% used/);
      assert.equal(byId(r, 'disk', 'state').status, 'pass');
    } finally {
      await h!.ssh(['sh', '-c', 'umount /mnt/tiny; rmdir /mnt/tiny']);
    }
  });

  test('a deploy whose preflight fails uploads nothing; declined stays declined; an override deploys', async (t) => {
    if (!ready(t)) return;
    const conn = await pool.get(cfg());
    const before = await hostState();
    const plan: DeployPlan = { files: [{ path: CONFIG, content: missingRuntime(-302), kind: 'config.toml' }] };

    const stopped = await deploy(conn, plan, {});
    t.diagnostic(`stopped: ${stopped.stages.map((s) => `${s.stage}${s.ok ? '' : '✗'}`).join(' ')}`);
    assert.equal(stopped.ok, false);
    assert.deepEqual(stopped.stages.map((s) => [s.stage, s.ok]), [['preflight', false]], 'nothing after the preflight ran');
    assert.match(stopped.error ?? '', /preflight failed, nothing was changed on the host/);
    assert.match(stopped.error ?? '', /✖ runtime runc: .*\/opt\/nope\/runc/);
    assert.equal(stopped.preflight?.status, 'fail');
    assert.deepEqual(await hostState(), before, 'config, containerd and /tmp untouched');

    let asked = 0;
    const declined = await deploy(conn, plan, { onPreflightFailed: async (pf) => (asked++, assert.equal(pf.ok, false), false) });
    assert.equal(asked, 1);
    assert.equal(declined.ok, false);
    assert.deepEqual(await hostState(), before);

    // through a group (the CLI/editor path), overridden by the callback
    const [over] = await deployGroup([cfg()], pool, plan, { onPreflightFailed: async () => true, healthTimeoutMs: 60_000 });
    t.diagnostic(`overridden: ${over.stages.map((s) => `${s.stage}${s.ok ? '' : '✗'}(${s.ms}ms)`).join(' ')}`);
    assert.equal(over.ok, true, over.error);
    assert.equal(over.preflightOverridden, true);
    assert.match(over.stages.find((s) => s.stage === 'preflight')?.detail ?? '', /failures overridden[\s\S]*✖ runtime runc/);
    assert.match((await h!.ssh(['cat', CONFIG])).stdout, /oom_score = -302/);

    // back to a clean config; 'skip' runs no preflight at all
    const back = await deploy(conn, { files: [{ path: CONFIG, content: clean(), kind: 'config.toml' }] }, { preflight: 'skip' });
    assert.equal(back.ok, true, back.error);
    assert.equal(back.preflight, undefined);
    assert.ok(!back.stages.some((s) => s.stage === 'preflight'));
  });

  test('CLI: preflight prints ✔/⚠/✖ and exits 1 on a failure, --json; deploy stops unless --force-preflight', async (t) => {
    if (!ready(t)) return;
    const bad = path.join(tmp, 'config.toml');
    fs.writeFileSync(bad, v3);
    const r = cli(['preflight', ...sshArgs(), bad]);
    t.diagnostic(r.stdout.split('\n')[0]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^✖ .*preflight FAILED/m);
    assert.match(r.stdout, /^ {2}✖ config version: containerd 1\.6\.20 does not know config version 3/m);
    assert.match(r.stdout, /^ {2}✔ containerd: containerd 1\.6\.20/m);

    const json = cli(['preflight', ...sshArgs(), '--json', bad]);
    assert.equal(json.code, 1, json.stderr);
    const reports = JSON.parse(json.stdout) as PreflightReport[];
    assert.equal(reports.length, 1);
    assert.equal(reports[0].status, 'fail');
    assert.ok(reports[0].checks.some((c) => c.id === 'config-version' && c.status === 'fail'));

    const good = path.join(tmp, 'good.toml');
    fs.writeFileSync(good, clean());
    const ok = cli(['preflight', ...sshArgs(), good]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.doesNotMatch(ok.stdout, /✖/);

    // a taskserv is rendered; its crictl.yaml and version are checked too
    const ts = path.join(tmp, 'basic.k');
    fs.writeFileSync(ts, 'containerd: Containerd = {\n    name: "containerd"\n    version: "1.6.20"\n    runtimes: "runc"\n}\n');
    const tsr = cli(['preflight', ...sshArgs(), ts]);
    assert.equal(tsr.code, 0, tsr.stdout + tsr.stderr);
    assert.match(tsr.stdout, /✔ crictl\.yaml: the rendered crictl\.yaml points at unix:\/\/\/run\/containerd\/containerd\.sock/);
    assert.match(tsr.stdout, /✔ containerd: containerd 1\.6\.20.*as the taskserv wants/);

    const before = await hostState();
    const missing = path.join(tmp, 'missing.toml');
    fs.writeFileSync(missing, missingRuntime(-303));
    const d = cli(['deploy', ...sshArgs(), '--yes', missing]);
    assert.equal(d.code, 1, d.stdout + d.stderr);
    assert.match(d.stdout, /FAILED — preflight failed/);
    assert.match(d.stdout, /✖ runtime runc/);
    assert.deepEqual(await hostState(), before, 'nothing uploaded');

    const f = cli(['deploy', ...sshArgs(), '--yes', '--force-preflight', missing]);
    assert.equal(f.code, 0, f.stdout + f.stderr);
    assert.match(f.stderr, /WARNING: --force-preflight/);
    assert.match(f.stdout, /preflight \(failures overridden\)/);
    assert.match(f.stdout, /deployed/);
    assert.match((await h!.ssh(['cat', CONFIG])).stdout, /oom_score = -303/);
    const s = cli(['deploy', ...sshArgs(), '--yes', '--skip-preflight', good]);
    assert.equal(s.code, 0, s.stdout + s.stderr);
    assert.match(s.stderr, /WARNING: --skip-preflight/);
  });
});
