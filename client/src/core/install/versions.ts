/**
 * Pure helpers of the install core (no I/O): versions, the config-version boundary rule,
 * checksum files, release archive names, staged archive listings, the systemd unit we write.
 */
import { configVersionSupport, nativeConfigVersion, parseRelease, type Release } from '../../../../server/src/schema/releases';

export const DEFAULT_PREFIX = '/usr/local';

const SEMVER = /(?:^|[\s/])v?(\d+)\.(\d+)\.(\d+)/;

/** X.Y.Z from `containerd --version` ("containerd github.com/containerd/containerd 1.6.20~ds1 …", "containerd containerd.io v2.0.0 …"). */
export function parseContainerdVersion(text: string | undefined): string | undefined {
  if (!text) return undefined;
  const m = SEMVER.exec(text);
  return m ? `${m[1]}.${m[2]}.${m[3]}` : undefined;
}

/** The upstream release of a distribution package version: `1:1.6.20~ds1-1+deb12u3` → `1.6.20`. */
export function upstreamOfPackageVersion(v: string | undefined): string | undefined {
  if (!v) return undefined;
  const m = /^(?:\d+:)?(\d+)\.(\d+)\.(\d+)/.exec(v.trim());
  return m ? `${m[1]}.${m[2]}.${m[3]}` : undefined;
}

export function compareReleases(a: string, b: string): number {
  const x = parseRelease(a);
  const y = parseRelease(b);
  if (!x || !y) return 0;
  return x.major - y.major || x.minor - y.minor || (x.patch ?? 0) - (y.patch ?? 0);
}

export function isRelease(v: string | undefined): v is string {
  return !!v && /^\d+\.\d+\.\d+$/.test(v);
}

/** `version = N` of a config.toml text (top level, before any table); 1 when absent. */
export function configVersionOf(text: string): number {
  for (const line of text.split('\n')) {
    const l = line.trim();
    if (l.startsWith('[')) break;
    const m = /^version\s*=\s*(\d+)/.exec(l);
    if (m) return Number(m[1]);
  }
  return 1;
}

export interface BoundaryInput {
  /** Release installed now (undefined: none or unknown). */
  from?: string;
  /** Release to install. */
  to?: string;
  /** `version` of the config.toml on the host (undefined: no config file). */
  hostConfigVersion?: number;
  /** `version` of the config.toml the plan deploys with the binaries (undefined: the host's stays). */
  planConfigVersion?: number;
  allow?: boolean;
}

export type BoundaryVerdict = { ok: true; note?: string } | { ok: false; reason: string };

/**
 * May `to` be installed given the config that will be in place? A release reads config versions
 * up to a maximum (1.x: 2, 2.0–2.2: 3, 2.3+: 4). Going down across that boundary (2.x → 1.x with a
 * version 3 config) is refused unless the plan deploys a config the target reads — the migrated
 * one — or the caller says it migrated the config itself (`allow`).
 */
export function checkConfigBoundary(i: BoundaryInput): BoundaryVerdict {
  const to = parseRelease(i.to);
  if (!to) return { ok: true, note: 'target release unknown: config version not checked before installing' };
  const { max } = configVersionSupport(to);
  const down = i.from && i.to ? compareReleases(i.to, i.from) < 0 : false;
  if (i.planConfigVersion !== undefined) {
    if (i.planConfigVersion > max) {
      return { ok: false, reason: `the config to deploy is version ${i.planConfigVersion}, but containerd ${i.to} reads config versions up to ${max}; render the taskserv for ${i.to} (config version ${nativeConfigVersion(to)})` };
    }
    return { ok: true, note: down ? `downgrade ${i.from} → ${i.to} with a config of version ${i.planConfigVersion}` : undefined };
  }
  if (i.hostConfigVersion !== undefined && i.hostConfigVersion > max) {
    if (i.allow) return { ok: true, note: `config version ${i.hostConfigVersion} kept although containerd ${i.to} reads up to ${max} (allowed by the caller)` };
    return {
      ok: false,
      reason:
        `refusing to ${down ? 'downgrade' : 'install'} containerd ${i.from ? `${i.from} → ` : ''}${i.to}: the host's config.toml is version ${i.hostConfigVersion}, ` +
        `which containerd ${i.to} cannot read (it reads up to version ${max}). Migrate the config too: deploy a taskserv rendered for ${i.to} with the ${down ? 'downgrade' : 'install'}.`,
    };
  }
  return { ok: true, note: down ? `downgrade ${i.from} → ${i.to}` : undefined };
}

