/**
 * Install or upgrade containerd (and the runtimes a taskserv names) on one host, then deploy the
 * rendered taskserv with the deploy pipeline and check containerd's health. No vscode import.
 *
 * Steps (each reported through onStep and in InstallReport.steps):
 *   probe → check → fetch → verify → lock → backup → runtimes → install → unit → deploy | restart
 *   → health, and on a failure after the backup: rollback.
 *
 * Safety — what the host holds at each point:
 *   - probe, check: read only (package manager, arch, the containerd installed now and how, the
 *     deployed config's `version`, the unit). An install where containerd exists, an upgrade where
 *     it does not, a switch from a binary install to packages, and a downgrade the deployed config
 *     cannot follow (config-version boundary, see versions.ts) are refused here.
 *   - fetch: the artifact lands in a root-only staging directory
 *     /var/lib/containerd-taskserv/install/<id>/ (local files and `fetch: 'local'` downloads go over
 *     SFTP as the login user to /var/tmp, then are moved in by root). Packages are downloaded
 *     only (`apt-get install --download-only`, `dnf install --downloadonly`); apt/dnf check them
 *     against the repository's signed indexes.
 *   - verify: the sha256 the host computes must equal the expected one (given, or the release's
 *     `.sha256sum`) and, for an uploaded file, the one computed here — BEFORE anything is unpacked.
 *     Then a .deb/.rpm's name and version are read from its header, and a tarball is unpacked
 *     inside the staging directory only and checked (regular files under bin/ and a
 *     containerd.service, nothing else). Nothing outside the staging directory changed so far.
 *   - lock: the deploy pipeline's host lock (/run/containerd-taskserv.lock), held until the end
 *     (the deploy runs under it with `lockHeld`).
 *   - backup: every file the install may replace or add (the package's `dpkg -L`/`rpm -ql` list,
 *     the new package's or archive's files, the systemd unit, runtime binaries, the config files
 *     of the plan) is copied (`cp -a`) into /var/lib/containerd-taskserv/install-backups/<time>/
 *     with a manifest (present → copied; absent → to be removed on rollback), written last.
 *     The last point where cancelling leaves the host untouched; afterwards the signal is ignored:
 *     the install finishes, or rolls back.
 *   - runtimes, install (package manager / `dpkg -i`-like / files copied next to their targets and
 *     renamed into place), unit (our unit for tarballs without one; daemon-reload; enable),
 *     deploy (pipeline.deploy with force: validate with the NEW containerd, backup, swap, restart,
 *     health), or restart + health when there is nothing to deploy; then the running daemon
 *     must report the expected version.
 *   - rollback: the backup set goes back (files renamed into place, added files removed),
 *     daemon-reload, reset-failed, the unit's enabled state restored, restart and health of the
 *     old containerd when it was running before. A fresh install is undone (package purged /
 *     files removed, unit disabled). A package database that still names the new version after
 *     a file restore is reported in `notes`.
 *
 * Every remote command is an argv array; the remote scripts are constants taking data as "$@".
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import type { Argv, ExecResult, HostConnection } from '../ssh/types';
import { acquireLock, checkHealth, criDisabled, deploy, hostPaths, parsePlugins, type HeldLock, type PluginStatus } from '../deploy/pipeline';
import { ID_PATTERN } from '../runtime/types';
import {
  InstallError,
  type HostInstallState,
  type InstallOptions,
  type InstallPlan,
  type InstallReport,
  type InstallStep,
  type RuntimeInstall,
} from './types';
import {
  DEFAULT_PREFIX,
  archOf,
  artifactKindOf,
  checkConfigBoundary,
  compareReleases,
  configVersionOf,
  isPackageName,
  isPackageVersion,
  isRelease,
  isSafeAbsPath,
  isSha256,
  officialTarballUrl,
  parseContainerdVersion,
  parseDnfList,
  parseFindListing,
  parseMadison,
  parseSha256File,
  parseTarballName,
  pickPackageVersion,
  systemdUnit,
  tarballLayout,
  upstreamOfPackageVersion,
  type ArtifactKind,
  type TarballLayout,
} from './versions';

export const STATE_DIR = '/var/lib/containerd-taskserv';
export const STAGE_ROOT = `${STATE_DIR}/install`;
export const BACKUP_ROOT = `${STATE_DIR}/install-backups`;
const KEEP_BACKUPS = 3;
const MAX_BYTES = 1024 * 1024 * 1024;
const APT_ENV = ['env', 'DEBIAN_FRONTEND=noninteractive', 'NEEDRESTART_MODE=l'];
const APT_OPTS = ['-y', '-q', '-o', 'Dpkg::Options::=--force-confold', '-o', 'Dpkg::Options::=--force-confdef', '-o', 'DPkg::Lock::Timeout=120'];
/** Binary names a containerd install consists of (for hosts where it is a plain binary install). */
const CONTAINERD_BINARIES = ['containerd', 'containerd-shim', 'containerd-shim-runc-v1', 'containerd-shim-runc-v2', 'containerd-stress', 'ctr'];

// ---------------------------------------------------------------------------------------------
// Remote scripts (constants; data only through "$@").

/** $1 config path, $2 service, $3 package name. key=value lines. */
const PROBE_SCRIPT = `have() { command -v "$1" >/dev/null 2>&1; }
PATH="$PATH:/usr/local/bin:/usr/local/sbin"
echo "arch=$(uname -m)"
if [ -r /etc/os-release ]; then echo "os=$(sed -n 's/^ID=//p' /etc/os-release | tr -d '"' | head -n 1)"; fi
for t in apt-get apt-cache dnf yum dpkg dpkg-deb rpm curl wget systemctl tar gzip sha256sum; do have "$t" && echo "tool=$t"; done
if have dpkg-query; then s=$(dpkg-query -W -f='\${Status}|\${Version}' "$3" 2>/dev/null) && echo "dpkg=$s"; fi
if have rpm; then s=$(rpm -q --qf '%{VERSION}-%{RELEASE}' "$3" 2>/dev/null) && echo "rpm=$s"; fi
exe=$(systemctl show "$2" -p ExecStart --value 2>/dev/null | sed -n 's/.*path=\\([^ ;]*\\).*/\\1/p' | head -n 1)
[ -n "$exe" ] && [ -x "$exe" ] || exe=$(command -v containerd 2>/dev/null || true)
if [ -n "$exe" ] && [ -x "$exe" ]; then
  echo "binary=$exe"
  echo "version=$("$exe" --version 2>&1 | head -n 1)"
  real=$(readlink -f -- "$exe")
  if have dpkg-query && dpkg -S "$real" >/dev/null 2>&1; then echo owner=deb
  elif have rpm && rpm -qf "$real" >/dev/null 2>&1; then echo owner=rpm; fi
fi
if [ -f "$1" ]; then echo "config=present"; sed -n '1,/^[[:space:]]*\\[/p' "$1" | grep -E '^[[:space:]]*version[[:space:]]*=' | head -n 1 | sed 's/^/config_line=/'; fi
systemctl show "$2" -p LoadState -p ActiveState -p UnitFileState -p FragmentPath 2>/dev/null | sed 's/^/unit_/'
if [ "$(systemctl is-active "$2" 2>/dev/null)" = active ] && have ctr; then echo "--plugins--"; ctr --connect-timeout 3s plugins ls 2>/dev/null; fi
true`;

/** $1 = path …: "present" or "absent" per line (is the runtime binary there?); "cmd:NAME" looks NAME up on PATH. */
const PRESENT_SCRIPT = `PATH="$PATH:/usr/local/bin:/usr/local/sbin"
for p in "$@"; do case $p in cmd:*) if command -v "\${p#cmd:}" >/dev/null 2>&1; then echo present; else echo absent; fi ;; *) if [ -x "$p" ]; then echo present; else echo absent; fi ;; esac; done`;

