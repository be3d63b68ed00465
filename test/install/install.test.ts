/*
 * Install and upgrade containerd on real hosts (test/hosts/testHosts.ts): a "bare" Debian host
 * without containerd (bootBareHost) and one with Debian's containerd 1.6.20 running. The hosts
 * have no outside network: the artifacts are Debian's real containerd .deb from the machine's
 * cache (the hosts' debootstrap cache, else `apt-get download`), uploaded as local files, served
 * from an apt repository on the host itself (file:), or repacked here into a release-style
 * tarball (bin/containerd, bin/ctr, …) served over loopback HTTP to this machine ("local" fetch).
 * Broken artifacts are built from the same files (a containerd that exits 1), with correct
 * checksums, so their failure comes from the health check.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { bootBareHost, bootHosts, requireOrSkip, stopHosts, HOSTS_BASE, HOSTS_KEY, HOSTS_KNOWN_HOSTS, REPO_ROOT, SUDOPW_PASSWORD, BUSYBOX, type TestHost } from '../hosts/testHosts';
import { createSshPool, type Credentials, type HostConfig, type SshPool } from '../../client/src/core/ssh';
import { installContainerd, upgradeContainerd, probeInstall, STAGE_ROOT, BACKUP_ROOT } from '../../client/src/core/install/install';
import { installSettingsFromText, planFromSettings } from '../../client/src/core/install/taskserv';
import type { InstallPlan, InstallReport, InstallStep } from '../../client/src/core/install/types';
import { LOCK_DIR, type DeployPlan } from '../../client/src/core/deploy/pipeline';
import { LanguageService } from '../../server/src/languageService';

const CONFIG = '/etc/containerd/config.toml';
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

const credentials: Credentials = {
  confirmHostKey: async () => false,
  passphrase: async () => undefined,
  password: async () => undefined,
  sudoPassword: async () => SUDOPW_PASSWORD,
  forget: async () => undefined,
};

/** The taskserv we install with: rendered by the repo's renderer for the hosts' containerd 1.6.20. */
const TASKSERV = `containerd: Containerd = {
    name: "containerd"
    version: "1.6.20"
    runtime_default: "runc"
    runtimes: "runc,crun"
    config: {
        oom_score: -321
        grpc: {
            max_recv_message_size: 16777216
        }
    }
    plugins: {
        cri: {
            sandbox_image: "registry.k8s.io/pause:3.9"
            max_concurrent_downloads: 4
        }
    }
    crictl: {
        runtime_endpoint: "/run/containerd/containerd.sock"
        timeout: 7
    }
    install: {
        source: "file"
    }
}
`;

/** The taskserv rendered; `runtimes` replaces its runtime list (hosts without crun get "runc"). */
function rendered(runtimes = 'runc,crun'): { plan: DeployPlan; text: string } {
  const svc = new LanguageService();
  const sd = svc.prepare(TextDocument.create('file:///test/containerd.k', 'KCL', 1, TASKSERV.replace('runtimes: "runc,crun"', `runtimes: "${runtimes}"`)));
  const errors = svc.validate(sd).filter((d) => d.severity === 1);
  assert.deepEqual(errors.map((d) => d.message), [], 'the test taskserv is valid');
  const r = svc.render(sd)!;
  const files = r.files.map((f) => ({ path: f.path, content: f.content, kind: f.kind }));
  return { plan: { files }, text: files.find((f) => f.kind === 'config.toml')!.content };
}

// ---- artifacts built on this machine ------------------------------------------------------------

let TMP = '';
const art = {
  deb: '',
  badDeb: '',
  tarball: '',
  badTarball: '',
  runcBinary: '',
};

function sh(cmd: string, args: string[], opts: { cwd?: string; input?: string } = {}): string {
  return execFileSync(cmd, args, { encoding: 'utf8', cwd: opts.cwd, input: opts.input, timeout: 600_000, maxBuffer: 64 << 20 });
}

