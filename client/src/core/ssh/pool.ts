/**
 * The SSH connection pool on `ssh2`: one shared connection per route (user@host:port, plus the
 * ProxyJump chain when there is one), host keys checked against known_hosts BEFORE authentication,
 * auth by agent → identity files (passphrase on demand) → password, keepalive, reconnect on the next
 * `get` after a drop, and exec / SFTP / streamlocal on top. Every step is bounded by a timeout.
 * No vscode import: the CLI and the tests drive it directly.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough, type Duplex } from 'node:stream';
import { Client, utils as sshUtils } from 'ssh2';
import type { AnyAuthMethod, ClientChannel, ConnectConfig, ParsedKey, SFTPWrapper } from 'ssh2';
import { KnownHosts, fingerprint, keyTypeOfBlob } from './knownHosts';
import { commandLine, sudoArgv } from './quote';
import { parseJumpSpec } from './sshConfig';
import {
  SshError,
  type Argv,
  type Credentials,
  type ExecOptions,
  type ExecResult,
  type HostConfig,
  type HostConnection,
  type RemoteProcess,
  type SpawnOptions,
  type SshPool,
  type SudoMode,
} from './types';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface SshPoolOptions {
  credentials: Credentials;
  /** Default ~/.ssh/known_hosts. */
  knownHostsPath?: string;
  log?: (level: LogLevel, msg: string) => void;
  /** TCP connect + handshake + authentication, not counting time spent in prompts (default 20 s). */
  connectTimeoutMs?: number;
  /** SSH keepalive interval (default 15 s); the connection is dropped after `keepaliveCountMax` (3) misses. */
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
  /** Default timeout of exec when the caller gives none (60 s). */
  execTimeoutMs?: number;
  /** SFTP / channel-open timeouts (60 s). */
  opTimeoutMs?: number;
  /** Longest a single prompt (host key, passphrase, password) may take (5 min). */
  promptTimeoutMs?: number;
  /** Cap of collected stdout and of stderr, each (16 MiB). */
  maxOutputBytes?: number;
  /** ssh-agent socket; default $SSH_AUTH_SOCK; null disables the agent. */
  agentSocket?: string | null;
  /** Keys tried when a host has no identityFile; default ~/.ssh/id_ed25519, id_ecdsa, id_rsa (those that exist). */
  defaultIdentityFiles?: string[];
  /** Turns one ProxyJump hop (`user@host:port` or an alias) into a HostConfig; default parses the spec. */
  resolveJumpHost?: (spec: string) => HostConfig;
}

const DEFAULTS = {
  connectTimeoutMs: 20_000,
  keepaliveIntervalMs: 15_000,
  keepaliveCountMax: 3,
  execTimeoutMs: 60_000,
  opTimeoutMs: 60_000,
  promptTimeoutMs: 300_000,
  maxOutputBytes: 16 * 1024 * 1024,
};
/**
 * OpenSSH's MaxSessions defaults to 10 sessions per connection; exec, sftp and every spawned
 * channel (runtime bridges, log follows, terminals) each use one. Budget: 1 sftp + 4 short execs
 * (queued beyond that) + 5 long-lived spawns (refused beyond that, with a clear message).
 */
const MAX_CONCURRENT_EXEC = 4;
const MAX_SPAWNED = 5;
const MAX_JUMP_DEPTH = 8;
const DEFAULT_HOST_KEY_ALGOS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];

type Resolved = Required<Pick<HostConfig, 'host' | 'port' | 'user'>> & HostConfig;

function localUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USER ?? 'root';
  }
}

function normalize(h: HostConfig): Resolved {
  return { ...h, host: h.host, port: h.port ?? 22, user: h.user ?? localUser() };
}

function routeKey(h: Resolved): string {
  return `${h.user}@${h.host}:${h.port}` + (h.proxyJump ? ` via ${h.proxyJump}` : '');
}

export function effectiveSudoMode(h: HostConfig): SudoMode {
  if (h.sudo) return h.sudo;
  return (h.user ?? localUser()) === 'root' ? 'none' : 'nopasswd';
}

function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? path.join(os.homedir(), p.slice(1)) : p;
}

function cancelled(what: string): SshError {
  return new SshError(`${what}: cancelled`, 'cancelled');
}