/** $1 = staging dir: create it root-only (and its parents). */
const MKSTAGE_SCRIPT = `set -eu; umask 077; mkdir -p -- "$1"; chmod 0700 -- "$(dirname -- "$1")" "$1"`;

/** $1 = uploaded file (owned by the login user), $2 = its place in the staging dir. */
const ADOPT_SCRIPT = `set -eu; mv -f -- "$1" "$2"; chown 0:0 -- "$2"; chmod 0600 -- "$2"`;

/** $1 = url, $2 = output file, $3 = max seconds. Download on the host with curl or wget. */
const DOWNLOAD_SCRIPT = `set -u
if command -v curl >/dev/null 2>&1; then exec curl -fsSL --proto '=https,http' --max-time "$3" --retry 2 -o "$2" -- "$1"
elif command -v wget >/dev/null 2>&1; then exec wget -q -T 60 -O "$2" -- "$1"
else echo "neither curl nor wget is installed on the host; use fetch 'local' (this machine downloads and uploads)" >&2; exit 127; fi`;

/** $1 = archive, $2 = dir: unpack a tarball inside the staging dir, then list it. */
const UNPACK_SCRIPT = `set -eu; mkdir -p -- "$2"; tar -xzf "$1" -C "$2" --no-same-owner; find "$2" -mindepth 1 -printf '%y %m %P\\n'`;

/**
 * $1 = backups root, $2 = keep, then the paths. Copies every present file (or link) into a new
 * set with a manifest (name, target, present|absent); directories are not recorded. Prints backup=DIR.
 */
const BACKUP_SCRIPT = `set -u
trap '' HUP PIPE
root=$1; keep=$2; shift 2
mkdir -p -- "$root" && chmod 0700 -- "$root" || exit 7
ts=$(date -u +%Y%m%dT%H%M%SZ); dir="$root/$ts"; k=0
while ! mkdir -- "$dir" 2>/dev/null; do k=$((k+1)); dir="$root/$ts-$k"; [ $k -lt 100 ] || exit 7; done
fail() { rm -rf -- "$dir"; echo "$1" >&2; exit 7; }
: > "$dir/manifest.tmp" || fail "cannot write $dir"
n=0
for t in "$@"; do n=$((n+1))
  if [ -L "$t" ] || [ -f "$t" ]; then cp -a -- "$t" "$dir/$n" || fail "cannot copy $t (disk full?)"; printf '%s\\t%s\\tpresent\\n' "$n" "$t" >> "$dir/manifest.tmp"
  elif [ -e "$t" ]; then :
  else printf '%s\\t%s\\tabsent\\n' "$n" "$t" >> "$dir/manifest.tmp"; fi
done
sync 2>/dev/null || true
mv -f -- "$dir/manifest.tmp" "$dir/manifest" || fail "cannot write the manifest"
ls -1 -- "$root" | grep -E '^[0-9]{8}T[0-9]{6}Z(-[0-9]+)?$' | LC_ALL=C sort -r | tail -n +$((keep+1)) | while read -r old; do rm -rf -- "$root/$old"; done
echo "backup=$dir"`;

/**
 * $1 = backup set, $2 = suffix: every file of the manifest back (atomic rename each); absent ones
 * removed (directories the new version created: removed when empty, deepest first).
 */
const RESTORE_SCRIPT = `set -eu
trap '' HUP PIPE
dir=$1; sfx=$2
[ -f "$dir/manifest" ] || { echo "$dir has no manifest (incomplete backup)" >&2; exit 8; }
tab=$(printf '\\t')
: > "$dir/dirs"
while IFS="$tab" read -r name tgt state; do
  [ -n "$tgt" ] || continue
  if [ "$state" = present ]; then mkdir -p -- "$(dirname -- "$tgt")"; rm -rf -- "$tgt$sfx"; cp -a -- "$dir/$name" "$tgt$sfx"; mv -f -- "$tgt$sfx" "$tgt"
  elif [ -d "$tgt" ] && [ ! -L "$tgt" ]; then printf '%s\\n' "$tgt" >> "$dir/dirs"
  else rm -f -- "$tgt"; fi
done < "$dir/manifest"
LC_ALL=C sort -r "$dir/dirs" | while read -r d; do rmdir -- "$d" 2>/dev/null || true; done
sync 2>/dev/null || true
echo restored`;

/**
 * $1 = source dir, $2 = id, then triples: relative source, absolute target, octal mode. Each
 * file is copied next to its target and renamed into place (running binaries keep their inode).
 */
const PLACE_SCRIPT = `set -eu
trap '' HUP PIPE
src=$1; id=$2; shift 2
while [ $# -ge 3 ]; do f=$1; t=$2; m=$3; shift 3
  mkdir -p -- "$(dirname -- "$t")"
  cp -- "$src/$f" "$t.taskserv-new-$id"
  chown 0:0 -- "$t.taskserv-new-$id"; chmod "$m" -- "$t.taskserv-new-$id"
  mv -f -- "$t.taskserv-new-$id" "$t"
done
sync 2>/dev/null || true`;

/** $1 = service: prints the epoch second, then restarts it (after clearing a start-limit). */
const RESTART_SCRIPT = `systemctl reset-failed -- "$1" 2>/dev/null; date +%s; exec systemctl restart -- "$1"`;

/** $1 = link, $2 = command name: make link point at the command found on PATH (runtime from a package). */
const LINK_SCRIPT = `set -eu; PATH="$PATH:/usr/local/bin:/usr/local/sbin"; [ -x "$1" ] && exit 0; t=$(command -v "$2"); mkdir -p -- "$(dirname -- "$1")"; ln -sfn -- "$t" "$1"`;

// ---------------------------------------------------------------------------------------------

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const errText = (e: unknown): string => (e instanceof Error ? e.message : String(e));
const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

function failure(r: ExecResult): string {
  return (r.stderr.trim() || r.stdout.trim() || `exit ${r.code ?? r.signal}`).slice(-3000);
}

function sh(conn: HostConnection, script: string, args: string[], o: { timeoutMs?: number; signal?: AbortSignal; sudo?: boolean } = {}): Promise<ExecResult> {
  return conn.exec(['sh', '-c', script, 'containerd-taskserv', ...args], { sudo: o.sudo ?? true, timeoutMs: o.timeoutMs ?? 60_000, signal: o.signal });
}

function run(conn: HostConnection, argv: Argv, o: { timeoutMs?: number; signal?: AbortSignal; sudo?: boolean } = {}): Promise<ExecResult> {
  return conn.exec(argv, { sudo: o.sudo ?? true, timeoutMs: o.timeoutMs ?? 60_000, signal: o.signal });
}

async function must(p: Promise<ExecResult>, what: string, step: InstallStep): Promise<ExecResult> {
  const r = await p;
  if (r.code !== 0) throw new InstallError(`${what} failed: ${failure(r)}`, step);
  return r;
}

function kv(out: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const line of out.split('\n')) {
    const i = line.indexOf('=');
    if (i <= 0) continue;
    const k = line.slice(0, i);
    m.set(k, [...(m.get(k) ?? []), line.slice(i + 1).trim()]);
  }
  return m;
}

