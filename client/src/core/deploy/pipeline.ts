/**
 * The deploy pipeline: put a rendered taskserv (config.toml, crictl.yaml, systemd drop-in) or a
 * plain config.toml on one host, safely. No vscode import: the extension, the CLI and the tests
 * call it with a HostConnection (client/src/core/ssh/types.ts).
 *
 * Stages (each reported through onProgress and in DeployReport.stages):
 *   preflight (core/preflight: one read-only probe exec; a failure stops here unless overridden)
 *   → diff → confirm → upload → validate → lock → backup → swap → daemon-reload? → restart → health
 *   and, when restart or health fails: rollback (restore, daemon-reload?, restart, health).
 *
 * Crash-safety design — what the host holds if the SSH connection drops (or the client dies) at
 * any moment:
 *   - upload: the files go over SFTP, as the login user, to /tmp under unguessable names
 *     (`/tmp/containerd-taskserv-<id>-<random>-<n>`, mode 0600), then one `sudo` script installs
 *     each next to its target as `<target>.taskserv-new-<id>` (root-owned, the target's mode and
 *     owner; same directory ⇒ same filesystem ⇒ the later rename is atomic), fsyncs it and
 *     removes the upload. The targets are not touched. Leftover temp files of a dead deploy are
 *     removed by a later deploy (under the lock, when older than an hour).
 *   - validate: `containerd --config <target>.taskserv-new-<id> config dump` with the host's own
 *     containerd. On failure we stop: the targets were never touched.
 *   - lock: `mkdir /run/containerd-taskserv.lock` (atomic; /run is a tmpfs, so a reboot clears
 *     it) with an `owner` file (token, client pid, client host, user, time). The acquire /
 *     break / release steps run under `flock` on `/run/containerd-taskserv.lock.guard` (short
 *     critical sections only — never across the connection's lifetime). While held, the owner
 *     file is touched every 10 s (heartbeat); a lock whose owner file was not touched for
 *     `lockStaleMs` (default 2 min) belongs to a dead deploy and is broken, with a message in the
 *     lock stage's detail. A second deploy waits (up to `lockWaitMs`, default 5 min) and never
 *     interleaves with the first.
 *   - backup: under the lock, one remote script first checks that every target still has the
 *     sha256 seen at diff time (otherwise another deploy changed it after the user saw the diff:
 *     stop), then copies the current files with `cp -a` into a backup set
 *     `<dir of config.toml>/backups/<UTC yyyymmddThhmmssZ>/` (`0.config.toml`, `1.crictl.yaml`,
 *     …, plus a `manifest` naming each file's target, or that it was absent), and prunes the
 *     oldest sets to keep the last `keepBackups` (default 5). The manifest is written last
 *     (tmp + rename), so a set without one is incomplete and ignored. The same script records
 *     `ctr plugins ls` (which plugins already failed before the deploy: see health).
 *   - swap: one remote script `mv -f`s every new file onto its target (atomic rename) and fsyncs
 *     the directory. It ignores SIGHUP/SIGPIPE, so a drop mid-swap does not stop it half way.
 *     From here the host holds the new, *validated* files. Cancellation is no longer honoured:
 *     we finish restart + health, or roll back.
 *   - daemon-reload (only if a systemd drop-in changed), restart (`systemctl restart`: the job
 *     runs inside systemd even if our connection drops), health:
 *       `systemctl show` ActiveState/SubState polled until `active` (`activating` is waited for
 *       until the deadline, `auto-restart`/`failed`/`inactive` fail at once), then in one exec
 *       `ctr --address <socket> plugins ls` (answers at all = the socket works; the CRI plugin
 *       `io.containerd.grpc.v1 cri`, plus `io.containerd.cri.v1 runtime/images` on 2.x, with
 *       status ok — unless the new config disables CRI), the journal of this start of the unit
 *       (`_SYSTEMD_INVOCATION_ID`; `--since @<restart epoch>` when systemd has none) (no new
 *       `failed to load plugin` — plugins already failing before the deploy, like devmapper when
 *       unconfigured, are ignored — and no `Ignoring unknown key`), and finally the unit is
 *       still active with the same MainPID (no crash loop).
 *   - rollback: the backup set is copied back next to each target and renamed into place (files
 *     that did not exist before are removed), then daemon-reload?, restart, health again; the
 *     report carries both failures.
 *   A drop after the swap but before the health check leaves the new validated config in place
 *   (acceptable per the issue); a drop before it leaves the old files untouched.
 *
 * Cost: about 10 execs per deploy (the diff reads every file with its sha256 in one; the lock
 * script also removes stale temp files; health is one poll of `systemctl show` plus one exec),
 * since on a small host each exec (sshd session + shell) costs ~30-50 ms of CPU.
 *
 * Every remote command is an argv array. The few remote shell scripts below are constants: all
 * data (paths, tokens, hashes) reaches them as positional parameters, never as text.
 */
import { createHash, randomBytes } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { createTwoFilesPatch } from 'diff';
import type { Argv, ExecResult, HostConnection } from '../ssh/types';
import { formatChecks, runPreflight, summarize, type PreflightOptions, type PreflightReport } from '../preflight';

export type FileKind = 'config.toml' | 'crictl.yaml' | 'systemd-dropin';

