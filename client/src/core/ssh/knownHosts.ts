/**
 * OpenSSH `known_hosts` files: reading (plain, `[host]:port`, comma lists, wildcard/negated patterns,
 * hashed `|1|salt|hash` entries, `@revoked`, `@cert-authority`), verifying a server's host key and
 * appending a newly trusted key. No vscode import.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export type HostKeyVerdict = 'known' | 'unknown' | 'changed';

export interface KnownHostEntry {
  /** 1-based line number in the file. */
  line: number;
  marker?: 'revoked' | 'cert-authority';
  /** The host field as written (comma list, or `|1|salt|hash`). */
  hosts: string;
  hashed: boolean;
  keyType: string;
  key: Buffer;
}

export interface HostKeyCheck {
  verdict: HostKeyVerdict;
  /** The offered key is listed as `@revoked`. */
  revoked?: boolean;
  /** Line (1-based) of the entry that conflicts with (or revokes) the offered key. */
  line?: number;
  /** Key types recorded for this host (any type), to prefer them in the key exchange. */
  knownTypes: string[];
}

export function defaultKnownHostsPath(): string {
  return path.join(os.homedir(), '.ssh', 'known_hosts');
}

/** OpenSSH-style fingerprint: `SHA256:` + unpadded base64 of sha256(key blob). */
export function fingerprint(keyBlob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '');
}

/** The key type named inside an SSH wire-format public key blob (its first string). */
export function keyTypeOfBlob(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return '';
  const n = keyBlob.readUInt32BE(0);
  if (n > 64 || 4 + n > keyBlob.length) return '';
  return keyBlob.subarray(4, 4 + n).toString('latin1');
}

/** The name a host is recorded under: `host` for port 22, else `[host]:port`. */
export function knownHostsName(host: string, port = 22): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

/** `*` / `?` glob match (OpenSSH match_pattern), case-insensitive. */
function globMatch(text: string, pattern: string): boolean {
  const re = new RegExp(
    '^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$',
    'i',
  );
  return re.test(text);
}

function hashedMatch(field: string, name: string): boolean {
  const parts = field.split('|'); // ['', '1', salt, hash]
  if (parts.length !== 4 || parts[1] !== '1') return false;
  const salt = Buffer.from(parts[2], 'base64');
  const want = Buffer.from(parts[3], 'base64');
  const got = createHmac('sha1', salt).update(name).digest();
  return got.length === want.length && got.equals(want);
}

/** Whether an entry's host field matches `name` (already in `[host]:port` form when needed). */
export function hostFieldMatches(field: string, name: string): boolean {
  if (field.startsWith('|')) return hashedMatch(field, name);
  let positive = false;
  for (const raw of field.split(',')) {
    const p = raw.trim();
    if (!p) continue;
    if (p.startsWith('!')) {
      if (globMatch(name, p.slice(1))) return false;
    } else if (globMatch(name, p)) positive = true;
  }
  return positive;
}

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const t = lines[i].trim();
    if (!t || t.startsWith('#')) continue;
    const f = t.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (f[0].startsWith('@')) {
      const m = f.shift()!;
      if (m === '@revoked') marker = 'revoked';
      else if (m === '@cert-authority') marker = 'cert-authority';
      else continue; // unknown marker: ignore the line like OpenSSH
    }
    if (f.length < 3) continue;
    const [hosts, keyType, b64] = f;
    if (!/^[A-Za-z0-9+/]+=*$/.test(b64)) continue;
    out.push({ line: i + 1, marker, hosts, hashed: hosts.startsWith('|'), keyType, key: Buffer.from(b64, 'base64') });
  }
  return out;
}

export class KnownHosts {
  constructor(readonly path: string = defaultKnownHostsPath()) {}

  /** The file's entries (re-read every time: other ssh clients may change it). Missing file → []. */
  entries(): KnownHostEntry[] {
    let text: string;
    try {
      text = fs.readFileSync(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    return parseKnownHosts(text);
  }

  /** Entries (no markers) recorded for host:port, optionally of one key type. */
  lookup(host: string, port = 22, keyType?: string): KnownHostEntry[] {
    const name = knownHostsName(host, port);
    return this.entries().filter(
      (e) => !e.marker && hostFieldMatches(e.hosts, name) && (keyType === undefined || e.keyType === keyType),
    );
  }

  check(host: string, port: number, keyType: string, keyBlob: Buffer): HostKeyCheck {
    const name = knownHostsName(host, port);
    const entries = this.entries();
    // A revoked key is refused whatever host it is offered for.
    const revoked = entries.find((e) => e.marker === 'revoked' && e.key.equals(keyBlob));
    const mine = entries.filter((e) => !e.marker && hostFieldMatches(e.hosts, name));
    const knownTypes = [...new Set(mine.map((e) => e.keyType))];
    if (revoked) return { verdict: 'changed', revoked: true, line: revoked.line, knownTypes };
    if (mine.some((e) => e.keyType === keyType && e.key.equals(keyBlob))) return { verdict: 'known', knownTypes };
    const conflict = mine.find((e) => e.keyType === keyType);
    if (conflict) return { verdict: 'changed', line: conflict.line, knownTypes };
    return { verdict: 'unknown', knownTypes };
  }

  verify(host: string, port: number, keyType: string, keyBlob: Buffer): HostKeyVerdict {
    return this.check(host, port, keyType, keyBlob).verdict;
  }

  /** Whether the file already stores hashed host names (then new entries are hashed too). */
  usesHashing(): boolean {
    return this.entries().some((e) => e.hashed);
  }

  /** Append an entry for host:port (hashed when the file already uses hashing). Creates ~/.ssh 0700 and the file 0600. */
  add(host: string, port: number, keyType: string, keyBlob: Buffer, opts: { hash?: boolean } = {}): string {
    const name = knownHostsName(host, port);
    const hash = opts.hash ?? this.usesHashing();
    let field = name;
    if (hash) {
      const salt = randomBytes(20);
      field = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
    }
    const line = `${field} ${keyType} ${keyBlob.toString('base64')}\n`;
    fs.mkdirSync(path.dirname(this.path), { recursive: true, mode: 0o700 });
    let prefix = '';
    try {
      const st = fs.statSync(this.path);
      if (st.size > 0) {
        const fd = fs.openSync(this.path, 'r');
        try {
          const b = Buffer.alloc(1);
          fs.readSync(fd, b, 0, 1, st.size - 1);
          if (b[0] !== 0x0a) prefix = '\n';
        } finally {
          fs.closeSync(fd);
        }
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    fs.appendFileSync(this.path, prefix + line, { mode: 0o600 });
    return line.trimEnd();
  }
}