/** Race a promise against an AbortSignal (the underlying work continues, bounded by its own timeout). */
function withSignal<T>(p: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(cancelled(what));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(cancelled(what));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string, onTimeout?: () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => {
      try {
        onTimeout?.();
      } catch {
        /* ignore */
      }
      reject(new SshError(`${what}: timed out after ${ms} ms`, 'timeout'));
    }, ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

function asSshError(e: unknown, what: string): SshError {
  if (e instanceof SshError) return e;
  const err = e as Error & { code?: string | number };
  return new SshError(`${what}: ${err?.message ?? String(e)}`, 'other');
}

/** Bounded byte collector: keeps the first `cap` bytes, then appends a marker. */
class Collector {
  private chunks: Buffer[] = [];
  private size = 0;
  truncated = 0;
  constructor(private readonly cap: number) {}
  push(b: Buffer): void {
    if (!b.length) return;
    const room = this.cap - this.size;
    if (room <= 0) {
      this.truncated += b.length;
      return;
    }
    const part = b.length > room ? b.subarray(0, room) : b;
    this.chunks.push(Buffer.from(part));
    this.size += part.length;
    if (b.length > room) this.truncated += b.length - room;
  }
  text(): string {
    const s = Buffer.concat(this.chunks).toString('utf8');
    return this.truncated ? `${s}\n[… output truncated: ${this.truncated} more bytes not shown]\n` : s;
  }
}

/** A small FIFO semaphore. */
class Semaphore {
  private queue: (() => void)[] = [];
  private used = 0;
  constructor(private readonly max: number) {}
  acquire(signal?: AbortSignal): Promise<() => void> {
    const release = () => {
      this.used--;
      const next = this.queue.shift();
      if (next) next();
    };
    if (this.used < this.max) {
      this.used++;
      return Promise.resolve(once(release));
    }
    return new Promise((resolve, reject) => {
      const grant = () => {
        signal?.removeEventListener('abort', onAbort);
        this.used++;
        resolve(once(release));
      };
      const onAbort = () => {
        const i = this.queue.indexOf(grant);
        if (i >= 0) this.queue.splice(i, 1);
        reject(cancelled('exec'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(grant);
    });
  }
}

function once(f: () => void): () => void {
  let done = false;
  return () => {
    if (!done) {
      done = true;
      f();
    }
  };
}

interface Entry {
  key: string;
  label: string;
  ready: Promise<Client>;
  client?: Client;
  closed: boolean;
  sftp?: Promise<SFTPWrapper>;
  execSlots: Semaphore;
  /** long-lived channels open now (spawn) */
  spawned: number;
  onClose: Set<() => void>;
}

const SUDO_FAILURE =
  /^sudo: (?:.*incorrect password|a password is required|a terminal is required|no password was provided|.*is not in the sudoers file|.*is not allowed to (?:execute|run))/m;

class Pool implements SshPool {
  private readonly entries = new Map<string, Entry>();
  private readonly o: SshPoolOptions & typeof DEFAULTS;
  private readonly knownHosts: KnownHosts;

  constructor(opts: SshPoolOptions) {
    this.o = { ...DEFAULTS, ...stripUndefined(opts) } as SshPoolOptions & typeof DEFAULTS;
    this.knownHosts = new KnownHosts(opts.knownHostsPath);
  }

  log(level: LogLevel, msg: string): void {
    try {
      this.o.log?.(level, msg);
    } catch {
      /* a logger must not break the pool */
    }
  }

  async get(host: HostConfig, signal?: AbortSignal): Promise<HostConnection> {
    if (!host || !host.host) throw new SshError('host has no address', 'other');
    const entry = this.entry(normalize(host), 0);
    await withSignal(entry.ready, signal, `connect to ${host.name ?? host.host}`);
    return new Connection(this, entry, host);
  }

  closeAll(): void {
    for (const e of [...this.entries.values()]) this.closeEntry(e);
    this.entries.clear();
  }

  /**
   * ssh2 throws "Not connected" synchronously from exec(), sftp() and its forwards once the socket is
   * unwritable but before it emits 'close' (a server restart opens that window): every such call is
   * guarded, and the entry is forgotten at once so the next get reconnects.
   */
  deadSocket(e: Entry, x: unknown): SshError {
    this.closeEntry(e);
    return new SshError(`connection to ${e.label} closed: ${x instanceof Error ? x.message : String(x)}`, 'closed');
  }

  closeEntry(e: Entry): void {
    e.closed = true;
    if (this.entries.get(e.key) === e) this.entries.delete(e.key);
    const c = e.client;
    if (c) {
      try {
        c.end();
      } catch {
        /* ignore */
      }
      // end() sends a disconnect; make sure the socket goes away even if the peer stalls.
      setTimeout(() => {
        try {
          c.destroy();
        } catch {
          /* ignore */
        }
      }, 2000).unref();
    }
  }

  private entry(h: Resolved, depth: number): Entry {
    const key = routeKey(h);
    const existing = this.entries.get(key);
    if (existing && !existing.closed) return existing;
    const entry: Entry = {
      key,
      label: h.name && h.name !== h.host ? `${h.name} (${h.user}@${h.host}:${h.port})` : `${h.user}@${h.host}:${h.port}`,
      ready: undefined as unknown as Promise<Client>,
      closed: false,
      execSlots: new Semaphore(MAX_CONCURRENT_EXEC),
      spawned: 0,
      onClose: new Set(),
    };
    this.entries.set(key, entry);
    entry.ready = this.open(h, entry, depth).then(
      (client) => {
        if (entry.closed) {
          client.end();
          throw new SshError(`connection to ${entry.label} was closed`, 'closed');
        }
        entry.client = client;
        client.on('close', () => {
          this.log('info', `ssh: connection to ${entry.label} closed`);
          entry.closed = true;
          entry.sftp = undefined;
          if (this.entries.get(key) === entry) this.entries.delete(key);
          for (const f of [...entry.onClose]) f();
          entry.onClose.clear();
        });
        return client;
      },
      (e) => {
        entry.closed = true;
        if (this.entries.get(key) === entry) this.entries.delete(key);
        throw e;
      },
    );
    entry.ready.catch(() => undefined); // the callers see the rejection; never unhandled
    return entry;
  }

  private resolveJump(spec: string): HostConfig {
    if (this.o.resolveJumpHost) return this.o.resolveJumpHost(spec);
    const j = parseJumpSpec(spec);
    return { name: spec, host: j.host, port: j.port, user: j.user };
  }

  /** A forwarded TCP stream to h through its (pooled) jump host. */
  private async jumpStream(h: Resolved, depth: number): Promise<Duplex> {
    if (depth >= MAX_JUMP_DEPTH) throw new SshError(`ProxyJump chain for ${h.host} is too long or loops`, 'other');
    const hops = h.proxyJump!.split(',').map((s) => s.trim()).filter(Boolean);
    const last = hops.pop();
    if (!last) throw new SshError(`empty ProxyJump for ${h.host}`, 'other');
    const jump = { ...this.resolveJump(last) };
    if (hops.length) jump.proxyJump = hops.join(',');
    const je = this.entry(normalize(jump), depth + 1);
    const jc = await je.ready;
    let late = false;
    const stream = await withTimeout(
      new Promise<ClientChannel>((resolve, reject) => {
        try {
          jc.forwardOut('127.0.0.1', 0, h.host, h.port, (err, s) => {
            if (late) {
              s?.close();
              return;
            }
            if (err) reject(new SshError(`jump host ${je.label} could not reach ${h.host}:${h.port}: ${err.message}`, 'unreachable'));
            else resolve(s);
          });
        } catch (x) {
          reject(this.deadSocket(je, x));
        }
      }),
      this.o.connectTimeoutMs,
      `forwarding to ${h.host}:${h.port} through ${je.label}`,
      () => (late = true),
    );
    this.log('debug', `ssh: ${h.host}:${h.port} reached through ${je.label}`);
    return stream;
  }

  private async open(h: Resolved, entry: Entry, depth: number): Promise<Client> {
    const sock = h.proxyJump ? await this.jumpStream(h, depth) : undefined;
    const creds = this.o.credentials;
    const label = entry.label;
    return new Promise<Client>((resolve, reject) => {
      const client = new Client();
      let settled = false;
      let failure: SshError | undefined; // the best explanation seen so far
      let lastError: Error | undefined;

      // Connect timer, paused while a prompt is open.
      let remaining = this.o.connectTimeoutMs;
      let startedAt = Date.now();
      let timer: NodeJS.Timeout | undefined;
      let prompts = 0;
      const arm = () => {
        startedAt = Date.now();
        timer = setTimeout(
          () => fail(new SshError(`connecting to ${label} timed out after ${this.o.connectTimeoutMs} ms`, 'timeout')),
          Math.max(0, remaining),
        );
      };
      const prompt = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
        if (prompts++ === 0 && timer) {
          clearTimeout(timer);
          timer = undefined;
          remaining -= Date.now() - startedAt;
        }
        try {
          return await withTimeout(Promise.resolve().then(f), this.o.promptTimeoutMs, what);
        } finally {
          if (--prompts === 0 && !settled) arm();
        }
      };

      const fail = (e: SshError) => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        try {
          client.destroy();
        } catch {
          /* ignore */
        }
        sock?.destroy();
        reject(e);
      };

      client.on('error', (err: Error & { level?: string; code?: string }) => {
        if (settled) {
          this.log('warn', `ssh: ${label}: ${err.message}`);
          return;
        }
        if (err.level === 'agent') {
          this.log('debug', `ssh: ${label}: ssh-agent unusable (${err.message}); trying other methods`);
          return;
        }
        lastError = err;
        if (failure) return fail(failure);
        if (err.level === 'client-authentication' && /All configured authentication methods failed/.test(err.message)) {
          return fail(new SshError(`authentication to ${label} failed (agent, keys and password were refused or not available)`, 'auth'));
        }
        const code = err.code ?? '';
        if (/^(ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|EPIPE)$/.test(code)) {
          return fail(new SshError(`cannot reach ${label}: ${err.message}`, 'unreachable'));
        }
        if (err.level === 'client-socket' || err.level === 'protocol' || err.level === 'handshake') {
          return fail(new SshError(`connection to ${label} failed: ${err.message}`, 'unreachable'));
        }
        this.log('debug', `ssh: ${label}: ${err.message}`);
      });
      client.once('ready', () => {
        if (settled) {
          client.end();
          return;
        }
        settled = true;
        if (timer) clearTimeout(timer);
        this.log('info', `ssh: connected to ${label}`);
        resolve(client);
      });
      client.once('close', () => {
        if (!settled) {
          fail(
            failure ??
              new SshError(
                `connection to ${label} closed during the handshake${lastError ? `: ${lastError.message}` : ''}`,
                'unreachable',
              ),
          );
        }
      });

      // ---- host key: checked before authentication --------------------------------------------
      const hostVerifier = (keyBlob: Buffer, verify: (ok: boolean) => void) => {
        const keyType = keyTypeOfBlob(keyBlob);
        const fp = fingerprint(keyBlob);
        let check;
        try {
          check = this.knownHosts.check(h.host, h.port, keyType, keyBlob);
        } catch (e) {
          failure = new SshError(`cannot read ${this.knownHosts.path}: ${(e as Error).message}`, 'other');
          return verify(false);
        }
        if (check.verdict === 'known') {
          this.log('debug', `ssh: host key of ${label} is known (${keyType} ${fp})`);
          return verify(true);
        }
        if (check.verdict === 'changed') {
          const where = `${this.knownHosts.path}${check.line ? ` line ${check.line}` : ''}`;
          failure = check.revoked
            ? new SshError(
                `The host key of ${label} (${keyType} ${fp}) is marked @revoked in ${where}. Refusing to connect.`,
                'host-key-changed',
              )
            : new SshError(
                `The host key of ${label} has changed: it now presents ${keyType} ${fp}, which does not match the key ` +
                  `recorded in ${where}. Someone could be intercepting the connection (man-in-the-middle attack), ` +
                  `or the host was reinstalled. Refusing to connect. If the change is expected, remove the old key ` +
                  `from ${where} (e.g. \`ssh-keygen -R ${h.port === 22 ? h.host : `'[${h.host}]:${h.port}'`}\`) and connect again.`,
                'host-key-changed',
              );
          this.log('error', `ssh: ${failure.message}`);
          return verify(false);
        }
        prompt('host key confirmation', () => creds.confirmHostKey({ host: h.host, port: h.port, keyType, fingerprint: fp })).then(
          (yes) => {
            if (!yes) {
              failure = new SshError(`The host key of ${label} (${keyType} ${fp}) was not accepted.`, 'host-key-rejected');
              return verify(false);
            }
            try {
              this.knownHosts.add(h.host, h.port, keyType, keyBlob);
              this.log('info', `ssh: added ${keyType} ${fp} for ${h.host}:${h.port} to ${this.knownHosts.path}`);
            } catch (e) {
              this.log('warn', `ssh: could not record the host key in ${this.knownHosts.path}: ${(e as Error).message}`);
            }
            verify(true);
          },
          (e) => {
            failure = e instanceof SshError && e.kind === 'timeout' ? e : new SshError(`host key confirmation failed: ${(e as Error).message}`, 'host-key-rejected');
            verify(false);
          },
        );
      };

      // ---- authentication: none → agent → identity files → password --------------------------
      const agent = this.o.agentSocket === undefined ? process.env.SSH_AUTH_SOCK : this.o.agentSocket ?? undefined;
      const keyFiles = h.identityFile
        ? [expandHome(h.identityFile)]
        : (this.o.defaultIdentityFiles ?? ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((n) => path.join(os.homedir(), '.ssh', n))).filter(
            (f) => fs.existsSync(f),
          );
      let sentNone = false;
      let agentTried = false;
      let keyIndex = 0;
      let passwordTries = 0;
      let lastWasPassword = false;

      const loadKey = async (file: string): Promise<ParsedKey | undefined> => {
        let data: Buffer;
        try {
          data = fs.readFileSync(file);
        } catch (e) {
          this.log('warn', `ssh: cannot read identity file ${file}: ${(e as Error).message}`);
          return undefined;
        }
        const parse = (pass?: string): ParsedKey | Error => {
          const k = sshUtils.parseKey(data, pass) as ParsedKey | ParsedKey[] | Error;
          return Array.isArray(k) ? (k[0] ?? new Error('no key in file')) : k;
        };
        let k = parse();
        if (k instanceof Error && /passphrase|encrypted/i.test(k.message)) {
          for (let attempt = 0; attempt < 2; attempt++) {
            const pass = await prompt('passphrase', () => creds.passphrase(h, file));
            if (pass === undefined) return undefined;
            k = parse(pass);
            if (!(k instanceof Error)) break;
            this.log('warn', `ssh: wrong passphrase for ${file}`);
            await creds.forget(h, 'passphrase');
          }
        }
        if (k instanceof Error) {
          this.log('warn', `ssh: cannot use identity file ${file}: ${k.message}`);
          return undefined;
        }
        if (!k.isPrivateKey()) {
          this.log('warn', `ssh: ${file} is not a private key`);
          return undefined;
        }
        return k;
      };

      const nextAuth = async (methodsLeft: string[] | null): Promise<AnyAuthMethod | false> => {
        const username = h.user;
        if (lastWasPassword) {
          lastWasPassword = false;
          this.log('warn', `ssh: password refused by ${label}`);
          await creds.forget(h, 'password');
        }
        if (!sentNone) {
          sentNone = true;
          return { type: 'none', username };
        }
        const can = (m: string) => !methodsLeft || methodsLeft.includes(m);
        if (!agentTried && agent && can('publickey')) {
          agentTried = true;
          return { type: 'agent', username, agent };
        }
        while (keyIndex < keyFiles.length && can('publickey')) {
          const file = keyFiles[keyIndex++];
          const key = await loadKey(file);
          if (key) {
            this.log('debug', `ssh: ${label}: trying key ${file}`);
            return { type: 'publickey', username, key };
          }
        }
        if (passwordTries < 2 && (can('password') || can('keyboard-interactive'))) {
          passwordTries++;
          const pw = await prompt('password', () => creds.password(h));
          if (pw === undefined) {
            passwordTries = 2;
            return false;
          }
          lastWasPassword = true;
          if (can('password')) return { type: 'password', username, password: pw };
          return {
            type: 'keyboard-interactive',
            username,
            prompt: (_name, _instr, _lang, prompts, finish) => finish(prompts.map(() => pw)),
          };
        }
        return false;
      };

      const config: ConnectConfig = {
        host: h.host,
        port: h.port,
        username: h.user,
        sock: sock as ConnectConfig['sock'],
        readyTimeout: 0, // our own timer, paused during prompts
        keepaliveInterval: this.o.keepaliveIntervalMs,
        keepaliveCountMax: this.o.keepaliveCountMax,
        hostVerifier,
        authHandler: (methodsLeft, _partial, next) => {
          nextAuth(methodsLeft as string[] | null).then(
            (m) => next(m as AnyAuthMethod),
            (e) => {
              failure = e instanceof SshError ? e : new SshError(`authentication to ${label}: ${(e as Error).message}`, 'auth');
              next(false as unknown as AnyAuthMethod);
            },
          );
        },
      };
      // Prefer the key types already recorded for this host, so a known host never prompts for a new type.
      try {
        const known = this.knownHosts.check(h.host, h.port, '', Buffer.alloc(0)).knownTypes;
        const preferred = known.flatMap((t) => (t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t]));
        const order = [...preferred.filter((a) => DEFAULT_HOST_KEY_ALGOS.includes(a)), ...DEFAULT_HOST_KEY_ALGOS];
        config.algorithms = { serverHostKey: [...new Set(order)] as NonNullable<NonNullable<ConnectConfig['algorithms']>['serverHostKey']> };
      } catch {
        /* unreadable known_hosts: reported by the verifier */
      }

      this.log('debug', `ssh: connecting to ${label}${h.proxyJump ? ` via ${h.proxyJump}` : ''}`);
      arm();
      try {
        client.connect(config);
      } catch (e) {
        fail(asSshError(e, `connect to ${label}`));
      }
    });
  }

  // ---- operations used by Connection ------------------------------------------------------------

  liveClient(e: Entry): Client {
    if (e.closed || !e.client) throw new SshError(`connection to ${e.label} is closed; get it again from the pool`, 'closed');
    return e.client;
  }

  sftp(e: Entry): Promise<SFTPWrapper> {
    const client = this.liveClient(e);
    if (!e.sftp) {
      let late = false;
      const p = withTimeout(
        new Promise<SFTPWrapper>((resolve, reject) => {
          try {
            client.sftp((err, s) => {
              if (late) {
                s?.end();
                return;
              }
              if (err) return reject(new SshError(`SFTP on ${e.label}: ${err.message}`, 'other'));
              s.on('close', () => {
                if (e.sftp === p) e.sftp = undefined;
              });
              s.on('error', (er: Error) => this.log('warn', `ssh: sftp ${e.label}: ${er.message}`));
              resolve(s);
            });
          } catch (x) {
            reject(this.deadSocket(e, x));
          }
        }),
        this.o.opTimeoutMs,
        `opening SFTP on ${e.label}`,
        () => (late = true),
      );
      e.sftp = p;
      p.catch(() => {
        if (e.sftp === p) e.sftp = undefined;
      });
    }
    return e.sftp;
  }

  op<T>(e: Entry, what: string, signal: AbortSignal | undefined, f: (cb: (err: Error | null | undefined, v?: T) => void) => void): Promise<T> {
    if (signal?.aborted) return Promise.reject(cancelled(what));
    let onCloseRef: (() => void) | undefined;
    const p = new Promise<T>((resolve, reject) => {
      let onClose: (() => void) | undefined = () => reject(new SshError(`${what}: connection to ${e.label} closed`, 'closed'));
      onCloseRef = onClose;
      e.onClose.add(onClose);
      f((err, v) => {
        if (onClose) e.onClose.delete(onClose);
        onClose = undefined;
        if (err) reject(asSshError(err, what));
        else resolve(v as T);
      });
    });
    const outer = withSignal(withTimeout(p, this.o.opTimeoutMs, what), signal, what);
    // a timed-out or cancelled op must not leave its close listener behind
    outer.catch(() => undefined).finally(() => onCloseRef && e.onClose.delete(onCloseRef));
    return outer;
  }

  async exec(e: Entry, host: HostConfig, argv: Argv, opts: ExecOptions): Promise<ExecResult> {
    const what = `exec on ${e.label}`;
    if (opts.signal?.aborted) throw cancelled(what);
    const mode = effectiveSudoMode(host);
    const usePassword = !!opts.sudo && mode === 'password';
    let full: string[];
    let sudoPassword: string | undefined;
    let promptMark = '';
    let readyMark = '';
    if (usePassword) {
      sudoPassword = await withSignal(
        withTimeout(Promise.resolve().then(() => this.o.credentials.sudoPassword(host)), this.o.promptTimeoutMs, 'sudo password'),
        opts.signal,
        what,
      );
      if (sudoPassword === undefined) throw new SshError(`no sudo password for ${e.label}`, 'sudo');
      // sudo prints promptMark only when it really asks, and the wrapper prints readyMark once the
      // command starts: the password is written only to sudo, the caller's stdin only to the command.
      const tag = randomBytes(8).toString('hex');
      promptMark = `[sudo-${tag}]`;
      readyMark = `[ready-${tag}]`;
      full = sudoArgv(['sh', '-c', 'printf "%s\\n" "$0" >&2; exec "$@"', readyMark, ...argv], 'password', { prompt: promptMark });
    } else {
      full = opts.sudo ? sudoArgv(argv, mode) : [...argv];
    }
    const cmd = commandLine(full);
    this.log('debug', `ssh: ${e.label}$ ${commandLine(argv)}${opts.sudo ? ` (sudo: ${mode})` : ''}`);

    const timeoutMs = opts.timeoutMs ?? this.o.execTimeoutMs;
    const cap = this.o.maxOutputBytes;
    const client = this.liveClient(e);

    return new Promise<ExecResult>((resolve, reject) => {
      let settled = false;
      let stream: ClientChannel | undefined;
      let release: (() => void) | undefined;
      const out = new Collector(cap);
      const err = new Collector(cap);
      let exitCode: number | null = null;
      let exitSignal: string | undefined;

      const cleanup = () => {
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        e.onClose.delete(onConnClose);
        release?.();
      };
      const kill = () => {
        if (!stream) return;
        endChannel(stream);
      };
      const finishErr = (x: SshError) => {
        if (settled) return;
        settled = true;
        cleanup();
        kill();
        reject(x);
      };
      const timer = setTimeout(() => finishErr(new SshError(`${commandLine(argv)} on ${e.label} timed out after ${timeoutMs} ms`, 'timeout')), timeoutMs);
      const onAbort = () => finishErr(cancelled(`${commandLine(argv)} on ${e.label}`));
      const onConnClose = () => finishErr(new SshError(`connection to ${e.label} closed while running ${argv[0]}`, 'closed'));
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      e.onClose.add(onConnClose);

      e.execSlots.acquire(opts.signal).then(
        (rel) => {
          if (settled) return rel();
          release = rel;
          try {
            client.exec(cmd, (openErr, s) => {
              if (settled) {
                // timed out / cancelled while the channel was opening: still stop the remote process
                if (s) {
                  stream = s;
                  s.on('error', () => undefined);
                  kill();
                }
                return;
              }
              if (openErr) return finishErr(new SshError(`cannot run a command on ${e.label}: ${openErr.message}`, 'other'));
              stream = s;
              const writeStdin = () => {
                if (opts.stdin !== undefined && opts.stdin.length) s.end(opts.stdin);
                else s.end();
              };
              let running = !usePassword; // password mode: until readyMark is seen
              let sent = false;
              let wrongPassword = false;
              let pre = Buffer.alloc(0);
              const pm = Buffer.from(promptMark);
              const rm = Buffer.from(readyMark + '\n');

              s.on('data', (b: Buffer) => out.push(b));
              s.stderr.on('data', (b: Buffer) => {
                if (running) return err.push(b);
                pre = Buffer.concat([pre, b]);
                for (;;) {
                  const ip = pre.indexOf(pm);
                  const ir = pre.indexOf(rm);
                  if (ip >= 0 && (ir < 0 || ip < ir)) {
                    err.push(pre.subarray(0, ip));
                    pre = pre.subarray(ip + pm.length);
                    if (!sent) {
                      sent = true;
                      s.write(sudoPassword + '\n');
                    } else {
                      wrongPassword = true;
                      s.end(); // sudo re-prompts: give up instead of feeding it more
                    }
                    continue;
                  }
                  if (ir >= 0) {
                    err.push(pre.subarray(0, ir));
                    err.push(pre.subarray(ir + rm.length));
                    pre = Buffer.alloc(0);
                    running = true;
                    writeStdin();
                  }
                  break;
                }
                if (!running && pre.length > 65536) {
                  const keep = Math.max(pm.length, rm.length);
                  err.push(pre.subarray(0, pre.length - keep));
                  pre = pre.subarray(pre.length - keep);
                }
              });
              s.on('exit', (code: number | null, sig?: string) => {
                exitCode = code ?? null;
                if (sig) exitSignal = sig;
              });
              s.on('error', (er: Error) => this.log('debug', `ssh: channel error on ${e.label}: ${er.message}`));
              s.on('close', () => {
                if (settled) return;
                if (pre.length) err.push(pre);
                const stderr = err.text();
                const stdout = out.text();
                if (usePassword && !running) {
                  const wrong = wrongPassword || /incorrect password|Sorry, try again/i.test(stderr);
                  if (wrong) void Promise.resolve(this.o.credentials.forget(host, 'sudo')).catch(() => undefined);
                  return finishErr(
                    new SshError(
                      wrong ? `sudo on ${e.label}: incorrect password` : `sudo on ${e.label} failed: ${stderr.trim() || `exit ${exitCode}`}`,
                      'sudo',
                    ),
                  );
                }
                if (opts.sudo && mode === 'nopasswd' && exitCode !== 0) {
                  if (SUDO_FAILURE.test(stderr))
                    return finishErr(new SshError(`sudo on ${e.label} needs a password or is not allowed: ${stderr.trim()}`, 'sudo'));
                  if (exitCode === 127 && /sudo: (command )?not found/.test(stderr))
                    return finishErr(new SshError(`sudo is not installed on ${e.label}`, 'sudo'));
                }
                settled = true;
                cleanup();
                const r: ExecResult = { code: exitCode, stdout, stderr };
                if (exitSignal) r.signal = exitSignal;
                resolve(r);
              });
              if (running) writeStdin();
            });
          } catch (x) {
            finishErr(this.deadSocket(e, x));
          }
        },
        (x) => finishErr(asSshError(x, what)),
      );
    });
  }
  /**
   * A long-lived command on its own channel (not an exec slot: it may live for hours; at most
   * MAX_SPAWNED per connection). The command runs behind a tiny wrapper that prints a marker and
   * its PID before exec'ing it: output reaches the caller only from there on (so sudo's prompt or
   * an echoed password never does), and kill() can really end it — OpenSSH ignores the `signal`
   * channel request and, without a pty, lets a command outlive its closed channel.
   */
  async spawn(e: Entry, host: HostConfig, argv: Argv, opts: SpawnOptions): Promise<RemoteProcess> {
    const what = `${commandLine(argv)} on ${e.label}`;
    if (opts.signal?.aborted) throw cancelled(what);
    const mode = effectiveSudoMode(host);
    const usePassword = !!opts.sudo && mode === 'password';
    let sudoPassword: string | undefined;
    if (usePassword) {
      sudoPassword = await withSignal(
        withTimeout(Promise.resolve().then(() => this.o.credentials.sudoPassword(host)), this.o.promptTimeoutMs, 'sudo password'),
        opts.signal,
        what,
      );
      if (sudoPassword === undefined) throw new SshError(`no sudo password for ${e.label}`, 'sudo');
    }
    const tag = randomBytes(8).toString('hex');
    const promptMark = `[sudo-${tag}]`;
    const readyMark = `[ready-${tag}]`;
    const wrapped = ['sh', '-c', 'printf "%s %s\\n" "$0" "$$" >&2; exec "$@"', readyMark, ...argv];
    const full = !opts.sudo ? wrapped : usePassword ? sudoArgv(wrapped, 'password', { prompt: promptMark }) : sudoArgv(wrapped, mode);
    const cmd = commandLine(full);
    this.log('debug', `ssh: ${e.label}$ ${commandLine(argv)} (spawn${opts.pty ? ', pty' : ''}${opts.sudo ? `, sudo: ${mode}` : ''})`);
    const client = this.liveClient(e);
    const startTimeoutMs = opts.startTimeoutMs ?? 30_000;
    if (e.spawned >= MAX_SPAWNED) {
      throw new SshError(
        `${e.label} already has ${MAX_SPAWNED} long-running channels open (log viewers, terminals, runtime bridges); close one and retry`,
        'other',
      );
    }
    e.spawned++;
    let counted = true;
    const uncount = () => {
      if (counted) {
        counted = false;
        e.spawned--;
      }
    };

    return new Promise<RemoteProcess>((resolve, reject) => {
      let settled = false;
      let channel: ClientChannel | undefined;
      let remotePid: number | undefined;
      let closed = false;
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      let exitCode: number | null = null;
      let exitSignal: string | undefined;
      let resolveExit!: (v: { code: number | null; signal?: string }) => void;
      const exited = new Promise<{ code: number | null; signal?: string }>((r) => (resolveExit = r));
      const kill = () => {
        if (!channel || closed) return;
        if (remotePid !== undefined) {
          // the wrapper exec'd the command, so this PID is the command itself
          const pid = remotePid;
          remotePid = undefined;
          void this.exec(e, host, ['kill', '-TERM', String(pid)], { sudo: opts.sudo, timeoutMs: 15_000 })
            .catch((x: unknown) => this.log('debug', `ssh: kill ${pid} on ${e.label}: ${String(x)}`));
        }
        endChannel(channel);
      };
      const fail = (x: SshError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        kill();
        if (!channel) uncount(); // else: counted down when the channel closes
        reject(x);
      };
      const timer = setTimeout(() => fail(new SshError(`${what}: did not start within ${startTimeoutMs} ms`, 'timeout')), startTimeoutMs);
      const onAbort = () => {
        if (!settled) fail(cancelled(what));
        else kill();
      };
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      const proc: RemoteProcess = {
        stdout,
        stderr,
        get stdin(): NodeJS.WritableStream {
          return channel as unknown as NodeJS.WritableStream;
        },
        exited,
        resize: (rows, cols) => {
          if (opts.pty && channel && !closed) channel.setWindow(rows, cols, 0, 0);
        },
        kill,
      };
      const started = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(proc);
      };
      const onOpen = (openErr: Error | undefined, ch: ClientChannel) => {
        if (settled) {
          if (ch) {
            channel = ch;
            ch.on('error', () => undefined);
            kill();
          }
          return;
        }
        if (openErr) return fail(new SshError(`cannot run a command on ${e.label}: ${openErr.message}`, 'other'));
        channel = ch;
        ch.on('error', (er: Error) => this.log('debug', `ssh: channel error on ${e.label}: ${er.message}`));
        ch.on('exit', (code: number | null, sig?: string) => {
          exitCode = code ?? null;
          if (sig) exitSignal = sig;
        });
        const onConnClose = () => kill();
        e.onClose.add(onConnClose);
        ch.on('close', () => {
          closed = true;
          uncount();
          e.onClose.delete(onConnClose);
          opts.signal?.removeEventListener('abort', onAbort);
          stdout.end();
          stderr.end();
          if (!settled) {
            if (usePassword) return fail(new SshError(`sudo on ${e.label} failed (wrong password or not allowed)`, 'sudo'));
            if (opts.sudo) return fail(new SshError(`sudo on ${e.label} failed or is not allowed without a password`, 'sudo'));
            return fail(new SshError(`${what}: the channel closed before the command started`, 'other'));
          }
          const r: { code: number | null; signal?: string } = { code: exitCode };
          if (exitSignal) r.signal = exitSignal;
          // `exited` must not overtake the output: a short command's data, EOF and close can arrive in
          // one packet, before the caller has even attached its listeners. Resolve once every stream
          // that is being read has delivered its last chunk (a stream nobody reads is not waited for).
          setImmediate(() => {
            const drained = (st: PassThrough) =>
              st.readableEnded || (st.listenerCount('data') === 0 && !st.readableFlowing)
                ? Promise.resolve()
                : new Promise<void>((res) => st.once('end', res).once('close', res));
            void Promise.all([drained(stdout), drained(stderr)]).then(() => resolveExit(r));
          });
        });
        // The wrapper writes "<readyMark> <pid>" to stderr (the pty, when there is one); before it,
        // sudo may prompt (answered once) — and nothing of that part reaches the caller.
        const watched: NodeJS.ReadableStream = opts.pty ? ch : ch.stderr;
        const other: NodeJS.ReadableStream = opts.pty ? ch.stderr : ch;
        other.pipe(opts.pty ? stderr : stdout, { end: false });
        const pm = Buffer.from(promptMark);
        const rm = Buffer.from(readyMark + ' ');
        let pre = Buffer.alloc(0);
        let sent = false;
        const onData = (b: Buffer) => {
          pre = Buffer.concat([pre, b]);
          const ip = usePassword ? pre.indexOf(pm) : -1;
          if (ip >= 0 && !sent) {
            sent = true;
            pre = pre.subarray(ip + pm.length);
            ch.write(sudoPassword + '\n');
          } else if (ip >= 0 && sent) {
            watched.removeListener('data', onData);
            ch.end();
            void Promise.resolve(this.o.credentials.forget(host, 'sudo')).catch(() => undefined);
            return fail(new SshError(`sudo on ${e.label}: incorrect password`, 'sudo'));
          }
          const ir = pre.indexOf(rm);
          const nl = ir >= 0 ? pre.indexOf(0x0a, ir) : -1;
          if (ir < 0 || nl < 0) {
            if (pre.length > 65536) pre = pre.subarray(pre.length - 256);
            return;
          }
          const pid = Number(pre.subarray(ir + rm.length, nl).toString('latin1').trim());
          if (Number.isInteger(pid) && pid > 1) remotePid = pid;
          const rest = pre.subarray(nl + 1);
          watched.removeListener('data', onData);
          const target = opts.pty ? stdout : stderr;
          if (rest.length) target.write(rest);
          watched.pipe(target, { end: false });
          started();
        };
        watched.on('data', onData);
      };
      try {
        if (opts.pty) {
          client.exec(cmd, { pty: { rows: opts.pty.rows, cols: opts.pty.cols, term: opts.pty.term ?? 'xterm-256color' } }, onOpen);
        } else {
          client.exec(cmd, onOpen);
        }
      } catch (x) {
        fail(this.deadSocket(e, x));
      }
    });
  }
}

