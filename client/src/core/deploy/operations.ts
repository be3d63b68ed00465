/**
 * The other host operations around the deploy pipeline: backups and rollback, the remote config,
 * the diff with the host, the service and its journal. No vscode import; argv arrays only.
 */
import type { HostConnection } from '../ssh/types';
import { deploy, hostPaths, readHostFile, unifiedDiff, type DeployFile, type DeployOptions, type DeployReport, type FileKind } from './pipeline';

export interface BackupFile {
  /** File name inside the backup set (`0.config.toml`). */
  name: string;
  /** Where it was (and goes back to) on the host. */
  target: string;
  /** false: the target did not exist when the backup was taken (a rollback removes it). */
  present: boolean;
}

export interface BackupInfo {
  /** The set's name: its UTC timestamp, `20250102T030405Z` (`-N` on a collision). */
  id: string;
  /** The set's directory on the host. */
  path: string;
  time: Date;
  files: BackupFile[];
}

/** $1 = backups dir: "== <name>" then the set's manifest, for every complete set. */
const LIST_SCRIPT = `[ -d "$1" ] || exit 0
for d in "$1"/*; do [ -f "$d/manifest" ] || continue; printf '== %s\\n' "\${d##*/}"; cat -- "$d/manifest"; done`;

function timeOf(id: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z/.exec(id);
  return m ? new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6])) : new Date(NaN);
}

function kindOf(target: string, name: string): FileKind {
  if (/\.conf$/.test(target) && target.includes('.service.d/')) return 'systemd-dropin';
  if (/crictl\.ya?ml$/.test(target)) return 'crictl.yaml';
  if (/\.toml$/.test(name)) return 'config.toml';
  return 'config.toml';
}

/** The kept backup sets, newest first. `configPath` picks `<its dir>/backups` (default: the host's). */
export async function listBackups(conn: HostConnection, configPath?: string, opts: { signal?: AbortSignal } = {}): Promise<BackupInfo[]> {
  const dir = configPath ? `${configPath.slice(0, Math.max(1, configPath.lastIndexOf('/')))}/backups` : hostPaths(conn).backupsDir;
  const r = await conn.exec(['sh', '-c', LIST_SCRIPT, 'containerd-taskserv', dir], { sudo: true, signal: opts.signal, timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`cannot list ${dir}: ${r.stderr.trim() || `exit ${r.code}`}`);
  const sets: BackupInfo[] = [];
  let cur: BackupInfo | undefined;
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('== ')) {
      const id = line.slice(3);
      cur = { id, path: `${dir}/${id}`, time: timeOf(id), files: [] };
      sets.push(cur);
    } else if (cur && line.includes('\t')) {
      const [name, target, state] = line.split('\t');
      cur.files.push({ name, target, present: state === 'present' });
    }
  }
  return sets.sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
}

/**
 * Put a kept backup set back, through the same path as a deploy: diff, upload, validate with
 * containerd, lock, a new backup of the current files (so a rollback can be undone), swap,
 * restart, health — and the automatic rollback if the restored config fails its health check.
 * Preflight runs and is reported, but does not stop a rollback (unless the caller says otherwise).
 * `backup` is a BackupInfo, a set's path or its id.
 */
export async function rollbackTo(conn: HostConnection, backup: BackupInfo | string, opts: DeployOptions = {}): Promise<DeployReport> {
  let set: BackupInfo | undefined;
  try {
    if (typeof backup === 'string') {
      const all = await listBackups(conn, undefined, { signal: opts.signal });
      set = all.find((b) => b.path === backup || b.id === backup);
      if (!set) {
        // a set under another config dir
        const dir = backup.slice(0, backup.lastIndexOf('/'));
        if (dir.endsWith('/backups')) {
          const other = await listBackups(conn, `${dir.slice(0, -'/backups'.length)}/config.toml`, { signal: opts.signal });
          set = other.find((b) => b.path === backup);
        }
      }
      if (!set) throw new Error(`no complete backup set ${backup} on ${conn.host.name}`);
    } else set = backup;
    const files: DeployFile[] = [];
    for (const f of set.files) {
      if (!f.present) {
        files.push({ path: f.target, content: '', kind: kindOf(f.target, f.name), remove: true });
        continue;
      }
      const content = await readHostFile(conn, `${set.path}/${f.name}`, opts.signal);
      if (content === undefined) throw new Error(`${set.path}/${f.name} is missing`);
      files.push({ path: f.target, content, kind: kindOf(f.target, f.name) });
    }
    // Preflight findings are reported but never block putting a known-good backup back.
    return await deploy(conn, { files }, { preflight: 'override', ...opts });
  } catch (e) {
    return { host: conn.host.name, ok: false, stages: [], diff: '', error: e instanceof Error ? e.message : String(e) };
  }
}

/** The host's config.toml (or another file), or undefined when it does not exist. */
export async function readRemoteConfig(conn: HostConnection, path?: string, opts: { signal?: AbortSignal } = {}): Promise<string | undefined> {
  return readHostFile(conn, path ?? hostPaths(conn).configPath, opts.signal);
}

/** Unified diff host file → newContent ('' when equal; the host side is empty when the file is absent). */
export async function diffWithHost(conn: HostConnection, path: string, newContent: string, opts: { signal?: AbortSignal } = {}): Promise<string> {
  const current = await readHostFile(conn, path, opts.signal);
  return unifiedDiff(path, current, newContent);
}

export interface ServiceState {
  activeState: string;
  subState: string;
  mainPid: number;
  since?: string;
  nRestarts?: number;
}