/** The sha256 in a `.sha256sum` file: the line naming `fileName` (else the only/first hash). */
export function parseSha256File(text: string, fileName?: string): string | undefined {
  const rows: { hash: string; name: string }[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*([0-9a-fA-F]{64})(?:\s+\*?(\S.*))?\s*$/.exec(line);
    if (m) rows.push({ hash: m[1].toLowerCase(), name: (m[2] ?? '').trim() });
  }
  if (!rows.length) return undefined;
  if (fileName) {
    const base = fileName.slice(fileName.lastIndexOf('/') + 1);
    const hit = rows.find((r) => r.name === base || r.name.endsWith(`/${base}`));
    if (hit) return hit.hash;
    if (rows.length > 1 || rows[0].name) return undefined; // names something else
  }
  return rows[0].hash;
}

export function isSha256(s: string | undefined): s is string {
  return !!s && /^[0-9a-fA-F]{64}$/.test(s);
}

/** containerd's official release archive URL. */
export function officialTarballUrl(version: string, arch: string): string {
  return `https://github.com/containerd/containerd/releases/download/v${version}/containerd-${version}-linux-${arch}.tar.gz`;
}

/** Version and arch from a release archive's name (`containerd-1.7.18-linux-amd64.tar.gz`). */
export function parseTarballName(name: string): { version: string; arch: string } | undefined {
  const m = /(?:^|\/)containerd-(?:static-)?(\d+\.\d+\.\d+)-linux-(amd64|arm64)\.tar\.gz$/.exec(name);
  return m ? { version: m[1], arch: m[2] } : undefined;
}

/** Debian/rpm architecture name → release archive arch. */
export function archOf(machine: string | undefined): 'amd64' | 'arm64' | undefined {
  switch ((machine ?? '').trim()) {
    case 'x86_64':
    case 'amd64':
      return 'amd64';
    case 'aarch64':
    case 'arm64':
      return 'arm64';
    default:
      return undefined;
  }
}

export type ArtifactKind = 'deb' | 'rpm' | 'tarball' | 'binary';

/** What a file is, by its name. */
export function artifactKindOf(name: string): ArtifactKind {
  if (/\.deb$/i.test(name)) return 'deb';
  if (/\.rpm$/i.test(name)) return 'rpm';
  if (/\.(tar\.gz|tgz)$/i.test(name)) return 'tarball';
  return 'binary';
}

export interface StagedEntry {
  type: 'f' | 'd' | 'l' | string;
  mode: number;
  /** Relative path inside the archive, without a leading `./`. */
  path: string;
}

/** `find DIR -printf '%y %m %P\n'` → entries. */
export function parseFindListing(out: string): StagedEntry[] {
  const rows: StagedEntry[] = [];
  for (const line of out.split('\n')) {
    const m = /^(\S) ([0-7]+) (.+)$/.exec(line);
    if (m) rows.push({ type: m[1], mode: parseInt(m[2], 8), path: m[3] });
  }
  return rows;
}

export interface TarballLayout {
  /** Files to install: archive path → path under the prefix (`bin/ctr` → `bin/ctr`). */
  files: { from: string; to: string; mode: number }[];
  /** The archive's own containerd.service, if it has one. */
  unit?: string;
}

const UNIT_PATHS = /^(?:usr\/local\/)?(?:lib|etc)\/systemd\/system\/containerd\.service$/;