/** Debian's containerd .deb: from the hosts' debootstrap cache, else downloaded with apt-get download. */
function findDeb(pkg: string): string {
  const dirs = [path.join(HOSTS_BASE, 'debs'), '/var/cache/apt/archives'];
  for (const d of dirs) {
    const hit = fs.existsSync(d) ? fs.readdirSync(d).filter((f) => f.startsWith(`${pkg}_`) && f.endsWith('_amd64.deb')).sort().at(-1) : undefined;
    if (hit) return path.join(d, hit);
  }
  const dl = path.join(TMP, 'dl');
  fs.mkdirSync(dl, { recursive: true });
  sh('apt-get', ['download', pkg], { cwd: dl });
  const f = fs.readdirSync(dl).find((x) => x.startsWith(`${pkg}_`));
  if (!f) throw new Error(`apt-get download ${pkg} gave no .deb`);
  return path.join(dl, f);
}

/** A containerd that runs `config dump` (with the package's real binary) but cannot start as a daemon. */
const BROKEN_CONTAINERD = `#!/bin/sh
case " $* " in *" config "*) exec /usr/bin/containerd "$@" ;; esac
echo "containerd-broken: this build cannot start" >&2
exit 1
`;

function buildArtifacts(): void {
  TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'install-test-'));
  art.deb = findDeb('containerd');
  // runc's binary, uploaded as the "crun" runtime (same CLI for containerd's shim)
  const runcX = path.join(TMP, 'runc-x');
  sh('dpkg-deb', ['-x', findDeb('runc'), runcX]);
  art.runcBinary = path.join(runcX, 'usr', 'sbin', 'runc');
  // the .deb unpacked: a release-style tarball of its binaries, and broken variants
  const x = path.join(TMP, 'deb-x');
  sh('dpkg-deb', ['-R', art.deb, x]);
  const rel = path.join(TMP, 'rel');
  fs.mkdirSync(path.join(rel, 'bin'), { recursive: true });
  for (const b of fs.readdirSync(path.join(x, 'usr', 'bin'))) fs.copyFileSync(path.join(x, 'usr', 'bin', b), path.join(rel, 'bin', b));
  fs.mkdirSync(path.join(TMP, 'good'));
  art.tarball = path.join(TMP, 'good', 'containerd-1.6.20-linux-amd64.tar.gz');
  sh('tar', ['-C', rel, '--owner=0', '--group=0', '-czf', art.tarball, 'bin']);
  fs.writeFileSync(path.join(rel, 'bin', 'containerd'), BROKEN_CONTAINERD, { mode: 0o755 });
  fs.mkdirSync(path.join(TMP, 'bad'));
  art.badTarball = path.join(TMP, 'bad', 'containerd-1.6.20-linux-amd64.tar.gz');
  sh('tar', ['-C', rel, '--owner=0', '--group=0', '-czf', art.badTarball, 'bin']);
  // a "newer" .deb whose containerd exits 1
  fs.writeFileSync(path.join(x, 'usr', 'bin', 'containerd'), '#!/bin/sh\necho "containerd-broken" >&2\nexit 1\n', { mode: 0o755 });
  const control = path.join(x, 'DEBIAN', 'control');
  fs.writeFileSync(control, fs.readFileSync(control, 'utf8').replace(/^Version: (.*)$/m, 'Version: $1+broken1'));
  fs.rmSync(path.join(x, 'DEBIAN', 'md5sums'), { force: true });
  art.badDeb = path.join(TMP, 'containerd_broken_amd64.deb');
  sh('dpkg-deb', ['-Zgzip', '-z1', '--root-owner-group', '-b', x, art.badDeb]);
}

// ---- host helpers ---------------------------------------------------------------------------------

const cfg = (h: TestHost, user = 'root', extra: Partial<HostConfig> = {}): HostConfig => ({
  name: user === 'root' ? h.name : `${user}@${h.name}`,
  host: h.address,
  port: h.port,
  user,
  identityFile: HOSTS_KEY,
  ...extra,
});

async function out(h: TestHost, cmd: string[]): Promise<string> {
  const r = await h.ssh(cmd, { timeoutMs: 120_000 });
  return r.stdout.trim();
}

