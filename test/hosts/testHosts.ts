/*
 * Real "remote Linux hosts" for node:test suites: Debian bookworm machines booted with
 * systemd-nspawn by test/hosts/hostctl.sh (systemd as PID 1, sshd on port 22, containerd + runc),
 * each in its own network namespace at 10.200.N.2, reachable from this machine only.
 *
 *   import { bootHosts, requireOrSkip, stopHosts } from '../hosts/testHosts';
 *   test('deploys', async (t) => {
 *     if (!requireOrSkip(t)) return;          // skip (or fail when CI=true) without root/tools
 *     const [h1] = await bootHosts(1);        // reused by later tests of this process
 *     const r = await h1.ssh(['systemctl', 'is-active', 'containerd']);
 *   });
 *   after(() => stopHosts());                 // optional: process exit tears down anyway
 *
 * Tests may only connect to loopback and to the `address` of hosts booted here.
 *
 * Hosts are leased per process (/run/hostctl/leases/hN, machine-wide): two test processes (or two
 * engineers, or two checkouts) get different hosts. A process that dies without cleaning up leaves a
 * stale lease, which the next process reclaims (it stops that host and boots it fresh).
 *
 * Users on every host (all accept the key `rootKey`): root; `deploy` (sudo without a password);
 * `sudopw` (sudo needs the password SUDOPW_PASSWORD). A busybox OCI image is at BUSYBOX.tar on
 * each host; BUSYBOX.importCmd imports it as BUSYBOX.ref (no registry is reachable from a host).
 *
 * bootBareHost() boots one more host whose image lacks containerd (purged before boot; runc
 * stays), for install tests; bootHosts never hands it out, stopHosts stops it too.
 */
import { spawn, spawnSync, type SpawnOptions } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TestContext } from 'node:test';

// ---- paths ------------------------------------------------------------------------------------

/** Walk up from `start` to the directory whose package.json is this project's. */
function findRoot(start: string): string | undefined {
  let dir = path.resolve(start);
  for (;;) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === 'containerd-taskserv') return dir;
    } catch {
      /* no (readable) package.json here */
    }
    const up = path.dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/** The repository root (found from the bundle's location, else from the working directory). */
export const REPO_ROOT: string =
  (process.env.CONTAINERD_TASKSERV_ROOT && findRoot(process.env.CONTAINERD_TASKSERV_ROOT)) ||
  findRoot(__dirname) ||
  findRoot(process.cwd()) ||
  path.resolve(__dirname, '../../..');
export const HOSTCTL = path.join(REPO_ROOT, 'test', 'hosts', 'hostctl.sh');
export const HOSTS_BASE = process.env.HOSTS_BASE || path.join(REPO_ROOT, '.hosts');
/** The private key root, deploy and sudopw accept on every host. */
export const HOSTS_KEY = path.join(HOSTS_BASE, 'ssh', 'id_ed25519');
/** known_hosts holding every running host's current key (updated by rekeyHost). */
export const HOSTS_KNOWN_HOSTS = path.join(HOSTS_BASE, 'ssh', 'known_hosts');
/** `ssh -F HOSTS_SSH_CONFIG h1 ...` works for every host that has a disk. */
export const HOSTS_SSH_CONFIG = path.join(HOSTS_BASE, 'ssh', 'config');
const MACHINES = path.join(HOSTS_BASE, 'm');
/** Leases are machine-wide (like the netns, veths and addresses of the hosts), not per HOSTS_BASE. */
const LEASES = process.env.HOSTS_LEASES || '/run/hostctl/leases';

export const SUDOPW_PASSWORD = 'sudopw-secret';
export const BUSYBOX = {
  /** OCI archive inside every host (an OCI layout is also at /opt/images/busybox). */
  tar: '/opt/images/busybox.tar',
  /** The name the image has after `importCmd`. Its default command is a TERM-aware idle loop. */
  ref: 'docker.io/library/busybox:latest',
  importCmd: ['ctr', 'images', 'import', '--base-name', 'docker.io/library/busybox', '/opt/images/busybox.tar'],
} as const;

const CI = process.env.CI === 'true';
const INSTALL_HINT =
  'run `bash scripts/install-system-deps.sh` as root (it apt-installs debootstrap systemd-container zstd ' +
  'iproute2 openssh-client openssh-server umoci busybox-static); the hosts also need root and Linux';

// ---- prerequisites ------------------------------------------------------------------------------