/**
 * Check an extracted release archive: only regular files under bin/ or sbin/ (plus an optional
 * containerd.service) — no links, devices or other trees — and it must hold bin/containerd.
 */
export function tarballLayout(entries: StagedEntry[]): TarballLayout | { error: string } {
  const files: TarballLayout['files'] = [];
  let unit: string | undefined;
  for (const e of entries) {
    if (!e.path || e.type === 'd') continue;
    if (e.type !== 'f') return { error: `the archive has ${e.type === 'l' ? 'a symbolic link' : `an entry of type ${e.type}`} (${e.path}); only regular files are installed` };
    if (UNIT_PATHS.test(e.path)) {
      unit = e.path;
      continue;
    }
    const m = /^(?:usr\/local\/)?((?:bin|sbin)\/[A-Za-z0-9._+-]+)$/.exec(e.path);
    if (!m) return { error: `unexpected file ${e.path} in the archive (a containerd release archive holds bin/*)` };
    files.push({ from: e.path, to: m[1], mode: e.mode & 0o755 });
  }
  if (!files.some((f) => f.to === 'bin/containerd')) return { error: 'the archive has no bin/containerd' };
  return { files, unit };
}

/** The systemd unit for a tarball install (the archive has none): containerd from `<prefix>/bin`. */
export function systemdUnit(prefix: string): string {
  return `# Written by containerd-taskserv for containerd installed under ${prefix}.
[Unit]
Description=containerd container runtime
Documentation=https://containerd.io
After=network.target local-fs.target

[Service]
ExecStartPre=-/sbin/modprobe overlay
ExecStart=${prefix}/bin/containerd
Type=notify
Delegate=yes
KillMode=process
Restart=always
RestartSec=5
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
OOMScoreAdjust=-999

[Install]
WantedBy=multi-user.target
`;
}

/** A safe absolute path for a file we install (no `..`, no control characters, no spaces). */
export function isSafeAbsPath(p: string | undefined): p is string {
  return !!p && /^\/[A-Za-z0-9._+\-/]*$/.test(p) && !p.split('/').includes('..') && !p.endsWith('/');
}

/** A package name as apt/dnf accept it. */
export function isPackageName(s: string | undefined): s is string {
  return !!s && /^[a-z0-9][a-z0-9+.\-_]{0,99}$/.test(s);
}

/** A distribution package version (`1:1.6.20~ds1-1+deb12u3`, `1.7.18-1.el9`). */
export function isPackageVersion(s: string | undefined): s is string {
  return !!s && /^[0-9][A-Za-z0-9.+~:_-]{0,99}$/.test(s);
}

/**
 * The newest apt-cache madison / dnf --showduplicates version matching release `want`
 * (its upstream part is `want`); the list is in the tool's order (apt: newest first).
 */
export function pickPackageVersion(versions: string[], want: string | undefined): string | undefined {
  if (!want) return versions[0];
  return versions.find((v) => upstreamOfPackageVersion(v) === want);
}

/** Versions from `apt-cache madison PKG` (` pkg | 1.6.20~ds1-1 | url dist/main amd64 Packages`). */
export function parseMadison(out: string, pkg: string): string[] {
  const seen: string[] = [];
  for (const line of out.split('\n')) {
    const cols = line.split('|').map((c) => c.trim());
    if (cols.length >= 3 && cols[0] === pkg && isPackageVersion(cols[1]) && !seen.includes(cols[1])) seen.push(cols[1]);
  }
  return seen;
}

/** Versions from `dnf list --showduplicates PKG` (`containerd.x86_64  1.7.18-1.fc40  updates`), newest last → newest first. */
export function parseDnfList(out: string, pkg: string): string[] {
  const seen: string[] = [];
  for (const line of out.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols.length >= 3 && cols[0].replace(/\.[^.]+$/, '') === pkg && isPackageVersion(cols[1]) && !seen.includes(cols[1])) seen.push(cols[1]);
  }
  return seen.reverse();
}

export type { Release };
