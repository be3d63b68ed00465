/**
 * ~/.ssh/config → HostConfig, with the `ssh-config` package. Concrete `Host` entries (no wildcard or
 * negated patterns) become hosts; `resolveHost(name)` applies every matching section the way ssh does
 * (first obtained value wins, wildcard sections supply defaults). `Match exec` is never evaluated.
 * `Include` is not followed (the package does not support it).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import SSHConfig from 'ssh-config';
import type { HostConfig } from './types';

export interface SshConfigOptions {
  /** For `~` and `%d` (default os.homedir()). */
  homeDir?: string;
  /** Local user name for `%u` (default os.userInfo().username). */
  localUser?: string;
}

export function defaultSshConfigPath(): string {
  return path.join(os.homedir(), '.ssh', 'config');
}

type Computed = Record<string, string | string[]>;

function first(v: string | string[] | undefined): string | undefined {
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v[0] : v;
}

function isConcrete(pattern: string): boolean {
  return !!pattern && !/[*?!]/.test(pattern);
}

export class SshConfigFile {
  private readonly homeDir: string;
  private readonly localUser: string;

  constructor(private readonly config: SSHConfig, opts: SshConfigOptions = {}) {
    this.homeDir = opts.homeDir ?? os.homedir();
    let u = opts.localUser;
    if (!u) {
      try {
        u = os.userInfo().username;
      } catch {
        u = process.env.USER ?? 'root';
      }
    }
    this.localUser = u;
  }

  static parse(text: string, opts?: SshConfigOptions): SshConfigFile {
    return new SshConfigFile(SSHConfig.parse(text), opts);
  }

  /** Host aliases named literally in `Host` lines, in file order, without duplicates. */
  hostNames(): string[] {
    const names: string[] = [];
    for (const line of this.config) {
      if (line.type !== SSHConfig.DIRECTIVE || line.param.toLowerCase() !== 'host') continue;
      const vals = typeof line.value === 'string' ? line.value.split(/\s+/) : line.value.map((v) => v.val);
      for (const v of vals) if (isConcrete(v) && !names.includes(v)) names.push(v);
    }
    return names;
  }

  /** A HostConfig for every concrete Host entry. */
  hosts(): HostConfig[] {
    return this.hostNames().map((n) => this.resolveHost(n));
  }

  /** What ssh would use for `ssh <name>`: every matching section applied, first value wins. */
  resolveHost(name: string): HostConfig {
    const c: Computed = this.config.compute(name, { ignoreCase: true, matchExec: false });
    const hostName = first(c.hostname);
    const host = hostName ? this.expand(hostName, { h: name }) : name;
    const user = first(c.user);
    const portText = first(c.port);
    const port = portText && /^\d+$/.test(portText) ? Number(portText) : undefined;
    const idf = first(c.identityfile);
    const jump = first(c.proxyjump);
    const out: HostConfig = { name, host };
    if (user) out.user = user;
    if (port !== undefined && port > 0 && port < 65536) out.port = port;
    if (idf && idf.toLowerCase() !== 'none') out.identityFile = this.expand(idf, { h: host, r: user ?? this.localUser });
    if (jump && jump.toLowerCase() !== 'none') out.proxyJump = jump;
    return out;
  }

  /** `~` and the common `%` tokens (%d home, %u local user, %h host, %r remote user, %%). */
  private expand(value: string, tokens: { h?: string; r?: string }): string {
    let v = value;
    if (v === '~' || v.startsWith('~/')) v = path.join(this.homeDir, v.slice(1));
    return v.replace(/%([%dhur])/g, (m, t: string) => {
      switch (t) {
        case '%':
          return '%';
        case 'd':
          return this.homeDir;
        case 'u':
          return this.localUser;
        case 'h':
          return tokens.h ?? m;
        case 'r':
          return tokens.r ?? m;
        default:
          return m;
      }
    });
  }
}

/** Read an ssh config file (default ~/.ssh/config); a missing file gives an empty config. */
export function loadSshConfig(file: string = defaultSshConfigPath(), opts?: SshConfigOptions): SshConfigFile {
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  return SshConfigFile.parse(text, opts);
}

/** Resolve a name through ~/.ssh/config (or the given file). */
export function resolveHost(name: string, file?: string, opts?: SshConfigOptions): HostConfig {
  return loadSshConfig(file, opts).resolveHost(name);
}

/** One hop of a ProxyJump value: `[user@]host[:port]` or `[user@][v6]:port`, or an ssh:// URI. */
export function parseJumpSpec(spec: string): { user?: string; host: string; port?: number } {
  let s = spec.trim().replace(/^ssh:\/\//, '');
  let user: string | undefined;
  const at = s.lastIndexOf('@');
  if (at >= 0) {
    user = s.slice(0, at);
    s = s.slice(at + 1);
  }
  let host = s;
  let port: number | undefined;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (v6) {
    host = v6[1];
    if (v6[2]) port = Number(v6[2]);
  } else {
    const m = /^([^:]+):(\d+)$/.exec(s);
    if (m) {
      host = m[1];
      port = Number(m[2]);
    }
  }
  if (!host) throw new Error(`invalid ProxyJump host: ${spec}`);
  return { user: user || undefined, host, port };
}