interface Snapshot {
  binary: string;
  config: string;
  dpkg: string;
  active: string;
  pid: string;
  exe: string;
  localBin: string;
  unit: string;
  staging: string;
  backups: string;
  lock: boolean;
}
async function snapshot(h: TestHost): Promise<Snapshot> {
  const s = (script: string) => out(h, ['sh', '-c', script]);
  return {
    binary: await s('sha256sum /usr/bin/containerd 2>/dev/null | cut -c1-64'),
    config: await s(`sha256sum ${CONFIG} 2>/dev/null | cut -c1-64`),
    dpkg: await s("dpkg-query -W -f='${Status} ${Version}' containerd 2>/dev/null || true"),
    active: await s('systemctl is-active containerd || true'),
    pid: await s('systemctl show -p MainPID --value containerd'),
    exe: await s('readlink -f /proc/$(systemctl show -p MainPID --value containerd)/exe 2>/dev/null || true'),
    localBin: await s('ls /usr/local/bin'),
    unit: await s('ls /etc/systemd/system/containerd.service 2>/dev/null || true'),
    staging: await s(`ls -A ${STAGE_ROOT} 2>/dev/null; ls /var/tmp | grep containerd-taskserv || true`),
    backups: await s(`ls ${BACKUP_ROOT} 2>/dev/null || true`),
    lock: (await h.ssh(['test', '-d', LOCK_DIR])).code === 0,
  };
}