export interface DeployFile {
  /** Absolute path on the host. */
  path: string;
  content: string;
  kind: FileKind;
  /** Remove the file instead of writing it (what a rollback to a set where it was absent does). */
  remove?: boolean;
}

export interface DeployPlan {
  files: DeployFile[];
  /** The taskserv's containerd `version` (RenderResult.release), for the preflight checks. */
  taskservRelease?: string;
}

export type Stage =
  | 'preflight'
  | 'diff'
  | 'confirm'
  | 'upload'
  | 'validate'
  | 'lock'
  | 'backup'
  | 'swap'
  | 'daemon-reload'
  | 'restart'
  | 'health'
  | 'rollback'
  | 'connect';

export interface StageResult {
  stage: Stage;
  ok: boolean;
  ms: number;
  detail?: string;
}

export interface DeployReport {
  host: string;
  ok: boolean;
  stages: StageResult[];
  error?: string;
  /** A rollback ran (after a failed restart/health) and the old config is healthy again. */
  rolledBack?: boolean;
  /** Why the rollback failed (the host may need a hand). */
  rollbackError?: string;
  /** The backup set made before the swap (a directory on the host). */
  backup?: string;
  /** Unified diff of host files → new files. */
  diff: string;
  /** Nothing differed and `force` was not set: nothing was done. */
  unchanged?: boolean;
  /** The user declined, or the signal fired before the swap: the host was not changed. */
  cancelled?: boolean;
  /** The preflight checks (absent with `preflight: 'skip'`). */
  preflight?: PreflightReport;
  /** The preflight failed and the caller went on anyway (`preflight: 'override'` or onPreflightFailed). */
  preflightOverridden?: boolean;
}

export interface DeployOptions {
  signal?: AbortSignal;
  onProgress?: (stage: Stage, detail?: string) => void;
  /** Show the diff and ask; resolve false to stop. Without it the deploy goes on (`--yes`). */
  confirm?: (diff: string) => Promise<boolean>;
  /** Backup sets kept on the host (default 5, at least 1). */
  keepBackups?: number;
  /** How long the unit may take to become healthy after a restart (default 60 s). */
  healthTimeoutMs?: number;
  /** Deploy and restart even when the host already has exactly these files. */
  force?: boolean;
  /** How long to wait for another deploy's lock (default 5 min). */
  lockWaitMs?: number;
  /** A lock whose heartbeat is older than this is broken (default 2 min). */
  lockStaleMs?: number;
  /** The caller already holds LOCK_DIR (an install wrapping this deploy, see core/install): do not take it again. */
  lockHeld?: boolean;
  /** The containerd binary that validates the config (default `containerd` on the host's PATH). */
  containerdBinary?: string;
  /**
   * Preflight checks (core/preflight) before anything is read or uploaded. 'run' (default): a
   * failed check stops the deploy unless onPreflightFailed resolves true; 'override': run and
   * report them but go on (the caller decided knowingly); 'skip': do not run them.
   */
  preflight?: 'run' | 'override' | 'skip';
  /** Ask whether to deploy despite a failed preflight (a modal, a prompt); without it a failure stops. */
  onPreflightFailed?: (report: PreflightReport) => Promise<boolean>;
  preflightOptions?: PreflightOptions;
}

export const LOCK_DIR = '/run/containerd-taskserv.lock';
const HEARTBEAT_MS = 10_000;
const DEFAULT_CONFIG = '/etc/containerd/config.toml';
const DEFAULT_SOCKET = '/run/containerd/containerd.sock';

/** The pieces of a host's description the pipeline needs, with defaults. */
export function hostPaths(conn: HostConnection): { configPath: string; socket: string; service: string; backupsDir: string } {
  const configPath = conn.host.configPath || DEFAULT_CONFIG;
  return {
    configPath,
    socket: conn.host.socket || DEFAULT_SOCKET,
    service: conn.host.service || 'containerd',
    backupsDir: `${dirname(configPath)}/backups`,
  };
}

export class DeployError extends Error {
  constructor(message: string, readonly stage: Stage) {
    super(message);
    this.name = 'DeployError';
  }
}

// ---------------------------------------------------------------------------------------------
// Remote scripts (constants; data only through "$@").

/** $1 = path … : one line per path, "present <sha256> <base64 of the bytes>" or "absent". */
const READ_SCRIPT = `set -e; for f in "$@"; do if [ -e "$f" ]; then printf 'present %s ' "$(sha256sum < "$f" | cut -d' ' -f1)"; base64 -w0 < "$f"; echo; else echo absent; fi; done`;

/** $1 socket ('' = skip ctr), $2 service, $3 invocation id or '', $4 epoch or '', $5 marker: plugins, journal, unit. */
const HEALTH_SCRIPT = `PATH="$PATH:/usr/local/bin"
if [ -n "$1" ]; then ctr --address "$1" --connect-timeout 3s plugins ls 2>&1; echo "$5 ctr=$?"; else echo "$5 ctr=-"; fi
if [ -n "$3" ]; then journalctl "_SYSTEMD_INVOCATION_ID=$3" --no-pager -o cat 2>&1; elif [ -n "$4" ]; then journalctl -u "$2" --since "@$4" --no-pager -o cat 2>&1; fi
echo "$5 journal"
systemctl show "$2" -p ActiveState -p SubState -p MainPID`;

