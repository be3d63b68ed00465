/**
 * A throwaway OpenSSH server on 127.0.0.1 for the SSH core's tests: `/usr/sbin/sshd -D -e -f <config>`
 * on a free port, with its own host key, authorized_keys, pid file and log inside a temp dir.
 * `stop()` kills its process group and every session process it forked (they setsid()).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export const SSHD = '/usr/sbin/sshd';

export interface SshdOptions {
  /** Extra sshd_config lines. */
  extra?: string[];
}

export function run(cmd: string, args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, timeout: 30_000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function keygen(file: string, type = 'ed25519', passphrase = '', comment = 'test'): void {
  fs.rmSync(file, { force: true });
  fs.rmSync(file + '.pub', { force: true });
  const r = run('ssh-keygen', ['-q', '-t', type, '-N', passphrase, '-C', comment, '-f', file]);
  if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address() as net.AddressInfo;
      s.close(() => resolve(a.port));
    });
  });
}

/** Why sshd cannot run here, or undefined when it can. */
export function sshdUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (!fs.existsSync(SSHD)) return `${SSHD} is missing (apt-get install -y openssh-server)`;
  if (spawnSync('ssh-keygen', ['-?'], { timeout: 10_000 }).error) return 'ssh-keygen is missing (apt-get install -y openssh-client)';
  return undefined;
}

function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(d));
      children.set(ppid, list);
    } catch {
      /* gone */
    }
  }
  const out: number[] = [];
  const stack = [pid];
  while (stack.length && out.length < 10_000) {
    const p = stack.pop()!;
    for (const c of children.get(p) ?? []) {
      out.push(c);
      stack.push(c);
    }
  }
  return out;
}

export class Sshd {
  readonly dir: string;
  readonly hostKey: string;
  readonly authorizedKeys: string;
  readonly configFile: string;
  port = 0;
  private proc?: ChildProcess;
  private log = '';

  constructor(dir?: string) {
    this.dir = dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'ssh-test-'));
    fs.chmodSync(this.dir, 0o755); // other users (the password test user) must reach files here
    this.hostKey = path.join(this.dir, 'ssh_host_ed25519_key');
    this.authorizedKeys = path.join(this.dir, 'authorized_keys');
    this.configFile = path.join(this.dir, 'sshd_config');
    if (!fs.existsSync(this.hostKey)) keygen(this.hostKey, 'ed25519', '', 'test-host');
    if (!fs.existsSync(this.authorizedKeys)) fs.writeFileSync(this.authorizedKeys, '', { mode: 0o644 });
  }

  /** sshd's stderr so far (LogLevel VERBOSE). */
  output(): string {
    return this.log;
  }

  authorize(pubKeyFile: string): void {
    fs.appendFileSync(this.authorizedKeys, fs.readFileSync(pubKeyFile, 'utf8'));
  }

  /** Replace the host key (a "reinstalled" server); takes effect at the next start. */
  regenerateHostKey(): void {
    keygen(this.hostKey, 'ed25519', '', 'test-host-new');
  }

  async start(opts: SshdOptions = {}): Promise<void> {
    if (process.getuid?.() === 0) fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // privilege separation dir
    if (!this.port) this.port = await freePort();
    const sftp = ['/usr/lib/openssh/sftp-server', '/usr/libexec/openssh/sftp-server'].find((p) => fs.existsSync(p));
    const lines = [
      `Port ${this.port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${this.hostKey}`,
      `PidFile ${path.join(this.dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${this.authorizedKeys}`,
      'StrictModes no',
      'UsePAM no',
      'PermitRootLogin yes',
      'PubkeyAuthentication yes',
      'PasswordAuthentication yes',
      'KbdInteractiveAuthentication no',
      'PermitEmptyPasswords no',
      'AllowTcpForwarding yes',
      'AllowStreamLocalForwarding yes',
      'MaxStartups 100',
      'LoginGraceTime 30',
      'LogLevel VERBOSE',
      'PrintMotd no',
      `Subsystem sftp ${sftp ?? 'internal-sftp'}`,
      ...(opts.extra ?? []),
    ];
    fs.writeFileSync(this.configFile, lines.join('\n') + '\n', { mode: 0o600 });
    const check = run(SSHD, ['-t', '-f', this.configFile]);
    if (check.status !== 0) throw new Error(`sshd -t failed: ${check.stderr}`);
    this.log = '';
    const p = spawn(SSHD, ['-D', '-e', '-f', this.configFile], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc = p;
    p.stderr!.setEncoding('utf8');
    p.stderr!.on('data', (d: string) => {
      if (this.log.length < 4_000_000) this.log += d;
    });
    // Ready when the port accepts connections (bounded).
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (p.exitCode !== null) throw new Error(`sshd exited (${p.exitCode}): ${this.log}`);
      const ok = await new Promise<boolean>((resolve) => {
        const s = net.connect({ host: '127.0.0.1', port: this.port });
        s.setTimeout(1000);
        s.once('connect', () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(false));
        s.once('timeout', () => {
          s.destroy();
          resolve(false);
        });
      });
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`sshd did not listen on 127.0.0.1:${this.port}: ${this.log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Kill sshd's process group and the session processes it forked; waits (bounded) for the exit. */
  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p || p.pid === undefined) return;
    const pids = descendants(p.pid);
    try {
      process.kill(-p.pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    if (p.exitCode === null && p.signalCode === null) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          try {
            process.kill(-p.pid!, 'SIGKILL');
          } catch {
            /* gone */
          }
          resolve();
        }, 5000);
        p.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async restart(opts?: SshdOptions): Promise<void> {
    await this.stop();
    await this.start(opts);
  }

  async dispose(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** `ssh-keygen -lf` fingerprint of a public key file (SHA256:…). */
export function keygenFingerprint(pubFile: string): string {
  const r = run('ssh-keygen', ['-l', '-E', 'sha256', '-f', pubFile]);
  const m = /(SHA256:\S+)/.exec(r.stdout);
  if (!m) throw new Error(`ssh-keygen -lf: ${r.stdout}${r.stderr}`);
  return m[1];
}

/** A throwaway local user with a password (root only); undefined with a reason when not possible. */
export function createUser(): { user: string; password: string; remove(): void } | { reason: string } {
  if (process.getuid?.() !== 0) return { reason: 'not root: cannot create a local user' };
  if (spawnSync('useradd', ['--help'], { timeout: 10_000 }).error) return { reason: 'useradd missing' };
  const user = `ctsssh${Math.floor(Math.random() * 1e6)}`;
  const password = `pw-${Math.random().toString(36).slice(2)}-X9`;
  const r = run('useradd', ['-M', '-d', '/tmp', '-s', '/bin/sh', user]);
  if (r.status !== 0) return { reason: `useradd failed: ${r.stderr.trim()}` };
  const c = run('chpasswd', [], `${user}:${password}\n`);
  if (c.status !== 0) {
    run('userdel', [user]);
    return { reason: `chpasswd failed: ${c.stderr.trim()}` };
  }
  return {
    user,
    password,
    remove: () => {
      run('userdel', ['-f', user]);
    },
  };
}