/** What is installed now (read only). */
export async function probeInstall(conn: HostConnection, o: { packageName?: string; signal?: AbortSignal } = {}): Promise<HostInstallState & { plugins?: PluginStatus[] }> {
  const paths = hostPaths(conn);
  const pkg = o.packageName ?? 'containerd';
  const r = await sh(conn, PROBE_SCRIPT, [paths.configPath, paths.service, pkg], { signal: o.signal, timeoutMs: 60_000 });
  if (r.code !== 0) throw new InstallError(`cannot probe the host: ${failure(r)}`, 'probe');
  const [head, pluginsText] = r.stdout.split('\n--plugins--\n');
  const m = kv(head);
  const one = (k: string) => m.get(k)?.[0];
  const tools = m.get('tool') ?? [];
  const dpkg = one('dpkg');
  const debInstalled = !!dpkg && /^install ok installed\|/.test(dpkg);
  const rpm = one('rpm');
  const rpmInstalled = !!rpm && !/not installed/.test(rpm) && /^\d/.test(rpm);
  const owner = one('owner');
  const binary = one('binary');
  let method: HostInstallState['method'] = 'none';
  if (owner === 'deb' || (debInstalled && !binary)) method = 'deb';
  else if (owner === 'rpm' || (rpmInstalled && !binary)) method = 'rpm';
  else if (binary) method = 'binary';
  const cfgLine = one('config_line');
  const plugins = pluginsText ? parsePlugins(pluginsText) : undefined;
  return {
    arch: one('arch'),
    os: one('os'),
    packageManager: tools.includes('apt-get') ? 'apt' : tools.includes('dnf') ? 'dnf' : tools.includes('yum') ? 'yum' : undefined,
    method,
    version: parseContainerdVersion(one('version')),
    packageVersion: method === 'deb' && dpkg ? dpkg.split('|')[1] : method === 'rpm' ? rpm : undefined,
    binary,
    configVersion: one('config') === 'present' ? (cfgLine ? configVersionOf(cfgLine) : 1) : undefined,
    unit: { load: one('unit_LoadState') ?? 'not-found', active: one('unit_ActiveState') ?? 'inactive', enabled: one('unit_UnitFileState') ?? '', fragment: one('unit_FragmentPath') || undefined },
    tools,
    plugins: plugins?.length ? plugins : undefined,
  };
}

/** The artifact in the staging dir, once fetched. */
interface Artifact {
  kind: ArtifactKind | 'package';
  /** Path on the host (files), or the package spec (`containerd=1.6.20~ds1-1`). */
  path: string;
  name: string;
  /** sha256 the host must compute (expected by the user/release). */
  expected?: string;
  /** sha256 computed on this machine (uploads). */
  local?: string;
  /** What the artifact is, once verified. */
  packageName?: string;
  packageVersion?: string;
  version?: string;
  layout?: TarballLayout;
  unpacked?: string;
  /** Files a package from a file will own (its listing), for the backup. */
  files?: string[];
}

interface RuntimeWork {
  rt: RuntimeInstall;
  path?: string;
  how: 'skip' | 'package' | 'binary';
  artifact?: Artifact;
}

/** Local file → Buffer (bounded). */
function readLocal(file: string, max: number): Buffer {
  const st = fs.statSync(file);
  if (!st.isFile()) throw new InstallError(`${file} is not a file`, 'fetch');
  if (st.size > max) throw new InstallError(`${file} is larger than ${max} bytes`, 'fetch');
  return fs.readFileSync(file);
}

async function download(url: string, o: { max: number; signal?: AbortSignal; fetchFn: typeof fetch; timeoutMs?: number }): Promise<Buffer> {
  const signals = [AbortSignal.timeout(o.timeoutMs ?? 15 * 60_000), ...(o.signal ? [o.signal] : [])];
  const res = await o.fetchFn(url, { signal: AbortSignal.any(signals), redirect: 'follow' });
  if (!res.ok || !res.body) throw new InstallError(`download of ${url} failed: HTTP ${res.status}`, 'fetch');
  const len = Number(res.headers.get('content-length') ?? 0);
  if (len > o.max) throw new InstallError(`${url} is larger than ${o.max} bytes`, 'fetch');
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) {
    n += c.length;
    if (n > o.max) throw new InstallError(`${url} is larger than ${o.max} bytes`, 'fetch');
    chunks.push(Buffer.from(c));
  }
  return Buffer.concat(chunks);
}

const safeName = (name: string, fallback: string): string => {
  const b = name.slice(name.lastIndexOf('/') + 1);
  return /^[A-Za-z0-9][A-Za-z0-9._+~-]{0,200}$/.test(b) ? b : fallback;
};

function validatePlan(plan: InstallPlan): void {
  const bad = (m: string) => new InstallError(m, 'check');
  if (plan.version !== undefined && !isRelease(plan.version)) throw bad(`version "${plan.version}" is not a release (X.Y.Z)`);
  const prefix = plan.prefix ?? DEFAULT_PREFIX;
  if (!isSafeAbsPath(prefix)) throw bad(`install prefix "${prefix}" is not a plain absolute path`);
  const s = plan.source;
  if (s.kind === 'package') {
    if (s.packageName !== undefined && !isPackageName(s.packageName)) throw bad(`"${s.packageName}" is not a package name`);
    if (s.packageVersion !== undefined && !isPackageVersion(s.packageVersion)) throw bad(`"${s.packageVersion}" is not a package version`);
  } else if (s.kind === 'tarball') {
    if (s.url !== undefined && !/^https?:\/\/\S+$/.test(s.url)) throw bad(`"${s.url}" is not an http(s) URL`);
    if (s.sha256 !== undefined && !isSha256(s.sha256)) throw bad('sha256 must be 64 hex digits');
    if (!s.url && !plan.version) throw bad('a release tarball needs the containerd version (X.Y.Z) or a url');
    if ((prefix !== '/usr/local' && prefix !== '/usr')) throw bad(`containerd from a tarball goes under /usr/local (or /usr), where ctr and the health check find it; "${prefix}" is not supported`);
  } else {
    if (!s.path || !fs.existsSync(s.path)) throw bad(`the file ${s.path} does not exist`);
    if (s.sha256 !== undefined && !isSha256(s.sha256)) throw bad('sha256 must be 64 hex digits');
    if (artifactKindOf(s.path) === 'binary') throw bad(`${s.path}: expected a .deb, .rpm or containerd-X.Y.Z-linux-ARCH.tar.gz`);
    if (artifactKindOf(s.path) === 'tarball' && prefix !== '/usr/local' && prefix !== '/usr') throw bad(`containerd from a tarball goes under /usr/local (or /usr); "${prefix}" is not supported`);
  }
  for (const r of plan.runtimes ?? []) {
    if (!ID_PATTERN.test(r.name)) throw bad(`runtime name "${r.name}" is not valid`);
    if (r.path !== undefined && !isSafeAbsPath(r.path)) throw bad(`runtime ${r.name}: "${r.path}" is not a plain absolute path`);
    if (r.sha256 !== undefined && !isSha256(r.sha256)) throw bad(`runtime ${r.name}: sha256 must be 64 hex digits`);
    if (r.source === 'url' && (!r.url || !/^https?:\/\/\S+$/.test(r.url))) throw bad(`runtime ${r.name}: source url needs an http(s) url`);
    if (r.source === 'url' && !r.sha256) throw bad(`runtime ${r.name}: a download needs its sha256 (install.runtimes.${r.name}.sha256)`);
    if (r.source === 'file' && (!r.file || !fs.existsSync(r.file))) throw bad(`runtime ${r.name}: the file ${r.file} does not exist`);
  }
  for (const f of plan.deploy?.files ?? []) if (!isSafeAbsPath(f.path)) throw bad(`deploy target "${f.path}" is not a plain absolute path`);
}

// ---------------------------------------------------------------------------------------------

export function installContainerd(conn: HostConnection, plan: InstallPlan, opts: InstallOptions = {}): Promise<InstallReport> {
  return new Installer(conn, plan, opts, 'install').run();
}

export function upgradeContainerd(conn: HostConnection, plan: InstallPlan, opts: InstallOptions = {}): Promise<InstallReport> {
  return new Installer(conn, plan, opts, 'upgrade').run();
}