/** $1 = path: prints the file, or exits 44 when it does not exist. */
const CAT_SCRIPT = `if [ -e "$1" ]; then exec cat -- "$1"; else exit 44; fi`;

/**
 * Copy uploaded files next to their targets. Pairs: $1 = staged source, $2 = target; writes
 * "<target>.taskserv-new-<id>" given as $3. Args come in triples.
 */
const STAGE_SCRIPT = `set -eu
while [ $# -ge 3 ]; do src=$1; dst=$2; tgt=$3; shift 3
  mkdir -p -- "$(dirname -- "$tgt")"
  install -m 0644 -- "$src" "$dst"
  rm -f -- "$src"
  if [ -e "$tgt" ]; then chmod --reference="$tgt" -- "$dst" && chown --reference="$tgt" -- "$dst" || true; fi
  sync -- "$dst" 2>/dev/null || true
done`;

/**
 * $1 = lock dir, $2 = owner line, $3 = stale seconds, then the targets. 0 acquired (prints a
 * note; then removes our temp files of dead deploys, older than an hour), 3 busy.
 */
const LOCK_SCRIPT = `set -u
lock=$1; owner=$2; stale=$3; shift 3
janitor() {
  for t in "$@"; do find "$(dirname -- "$t")" -maxdepth 1 -name "$(basename -- "$t").taskserv-*" -mmin +60 -delete 2>/dev/null || true; done
  find /tmp -maxdepth 1 -name 'containerd-taskserv-*' -mmin +60 -delete 2>/dev/null || true
}
if command -v flock >/dev/null 2>&1; then exec 9>"$lock.guard"; flock -x -w 20 9 || { echo "lock guard busy"; exit 4; }; fi
if mkdir -- "$lock" 2>/dev/null; then printf '%s\\n' "$owner" > "$lock/owner"; echo acquired; janitor "$@"; exit 0; fi
now=$(date +%s)
m=$(stat -c %Y -- "$lock/owner" 2>/dev/null || stat -c %Y -- "$lock" 2>/dev/null || echo "$now")
age=$((now - m))
prev=$(head -c 400 -- "$lock/owner" 2>/dev/null | tr '\\n' ' ')
if [ "$age" -ge "$stale" ]; then
  rm -rf -- "$lock" && mkdir -- "$lock" && printf '%s\\n' "$owner" > "$lock/owner" && { echo "broke a stale lock (no heartbeat for \${age}s) held by: $prev"; janitor "$@"; exit 0; }
  echo "could not break the stale lock"; exit 5
fi
echo "held for \${age}s by: $prev"; exit 3`;

/** $1 = lock dir, $2 = token. Touch the owner file if it is still ours (exit 0), else exit 3. */
const HEARTBEAT_SCRIPT = `grep -qF -- "token=$2 " "$1/owner" 2>/dev/null && touch -- "$1/owner"`;

/** $1 = lock dir, $2 = token. Remove the lock if it is ours. */
const UNLOCK_SCRIPT = `if command -v flock >/dev/null 2>&1; then exec 9>"$1.guard"; flock -x -w 20 9 || true; fi
if grep -qF -- "token=$2 " "$1/owner" 2>/dev/null; then rm -rf -- "$1"; fi; true`;

/**
 * $1 = backups root, $2 = keep, $3 = containerd socket, then triples: target, expected
 * ("absent" | sha256), name in the set. Exit 9: a target changed since the diff. Prints
 * "backup=<the set's directory>", then `ctr plugins ls` (the plugins' state before the deploy).
 */
const BACKUP_SCRIPT = `set -eu
trap '' HUP PIPE
PATH="$PATH:/usr/local/bin"
root=$1; keep=$2; sock=$3; shift 3
check() { while [ $# -ge 3 ]; do t=$1; want=$2; shift 3
  if [ -e "$t" ]; then have=$(sha256sum < "$t" | cut -d' ' -f1); else have=absent; fi
  if [ "$have" != "$want" ]; then echo "$t changed on the host since the diff was made (another deploy?)" >&2; exit 9; fi
done; }
check "$@"
mkdir -p -- "$root"; chmod 0700 -- "$root"
ts=$(date -u +%Y%m%dT%H%M%SZ); dir="$root/$ts"; k=0
while ! mkdir -- "$dir" 2>/dev/null; do k=$((k+1)); dir="$root/$ts-$k"; [ $k -lt 100 ] || exit 7; done
: > "$dir/manifest.tmp"
while [ $# -ge 3 ]; do t=$1; name=$3; shift 3
  if [ -e "$t" ]; then cp -a -- "$t" "$dir/$name"; printf '%s\\t%s\\tpresent\\n' "$name" "$t" >> "$dir/manifest.tmp"
  else printf '%s\\t%s\\tabsent\\n' "$name" "$t" >> "$dir/manifest.tmp"; fi
done
sync -- "$dir"/* 2>/dev/null || true
mv -f -- "$dir/manifest.tmp" "$dir/manifest"
ls -1 -- "$root" | grep -E '^[0-9]{8}T[0-9]{6}Z(-[0-9]+)?$' | LC_ALL=C sort -r | tail -n +$((keep+1)) | while read -r old; do rm -rf -- "$root/$old"; done
echo "backup=$dir"
ctr --address "$sock" --connect-timeout 3s plugins ls 2>/dev/null || true`;