/** SIGTERM where the server honours the request, then close the channel. */
function endChannel(ch: ClientChannel): void {
  try {
    ch.signal('TERM');
  } catch {
    /* older servers */
  }
  try {
    ch.close();
  } catch {
    /* ignore */
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** What `pool.get` hands out: the caller's HostConfig over the shared connection. */
class Connection implements HostConnection {
  constructor(
    private readonly pool: Pool,
    private readonly entry: Entry,
    readonly host: HostConfig,
  ) {}

  exec(argv: Argv, opts: ExecOptions = {}): Promise<ExecResult> {
    return this.pool.exec(this.entry, this.host, argv, opts);
  }

  async writeFile(file: string, data: string | Buffer, opts: { mode?: number; signal?: AbortSignal } = {}): Promise<void> {
    const e = this.entry;
    const sig = opts.signal;
    const sftp = await withSignal(this.pool.sftp(e), sig, `write ${file}`);
    let mode = opts.mode;
    if (mode === undefined) {
      try {
        const st = await this.pool.op<{ mode: number }>(e, `stat ${file}`, sig, (cb) => sftp.stat(file, cb));
        mode = st.mode & 0o7777;
      } catch (x) {
        if (x instanceof SshError && x.kind === 'cancelled') throw x;
        mode = 0o644;
      }
    }
    const dir = path.posix.dirname(file);
    const tmp = path.posix.join(dir, `.${path.posix.basename(file)}.tmp-${randomBytes(6).toString('hex')}`);
    const body = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    try {
      await this.pool.op<void>(e, `write ${tmp}`, sig, (cb) => sftp.writeFile(tmp, body, { mode }, (er) => cb(er)));
      await this.pool.op<void>(e, `chmod ${tmp}`, sig, (cb) => sftp.chmod(tmp, mode!, (er) => cb(er)));
      await this.rename(sftp, tmp, file, sig);
    } catch (x) {
      sftp.unlink(tmp, () => undefined);
      throw x;
    }
  }

  private async rename(sftp: SFTPWrapper, from: string, to: string, sig?: AbortSignal): Promise<void> {
    const e = this.entry;
    const hasPosix = !!(sftp as unknown as { _extensions?: Record<string, string> })._extensions?.['posix-rename@openssh.com'];
    if (hasPosix) {
      await this.pool.op<void>(e, `rename ${from} → ${to}`, sig, (cb) => sftp.ext_openssh_rename(from, to, (er) => cb(er)));
      return;
    }
    // Plain SFTPv3 rename refuses to replace an existing file: remove the target first (not atomic).
    this.pool.log('warn', `ssh: ${e.label} lacks posix-rename; replacing ${to} non-atomically`);
    try {
      await this.pool.op<void>(e, `rename ${from} → ${to}`, sig, (cb) => sftp.rename(from, to, (er) => cb(er)));
    } catch {
      await this.pool.op<void>(e, `remove ${to}`, sig, (cb) => sftp.unlink(to, (er) => cb(er)));
      await this.pool.op<void>(e, `rename ${from} → ${to}`, sig, (cb) => sftp.rename(from, to, (er) => cb(er)));
    }
  }

  spawn(argv: Argv, opts: SpawnOptions = {}): Promise<RemoteProcess> {
    return this.pool.spawn(this.entry, this.host, argv, opts);
  }

  async readFile(file: string, opts: { signal?: AbortSignal } = {}): Promise<Buffer> {
    const sftp = await withSignal(this.pool.sftp(this.entry), opts.signal, `read ${file}`);
    return this.pool.op<Buffer>(this.entry, `read ${file}`, opts.signal, (cb) => sftp.readFile(file, (er, b) => cb(er, b)));
  }

  openUnixSocket(socketPath: string): Promise<NodeJS.ReadWriteStream> {
    const e = this.entry;
    let client: Client;
    try {
      client = this.pool.liveClient(e);
    } catch (x) {
      return Promise.reject(x);
    }
    let late = false;
    return withTimeout(
      new Promise<NodeJS.ReadWriteStream>((resolve, reject) => {
        try {
          client.openssh_forwardOutStreamLocal(socketPath, (err, s) => {
            if (late) {
              s?.close();
              return;
            }
            if (err) reject(new SshError(`cannot open ${socketPath} on ${e.label}: ${err.message}`, 'other'));
            else resolve(s);
          });
        } catch (x) {
          reject(this.pool.deadSocket(e, x));
        }
      }),
      15_000,
      `opening ${socketPath} on ${e.label}`,
      () => (late = true),
    );
  }

  /** Ends the shared connection (every holder of it); the next `pool.get` reconnects. */
  close(): void {
    this.pool.closeEntry(this.entry);
  }
}

export function createSshPool(opts: SshPoolOptions): SshPool {
  return new Pool(opts);
}
