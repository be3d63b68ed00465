/**
 * containerd releases and config versions: which file versions a release reads, and
 * whether a key's `x-containerd.versions` record covers a given release.
 */

export interface Release {
  major: number;
  minor: number;
  /** Absent when only the series is known ("1.7"): we then assume its latest patch. */
  patch?: number;
}

export type ConfigVersion = 1 | 2 | 3 | 4;

/** The minor series the schemas know about, oldest first. */
export const SERIES = ['1.5', '1.6', '1.7', '2.0', '2.1', '2.2', '2.3'] as const;

export function parseRelease(text: string | undefined): Release | undefined {
  if (!text) return undefined;
  const m = /^\s*v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  if (!m) return undefined;
  const r: Release = { major: Number(m[1]), minor: Number(m[2]) };
  if (m[3] !== undefined) r.patch = Number(m[3]);
  return r;
}

export function formatRelease(r: Release): string {
  return r.patch === undefined ? `${r.major}.${r.minor}` : `${r.major}.${r.minor}.${r.patch}`;
}

export function seriesOf(r: Release): string {
  return `${r.major}.${r.minor}`;
}

export function isKnownSeries(r: Release): boolean {
  return (SERIES as readonly string[]).includes(seriesOf(r));
}

function cmpPatch(a: string, b: number): number {
  const p = parseRelease(a);
  return (p?.patch ?? 0) - b;
}

/**
 * Does a `versions` record ({"1.7": "1.7.4+", "2.0": "all", ...}) cover release `r`?
 * With a series-only release, "X+" counts as available (the latest patch has it) and
 * "X-Y" as not available (the latest patch no longer has it).
 */
export function availableIn(versions: Record<string, string> | undefined, r: Release): boolean {
  if (!versions) return true;
  const spec = versions[seriesOf(r)];
  if (spec === undefined) return false;
  if (spec === 'all' || spec === seriesOf(r)) return true;
  const plus = /^(\d+\.\d+\.\d+)\+$/.exec(spec);
  if (plus) return r.patch === undefined || cmpPatch(plus[1], r.patch) <= 0;
  const range = /^(\d+\.\d+\.\d+)-(\d+\.\d+\.\d+)$/.exec(spec);
  if (range) {
    if (r.patch === undefined) return false;
    return cmpPatch(range[1], r.patch) <= 0 && cmpPatch(range[2], r.patch) >= 0;
  }
  return true;
}

/** Human summary of a versions record: "1.6, 1.7 (from 1.7.4), 2.0–2.2". */
export function describeVersions(versions: Record<string, string> | undefined): string {
  if (!versions) return 'all releases';
  const parts: string[] = [];
  for (const s of SERIES) {
    const v = versions[s];
    if (v === undefined) continue;
    if (v === 'all' || v === s) parts.push(s);
    else if (v.endsWith('+')) parts.push(`${s} (from ${v.slice(0, -1)})`);
    else parts.push(`${s} (${v.replace('-', ' to ')} only)`);
  }
  return parts.length ? parts.join(', ') : 'no release';
}

/** The first series (in order) where the key exists, e.g. for "added in 2.0". */
export function firstSeries(versions: Record<string, string> | undefined): string | undefined {
  if (!versions) return undefined;
  return SERIES.find((s) => versions[s] !== undefined);
}

/**
 * The highest config `version` a release accepts, and how it treats a higher one.
 * 1.6.0–1.6.31 and 1.7.0–1.7.16 silently read `version = 3` as 2; later 1.x patches reject it.
 */
export function configVersionSupport(r: Release): { max: ConfigVersion; lenientAbove: boolean } {
  if (r.major < 2) {
    const strict =
      r.patch === undefined ||
      (r.minor === 6 && r.patch >= 32) ||
      (r.minor === 7 && r.patch >= 17) ||
      r.minor > 7;
    return { max: 2, lenientAbove: !strict && r.minor >= 6 };
  }
  if (r.major === 2 && r.minor <= 2) return { max: 3, lenientAbove: false };
  return { max: 4, lenientAbove: false };
}

/** The release we assume when nothing pins one: the newest series that writes this file version. */
export function defaultReleaseFor(v: ConfigVersion): Release {
  switch (v) {
    case 1:
    case 2:
      return { major: 1, minor: 7 };
    case 3:
      return { major: 2, minor: 2 };
    case 4:
      return { major: 2, minor: 3 };
  }
}

/** The config version `containerd config default` of that release writes. */
export function nativeConfigVersion(r: Release): ConfigVersion {
  if (r.major < 2) return 2;
  if (r.major === 2 && r.minor <= 2) return 3;
  return 4;
}

/** Link to containerd's config documentation for a release. */
export function docsUrl(r: Release, cri: boolean): string {
  const tag = r.patch === undefined ? `release/${r.major}.${r.minor}` : `v${formatRelease(r)}`;
  const file = cri ? 'docs/cri/config.md' : 'docs/man/containerd-config.toml.5.md';
  return `https://github.com/containerd/containerd/blob/${tag}/${file}`;
}