/** Pairs: $1 = new file ("-" to remove the target), $2 = target. */
const SWAP_SCRIPT = `set -eu
trap '' HUP PIPE
while [ $# -ge 2 ]; do new=$1; tgt=$2; shift 2
  if [ "$new" = "-" ]; then rm -f -- "$tgt"; else mv -f -- "$new" "$tgt"; fi
  sync -- "$(dirname -- "$tgt")" 2>/dev/null || true
done
echo swapped`;

/** $1 = backup set dir, $2 = suffix: put every file of the set back (manifest), atomically each. */
const RESTORE_SCRIPT = `set -eu
trap '' HUP PIPE
dir=$1; sfx=$2
[ -f "$dir/manifest" ] || { echo "$dir has no manifest (incomplete backup)" >&2; exit 8; }
tab=$(printf '\\t')
while IFS="$tab" read -r name tgt state; do
  [ -n "$tgt" ] || continue
  if [ "$state" = present ]; then cp -a -- "$dir/$name" "$tgt$sfx"; sync -- "$tgt$sfx" 2>/dev/null || true; mv -f -- "$tgt$sfx" "$tgt"
  else rm -f -- "$tgt"; fi
  sync -- "$(dirname -- "$tgt")" 2>/dev/null || true
done < "$dir/manifest"
echo restored`;

/** $1 = service: prints the epoch second, then restarts it. */
const RESTART_SCRIPT = `date +%s; exec systemctl restart -- "$1"`;

// ---------------------------------------------------------------------------------------------

interface Prepared extends DeployFile {
  index: number;
  newPath: string;
  current?: string; // undefined: absent
  currentHash: string; // 'absent' | sha256
  changed: boolean;
}

/** Baseline of the plugins before the deploy, to tell new plugin failures from old ones. */
export interface PluginStatus {
  type: string;
  id: string;
  status: string;
}

export function parsePlugins(out: string): PluginStatus[] {
  const rows: PluginStatus[] = [];
  for (const line of out.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 3 || cols[0] === 'TYPE' || !cols[0].includes('.')) continue;
    rows.push({ type: cols[0], id: cols[1], status: cols[cols.length - 1] });
  }
  return rows;
}

/** `disabled_plugins` of a `config dump` output disables CRI? */
export function criDisabled(dump: string): boolean {
  const m = /^disabled_plugins\s*=\s*\[([^\]]*)\]/m.exec(dump);
  if (!m) return false;
  return /"(cri|io\.containerd\.grpc\.v1\.cri)"/.test(m[1]);
}

export interface HealthOptions {
  service: string;
  socket: string;
  /** Epoch second of the restart (journal since then). */
  since?: number;
  deadline: number;
  expectCri: boolean;
  /** Plugins that already failed before: their failures in the journal are not new. */
  baseline?: PluginStatus[];
  onProgress?: (detail: string) => void;
}

