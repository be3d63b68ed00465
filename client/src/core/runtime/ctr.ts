/**
 * `ctr` / `crictl` over SSH: the argv builders and the output parsers shared by the CLI fallback
 * (access `cli`) and by the gRPC client for the few actions containerd's API makes impractical
 * (starting a task and exec need FIFOs on the host; removing a container also removes its
 * snapshot). Every command is an argument vector run with `sudo: true` (a no-op for root logins,
 * `sudo -n` or the password flow otherwise); every ID/namespace/ref is validated by the caller.
 */
import { randomBytes } from 'node:crypto';
import { SshError, type HostConnection } from '../ssh/types';
import { RuntimeError } from './validate';

export interface RunOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  stdin?: string;
}

/** Turn an SSH failure into a RuntimeError that says which host and what. */
export function sshToRuntime(e: unknown, what: string): RuntimeError {
  if (e instanceof RuntimeError) return e;
  if (e instanceof SshError) {
    const kind =
      e.kind === 'cancelled'
        ? 'cancelled'
        : e.kind === 'timeout'
          ? 'timeout'
          : e.kind === 'sudo' || e.kind === 'auth'
            ? 'denied'
            : e.kind === 'unreachable' || e.kind === 'closed'
              ? 'unavailable'
              : 'failed';
    return new RuntimeError(`${what}: ${e.message}`, kind);
  }
  return new RuntimeError(`${what}: ${(e as Error)?.message ?? String(e)}`, 'failed');
}

/**
 * Commands of one runner in flight at once. sshd allows 10 sessions per connection and the
 * pooled connection also carries the gRPC bridge, log follows, shells and other features' execs.
 */
const MAX_PARALLEL = 4;

export class CtrRunner {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly conn: HostConnection,
    readonly socket: string,
  ) {}

  private async slot(): Promise<() => void> {
    if (this.running >= MAX_PARALLEL) await new Promise<void>((r) => this.waiting.push(r));
    this.running++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running--;
      this.waiting.shift()?.();
    };
  }

  private get label(): string {
    return this.conn.host.name;
  }

  /** Run a command under sudo; resolves with its result whatever the exit code. */
  async raw(argv: string[], o: RunOptions = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const release = await this.slot();
    try {
      return await this.conn.exec(argv, { sudo: true, timeoutMs: o.timeoutMs ?? 30_000, signal: o.signal, stdin: o.stdin });
    } catch (e) {
      throw sshToRuntime(e, `${describe(argv)} on ${this.label}`);
    } finally {
      release();
    }
  }

  /** Run and require exit 0; the error carries ctr's own message. */
  async run(argv: string[], o: RunOptions = {}): Promise<string> {
    const r = await this.raw(argv, o);
    if (r.code !== 0) {
      const msg = (r.stderr || r.stdout).trim().replace(/^ctr: /, '').split('\n').slice(-3).join(' ');
      const kind = /not found|no such/i.test(msg) ? 'not-found' : /permission denied/i.test(msg) ? 'denied' : 'failed';
      throw new RuntimeError(`${describe(argv)} on ${this.label} failed (${r.code ?? 'killed'}): ${msg || 'no message'}`, kind);
    }
    return r.stdout;
  }

  /** `ctr --address SOCKET [-n NS] ARGS…` */
  ctrArgv(ns: string | undefined, args: string[]): string[] {
    return ['ctr', '--address', this.socket, ...(ns ? ['--namespace', ns] : []), ...args];
  }

  ctr(ns: string | undefined, args: string[], o?: RunOptions): Promise<string> {
    return this.run(this.ctrArgv(ns, args), o);
  }

  crictlArgv(args: string[]): string[] {
    return ['crictl', '--runtime-endpoint', `unix://${this.socket}`, '--image-endpoint', `unix://${this.socket}`, ...args];
  }

  crictl(args: string[], o?: RunOptions): Promise<string> {
    return this.run(this.crictlArgv(args), o);
  }

  async crictlJson<T>(args: string[], o?: RunOptions): Promise<T> {
    const out = await this.crictl(args, o);
    try {
      return JSON.parse(out) as T;
    } catch {
      throw new RuntimeError(`crictl ${args.join(' ')} on ${this.label}: output is not JSON`, 'failed');
    }
  }

  /** Which of the tools we may use exist on the host (one round trip, constant script). */
  async tools(signal?: AbortSignal): Promise<Set<string>> {
    // A fixed script: nothing from users or the host is pasted into it.
    const r = await this.conn
      .exec(['sh', '-c', 'for t in socat python3 nc ctr crictl; do command -v "$t" >/dev/null 2>&1 && echo "$t"; done; true'], {
        timeoutMs: 15_000,
        signal,
      })
      .catch((e) => {
        throw sshToRuntime(e, `looking for socat/ctr on ${this.label}`);
      });
    return new Set(r.stdout.split('\n').map((s) => s.trim()).filter(Boolean));
  }
}