/** What is missing to boot hosts here (empty when everything is in place). */
export function ensureHostsPrereqs(): string[] {
  const missing: string[] = [];
  if (process.platform !== 'linux') return ['Linux'];
  if (process.getuid?.() !== 0) missing.push('root (the hosts are systemd-nspawn containers)');
  if (!fs.existsSync(HOSTCTL)) return [...missing, `${HOSTCTL}`];
  const r = spawnSync('bash', [HOSTCTL, 'missing'], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) missing.push(`hostctl.sh missing failed: ${r.stderr || r.error?.message}`);
  else missing.push(...r.stdout.split('\n').map((s) => s.trim()).filter(Boolean));
  return missing;
}

let prereqCache: string[] | undefined;
const prereqs = (): string[] => (prereqCache ??= ensureHostsPrereqs());

/**
 * For `test(name, { skip: hostsSkipReason() }, ...)`: a reason to skip, or false. Always false when
 * CI=true, so that the test runs and fails loudly in requireOrSkip/bootHosts.
 */
export function hostsSkipReason(): string | false {
  const m = prereqs();
  return m.length && !CI ? `test hosts unavailable, missing: ${m.join(', ')}; ${INSTALL_HINT}` : false;
}

/**
 * Call first in a test that needs hosts. Returns true when they can boot. Otherwise: with CI=true it
 * throws (the test fails, naming what is missing and how to install it); else it marks the test
 * skipped and returns false (`if (!requireOrSkip(t)) return;`).
 */
export function requireOrSkip(t: TestContext): boolean {
  const m = prereqs();
  if (!m.length) return true;
  const msg = `test hosts unavailable, missing: ${m.join(', ')}; ${INSTALL_HINT}`;
  if (CI) throw new Error(`CI=true: ${msg}`);
  t.skip(msg);
  return false;
}

// ---- hosts --------------------------------------------------------------------------------------

export interface SshResult {
  code: number;
  stdout: string;
  stderr: string;
}
export interface SshOptions {
  /** root (default), deploy or sudopw */
  user?: string;
  /** written to the remote command's stdin */
  input?: string | Buffer;
  /** default 60 s; the promise rejects when it passes */
  timeoutMs?: number;
}
export interface TestHost {
  /** h1, h2, ... */
  readonly name: string;
  /** 10.200.N.2 */
  readonly address: string;
  readonly port: number;
  /** path of the private key root (and deploy, sudopw) accept */
  readonly rootKey: string;
  /** `10.200.N.2 ssh-ed25519 AAAA...` — the host's only host key (changes on rekeyHost) */
  knownHostsLine: string;
  /** `SHA256:...`, as ssh-keygen -l and OpenSSH print it */
  hostKeyFingerprint: string;
  /**
   * Run argv `cmd` on the host (each element is shell-quoted; use ['sh', '-c', '...'] for a
   * pipeline). Resolves with the exit code (255: ssh itself failed), rejects on timeout.
   */
  ssh(cmd: string[], opts?: SshOptions): Promise<SshResult>;
}