export interface HealthResult {
  ok: boolean;
  problems: string[];
  detail: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function sha256(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex');
}

function dirname(p: string): string {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}

function basename(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function isConnectionLoss(e: unknown): boolean {
  const kind = (e as { kind?: string } | undefined)?.kind;
  return kind === 'closed' || kind === 'unreachable';
}

function tail(s: string, lines = 15): string {
  const l = s.trim().split('\n');
  return l.slice(-lines).join('\n');
}

async function sh(conn: HostConnection, script: string, args: string[], opts: { sudo?: boolean; timeoutMs?: number; signal?: AbortSignal; stdin?: string } = {}): Promise<ExecResult> {
  return conn.exec(['sh', '-c', script, 'containerd-taskserv', ...args], { sudo: opts.sudo ?? true, timeoutMs: opts.timeoutMs, signal: opts.signal, stdin: opts.stdin });
}

async function run(conn: HostConnection, argv: Argv, opts: { sudo?: boolean; timeoutMs?: number; signal?: AbortSignal } = {}): Promise<ExecResult> {
  return conn.exec(argv, { sudo: opts.sudo ?? true, timeoutMs: opts.timeoutMs, signal: opts.signal });
}

function failure(r: ExecResult): string {
  return (r.stderr.trim() || r.stdout.trim() || `exit ${r.code ?? r.signal}`).slice(0, 4000);
}

/** Read a host file with sudo; undefined when it does not exist. */
export async function readHostFile(conn: HostConnection, path: string, signal?: AbortSignal): Promise<string | undefined> {
  const r = await sh(conn, CAT_SCRIPT, [path], { signal });
  if (r.code === 44) return undefined;
  if (r.code !== 0) throw new Error(`cannot read ${path}: ${failure(r)}`);
  return r.stdout;
}

/** sha256 and text of host files in one round trip ("absent" for missing ones), in order. */
async function readHostFiles(conn: HostConnection, paths: string[], signal?: AbortSignal): Promise<{ hash: string; content?: string }[]> {
  const r = await sh(conn, READ_SCRIPT, paths, { signal });
  if (r.code !== 0) throw new Error(`cannot read ${paths.join(', ')}: ${failure(r)}`);
  const lines = r.stdout.split('\n');
  return paths.map((_, i) => {
    const m = /^present ([0-9a-f]{64}) ?(\S*)$/.exec(lines[i] ?? '');
    return m ? { hash: m[1], content: Buffer.from(m[2], 'base64').toString('utf8') } : { hash: 'absent' };
  });
}

/** Unified diff of one file; '' when equal. */
export function unifiedDiff(path: string, oldContent: string | undefined, newContent: string | undefined): string {
  if (oldContent === newContent) return '';
  return createTwoFilesPatch(
    oldContent === undefined ? '/dev/null' : `a${path}`,
    newContent === undefined ? '/dev/null' : `b${path}`,
    oldContent ?? '',
    newContent ?? '',
    oldContent === undefined ? '(absent)' : 'host',
    newContent === undefined ? '(removed)' : 'new',
    { context: 3 },
  ).replace(/^=+\n/, '');
}

function checkPlan(plan: DeployPlan): void {
  if (!plan.files.length) throw new DeployError('nothing to deploy: the plan has no files', 'diff');
  const seen = new Set<string>();
  for (const f of plan.files) {
    if (!f.path.startsWith('/') || /[\n\t\0]/.test(f.path) || f.path.split('/').includes('..')) {
      throw new DeployError(`bad target path ${JSON.stringify(f.path)}: absolute paths without '..', tabs or newlines only`, 'diff');
    }
    if (seen.has(f.path)) throw new DeployError(`${f.path} appears twice in the plan`, 'diff');
    seen.add(f.path);
  }
  if (plan.files.filter((f) => f.kind === 'config.toml' && !f.remove).length > 1) {
    throw new DeployError('a plan has at most one config.toml', 'diff');
  }
}

// ---------------------------------------------------------------------------------------------
// Health

function parseShow(out: string): Record<string, string> {
  const m: Record<string, string> = {};
  for (const l of out.split('\n')) {
    const i = l.indexOf('=');
    if (i > 0) m[l.slice(0, i)] = l.slice(i + 1).trim();
  }
  return m;
}

/** Is containerd healthy after a restart? Polls the unit state until `deadline`. */
export async function checkHealth(conn: HostConnection, o: HealthOptions): Promise<HealthResult> {
  const problems: string[] = [];
  const show = async () => {
    const r = await run(conn, ['systemctl', 'show', o.service, '-p', 'ActiveState', '-p', 'SubState', '-p', 'MainPID', '-p', 'InvocationID'], { sudo: false, timeoutMs: 15_000 });
    return parseShow(r.stdout);
  };
  // 1. the unit
  let state: Record<string, string> = {};
  for (;;) {
    state = await show();
    const a = state.ActiveState;
    if (a === 'active' && state.SubState === 'running') break;
    if (a === 'failed' || a === 'inactive' || state.SubState === 'auto-restart' || Date.now() > o.deadline) {
      const st = await run(conn, ['systemctl', 'status', '--no-pager', '-l', '-n', '20', o.service], { sudo: true, timeoutMs: 15_000 }).catch(() => undefined);
      problems.push(
        `unit ${o.service} is ${a}/${state.SubState}` +
          (a === 'activating' || state.SubState === 'auto-restart' ? ' (it keeps restarting: the config fails at start)' : '') +
          (st ? `\n${tail(st.stdout, 12)}` : ''),
      );
      break;
    }
    o.onProgress?.(`unit ${a}/${state.SubState}, waiting`);
    await sleep(500);
  }
  let crashed = problems.length > 0;
  const pid = state.MainPID;
  // 2.+3.+4.+5. in one exec: `ctr plugins ls` (answers = the socket works; the CRI plugin's
  // status), the journal of this start of the unit (its invocation id; else since the restart's
  // second), and the unit again (still active, same MainPID: no crash loop behind our back).
  // Retried while the socket does not answer yet, until the deadline.
  const invocation = /^[0-9a-f]{32}$/.test(state.InvocationID ?? '') ? state.InvocationID! : '';
  const mark = `--containerd-taskserv-${randomBytes(6).toString('hex')}--`;
  let sections: string[] = [];
  let ctrCode = -1;
  for (;;) {
    const r = await sh(conn, HEALTH_SCRIPT, [crashed ? '' : o.socket, o.service, invocation, o.since !== undefined ? String(o.since) : '', mark], { timeoutMs: 30_000 });
    sections = r.stdout.split(new RegExp(`^${mark}.*$`, 'm'));
    ctrCode = Number(/ctr=(\d+)/.exec(r.stdout)?.[1] ?? -1);
    if (ctrCode === 0 || crashed || Date.now() > o.deadline) break;
    await sleep(500);
  }
  const [plugins = '', journalText = '', after = ''] = sections;
  if (!crashed) {
    if (ctrCode !== 0) {
      problems.push(`the socket ${o.socket} does not answer (ctr plugins ls): ${tail(plugins, 3) || `exit ${ctrCode}`}`);
      crashed = true;
    } else if (o.expectCri) {
      const rows = parsePlugins(plugins);
      const cri = rows.filter(
        (r) => (r.type === 'io.containerd.grpc.v1' && r.id === 'cri') || (r.type === 'io.containerd.cri.v1' && (r.id === 'runtime' || r.id === 'images')),
      );
      if (!cri.some((r) => r.type === 'io.containerd.grpc.v1')) problems.push('the CRI plugin (io.containerd.grpc.v1.cri) is not loaded');
      for (const r of cri) if (r.status !== 'ok') problems.push(`the CRI plugin ${r.type}.${r.id} has status ${r.status}`);
    }
  }
  const before = new Set((o.baseline ?? []).filter((p) => p.status !== 'ok').map((p) => `${p.type}.${p.id}`));
  const bad: string[] = [];
  for (const line of journalText.split('\n')) {
    const fl = /failed to load plugin\s+"?([\w.\-]+)/.exec(line);
    if (fl) {
      if (before.has(fl[1])) continue;
      if (!o.baseline && /devmapper not configured|skip plugin/.test(line)) continue;
      bad.push(line.trim());
    } else if (/Ignoring unknown key/i.test(line)) bad.push(line.trim());
  }
  if (bad.length) problems.push(`the journal since the restart has:\n${bad.slice(0, 8).join('\n')}`);
  if (!crashed) {
    const again = parseShow(after);
    if (again.ActiveState !== 'active' || (pid && again.MainPID !== pid)) {
      problems.push(`unit ${o.service} did not stay up: ${again.ActiveState}/${again.SubState}, MainPID ${pid} → ${again.MainPID}`);
    }
  }
  return {
    ok: problems.length === 0,
    problems,
    detail: problems.length ? problems.join('\n') : `active (pid ${pid})${o.expectCri ? ', CRI ok' : ''}`,
  };
}


// ---------------------------------------------------------------------------------------------
// Lock

export interface HeldLock {
  token: string;
  note: string;
  release(): Promise<void>;
}

export async function acquireLock(
  conn: HostConnection,
  o: { targets: string[]; signal?: AbortSignal; waitMs: number; staleMs: number; onWait: (msg: string) => void },
): Promise<HeldLock> {
  const token = randomBytes(8).toString('hex');
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    /* no passwd entry */
  }
  const owner = `token=${token} pid=${process.pid} client=${hostname()} user=${user} host=${conn.host.name} since=${new Date().toISOString()}`;
  const deadline = Date.now() + o.waitMs;
  let lastMsg = '';
  for (;;) {
    o.signal?.throwIfAborted();
    const r = await sh(conn, LOCK_SCRIPT, [LOCK_DIR, owner, String(Math.max(1, Math.round(o.staleMs / 1000))), ...o.targets], { timeoutMs: 30_000, signal: o.signal });
    if (r.code === 0) {
      const note = r.stdout.trim();
      let stopped = false;
      const timer = setInterval(() => {
        if (!stopped) void sh(conn, HEARTBEAT_SCRIPT, [LOCK_DIR, token], { timeoutMs: 15_000 }).catch(() => undefined);
      }, HEARTBEAT_MS);
      timer.unref?.();
      return {
        token,
        note,
        release: async () => {
          stopped = true;
          clearInterval(timer);
          await sh(conn, UNLOCK_SCRIPT, [LOCK_DIR, token], { timeoutMs: 30_000 }).catch(() => undefined);
        },
      };
    }
    if (r.code !== 3 && r.code !== 4) throw new DeployError(`cannot take the lock ${LOCK_DIR}: ${failure(r)}`, 'lock');
    const msg = r.stdout.trim();
    if (Date.now() > deadline) throw new DeployError(`the host is locked by another deploy (${msg}); gave up after ${Math.round(o.waitMs / 1000)} s`, 'lock');
    if (msg !== lastMsg) o.onWait(`waiting: ${msg}`);
    lastMsg = msg;
    await sleep(1000);
  }
}

// ---------------------------------------------------------------------------------------------
// The pipeline

export async function deploy(conn: HostConnection, plan: DeployPlan, opts: DeployOptions = {}): Promise<DeployReport> {
  const report: DeployReport = { host: conn.host.name, ok: false, stages: [], diff: '' };
  const { signal } = opts;
  const paths = hostPaths(conn);
  const keep = Math.max(1, Math.floor(opts.keepBackups ?? 5));
  const healthTimeoutMs = opts.healthTimeoutMs ?? 60_000;
  const id = `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;

  const step = async <T>(stage: Stage, fn: () => Promise<T>, detail?: (v: T) => string | undefined): Promise<T> => {
    opts.onProgress?.(stage);
    const t0 = performance.now();
    try {
      const v = await fn();
      report.stages.push({ stage, ok: true, ms: Math.round(performance.now() - t0), detail: detail?.(v) });
      return v;
    } catch (e) {
      report.stages.push({ stage, ok: false, ms: Math.round(performance.now() - t0), detail: errText(e) });
      throw e;
    }
  };
  const checkAbort = () => {
    if (signal?.aborted) throw new DeployError('cancelled', 'confirm');
  };

  let files: Prepared[] = [];
  let staged = false;
  let lock: HeldLock | undefined;
  let swapped = false;
  try {
    checkPlan(plan);
    // 0. preflight: does the host offer what the config needs? Before anything is uploaded.
    const pfMode = opts.preflight ?? 'run';
    if (pfMode !== 'skip') {
      await step('preflight', async () => {
        const cfgFile = plan.files.find((f) => f.kind === 'config.toml' && !f.remove);
        const crictl = plan.files.find((f) => f.kind === 'crictl.yaml' && !f.remove);
        const pf = await runPreflight(
          conn,
          { config: cfgFile?.content, configSource: cfgFile ? `the new ${cfgFile.path}` : undefined, crictl: crictl?.content, taskservRelease: plan.taskservRelease },
          { signal, containerdBinary: opts.containerdBinary, ...opts.preflightOptions },
        );
        report.preflight = pf;
        if (pf.ok) return pf;
        if (pfMode === 'override' || (opts.onPreflightFailed && (await opts.onPreflightFailed(pf)))) {
          report.preflightOverridden = true;
          return pf;
        }
        throw new DeployError(`preflight failed, nothing was changed on the host:\n${formatChecks(pf.checks, { only: ['fail'] }).join('\n')}`, 'preflight');
      }, (pf) => [`${summarize(pf)}${report.preflightOverridden ? ' — failures overridden' : ''}`, ...formatChecks(pf.checks, { only: ['fail', 'warn'], fixes: false })].join('\n'));
      checkAbort();
    }
    // 1. diff
    files = await step('diff', async () => {
      // one round trip: the hashes (what the backup stage compares, byte-exact) and the texts (for the diff)
      const read = await readHostFiles(conn, plan.files.map((f) => f.path), signal);
      const hashes = read.map((x) => x.hash);
      const currents = read.map((x) => x.content);
      return plan.files.map((f, i): Prepared => {
        const current = currents[i];
        const next = f.remove ? undefined : f.content;
        return {
          ...f,
          index: i,
          newPath: `${f.path}.taskserv-new-${id}`,
          current,
          currentHash: hashes[i],
          changed: f.remove ? current !== undefined : hashes[i] !== sha256(f.content),
        };
      });
    }, (fs) => `${fs.filter((f) => f.changed).length} of ${fs.length} files differ`);
    report.diff = files.map((f) => (f.changed ? unifiedDiff(f.path, f.current, f.remove ? undefined : f.content) : '')).join('');
    if (!files.some((f) => f.changed) && !opts.force) {
      report.ok = true;
      report.unchanged = true;
      return report;
    }
    checkAbort();
    if (opts.confirm) {
      const yes = await step('confirm', () => opts.confirm!(report.diff), (y) => (y ? 'confirmed' : 'declined'));
      if (!yes) {
        report.cancelled = true;
        report.error = 'the deploy was not confirmed';
        return report;
      }
    }
    checkAbort();
    const writes = files.filter((f) => !f.remove);

    // 2. upload: SFTP as the login user to /tmp under unguessable names (mode 0600), then one sudo
    //    script installs each next to its target (root-owned, the target's mode) and removes the upload
    await step('upload', async () => {
      if (!writes.length) return;
      const up = (f: Prepared) => `/tmp/containerd-taskserv-${id}-${randomBytes(6).toString('hex')}-${f.index}`;
      const sources = writes.map(up);
      staged = true; // from here temp files may exist (in /tmp, then next to the targets)
      try {
        await Promise.all(writes.map((f, i) => conn.writeFile(sources[i], f.content, { mode: 0o600, signal })));
        const args = writes.flatMap((f, i) => [sources[i], f.newPath, f.path]);
        const r = await sh(conn, STAGE_SCRIPT, args, { signal, timeoutMs: 60_000 });
        if (r.code !== 0) throw new DeployError(`cannot place the new files on the host: ${failure(r)}`, 'upload');
      } catch (e) {
        await run(conn, ['rm', '-f', '--', ...sources], { sudo: false, timeoutMs: 30_000 }).catch(() => undefined);
        throw e;
      }
    }, () => `${writes.length} file(s), ${writes.reduce((n, f) => n + Buffer.byteLength(f.content), 0)} bytes`);
    checkAbort();

    // 3. validate with the host's containerd
    const cfg = writes.find((f) => f.kind === 'config.toml');
    let expectCri = true;
    await step('validate', async () => {
      if (!cfg) return 'no config.toml in the plan';
      const r = await run(conn, [opts.containerdBinary ?? 'containerd', '--config', cfg.newPath, 'config', 'dump'], { signal, timeoutMs: 60_000 });
      if (r.code === 127) throw new DeployError('containerd is not installed on the host (cannot validate)', 'validate');
      if (r.code !== 0) throw new DeployError(`containerd rejects the config: ${failure(r)}`, 'validate');
      expectCri = !criDisabled(r.stdout);
      return `containerd config dump ok${expectCri ? '' : ' (CRI disabled by the config)'}`;
    }, (d) => d);
    checkAbort();

    // 4. lock, then backup (which also checks nobody changed the files since the diff)
    if (!opts.lockHeld) lock = await step('lock', () =>
      acquireLock(conn, {
        targets: files.map((f) => f.path),
        signal,
        waitMs: opts.lockWaitMs ?? 300_000,
        staleMs: opts.lockStaleMs ?? 120_000,
        onWait: (m) => opts.onProgress?.('lock', m),
      }), (l) => l.note);

    checkAbort();
    let baseline: PluginStatus[] | undefined;
    report.backup = await step('backup', async () => {
      const args = [paths.backupsDir, String(keep), paths.socket, ...files.flatMap((f) => [f.path, f.currentHash, `${f.index}.${basename(f.path)}`])];
      const r = await sh(conn, BACKUP_SCRIPT, args, { timeoutMs: 60_000 });
      if (r.code !== 0) throw new DeployError(r.code === 9 ? failure(r) : `backup failed: ${failure(r)}`, 'backup');
      const m = /^backup=(.+)$/m.exec(r.stdout);
      if (!m) throw new DeployError(`backup failed: no backup directory in ${JSON.stringify(r.stdout.slice(0, 200))}`, 'backup');
      const rows = parsePlugins(r.stdout.slice(m.index + m[0].length));
      baseline = rows.length ? rows : undefined;
      return m[1];
    }, (d) => d);
    checkAbort(); // last point where a cancel leaves the host as it was

    // 5. swap (no cancellation from here on)
    swapped = true;
    await step('swap', async () => {
      const r = await sh(conn, SWAP_SCRIPT, files.flatMap((f) => [f.remove ? '-' : f.newPath, f.path]), { timeoutMs: 60_000 });
      if (r.code !== 0) throw new DeployError(`swap failed: ${failure(r)}`, 'swap');
    }, () => files.map((f) => f.path).join(', '));

    // 6. daemon-reload?, restart, 7. health
    const needReload = files.some((f) => f.kind === 'systemd-dropin' && f.changed);
    const problem = await restartAndCheck(conn, paths, { needReload, expectCri, baseline, healthTimeoutMs, step, onProgress: opts.onProgress });
    if (!problem) {
      report.ok = true;
      return report;
    }
    report.error = problem;

    // 8. rollback
    const backup = report.backup;
    await step('rollback', async () => {
      const r = await sh(conn, RESTORE_SCRIPT, [backup, `.taskserv-restore-${id}`], { timeoutMs: 60_000 });
      if (r.code !== 0) throw new DeployError(`restore failed: ${failure(r)}`, 'rollback');
    }, () => `restored ${backup}`).catch((e) => {
      report.rollbackError = errText(e);
    });
    if (!report.rollbackError) {
      const criBefore = baseline?.some((p) => p.type === 'io.containerd.grpc.v1' && p.id === 'cri' && p.status === 'ok') ?? false;
      const p2 = await restartAndCheck(conn, paths, { needReload, expectCri: criBefore, baseline, healthTimeoutMs, step, onProgress: opts.onProgress, rollback: true });
      if (p2) report.rollbackError = `after restoring ${backup}: ${p2}`;
      else report.rolledBack = true;
    }
    return report;
  } catch (e) {
    if (e instanceof DeployError && e.message === 'cancelled') {
      report.cancelled = true;
      report.error = 'cancelled';
    } else if (signal?.aborted && !swapped) {
      report.cancelled = true;
      report.error = `cancelled: ${errText(e)}`;
    } else {
      report.error = errText(e);
    }
    if (swapped && isConnectionLoss(e)) {
      report.error += ' — the connection dropped after the new, validated files were put in place; the host keeps them (check it with the service status)';
    }
    return report;
  } finally {
    if (staged && !swapped) {
      await run(conn, ['rm', '-f', '--', ...files.filter((f) => !f.remove).map((f) => f.newPath)], { timeoutMs: 30_000 }).catch(() => undefined);
    }
    if (lock) await lock.release();
  }
}

type StepFn = <T>(stage: Stage, fn: () => Promise<T>, detail?: (v: T) => string | undefined) => Promise<T>;

/** daemon-reload?, restart, health. Returns a problem description, or undefined when healthy. */
async function restartAndCheck(
  conn: HostConnection,
  paths: ReturnType<typeof hostPaths>,
  o: {
    needReload: boolean;
    expectCri: boolean;
    baseline?: PluginStatus[];
    healthTimeoutMs: number;
    step: StepFn;
    onProgress?: (stage: Stage, detail?: string) => void;
    rollback?: boolean;
  },
): Promise<string | undefined> {
  const label = o.rollback ? ' (rollback)' : '';
  try {
    if (o.needReload) {
      await o.step('daemon-reload', async () => {
        const r = await run(conn, ['systemctl', 'daemon-reload'], { timeoutMs: 60_000 });
        if (r.code !== 0) throw new DeployError(`systemctl daemon-reload failed: ${failure(r)}`, 'daemon-reload');
      }, () => `daemon-reload${label}`);
    }
    let since: number | undefined;
    let restartProblem: string | undefined;
    await o.step('restart', async () => {
      const r = await sh(conn, RESTART_SCRIPT, [paths.service], { timeoutMs: 150_000 });
      since = Number.parseInt(r.stdout.trim().split('\n')[0] ?? '', 10) || undefined;
      if (r.code !== 0) throw new DeployError(`systemctl restart ${paths.service} failed${label}: ${failure(r)}`, 'restart');
    }, () => `restarted${label}`).catch((e) => {
      if (isConnectionLoss(e)) throw e;
      restartProblem = errText(e); // the health check below says more (unit state, journal)
    });
    const h = await o.step('health', async () => {
      const res = await checkHealth(conn, {
        service: paths.service,
        socket: paths.socket,
        since,
        deadline: Date.now() + o.healthTimeoutMs,
        expectCri: o.expectCri,
        baseline: o.baseline,
        onProgress: (d) => o.onProgress?.('health', d),
      });
      if (!res.ok) throw new DeployError(res.detail, 'health');
      return res;
    }, (r) => `${r.detail}${label}`).catch((e) => {
      if (isConnectionLoss(e)) throw e;
      return errText(e);
    });
    if (typeof h === 'string') return restartProblem ? `${restartProblem}\n${h}` : h;
    return restartProblem;
  } catch (e) {
    if (isConnectionLoss(e)) throw e;
    return errText(e);
  }
}