async function settle(h: TestHost, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if ((await out(h, ['systemctl', 'is-active', 'containerd'])) === 'active' && (await h.ssh(['ctr', 'version'])).code === 0) return;
    if (Date.now() > end) throw new Error(`${h.name}: containerd did not settle`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

function log(t: TestContext, r: InstallReport): void {
  t.diagnostic(`${r.host} ${r.operation}: ok=${r.ok} ${r.steps.map((s) => `${s.step}${s.ok ? '' : '✗'}(${s.ms}ms)`).join(' ')}`);
  if (r.error) t.diagnostic(`error: ${r.error.split('\n').slice(0, 4).join(' | ')}`);
  if (r.rollbackError) t.diagnostic(`rollbackError: ${r.rollbackError}`);
  for (const n of r.notes) t.diagnostic(`note: ${n}`);
}

const stepsOf = (r: InstallReport) => r.steps.map((s) => s.step);

/** The real CLI (bin/containerd-taskserv → dist/cli.js; CONTAINERD_TASKSERV_CLI points elsewhere). */
function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const entry = process.env.CONTAINERD_TASKSERV_CLI ?? path.join(REPO_ROOT, 'bin', 'containerd-taskserv');
  const r = spawnSync(process.execPath, [entry, ...args], { encoding: 'utf8', timeout: 600_000, stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('CLI: install/upgrade usage errors exit 2', () => {
  for (const args of [['install', '--source', 'nope', '--host', 'x'], ['upgrade', '--source', 'file', '--host', 'x'], ['install', '--fetch', 'sideways']]) {
    const r = cli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /--source|--fetch|--file/);
  }
  assert.match(cli(['help']).stdout, /install \[FILE\.k\|config\.toml\]/);
});

// ---- the suite ----------------------------------------------------------------------------------------

let bare: TestHost;
let full: TestHost;
let pool: SshPool;
let skip: string | false = false;

describe('install and upgrade on real hosts', { timeout: 1_500_000 }, () => {
  before(async () => {
    try {
      buildArtifacts();
      bare = await bootBareHost();
      [full] = await bootHosts(1);
    } catch (e) {
      if (process.env.CI === 'true') throw e;
      skip = `the test hosts did not boot: ${e instanceof Error ? e.message : String(e)}`;
      return;
    }
    pool = createSshPool({ credentials, knownHostsPath: HOSTS_KNOWN_HOSTS, agentSocket: null, connectTimeoutMs: 10_000 });
    await settle(full);
  });
  after(async () => {
    pool?.closeAll();
    await stopHosts();
    if (TMP) fs.rmSync(TMP, { recursive: true, force: true });
  });
  const ready = (t: TestContext): boolean => {
    if (!requireOrSkip(t)) return false;
    if (skip) t.skip(skip);
    return !skip;
  };

  test('the bare host really has no containerd (runc stays)', async (t) => {
    if (!ready(t)) return;
    assert.notEqual((await bare.ssh(['sh', '-c', 'command -v containerd'])).code, 0);
    assert.equal((await bare.ssh(['sh', '-c', 'command -v runc'])).code, 0);
    const st = await probeInstall(await pool.get(cfg(bare)));
    assert.equal(st.method, 'none');
    assert.equal(st.packageManager, 'apt');
    assert.equal(st.configVersion, undefined);
  });

  test('install on a bare host from a local .deb (as a sudo user): our rendered config, a runtime binary, enabled, healthy, runs a container', async (t) => {
    if (!ready(t)) return;
    const { plan: deployPlan, text } = rendered();
    const settings = installSettingsFromText(TASKSERV);
    const plan: InstallPlan = planFromSettings(settings, deployPlan, { file: art.deb });
    // crun: runc's binary uploaded to crun's BinaryName (the renderer's default <prefix>/bin/crun)
    plan.runtimes = plan.runtimes!.map((r) => (r.name === 'crun' ? { ...r, source: 'file', file: art.runcBinary } : r));
    assert.deepEqual(plan.runtimes.map((r) => [r.name, r.path]), [['runc', undefined], ['crun', '/usr/local/bin/crun']]);
    const seen: InstallStep[] = [];
    const conn = await pool.get(cfg(bare, 'deploy'));
    const r = await installContainerd(conn, plan, { onStep: (s) => seen.push(s) });
    log(t, r);
    assert.ok(r.ok, r.error);
    assert.deepEqual(stepsOf(r), ['probe', 'check', 'fetch', 'verify', 'lock', 'backup', 'runtimes', 'install', 'unit', 'deploy', 'health']);
    assert.deepEqual([...new Set(seen)].filter((s) => s !== 'check'), ['probe', 'fetch', 'verify', 'lock', 'backup', 'runtimes', 'install', 'unit', 'deploy', 'health']);
    assert.equal(r.version, '1.6.20');
    assert.equal(r.backup, undefined, 'the backup is dropped after success');
    // the service: active, enabled, the package's binary, our config byte for byte
    assert.equal(await out(bare, ['systemctl', 'is-active', 'containerd']), 'active');
    assert.equal(await out(bare, ['systemctl', 'is-enabled', 'containerd']), 'enabled');
    assert.match(await out(bare, ['dpkg-query', '-W', '-f=${Status} ${Version}', 'containerd']), /^install ok installed 1\.6\.20/);
    assert.equal(await out(bare, ['cat', CONFIG]), text.trim());
    assert.match(await out(bare, ['containerd', 'config', 'dump']), /^oom_score = -321$/m);
    assert.match(await out(bare, ['cat', '/etc/crictl.yaml']), /timeout: 7/);
    assert.match(await out(bare, ['ctr', 'plugins', 'ls']), /io\.containerd\.grpc\.v1\s+cri\s+\S+\s+ok/);
    // the runtime binary, exact bytes, and the CRI config naming it
    assert.equal(await out(bare, ['sh', '-c', 'sha256sum /usr/local/bin/crun | cut -c1-64']), sha(fs.readFileSync(art.runcBinary)));
    assert.equal(await out(bare, ['stat', '-c', '%U %a', '/usr/local/bin/crun']), 'root 755');
    assert.match(await out(bare, ['containerd', 'config', 'dump']), /BinaryName = "\/usr\/local\/bin\/crun"/);
    // nothing left behind
    const s = await snapshot(bare);
    assert.equal(s.staging, '', 'staging removed');
    assert.equal(s.lock, false, 'lock released');
    // it runs containers, with the uploaded runtime too
    assert.equal((await bare.ssh([...BUSYBOX.importCmd])).code, 0);
    const run = await bare.ssh(['ctr', 'run', '-d', '--runc-binary', '/usr/local/bin/crun', BUSYBOX.ref, 'inst1'], { timeoutMs: 120_000 });
    assert.equal(run.code, 0, run.stderr);
    assert.match(await out(bare, ['ctr', 'task', 'ls']), /inst1\s+\d+\s+RUNNING/);
    await bare.ssh(['sh', '-c', 'ctr task kill -s KILL inst1; sleep 1; ctr task rm -f inst1; ctr container rm inst1'], { timeoutMs: 60_000 });
    // a second install is refused: it is an upgrade now
    const again = await installContainerd(conn, plan, {});
    assert.equal(again.ok, false);
    assert.match(again.error!, /already installed.*use upgrade/);
    assert.deepEqual(stepsOf(again), ['probe', 'check']);
  });

  test('install from the distribution package manager, version pinned (apt on the host, a file: repository)', async (t) => {
    if (!ready(t)) return;
    // back to bare, then an apt repository on the host itself (no outside network)
    const setup = await bare.ssh(['sh', '-c', [
      'set -e',
      'systemctl stop containerd || true',
      'DEBIAN_FRONTEND=noninteractive dpkg --purge containerd',
      'rm -rf /usr/local/bin/crun /etc/containerd /etc/crictl.yaml /var/lib/containerd',
      'mkdir -p /srv/repo /root/apt-saved',
      'mv /etc/apt/sources.list /root/apt-saved/ 2>/dev/null || true',
      'for f in /etc/apt/sources.list.d/*; do [ -e "$f" ] && mv "$f" /root/apt-saved/; done',
      'echo "deb [trusted=yes] file:/srv/repo ./" > /etc/apt/sources.list.d/local.list',
    ].join('\n')]);
    assert.equal(setup.code, 0, setup.stderr);
    const deb = fs.readFileSync(art.deb);
    const name = path.basename(art.deb);
    assert.equal((await bare.ssh(['sh', '-c', 'cat > "/srv/repo/$1"', 'sh', name], { input: deb, timeoutMs: 300_000 })).code, 0);
    const control = sh('dpkg-deb', ['-f', art.deb]).trimEnd();
    const packages = `${control}\nFilename: ./${name}\nSize: ${deb.length}\nSHA256: ${sha(deb)}\n\n`;
    assert.equal((await bare.ssh(['sh', '-c', 'cat > /srv/repo/Packages && chmod -R a+rX /srv/repo'], { input: packages })).code, 0);
    const conn = await pool.get(cfg(bare));
    // a version the repository does not have: refused before anything is installed
    const missing = await installContainerd(conn, { version: '1.7.18', source: { kind: 'package' } }, {});
    log(t, missing);
    assert.equal(missing.ok, false);
    assert.match(missing.error!, /no containerd package of release 1\.7\.18.*1\.6\.20~ds1/);
    assert.notEqual((await bare.ssh(['sh', '-c', 'command -v containerd'])).code, 0, 'nothing installed');
    // the version it has
    const r = await installContainerd(conn, { version: '1.6.20', source: { kind: 'package' } }, {});
    log(t, r);
    assert.ok(r.ok, r.error);
    assert.deepEqual(stepsOf(r), ['probe', 'check', 'fetch', 'verify', 'lock', 'backup', 'install', 'unit', 'restart', 'health']);
    assert.match(r.steps.find((s) => s.step === 'install')!.detail!, /^containerd=1\.6\.20~ds1-1/);
    assert.match(await out(bare, ['dpkg-query', '-W', '-f=${Version}', 'containerd']), /^1\.6\.20~ds1/);
    assert.equal(await out(bare, ['systemctl', 'is-active', 'containerd']), 'active');
    assert.equal(await out(bare, ['systemctl', 'is-enabled', 'containerd']), 'enabled');
  });

  test('CLI: upgrade FILE.k --file PKG on the host: the taskserv deployed with the package, exit 0', async (t) => {
    if (!ready(t)) return;
    const dir = fs.mkdtempSync(path.join(TMP, 'cli-'));
    const k = path.join(dir, 'containerd.k');
    fs.writeFileSync(k, TASKSERV.replace('runtimes: "runc,crun"', 'runtimes: "runc"'));
    const r = cli(['upgrade', k, '--file', art.deb, '--host', `root@${bare.address}`, '-i', HOSTS_KEY, '--known-hosts', HOSTS_KNOWN_HOSTS, '--yes']);
    t.diagnostic(r.stderr.split('\n').filter((l) => !/: (deploy|health|check) \(/.test(l)).slice(-12).join(' | '));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`^root@${bare.address.replace(/\./g, '\\.')}: upgraded containerd 1\\.6\\.20$`, 'm'));
    assert.match(r.stdout, /^ {2}ok {3}verify \(\d+ ms\): containerd_.*sha256 [0-9a-f]{12}… arrived intact/m);
    assert.match(r.stdout, /^ {2}ok {3}deploy \(\d+ ms\): (preflight )?diff upload validate backup swap restart health/m);
    assert.match(await out(bare, ['containerd', 'config', 'dump']), /^oom_score = -321$/m);
    assert.equal(await out(bare, ['systemctl', 'is-active', 'containerd']), 'active');
  });

  test('a checksum mismatch is refused before anything is unpacked: the host is unchanged', async (t) => {
    if (!ready(t)) return;
    const before = await snapshot(full);
    const conn = await pool.get(cfg(full));
    for (const plan of [
      { version: '1.6.20', source: { kind: 'file', path: art.tarball, sha256: '0'.repeat(64) } },
      { source: { kind: 'file', path: art.badDeb, sha256: sha('something else') } },
    ] as InstallPlan[]) {
      const r = await upgradeContainerd(conn, plan, {});
      log(t, r);
      assert.equal(r.ok, false);
      assert.equal(r.steps.at(-1)!.step, 'verify');
      assert.match(r.error!, /checksum mismatch .* refused before unpacking/);
      assert.equal(r.rolledBack, undefined, 'nothing to roll back');
      assert.deepEqual(await snapshot(full), before);
    }
  });

  test('cancelled between steps: stops at a safe point, the host is unchanged', async (t) => {
    if (!ready(t)) return;
    const before = await snapshot(full);
    const conn = await pool.get(cfg(full));
    const abort = new AbortController();
    const r = await upgradeContainerd(conn, { version: '1.6.20', source: { kind: 'file', path: art.tarball } }, {
      signal: abort.signal,
      onStep: (s) => {
        if (s === 'lock') abort.abort();
      },
    });
    log(t, r);
    assert.equal(r.ok, false);
    assert.equal(r.cancelled, true);
    assert.ok(!stepsOf(r).includes('backup'));
    assert.deepEqual(await snapshot(full), before);
    // a host without curl or wget cannot download: said plainly, before anything changed
    const noDl = await upgradeContainerd(conn, { version: '1.6.20', source: { kind: 'tarball', fetch: 'host' } }, {});
    log(t, noDl);
    assert.equal(noDl.ok, false);
    assert.equal(noDl.steps.at(-1)!.step, 'fetch');
    assert.match(noDl.error!, /neither curl nor wget.*fetch 'local'/);
    assert.deepEqual(await snapshot(full), before);
  });

  test('an upgrade to a .deb whose containerd fails is rolled back: old binaries and config back, service active', async (t) => {
    if (!ready(t)) return;
    const before = await snapshot(full);
    const conn = await pool.get(cfg(full));
    const { plan: deployPlan } = rendered('runc');
    const r = await upgradeContainerd(conn, { source: { kind: 'file', path: art.badDeb }, deploy: deployPlan }, { healthTimeoutMs: 30_000 });
    log(t, r);
    assert.equal(r.ok, false);
    assert.ok(stepsOf(r).includes('install'), 'it got as far as installing');
    assert.match(r.error!, /deploy|health/);
    assert.equal(r.rolledBack, true, r.rollbackError);
    assert.ok(r.backup, 'the backup is kept after a failure');
    assert.match(r.notes.join('\n'), /package database still records containerd 1\.6\.20~ds1-1\+deb12u\d+\+broken1/);
    const afterS = await snapshot(full);
    assert.equal(afterS.binary, before.binary, 'the old containerd binary is back');
    assert.equal(afterS.config, before.config, 'the old config is back');
    assert.equal(afterS.active, 'active');
    assert.equal(afterS.exe, '/usr/bin/containerd');
    assert.notEqual(afterS.pid, before.pid, 'restarted on the old binary');
    assert.equal(afterS.staging, '');
    assert.equal(afterS.lock, false);
    assert.match(await out(full, ['ctr', 'plugins', 'ls']), /io\.containerd\.grpc\.v1\s+cri\s+\S+\s+ok/);
    // put the package database straight for the next tests (what the note asks the user to do)
    const fix = await full.ssh(['sh', '-c', `cat > /tmp/c.deb && DEBIAN_FRONTEND=noninteractive dpkg -i --force-confold /tmp/c.deb >/dev/null && rm /tmp/c.deb`], { input: fs.readFileSync(art.deb), timeoutMs: 300_000 });
    assert.equal(fix.code, 0, fix.stderr);
    await settle(full);
  });

  test('an upgrade to a tarball whose containerd cannot start fails its health check and is rolled back', async (t) => {
    if (!ready(t)) return;
    const before = await snapshot(full);
    const conn = await pool.get(cfg(full));
    const { plan: deployPlan } = rendered('runc');
    const r = await upgradeContainerd(conn, { version: '1.6.20', source: { kind: 'file', path: art.badTarball }, deploy: deployPlan }, { healthTimeoutMs: 30_000 });
    log(t, r);
    assert.equal(r.ok, false);
    const dep = r.steps.find((s) => s.step === 'deploy');
    assert.ok(dep && !dep.ok);
    assert.match(dep.detail!, /health✗/, 'the new binary passed validation and failed at health');
    assert.equal(r.rolledBack, true, r.rollbackError);
    const afterS = await snapshot(full);
    assert.equal(afterS.binary, before.binary);
    assert.equal(afterS.config, before.config, 'the old config is back');
    assert.equal(afterS.localBin, before.localBin, '/usr/local/bin as before (the new files removed)');
    assert.equal(afterS.unit, '', 'our unit removed');
    assert.equal(afterS.active, 'active');
    assert.equal(afterS.exe, '/usr/bin/containerd');
    assert.equal(afterS.lock, false);
  });

  test('an upgrade to a release tarball fetched by this machine (loopback HTTP + .sha256sum) and uploaded', async (t) => {
    if (!ready(t)) return;
    const body = fs.readFileSync(art.tarball);
    const name = path.basename(art.tarball);
    const server = http.createServer((req, res) => {
      if (req.url === `/v1.6.20/${name}`) res.end(body);
      else if (req.url === `/v1.6.20/${name}.sha256sum`) res.end(`${sha(body)}  ${name}\n`);
      else {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1.6.20/${name}`;
      const conn = await pool.get(cfg(full));
      const { plan: deployPlan, text } = rendered('runc');
      const r = await upgradeContainerd(conn, { version: '1.6.20', source: { kind: 'tarball', url, fetch: 'local' }, deploy: deployPlan }, {});
      log(t, r);
      assert.ok(r.ok, r.error);
      assert.equal(r.version, '1.6.20');
      assert.match(r.steps.find((s) => s.step === 'unit')!.detail!, /ExecStart=\/usr\/local\/bin\/containerd/);
      const s = await snapshot(full);
      assert.equal(s.exe, '/usr/local/bin/containerd', 'the service runs the tarball binary');
      assert.equal(s.active, 'active');
      assert.equal(s.unit, '/etc/systemd/system/containerd.service');
      assert.equal(await out(full, ['sh', '-c', 'sha256sum /usr/local/bin/containerd | cut -c1-64']), await out(full, ['sh', '-c', 'sha256sum /usr/bin/containerd | cut -c1-64']));
      assert.equal(await out(full, ['cat', CONFIG]), text.trim());
      // a wrong .sha256sum: refused here, before anything is uploaded
      const bad = http.createServer((req, res) => res.end(req.url!.endsWith('.sha256sum') ? `${'1'.repeat(64)}  ${name}\n` : body));
      await new Promise<void>((ok) => bad.listen(0, '127.0.0.1', ok));
      try {
        const url2 = `http://127.0.0.1:${(bad.address() as AddressInfo).port}/${name}`;
        const before = await snapshot(full);
        const r2 = await upgradeContainerd(conn, { version: '1.6.20', source: { kind: 'tarball', url: url2, fetch: 'local' } }, {});
        log(t, r2);
        assert.equal(r2.ok, false);
        assert.match(r2.error!, /checksum mismatch .* refused before uploading/);
        assert.deepEqual(await snapshot(full), before);
      } finally {
        bad.close();
      }
    } finally {
      server.close();
    }
  });
});