const shq = (s: string): string => (/^[A-Za-z0-9_\-./:=@,+%]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

interface Slot {
  index: number;
  host: TestHost;
  state: 'running' | 'killed';
  /** Booted by bootBareHost (no containerd): never handed out by bootHosts. */
  bare?: boolean;
}
const slots = new Map<string, Slot>();

function readHostKey(index: number): { line: string; fingerprint: string } {
  const pub = fs.readFileSync(path.join(MACHINES, `h${index}`, 'etc', 'ssh', 'ssh_host_ed25519_key.pub'), 'utf8');
  const [type, b64] = pub.trim().split(/\s+/);
  const fp = createHash('sha256').update(Buffer.from(b64, 'base64')).digest('base64').replace(/=+$/, '');
  return { line: `10.200.${index}.2 ${type} ${b64}`, fingerprint: `SHA256:${fp}` };
}

function makeHost(index: number): TestHost {
  const address = `10.200.${index}.2`;
  const key = readHostKey(index);
  return {
    name: `h${index}`,
    address,
    port: 22,
    rootKey: HOSTS_KEY,
    knownHostsLine: key.line,
    hostKeyFingerprint: key.fingerprint,
    ssh: (cmd, opts = {}) =>
      run(
        'ssh',
        [
          '-i', HOSTS_KEY, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes',
          '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${HOSTS_KNOWN_HOSTS}`,
          '-o', 'ConnectTimeout=5', '-o', 'LogLevel=ERROR', '-p', '22',
          `${opts.user ?? 'root'}@${address}`, '--', cmd.map(shq).join(' '),
        ],
        { input: opts.input, timeoutMs: opts.timeoutMs ?? 60_000 },
      ),
  };
}

function run(
  file: string,
  args: string[],
  o: { input?: string | Buffer; timeoutMs: number; env?: NodeJS.ProcessEnv },
): Promise<SshResult> {
  return new Promise((resolve, reject) => {
    const opts: SpawnOptions = { stdio: ['pipe', 'pipe', 'pipe'], env: o.env ?? process.env };
    const child = spawn(file, args, opts);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out after ${o.timeoutMs} ms: ${file} ${args.join(' ')}\n${stderr}`));
    }, o.timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    child.stdin!.on('error', () => {}); // the remote side may not read its stdin
    child.stdin!.end(o.input ?? '');
  });
}

const hostctlEnv = (): NodeJS.ProcessEnv => ({ ...process.env, HOSTS_BASE, HOSTS_LEASES: LEASES, HOSTCTL_OWNER: ME });

async function hostctl(args: string[], timeoutMs = 20 * 60_000): Promise<string> {
  const r = await run('bash', [HOSTCTL, ...args], { timeoutMs, env: hostctlEnv() });
  if (process.env.HOSTS_VERBOSE) process.stderr.write(r.stderr);
  if (r.code !== 0) throw new Error(`hostctl.sh ${args.join(' ')} failed (${r.code}):\n${r.stderr.slice(-4000)}`);
  return r.stderr;
}

// -- leases: which host indices this process owns ---------------------------------------------------

const procStart = (pid: number): string | undefined => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]; // field 22: starttime
  } catch {
    return undefined;
  }
};
const ME = `${process.pid} ${procStart(process.pid) ?? ''}`;

/** Is the lease in `ownerFile` held? ("PID STARTTIME" of a live process, or "base:DIR" of hostctl.sh) */
const liveOwner = (ownerFile: string): boolean => {
  try {
    const owner = fs.readFileSync(ownerFile, 'utf8').trim();
    if (owner.startsWith('base:')) return true;
    const [pid, start] = owner.split(' ');
    return !!pid && procStart(Number(pid)) === start;
  } catch {
    return false;
  }
};

/** Claim the lowest index no live process holds (reclaiming stale leases). */
function claimIndex(): number {
  fs.mkdirSync(LEASES, { recursive: true });
  for (let i = 1; i <= 250; i++) {
    if ([...slots.values()].some((s) => s.index === i)) continue;
    // leases of an earlier version of this file lived in $HOSTS_BASE/leases
    if (liveOwner(path.join(HOSTS_BASE, 'leases', `h${i}`, 'owner'))) continue;
    const dir = path.join(LEASES, `h${i}`);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        fs.mkdirSync(dir);
        fs.writeFileSync(path.join(dir, 'owner'), ME);
        return i;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        try {
          fs.accessSync(path.join(dir, 'owner'));
        } catch {
          /* being written right now, or a crash between mkdir and write */
          let age = Infinity;
          try {
            age = Date.now() - fs.statSync(dir).mtimeMs;
          } catch {
            continue; // gone meanwhile: try again
          }
          if (age < 10_000) break;
        }
        if (liveOwner(path.join(dir, 'owner'))) break; // someone else's host
        fs.rmSync(dir, { recursive: true, force: true }); // stale: reclaim
      }
    }
  }
  throw new Error('no free test host index (1..250)');
}
function releaseIndex(index: number): void {
  const dir = path.join(LEASES, `h${index}`);
  try {
    if (fs.readFileSync(path.join(dir, 'owner'), 'utf8') === ME) fs.rmSync(dir, { recursive: true, force: true });
  } catch {
    /* already gone */
  }
}

// -- one operation at a time in this process ---------------------------------------------------------

let queue: Promise<unknown> = Promise.resolve();
function serial<T>(fn: () => Promise<T>): Promise<T> {
  const p = queue.then(fn, fn);
  queue = p.catch(() => undefined);
  return p;
}

function needPrereqs(): void {
  const m = prereqs();
  if (m.length) throw new Error(`test hosts unavailable, missing: ${m.join(', ')}; ${INSTALL_HINT}`);
}

/**
 * At least `n` running hosts for this process; returns the first n (h-names are not necessarily
 * h1..hn when other processes hold hosts). Hosts booted earlier in this process are reused, and
 * any of them that was killed is started again. The first call may bootstrap the image (~1-2 min).
 */
export function bootHosts(n: number): Promise<TestHost[]> {
  return serial(async () => {
    needPrereqs();
    installExitHandlers();
    const fresh: number[] = [];
    const regular = () => [...slots.values()].filter((s) => !s.bare);
    while (regular().length < n) {
      const i = claimIndex();
      slots.set(`h${i}`, { index: i, host: undefined as unknown as TestHost, state: 'killed' });
      fresh.push(i);
    }
    try {
      // a host left by a dead process, or a disk left by a killed one, must not leak state into us
      if (fresh.length) await hostctl(['stop', ...fresh.map(String)]);
      const toStart = [...slots.values()].filter((s) => s.state !== 'running').map((s) => s.index);
      if (toStart.length) await hostctl(['start', ...toStart.map(String)]);
    } catch (e) {
      for (const i of fresh) {
        slots.delete(`h${i}`);
        releaseIndex(i);
      }
      throw e;
    }
    for (const s of slots.values()) {
      if (s.state !== 'running') {
        s.host = makeHost(s.index);
        s.state = 'running';
      }
    }
    return regular().slice(0, n).map((s) => s.host);
  });
}

/**
 * A "bare" host of its own (its own index and lease, next to those of bootHosts): the same image
 * with containerd purged before boot (`hostctl.sh start-bare`; runc, sshd, users, busybox stay),
 * for install tests. Each call boots another one. stopHosts() stops it with the others;
 * killHost/startHost work on it too (a restarted bare host stays bare).
 */
export function bootBareHost(): Promise<TestHost> {
  return serial(async () => {
    needPrereqs();
    installExitHandlers();
    const i = claimIndex();
    const slot: Slot = { index: i, host: undefined as unknown as TestHost, state: 'killed', bare: true };
    slots.set(`h${i}`, slot);
    try {
      await hostctl(['stop', String(i)]); // leftovers of a dead process must not leak into us
      await hostctl(['start-bare', String(i)]);
    } catch (e) {
      slots.delete(`h${i}`);
      releaseIndex(i);
      throw e;
    }
    slot.host = makeHost(i);
    slot.state = 'running';
    return slot.host;
  });
}

function slotOf(name: string): Slot {
  const s = slots.get(name);
  if (!s) throw new Error(`${name} is not a host of this process (have: ${[...slots.keys()].join(', ') || 'none'})`);
  return s;
}

/**
 * Hard stop (SIGKILL to the host's PID 1: no shutdown, like pulling the plug); its disk is kept
 * for startHost. network 'refuse' (default): the address still answers, so connections are
 * refused at once; 'unreachable': its link goes down too, so connecting fails with "No route to
 * host" after ARP gives up (~3 s).
 */
export function killHost(name: string, opts: { network?: 'refuse' | 'unreachable' } = {}): Promise<void> {
  return serial(async () => {
    const s = slotOf(name);
    await hostctl(['kill', String(s.index), ...(opts.network === 'unreachable' ? ['down'] : [])], 120_000);
    s.state = 'killed';
  });
}

/** Boot a killed host again from its kept disk (same host key, same state); no-op when running. */
export function startHost(name: string): Promise<TestHost> {
  return serial(async () => {
    const s = slotOf(name);
    if (s.state !== 'running') {
      await hostctl(['start', String(s.index)]);
      s.host = makeHost(s.index);
      s.state = 'running';
    }
    return s.host;
  });
}

/**
 * Give the host a new ssh host key (new /etc/ssh/ssh_host_ed25519_key, sshd restarted). Capture
 * `knownHostsLine`/`hostKeyFingerprint` before: the returned (same) object then holds the new
 * ones, and HOSTS_KNOWN_HOSTS (which host.ssh uses) trusts only the new key.
 */
export function rekeyHost(name: string): Promise<TestHost> {
  return serial(async () => {
    const s = slotOf(name);
    if (s.state !== 'running') throw new Error(`${name} is not running`);
    await hostctl(['rekey', String(s.index)], 120_000);
    const key = readHostKey(s.index);
    s.host.knownHostsLine = key.line;
    s.host.hostKeyFingerprint = key.fingerprint;
    return s.host;
  });
}

/** Clean power-off of every host of this process; removes their disks, netns and cgroups. */
export function stopHosts(): Promise<void> {
  return serial(async () => {
    if (!slots.size) return;
    const idx = [...slots.values()].map((s) => s.index);
    try {
      await hostctl(['stop', ...idx.map(String)], 5 * 60_000);
    } finally {
      for (const i of idx) releaseIndex(i);
      slots.clear();
    }
  });
}

/** The hosts this process holds right now. */
export function currentHosts(): TestHost[] {
  return [...slots.values()].filter((s) => s.state === 'running').map((s) => s.host);
}

// -- teardown at process exit ---------------------------------------------------------------------------

let handlersInstalled = false;
function stopHostsSync(): void {
  if (!slots.size) return;
  const idx = [...slots.values()].map((s) => String(s.index));
  spawnSync('bash', [HOSTCTL, 'stop', ...idx], { env: hostctlEnv(), stdio: ['ignore', 'ignore', 'inherit'], timeout: 120_000 });
  for (const s of slots.values()) releaseIndex(s.index);
  slots.clear();
}
function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', stopHostsSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      stopHostsSync();
      process.removeListener(sig, onSignal);
      process.kill(process.pid, sig); // default action now: die by this signal
    };
    process.on(sig, onSignal);
  }
}