class Installer {
  private readonly report: InstallReport;
  private readonly id = `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  private readonly paths;
  private readonly prefix: string;
  private readonly max: number;
  private stage?: string;
  private lock?: HeldLock;
  private backupDir?: string;
  private changed = false;
  private before!: HostInstallState & { plugins?: PluginStatus[] };
  private artifact?: Artifact;
  private runtimes: RuntimeWork[] = [];
  private pm?: 'apt' | 'dnf' | 'yum';
  private packageName: string;
  private target?: string;
  /** A note that is no longer true once a rollback succeeded. */
  private shadowNote?: string;

  constructor(
    private readonly conn: HostConnection,
    private readonly plan: InstallPlan,
    private readonly opts: InstallOptions,
    operation: 'install' | 'upgrade',
  ) {
    this.report = { host: conn.host.name, ok: false, operation, steps: [], notes: [] };
    this.paths = hostPaths(conn);
    this.prefix = (plan.prefix ?? DEFAULT_PREFIX).replace(/\/+$/, '') || '/';
    this.max = opts.maxBytes ?? MAX_BYTES;
    this.packageName = plan.source.kind === 'package' ? plan.source.packageName ?? 'containerd' : 'containerd';
    this.target = plan.version;
  }

  /** The signal while cancelling is safe; undefined after the point of no return. */
  private get signal(): AbortSignal | undefined {
    return this.changed ? undefined : this.opts.signal;
  }

  private checkAbort(): void {
    if (this.opts.signal?.aborted && !this.changed) throw new InstallError('cancelled', 'check');
  }

  private async step<T>(step: InstallStep, fn: () => Promise<T>, detail?: (v: T) => string | undefined): Promise<T> {
    this.opts.onStep?.(step);
    const t0 = performance.now();
    try {
      const v = await fn();
      this.report.steps.push({ step, ok: true, ms: Math.round(performance.now() - t0), detail: detail?.(v) });
      return v;
    } catch (e) {
      this.report.steps.push({ step, ok: false, ms: Math.round(performance.now() - t0), detail: errText(e) });
      throw e;
    }
  }

  private note(n: string): void {
    this.report.notes.push(n);
    this.opts.onStep?.('check', n);
  }

  async run(): Promise<InstallReport> {
    const r = this.report;
    try {
      validatePlan(this.plan);
      this.before = await this.step('probe', () => probeInstall(this.conn, { packageName: this.packageName, signal: this.signal }), (b) =>
        `${b.method === 'none' ? 'no containerd' : `containerd ${b.version ?? '?'} (${b.method}${b.packageVersion ? ` ${b.packageVersion}` : ''})`}, ${b.os ?? '?'} ${b.arch ?? '?'}, unit ${b.unit.active}`);
      r.before = { ...this.before, plugins: undefined } as HostInstallState;
      await this.step('check', () => this.check(), () => this.describeTarget());
      this.checkAbort();
      await this.step('fetch', () => this.fetch(), () => this.artifact?.name);
      this.checkAbort();
      await this.step('verify', () => this.verify(), (d) => d);
      this.checkAbort();
      this.lock = await this.step('lock', () =>
        acquireLock(this.conn, {
          targets: [this.paths.configPath, ...(this.plan.deploy?.files.map((f) => f.path) ?? [])],
          signal: this.signal,
          waitMs: 300_000,
          staleMs: 120_000,
          onWait: (m) => this.opts.onStep?.('lock', m),
        }), (l) => l.note);
      this.checkAbort();
      this.backupDir = await this.step('backup', () => this.backup(), (d) => d);
      r.backup = this.backupDir;
      this.checkAbort(); // the last point where a cancel leaves the host as it was
      this.changed = true;
      if (this.runtimes.some((w) => w.how !== 'skip')) await this.step('runtimes', () => this.installRuntimes(), (d) => d);
      await this.step('install', () => this.install(), (d) => d);
      await this.step('unit', () => this.unit(), (d) => d);
      if (this.plan.deploy) await this.step('deploy', () => this.deployConfig(), (d) => d);
      else await this.step('restart', () => this.restartAndCheck(), (d) => d);
      r.version = await this.step('health', () => this.confirmVersion(), (v) => `containerd ${v ?? '?'} answering${this.target ? ` (expected ${this.target})` : ''}`);
      r.ok = true;
      if (!this.opts.keepBackup && this.backupDir) {
        await run(this.conn, ['rm', '-rf', '--', this.backupDir], { timeoutMs: 60_000 }).catch(() => undefined);
        r.backup = undefined;
      }
      return r;
    } catch (e) {
      if (e instanceof InstallError && e.message === 'cancelled') {
        r.cancelled = true;
        r.error = 'cancelled before anything was changed on the host';
      } else if (!this.changed && this.opts.signal?.aborted) {
        r.cancelled = true;
        r.error = `cancelled: ${errText(e)}`;
      } else r.error = errText(e);
      if (this.changed) await this.rollback();
      return r;
    } finally {
      if (this.stage) await run(this.conn, ['rm', '-rf', '--', this.stage], { timeoutMs: 60_000 }).catch(() => undefined);
      await this.lock?.release().catch(() => undefined);
    }
  }

  private describeTarget(): string {
    const s = this.plan.source;
    const what = s.kind === 'package' ? `${this.pm} package ${this.packageName}` : s.kind === 'tarball' ? `release tarball (${s.fetch === 'local' ? 'uploaded from here' : 'downloaded by the host'})` : `file ${nodePath.basename(s.path)}`;
    const rts = this.runtimes.filter((w) => w.how !== 'skip').map((w) => `${w.rt.name} (${w.how})`);
    return `${what}${this.target ? `, containerd ${this.target}` : ''}${rts.length ? `; runtimes: ${rts.join(', ')}` : ''}`;
  }

  // -- check ------------------------------------------------------------------------------------

  private async check(): Promise<void> {
    const b = this.before;
    const op = this.report.operation;
    const s = this.plan.source;
    if (op === 'install' && b.method !== 'none') throw new InstallError(`containerd ${b.version ?? ''} is already installed (${b.method === 'binary' ? b.binary : `${b.method} package ${b.packageVersion ?? ''}`}); use upgrade`.replace(/\s+/g, ' '), 'check');
    if (op === 'upgrade' && b.method === 'none') throw new InstallError('containerd is not installed on the host; use install', 'check');
    if (!b.tools.includes('systemctl')) throw new InstallError('the host has no systemd (systemctl): containerd is installed as a systemd service', 'check');
    for (const t of ['sha256sum', 'tar']) if (!b.tools.includes(t)) throw new InstallError(`the host lacks ${t}`, 'check');
    this.pm = b.packageManager;
    const kind = s.kind === 'file' ? artifactKindOf(s.path) : s.kind;
    if (s.kind === 'package' && !this.pm) throw new InstallError('the host has neither apt-get nor dnf/yum: use a release tarball or a file', 'check');
    if (kind === 'deb' && !b.tools.includes('dpkg')) throw new InstallError('a .deb needs dpkg on the host', 'check');
    if (kind === 'rpm' && !b.tools.includes('rpm')) throw new InstallError('an .rpm needs rpm on the host', 'check');
    if ((s.kind === 'package' || kind === 'deb' || kind === 'rpm') && b.method === 'binary') {
      throw new InstallError(`containerd is installed as plain binaries (${b.binary}); a package would be shadowed by them — remove them first or upgrade with a release tarball`, 'check');
    }
    if (kind === 'deb' && b.method === 'rpm') throw new InstallError('containerd is installed from an rpm; a .deb does not replace it', 'check');
    if (kind === 'rpm' && b.method === 'deb') throw new InstallError('containerd is installed from a .deb; an rpm does not replace it', 'check');
    if (s.kind === 'tarball' || kind === 'tarball') {
      const arch = this.plan.arch ?? archOf(b.arch);
      if (!arch) throw new InstallError(`no containerd release archive for this host's architecture (${b.arch})`, 'check');
      if (this.plan.arch && archOf(b.arch) && this.plan.arch !== archOf(b.arch)) throw new InstallError(`the plan wants ${this.plan.arch} binaries but the host is ${b.arch}`, 'check');
    }
    if (s.kind === 'file' && kind === 'tarball') {
      const n = parseTarballName(s.path);
      if (n && this.target && n.version !== this.target) throw new InstallError(`${nodePath.basename(s.path)} is containerd ${n.version}, the plan wants ${this.target}`, 'check');
      if (n) this.target = n.version;
    }
    if (s.kind === 'tarball' && !this.target && s.url) this.target = parseTarballName(s.url)?.version;
    this.boundary(false);
    // runtimes: which are missing, and how they come
    const rts = this.plan.runtimes ?? [];
    if (!rts.some((r) => r.name === 'runc') && (s.kind === 'tarball' || kind === 'tarball')) {
      // a release archive brings no runc (packages depend on it): say so when it is missing
      const pr = await sh(this.conn, PRESENT_SCRIPT, ['cmd:runc'], { signal: this.signal });
      if (pr.stdout.trim() !== 'present') this.note('runc is not installed on the host and the release archive does not bring it: containers will not start until it is (name it in the taskserv\'s runtimes to have it installed)');
    }
    if (rts.length) {
      const probes = rts.map((rt) => rt.path ?? `cmd:${rt.name}`);
      const pr = await sh(this.conn, PRESENT_SCRIPT, probes, { signal: this.signal });
      const lines = pr.stdout.split('\n');
      this.runtimes = rts.map((rt, i): RuntimeWork => {
        const present = lines[i] === 'present';
        const src = rt.source ?? 'auto';
        if (src === 'auto') {
          if (present) return { rt, path: rt.path, how: 'skip' };
          if (!this.pm) throw new InstallError(`runtime ${rt.name} is not on the host (${rt.path ?? 'PATH'}) and there is no package manager: give install.runtimes.${rt.name}.url and sha256, or a file`, 'check');
          return { rt, path: rt.path, how: 'package' };
        }
        if (src === 'package') {
          if (!this.pm) throw new InstallError(`runtime ${rt.name}: the host has no package manager`, 'check');
          return { rt, path: rt.path, how: 'package' };
        }
        const path = rt.path ?? `${this.prefix}/bin/${rt.name}`;
        return { rt, path, how: 'binary' };
      });
    }
  }

  /** `final`: the target release is as known as it gets (after fetch/verify). */
  private boundary(final = true): void {
    if (!this.target && !final) return;
    const cfg = this.plan.deploy?.files.find((f) => f.kind === 'config.toml' && !f.remove && f.path === this.paths.configPath);
    const v = checkConfigBoundary({
      from: this.before.method === 'none' ? undefined : this.before.version,
      to: this.target,
      hostConfigVersion: this.before.configVersion,
      planConfigVersion: cfg ? configVersionOf(cfg.content) : undefined,
      allow: this.plan.allowConfigVersionDowngrade,
    });
    if (!v.ok) throw new InstallError(v.reason, 'check');
    if (v.note && !this.report.notes.includes(v.note)) this.note(v.note);
  }

  // -- fetch --------------------------------------------------------------------------------------

  private async ensureStage(): Promise<string> {
    if (this.stage) return this.stage;
    const dir = `${STAGE_ROOT}/${this.id}`;
    this.stage = dir;
    await must(sh(this.conn, MKSTAGE_SCRIPT, [dir], { signal: this.signal }), `creating ${dir}`, 'fetch');
    return dir;
  }

  /** Upload bytes into the staging dir (SFTP as the login user to /var/tmp, then moved in by root). */
  private async upload(data: Buffer, name: string): Promise<string> {
    const stage = await this.ensureStage();
    const tmp = `/var/tmp/containerd-taskserv-${this.id}-${randomBytes(6).toString('hex')}`;
    const dest = `${stage}/${name}`;
    try {
      await this.conn.writeFile(tmp, data, { mode: 0o600, signal: this.signal });
      await must(sh(this.conn, ADOPT_SCRIPT, [tmp, dest], { signal: this.signal }), 'moving the upload into the staging directory', 'fetch');
    } catch (e) {
      await run(this.conn, ['rm', '-f', '--', tmp], { sudo: false, timeoutMs: 30_000 }).catch(() => undefined);
      throw e;
    }
    return dest;
  }

  private async hostDownload(url: string, name: string): Promise<string> {
    const stage = await this.ensureStage();
    const dest = `${stage}/${name}`;
    await must(sh(this.conn, DOWNLOAD_SCRIPT, [url, dest, '900'], { signal: this.signal, timeoutMs: 960_000 }), `downloading ${url} on the host`, 'fetch');
    return dest;
  }

  private async fetchSha(url: string, name: string, fetchMode: 'host' | 'local'): Promise<string> {
    const sumUrl = `${url}.sha256sum`;
    let text: string;
    if (fetchMode === 'local') text = (await download(sumUrl, { max: 1 << 20, signal: this.signal, fetchFn: this.opts.fetch ?? fetch, timeoutMs: 120_000 })).toString('utf8');
    else {
      const p = await this.hostDownload(sumUrl, `${name}.sha256sum`);
      text = (await must(run(this.conn, ['head', '-c', '65536', '--', p], { signal: this.signal }), 'reading the checksum file', 'fetch')).stdout;
    }
    const h = parseSha256File(text, name);
    if (!h) throw new InstallError(`${sumUrl} has no sha256 for ${name}`, 'fetch');
    return h;
  }

  /** A file/url artifact (containerd or a runtime) into the staging dir. */
  private async fetchFile(o: { file?: string; url?: string; sha256?: string; fetch?: 'host' | 'local'; fallbackName: string; officialSums?: boolean }): Promise<Artifact> {
    if (o.file) {
      const data = readLocal(o.file, this.max);
      const name = safeName(o.file, o.fallbackName);
      this.opts.onStep?.('fetch', `uploading ${name} (${data.length} bytes)`);
      const local = sha256(data);
      const path = await this.upload(data, name);
      return { kind: artifactKindOf(name), path, name, expected: o.sha256?.toLowerCase(), local };
    }
    const url = o.url!;
    const name = safeName(new URL(url).pathname, o.fallbackName);
    const mode = o.fetch ?? 'host';
    const expected = o.sha256?.toLowerCase() ?? (o.officialSums ? await this.fetchSha(url, name, mode) : undefined);
    if (!expected) throw new InstallError(`no sha256 for ${url}`, 'fetch');
    if (mode === 'local') {
      this.opts.onStep?.('fetch', `downloading ${url}`);
      const data = await download(url, { max: this.max, signal: this.signal, fetchFn: this.opts.fetch ?? fetch });
      const local = sha256(data);
      if (local !== expected) throw new InstallError(`checksum mismatch for ${name}: expected ${expected}, downloaded ${local} — refused before uploading`, 'verify');
      this.opts.onStep?.('fetch', `uploading ${name} (${data.length} bytes)`);
      return { kind: artifactKindOf(name), path: await this.upload(data, name), name, expected, local };
    }
    this.opts.onStep?.('fetch', `the host downloads ${url}`);
    return { kind: artifactKindOf(name), path: await this.hostDownload(url, name), name, expected };
  }

  private async aptOrDnf(argv: string[], what: string, step: InstallStep, timeoutMs = 900_000): Promise<ExecResult> {
    const full = this.pm === 'apt' ? [...APT_ENV, 'apt-get', ...APT_OPTS, ...argv] : [this.pm!, '-y', ...argv];
    return must(run(this.conn, full, { timeoutMs, signal: this.signal }), what, step);
  }

  private async fetch(): Promise<void> {
    const s = this.plan.source;
    const runtimePkgs = this.runtimes.filter((w) => w.how === 'package').map((w) => w.rt.name);
    const needsPkgs = s.kind === 'package' || runtimePkgs.length > 0;
    if (needsPkgs && (s.kind !== 'package' || s.refresh !== false)) {
      const r = await run(this.conn, this.pm === 'apt' ? [...APT_ENV, 'apt-get', '-q', '-o', 'DPkg::Lock::Timeout=120', 'update'] : [this.pm!, '-q', 'makecache'], { timeoutMs: 600_000, signal: this.signal });
      if (r.code !== 0) this.note(`refreshing the package lists failed (going on with what the host has): ${failure(r).split('\n').slice(-2).join(' ')}`);
    }
    if (s.kind === 'package') {
      let ver = s.packageVersion;
      if (!ver) {
        const list = this.pm === 'apt'
          ? parseMadison((await run(this.conn, ['apt-cache', 'madison', this.packageName], { signal: this.signal })).stdout, this.packageName)
          : parseDnfList((await run(this.conn, [this.pm!, '-q', 'list', '--showduplicates', this.packageName], { signal: this.signal, timeoutMs: 300_000 })).stdout, this.packageName);
        ver = pickPackageVersion(list, this.target);
        if (!ver) {
          throw new InstallError(
            list.length
              ? `no ${this.packageName} package of release ${this.target} in the host's package sources (they offer ${list.slice(0, 5).join(', ')})`
              : `the host's package sources offer no ${this.packageName} package`,
            'fetch',
          );
        }
      }
      const up = upstreamOfPackageVersion(ver);
      if (this.target && up && up !== this.target) throw new InstallError(`package version ${ver} is containerd ${up}, the plan wants ${this.target}`, 'fetch');
      this.target = this.target ?? up;
      this.boundary();
      const spec = this.pm === 'apt' ? `${this.packageName}=${ver}` : `${this.packageName}-${ver}`;
      this.opts.onStep?.('fetch', `downloading ${spec}`);
      await this.aptOrDnf(this.pm === 'apt' ? ['install', '--download-only', '--allow-downgrades', spec, ...runtimePkgs] : ['install', '--downloadonly', spec, ...runtimePkgs], `downloading ${spec}`, 'fetch');
      this.artifact = { kind: 'package', path: spec, name: spec, packageName: this.packageName, packageVersion: ver, version: up };
    } else {
      if (runtimePkgs.length) await this.aptOrDnf(this.pm === 'apt' ? ['install', '--download-only', ...runtimePkgs] : ['install', '--downloadonly', ...runtimePkgs], `downloading ${runtimePkgs.join(', ')}`, 'fetch');
      if (s.kind === 'file') this.artifact = await this.fetchFile({ file: s.path, sha256: s.sha256, fallbackName: 'containerd-artifact' });
      else {
        const arch = this.plan.arch ?? archOf(this.before.arch)!;
        const url = s.url ?? officialTarballUrl(this.target!, arch);
        this.artifact = await this.fetchFile({ url, sha256: s.sha256, fetch: s.fetch, fallbackName: `containerd-${this.target ?? 'release'}-linux-${arch}.tar.gz`, officialSums: !s.sha256 });
        if (this.artifact.kind !== 'tarball') this.artifact.kind = 'tarball';
      }
    }
    for (const w of this.runtimes) {
      if (w.how !== 'binary') continue;
      const rt = w.rt;
      w.artifact = await this.fetchFile({ file: rt.file, url: rt.url, sha256: rt.sha256, fetch: rt.fetch, fallbackName: `runtime-${rt.name}` });
    }
  }

  // -- verify -------------------------------------------------------------------------------------

  private async checkSum(a: Artifact): Promise<string> {
    const r = await must(run(this.conn, ['sha256sum', '--', a.path], { signal: this.signal, timeoutMs: 300_000 }), `sha256sum ${a.name}`, 'verify');
    const got = r.stdout.trim().split(/\s+/)[0]?.toLowerCase();
    if (a.local && got !== a.local) throw new InstallError(`${a.name} changed on the way: sha256 here ${a.local}, on the host ${got} — refused before unpacking`, 'verify');
    if (a.expected && got !== a.expected) throw new InstallError(`checksum mismatch for ${a.name}: expected ${a.expected}, the host has ${got} — refused before unpacking`, 'verify');
    return got;
  }

  private async unpack(a: Artifact, dirName: string): Promise<StagedListing> {
    const dir = `${this.stage}/${dirName}`;
    const r = await must(sh(this.conn, UNPACK_SCRIPT, [a.path, dir], { signal: this.signal, timeoutMs: 300_000 }), `unpacking ${a.name}`, 'verify');
    return { dir, entries: parseFindListing(r.stdout) };
  }

  private async verify(): Promise<string> {
    const a = this.artifact!;
    const details: string[] = [];
    if (a.kind === 'package') details.push(`${a.name} (checked by ${this.pm} against the signed repository index)`);
    else {
      const got = await this.checkSum(a);
      details.push(`${a.name} sha256 ${got.slice(0, 12)}… ${a.expected ? 'matches' : 'arrived intact'}`);
      if (a.kind === 'deb') {
        const r = await must(run(this.conn, ['dpkg-deb', '-f', a.path, 'Package', 'Version', 'Architecture'], { signal: this.signal }), `reading ${a.name}`, 'verify');
        const f = kv(r.stdout.replace(/: /g, '='));
        a.packageName = f.get('Package')?.[0];
        a.packageVersion = f.get('Version')?.[0];
        if (a.packageName !== 'containerd' && a.packageName !== 'containerd.io') throw new InstallError(`${a.name} is the package "${a.packageName}", not containerd`, 'verify');
        const list = await must(sh(this.conn, 'dpkg-deb --fsys-tarfile "$1" | tar -tf -', [a.path], { signal: this.signal, timeoutMs: 120_000 }), `listing ${a.name}`, 'verify');
        a.files = list.stdout.split('\n').map((l) => l.replace(/^\.\//, '/').replace(/ -> .*$/, '')).filter((p) => p && !p.endsWith('/') && isSafeAbsPath(p));
      } else if (a.kind === 'rpm') {
        const r = await must(run(this.conn, ['rpm', '-qp', '--qf', '%{NAME}|%{VERSION}-%{RELEASE}|%{ARCH}\\n', a.path], { signal: this.signal }), `reading ${a.name}`, 'verify');
        const [name, ver] = r.stdout.trim().split('|');
        a.packageName = name;
        a.packageVersion = ver;
        if (name !== 'containerd' && name !== 'containerd.io') throw new InstallError(`${a.name} is the package "${name}", not containerd`, 'verify');
        const list = await must(run(this.conn, ['rpm', '-qpl', a.path], { signal: this.signal }), `listing ${a.name}`, 'verify');
        a.files = list.stdout.split('\n').map((l) => l.trim()).filter((p) => isSafeAbsPath(p));
      } else if (a.kind === 'tarball') {
        const l = await this.unpack(a, 'containerd');
        const layout = tarballLayout(l.entries);
        if ('error' in layout) throw new InstallError(`${a.name}: ${layout.error}`, 'verify');
        a.layout = layout;
        a.unpacked = l.dir;
        if (!this.target) {
          const v = await run(this.conn, [`${l.dir}/bin/containerd`, '--version'], { signal: this.signal, timeoutMs: 30_000 });
          a.version = parseContainerdVersion(v.stdout);
        }
      }
      if (a.packageName) {
        this.packageName = a.packageName;
        a.version = upstreamOfPackageVersion(a.packageVersion);
        details.push(`package ${a.packageName} ${a.packageVersion}`);
      }
      if (a.version && this.target && a.version !== this.target) throw new InstallError(`${a.name} is containerd ${a.version}, the plan wants ${this.target}`, 'verify');
      this.target = this.target ?? a.version;
      this.boundary();
    }
    for (const w of this.runtimes) {
      if (!w.artifact) continue;
      const got = await this.checkSum(w.artifact);
      if (w.artifact.kind === 'tarball') {
        const l = await this.unpack(w.artifact, `runtime-${w.rt.name}`);
        const hit = l.entries.find((e) => e.type === 'f' && (e.path === w.rt.name || e.path.endsWith(`/${w.rt.name}`)));
        if (!hit) throw new InstallError(`runtime ${w.rt.name}: ${w.artifact.name} has no file named ${w.rt.name}`, 'verify');
        w.artifact.unpacked = l.dir;
        w.artifact.layout = { files: [{ from: hit.path, to: w.path!, mode: 0o755 }] };
      } else {
        w.artifact.unpacked = this.stage;
        w.artifact.layout = { files: [{ from: w.artifact.path.slice(this.stage!.length + 1), to: w.path!, mode: 0o755 }] };
      }
      details.push(`runtime ${w.rt.name}: sha256 ${got.slice(0, 12)}…`);
    }
    return details.join('; ');
  }

  // -- backup -------------------------------------------------------------------------------------

  private async backup(): Promise<string> {
    const paths = new Set<string>();
    const add = (p: string | undefined) => p && isSafeAbsPath(p) && paths.add(p);
    const b = this.before;
    if (b.method === 'deb') {
      const r = await run(this.conn, ['dpkg-query', '-L', this.packageName], { signal: this.signal });
      if (r.code === 0) for (const l of r.stdout.split('\n')) add(l.trim());
    } else if (b.method === 'rpm') {
      const r = await run(this.conn, ['rpm', '-ql', this.packageName], { signal: this.signal });
      if (r.code === 0) for (const l of r.stdout.split('\n')) add(l.trim());
    } else if (b.method === 'binary' && b.binary) {
      const dir = b.binary.slice(0, b.binary.lastIndexOf('/'));
      for (const n of CONTAINERD_BINARIES) add(`${dir}/${n}`);
    }
    const a = this.artifact!;
    for (const f of a.files ?? []) add(f);
    for (const f of a.layout?.files ?? []) add(`${this.prefix}/${f.to}`);
    if (a.kind === 'tarball') for (const n of CONTAINERD_BINARIES) add(`${this.prefix}/bin/${n}`);
    add(this.unitPath());
    add(this.paths.configPath);
    for (const f of this.plan.deploy?.files ?? []) add(f.path);
    for (const w of this.runtimes) if (w.how !== 'skip') add(w.path);
    const r = await sh(this.conn, BACKUP_SCRIPT, [BACKUP_ROOT, String(KEEP_BACKUPS), ...paths], { signal: this.signal, timeoutMs: 600_000 });
    if (r.code !== 0) throw new InstallError(`backup failed: ${failure(r)}`, 'backup');
    const m = /^backup=(.+)$/m.exec(r.stdout);
    if (!m) throw new InstallError('backup failed: no backup directory reported', 'backup');
    return m[1];
  }

  private unitPath(): string {
    return `/etc/systemd/system/${this.paths.service}.service`;
  }

  // -- install ------------------------------------------------------------------------------------

  private async place(src: string, files: { from: string; to: string; mode: number }[], step: InstallStep): Promise<void> {
    const args = files.flatMap((f) => [f.from, f.to, (f.mode || 0o755).toString(8)]);
    await must(sh(this.conn, PLACE_SCRIPT, [src, this.id, ...args], { timeoutMs: 300_000 }), 'placing the files', step);
  }

  private async installRuntimes(): Promise<string> {
    const done: string[] = [];
    const pkgs = this.runtimes.filter((w) => w.how === 'package');
    if (pkgs.length) {
      await this.aptOrDnf(['install', ...pkgs.map((w) => w.rt.name)], `installing ${pkgs.map((w) => w.rt.name).join(', ')}`, 'runtimes');
      for (const w of pkgs) {
        if (w.path) await must(sh(this.conn, LINK_SCRIPT, [w.path, w.rt.name]), `linking ${w.path}`, 'runtimes');
        done.push(`${w.rt.name} (package${w.path ? ` → ${w.path}` : ''})`);
      }
    }
    for (const w of this.runtimes) {
      if (w.how !== 'binary' || !w.artifact?.layout) continue;
      await this.place(w.artifact.unpacked!, w.artifact.layout.files, 'runtimes');
      done.push(`${w.rt.name} → ${w.path}`);
    }
    return done.join(', ');
  }

  private async install(): Promise<string> {
    const a = this.artifact!;
    if (a.kind === 'package') {
      const spec = a.path;
      await this.aptOrDnf(this.pm === 'apt' ? ['install', '--allow-downgrades', spec] : [this.isDowngrade() ? 'downgrade' : 'install', spec], `installing ${spec}`, 'install');
      return spec;
    }
    if (a.kind === 'deb') {
      if (this.pm === 'apt') await this.aptOrDnf(['install', '--allow-downgrades', a.path], `installing ${a.name}`, 'install');
      else await must(run(this.conn, [...APT_ENV, 'dpkg', '-i', '--force-confold', a.path], { timeoutMs: 900_000 }), `dpkg -i ${a.name}`, 'install');
      return `${a.packageName} ${a.packageVersion}`;
    }
    if (a.kind === 'rpm') {
      if (this.pm === 'dnf' || this.pm === 'yum') await this.aptOrDnf([this.isDowngrade() ? 'downgrade' : 'install', a.path], `installing ${a.name}`, 'install');
      else await must(run(this.conn, ['rpm', '-U', '--oldpackage', a.path], { timeoutMs: 900_000 }), `rpm -U ${a.name}`, 'install');
      return `${a.packageName} ${a.packageVersion}`;
    }
    const files = a.layout!.files.map((f) => ({ from: f.from, to: `${this.prefix}/${f.to}`, mode: f.mode }));
    await this.place(a.unpacked!, files, 'install');
    return `${files.length} files under ${this.prefix}`;
  }

  private isDowngrade(): boolean {
    const from = this.before.version;
    return !!from && !!this.target && compareReleases(this.target, from) < 0;
  }

  /** Our unit for a tarball without one, daemon-reload, enable. */
  private async unit(): Promise<string> {
    const a = this.artifact!;
    const out: string[] = [];
    if (a.kind === 'tarball') {
      const unitPath = this.unitPath();
      if (a.layout?.unit) {
        await this.place(a.unpacked!, [{ from: a.layout.unit, to: unitPath, mode: 0o644 }], 'unit');
        out.push(`${unitPath} from the archive`);
      } else {
        const text = systemdUnit(this.prefix);
        const name = 'containerd.service';
        await this.upload(Buffer.from(text, 'utf8'), name);
        await this.place(this.stage!, [{ from: name, to: unitPath, mode: 0o644 }], 'unit');
        out.push(`${unitPath} written (ExecStart=${this.prefix}/bin/containerd)`);
      }
      if (this.before.method === 'deb' || this.before.method === 'rpm') {
        this.shadowNote = `containerd under ${this.prefix} now takes precedence over the ${this.before.method} package's (${unitPath} overrides its unit); the package stays installed`;
        this.note(this.shadowNote);
      }
    }
    await must(run(this.conn, ['systemctl', 'daemon-reload'], { timeoutMs: 120_000 }), 'systemctl daemon-reload', 'unit');
    await must(run(this.conn, ['systemctl', 'enable', '--', this.paths.service], { timeoutMs: 120_000 }), `systemctl enable ${this.paths.service}`, 'unit');
    out.push('enabled');
    return out.join(', ');
  }

  private containerdBinary(): string | undefined {
    return this.artifact?.kind === 'tarball' ? `${this.prefix}/bin/containerd` : undefined;
  }

  private async deployConfig(): Promise<string> {
    const rep = await deploy(this.conn, this.plan.deploy!, {
      lockHeld: true,
      force: true,
      containerdBinary: this.containerdBinary(),
      healthTimeoutMs: this.opts.healthTimeoutMs,
      onProgress: (stage, detail) => this.opts.onStep?.('deploy', detail ? `${stage}: ${detail}` : stage),
    });
    const stages = rep.stages.map((s) => `${s.stage}${s.ok ? '' : '✗'}`).join(' ');
    if (!rep.ok) throw new InstallError(`deploying the config failed (${stages}): ${rep.error ?? ''}${rep.rollbackError ? ` — its own config rollback: ${rep.rollbackError}` : ''}`, 'deploy');
    return `${stages}${rep.backup ? ` (config backup ${rep.backup})` : ''}`;
  }

  /** No config to deploy: restart with the host's config and check health. */
  private async restartAndCheck(): Promise<string> {
    const bin = this.containerdBinary() ?? 'containerd';
    const dump = await run(this.conn, [bin, '--config', this.paths.configPath, 'config', 'dump'], { timeoutMs: 60_000 });
    const expectCri = dump.code === 0 ? !criDisabled(dump.stdout) : true;
    const r = await sh(this.conn, RESTART_SCRIPT, [this.paths.service], { timeoutMs: 150_000 });
    const since = Number.parseInt(r.stdout.trim().split('\n')[0] ?? '', 10) || undefined;
    const h = await checkHealth(this.conn, {
      service: this.paths.service,
      socket: this.paths.socket,
      since,
      deadline: Date.now() + (this.opts.healthTimeoutMs ?? 60_000),
      expectCri,
      baseline: this.before.plugins,
      onProgress: (d) => this.opts.onStep?.('health', d),
    });
    if (!h.ok) throw new InstallError(`${r.code !== 0 ? `systemctl restart failed: ${failure(r)}\n` : ''}${h.detail}`, 'health');
    return h.detail;
  }

  /** The daemon answering on the socket is the version we installed (and the unit runs our binary). */
  private async confirmVersion(): Promise<string | undefined> {
    const r = await run(this.conn, ['sh', '-c', 'PATH="$PATH:/usr/local/bin"; ctr --address "$1" --connect-timeout 5s version', 'containerd-taskserv', this.paths.socket], { timeoutMs: 30_000 });
    if (r.code !== 0) throw new InstallError(`ctr version failed: ${failure(r)}`, 'health');
    const server = /^Server:[\s\S]*?Version:\s*(\S+)/m.exec(r.stdout)?.[1];
    const v = parseContainerdVersion(server ? ` ${server}` : undefined);
    if (this.target && v && v !== this.target) throw new InstallError(`the running containerd is ${v}, expected ${this.target}`, 'health');
    const bin = this.containerdBinary();
    if (bin) {
      const exe = await run(this.conn, ['sh', '-c', 'readlink -f "/proc/$(systemctl show -p MainPID --value -- "$1")/exe"', 'containerd-taskserv', this.paths.service], { timeoutMs: 30_000 });
      if (exe.stdout.trim() !== bin) throw new InstallError(`the service runs ${exe.stdout.trim() || '?'}, not ${bin}`, 'health');
    }
    return v;
  }

  // -- rollback -----------------------------------------------------------------------------------

  private async rollback(): Promise<void> {
    const r = this.report;
    const b = this.before;
    const svc = this.paths.service;
    const a = this.artifact;
    await this.step('rollback', async () => {
      const done: string[] = [];
      if (!this.backupDir) throw new InstallError('no backup to restore', 'rollback');
      if (b.method === 'none') {
        await run(this.conn, ['systemctl', 'disable', '--now', '--', svc], { timeoutMs: 120_000 }).catch(() => undefined);
        if (a && (a.kind === 'package' || a.kind === 'deb')) {
          const p = await run(this.conn, [...APT_ENV, 'dpkg', '--purge', this.packageName], { timeoutMs: 600_000 });
          if (p.code !== 0 && !/not installed/.test(p.stderr)) throw new InstallError(`dpkg --purge ${this.packageName}: ${failure(p)}`, 'rollback');
          done.push(`package ${this.packageName} purged`);
        } else if (a && a.kind === 'rpm') {
          const p = await run(this.conn, ['rpm', '-e', this.packageName], { timeoutMs: 600_000 });
          if (p.code !== 0 && !/not installed/.test(p.stdout + p.stderr)) throw new InstallError(`rpm -e ${this.packageName}: ${failure(p)}`, 'rollback');
          done.push(`package ${this.packageName} removed`);
        }
      }
      await must(sh(this.conn, RESTORE_SCRIPT, [this.backupDir, `.taskserv-restore-${this.id}`], { timeoutMs: 600_000 }), `restoring ${this.backupDir}`, 'rollback');
      done.push(`files of ${this.backupDir} restored`);
      await run(this.conn, ['systemctl', 'daemon-reload'], { timeoutMs: 120_000 });
      await run(this.conn, ['systemctl', 'reset-failed', '--', svc], { timeoutMs: 60_000 });
      if (b.method === 'none') return done.join('; ');
      if (b.unit.enabled === 'enabled') await run(this.conn, ['systemctl', 'enable', '--', svc], { timeoutMs: 120_000 });
      else if (b.unit.enabled === 'disabled') await run(this.conn, ['systemctl', 'disable', '--', svc], { timeoutMs: 120_000 });
      if (b.unit.active !== 'active') {
        await run(this.conn, ['systemctl', 'stop', '--', svc], { timeoutMs: 120_000 });
        return `${done.join('; ')}; ${svc} left stopped, as it was`;
      }
      // the old containerd again, healthy
      await sleep(200);
      const rs = await sh(this.conn, RESTART_SCRIPT, [svc], { timeoutMs: 150_000 });
      const since = Number.parseInt(rs.stdout.trim().split('\n')[0] ?? '', 10) || undefined;
      const h = await checkHealth(this.conn, {
        service: svc,
        socket: this.paths.socket,
        since,
        deadline: Date.now() + (this.opts.healthTimeoutMs ?? 60_000),
        expectCri: b.plugins ? b.plugins.some((p) => p.type === 'io.containerd.grpc.v1' && p.id === 'cri' && p.status === 'ok') : false,
        baseline: b.plugins,
        onProgress: (d) => this.opts.onStep?.('rollback', d),
      });
      if (!h.ok) throw new InstallError(`the previous containerd is back but not healthy: ${h.detail}`, 'rollback');
      done.push(`containerd ${b.version ?? ''} active again`);
      if (a && (a.kind === 'package' || a.kind === 'deb' || a.kind === 'rpm') && (b.method === 'deb' || b.method === 'rpm')) {
        const q = b.method === 'deb'
          ? await run(this.conn, ['dpkg-query', '-W', '-f=${Version}', this.packageName], { timeoutMs: 30_000 })
          : await run(this.conn, ['rpm', '-q', '--qf', '%{VERSION}-%{RELEASE}', this.packageName], { timeoutMs: 30_000 });
        const now = q.stdout.trim();
        if (now && b.packageVersion && now !== b.packageVersion) {
          this.report.notes.push(`the package database still records ${this.packageName} ${now} although the files of ${b.packageVersion} are back; reinstall ${this.packageName}=${b.packageVersion} when the host can reach its package sources`);
        }
      }
      return done.join('; ');
    }, (d) => d)
      .then(() => {
        r.rolledBack = true;
        r.notes = r.notes.filter((n) => n !== this.shadowNote);
      })
      .catch((e) => {
        r.rollbackError = errText(e) + (this.backupDir ? ` (the previous files are kept in ${this.backupDir})` : '');
      });
  }
}

interface StagedListing {
  dir: string;
  entries: ReturnType<typeof parseFindListing>;
}

/** Result for hosts that could not even be connected to. */
export function failedReport(host: string, operation: 'install' | 'upgrade', error: string, cancelled = false): InstallReport {
  return { host, ok: false, operation, steps: [], notes: [], error, cancelled: cancelled || undefined };
}