/** The unit's state from `systemctl show`. */
export async function serviceState(conn: HostConnection, opts: { signal?: AbortSignal } = {}): Promise<ServiceState> {
  const { service } = hostPaths(conn);
  const r = await conn.exec(
    ['systemctl', 'show', service, '-p', 'ActiveState', '-p', 'SubState', '-p', 'MainPID', '-p', 'ActiveEnterTimestamp', '-p', 'NRestarts'],
    { signal: opts.signal, timeoutMs: 15_000 },
  );
  const m: Record<string, string> = {};
  for (const l of r.stdout.split('\n')) {
    const i = l.indexOf('=');
    if (i > 0) m[l.slice(0, i)] = l.slice(i + 1).trim();
  }
  return {
    activeState: m.ActiveState ?? 'unknown',
    subState: m.SubState ?? 'unknown',
    mainPid: Number(m.MainPID ?? 0),
    since: m.ActiveEnterTimestamp || undefined,
    nRestarts: m.NRestarts !== undefined ? Number(m.NRestarts) : undefined,
  };
}

/**
 * `status`: the text of `systemctl status` (the unit's state, last log lines).
 * `start` / `stop` / `restart`: runs it with sudo and returns the resulting state as one line;
 * throws with systemctl's message when it fails.
 */
export async function serviceAction(conn: HostConnection, action: 'status' | 'start' | 'stop' | 'restart', opts: { signal?: AbortSignal } = {}): Promise<string> {
  const { service } = hostPaths(conn);
  if (action === 'status') {
    // exit 3 = inactive, 4 = no such unit: still an answer
    const r = await conn.exec(['systemctl', 'status', '--no-pager', '-l', '-n', '30', service], { sudo: true, signal: opts.signal, timeoutMs: 30_000 });
    return r.stdout || r.stderr;
  }
  const r = await conn.exec(['systemctl', action, service], { sudo: true, signal: opts.signal, timeoutMs: 150_000 });
  const s = await serviceState(conn, opts).catch(() => undefined);
  const state = s ? `${s.activeState} (${s.subState})${s.mainPid ? `, pid ${s.mainPid}` : ''}` : 'state unknown';
  if (r.code !== 0) throw new Error(`systemctl ${action} ${service} failed: ${(r.stderr || r.stdout).trim()} — now ${state}`);
  return state;
}

export interface JournalOptions {
  /** Lines of history (default 200, at most 10 000). */
  lines?: number;
  /** Keep following new lines (polling every `pollMs`) until `signal` aborts or `maxMs` passes. */
  follow?: boolean;
  signal?: AbortSignal;
  /** Each line as it arrives (history first). */
  onLine?: (line: string) => void;
  /** Poll interval when following (default 1000 ms). */
  pollMs?: number;
  /** Stop following after this long (default 4 h). */
  maxMs?: number;
}

const CURSOR = /^-- cursor: (.+)$/;

/**
 * `journalctl -u containerd`. Without `follow`: the last `lines` lines. With `follow`: the history,
 * then polls `journalctl --after-cursor` (at most 1000 lines a poll) until aborted; resolves with
 * the lines seen (history + followed, the latter capped at 10 000 in the result — `onLine` gets them all).
 */
export async function journal(conn: HostConnection, opts: JournalOptions = {}): Promise<string[]> {
  const { service } = hostPaths(conn);
  const lines = Math.min(10_000, Math.max(0, Math.floor(opts.lines ?? 200)));
  const base = ['journalctl', '-u', service, '--no-pager', '-o', 'short-iso', '--show-cursor'];
  const seen: string[] = [];
  let cursor: string | undefined;
  const take = (out: string) => {
    for (const l of out.split('\n')) {
      if (!l) continue;
      const c = CURSOR.exec(l);
      if (c) {
        cursor = c[1];
        continue;
      }
      if (l === '-- No entries --') continue;
      if (seen.length < 20_000) seen.push(l);
      opts.onLine?.(l);
    }
  };
  const first = await conn.exec([...base, '-n', String(lines)], { sudo: true, signal: opts.signal, timeoutMs: 60_000 });
  if (first.code !== 0 && !first.stdout) throw new Error(`journalctl failed: ${first.stderr.trim() || `exit ${first.code}`}`);
  take(first.stdout);
  if (!opts.follow) return seen;
  if (cursor === undefined) {
    // empty journal: anchor on "now"
    const now = await conn.exec(['date', '+%s'], { signal: opts.signal, timeoutMs: 15_000 });
    const since = now.stdout.trim();
    const r = await conn.exec([...base, '--since', `@${since}`, '-n', '1000'], { sudo: true, signal: opts.signal, timeoutMs: 60_000 });
    take(r.stdout);
    if (cursor === undefined) cursor = `@${since}`;
  }
  const end = Date.now() + (opts.maxMs ?? 4 * 3600_000);
  const poll = opts.pollMs ?? 1000;
  while (!opts.signal?.aborted && Date.now() < end) {
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, poll);
      opts.signal?.addEventListener('abort', () => {
        clearTimeout(t);
        resolve();
      }, { once: true });
    });
    if (opts.signal?.aborted) break;
    const where = cursor!.startsWith('@') ? ['--since', cursor!] : ['--after-cursor', cursor!];
    try {
      const r = await conn.exec([...base, ...where, '-n', '1000'], { sudo: true, signal: opts.signal, timeoutMs: 30_000 });
      take(r.stdout);
    } catch (e) {
      if (opts.signal?.aborted) break;
      throw e;
    }
  }
  return seen;
}