/** `ctr tasks start` / `crictl ps` … for messages (the program and its first words, not the socket). */
function describe(argv: string[]): string {
  const words = argv.filter((a, i) => !(argv[i - 1] === '--address' || a === '--address' || a.startsWith('--runtime-endpoint') || a.startsWith('--image-endpoint') || argv[i - 1]?.endsWith('-endpoint')));
  return words.slice(0, 5).join(' ');
}

/** A random exec ID (containerd requires one per exec process). */
export const execId = (prefix = 'cts'): string => `${prefix}-${randomBytes(6).toString('hex')}`;

/**
 * Parse a table `ctr … ls` prints (Go tabwriter: columns start where the header's words start).
 * Returns one record per row keyed by the header words.
 */
export function parseTable(text: string): Record<string, string>[] {
  const lines = text.split('\n').filter((l) => l.trim());
  if (!lines.length) return [];
  const header = lines[0];
  const cols: { name: string; start: number }[] = [];
  const re = /\S+/g;
  for (let m = re.exec(header); m; m = re.exec(header)) cols.push({ name: m[0], start: m.index });
  return lines.slice(1).map((line) => {
    const row: Record<string, string> = {};
    cols.forEach((c, i) => {
      const end = i + 1 < cols.length ? cols[i + 1].start : line.length;
      row[c.name] = line.slice(c.start, end).trim();
    });
    return row;
  });
}

/** "1.0 MiB" / "512 B" / "2.3 GB" → bytes (approximate, as ctr rounds). */
export function parseSize(s: string): number {
  const m = /^([\d.]+)\s*([KMGTP]?i?B)?$/i.exec(s.trim());
  if (!m) return 0;
  const n = Number(m[1]);
  const unit = (m[2] ?? 'B').toUpperCase();
  const pow = 'BKMGTP'.indexOf(unit[0]);
  const base = unit.includes('I') ? 1024 : 1000;
  return Math.round(n * Math.pow(base, Math.max(0, pow)));
}

/** The python3 bridge (when the host has neither socat nor nc): stdin/stdout ↔ the unix socket in argv[1]. */
export const PY_BRIDGE = [
  'import os, socket, sys, threading',
  's = socket.socket(socket.AF_UNIX)',
  's.connect(sys.argv[1])',
  'def up():',
  '    while True:',
  '        b = os.read(0, 65536)',
  '        if not b: break',
  '        s.sendall(b)',
  '    s.shutdown(socket.SHUT_WR)',
  'threading.Thread(target=up, daemon=True).start()',
  'out = sys.stdout.buffer',
  'while True:',
  '    b = s.recv(65536)',
  '    if not b: break',
  '    out.write(b); out.flush()',
].join('\n');

/** The bridge command for the first usable tool, or undefined. */
export function bridgeArgv(tools: Set<string>, socket: string): string[] | undefined {
  if (tools.has('socat')) return ['socat', '-', `UNIX-CONNECT:${socket}`];
  if (tools.has('python3')) return ['python3', '-c', PY_BRIDGE, socket];
  if (tools.has('nc')) return ['nc', '-U', socket];
  return undefined;
}
