/**
 * Markdown documentation for a schema node, shared by hover and completion: description,
 * type, the default for the targeted release, the releases where the key is valid,
 * deprecation/replacement, the equivalent key in the other config layout and a link to
 * containerd's docs for that release.
 */
import type { SchemaNode, XContainerd } from '../schema/catalog';
import { typeOf, isArrayOfTables, isTable } from '../schema/catalog';
import {
  availableIn,
  describeVersions,
  docsUrl,
  formatRelease,
  isKnownSeries,
  nativeConfigVersion,
  parseRelease,
  type Release,
} from '../schema/releases';
import type { DocContext } from './context';
import { tomlString } from '../tree/keypath';

/** Extra fields the generator writes that the catalog's XContainerd type does not list. */
interface XExtra extends XContainerd {
  allowedValues?: unknown[];
  runtimeTypesExcluded?: string[];
  keyMatching?: string;
  plugin?: string;
  note?: string;
}

export function xOf(node: SchemaNode): XExtra {
  return (node['x-containerd'] ?? {}) as XExtra;
}

// ---------------------------------------------------------------------------------------
// TOML value formatting


export function formatTomlValue(v: unknown, depth = 0): string {
  if (v === null || v === undefined) return '""';
  if (typeof v === 'string') return tomlString(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) {
    if (depth > 4) return '[…]';
    return '[' + v.map((x) => formatTomlValue(x, depth + 1)).join(', ') + ']';
  }
  if (typeof v === 'object') {
    if (depth > 4) return '{…}';
    const entries = Object.entries(v as Record<string, unknown>);
    if (!entries.length) return '{}';
    return '{ ' + entries.map(([k, x]) => `${/^[A-Za-z0-9_-]+$/.test(k) ? k : tomlString(k)} = ${formatTomlValue(x, depth + 1)}`).join(', ') + ' }';
  }
  return String(v);
}

/** Short type label: `boolean`, `duration`, `array of string`, `table`, `table (map)`. */
export function typeLabel(node: SchemaNode): string {
  if (isArrayOfTables(node)) return 'array of tables';
  const t = typeOf(node);
  if (t === 'string' && node.format === 'duration') return 'duration';
  if (t === 'array') {
    const it = node.items ? typeOf(node.items) : undefined;
    return it ? `array of ${it}` : 'array';
  }
  if (t === 'object' || isTable(node)) {
    if (node['x-map']) return 'table (map)';
    return 'table';
  }
  return t ?? 'any';
}

// ---------------------------------------------------------------------------------------
// Releases

type Tuple = [number, number, number];

function boundOf(text: string, upper: boolean): Tuple | undefined {
  const m = /^(\d+)(?:\.(\d+|x))?(?:\.(\d+|x))?$/.exec(text.trim());
  if (!m) return undefined;
  const open = upper ? Infinity : 0;
  const major = Number(m[1]);
  const minor = m[2] === undefined || m[2] === 'x' ? open : Number(m[2]);
  const patch = m[3] === undefined || m[3] === 'x' ? open : Number(m[3]);
  return [major, minor, patch];
}

function cmp(a: Tuple, b: Tuple): number {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return 0;
}

/**
 * Does a free-form `defaultHistory` versions text ("1.7.0-1.7.9", "1.7.10+ and 2.x", "2.0+",
 * "1.x", "2.0.x-2.1.x") cover release `r`? A series-only release stands for its latest patch.
 */
export function historyCovers(spec: string, r: Release): boolean {
  const rel: Tuple = [r.major, r.minor, r.patch ?? Infinity];
  for (const part of spec.split(/\s*(?:,|\band\b)\s*/)) {
    const p = part.trim();
    if (!p) continue;
    let lo: Tuple | undefined;
    let hi: Tuple | undefined;
    if (p.endsWith('+')) {
      lo = boundOf(p.slice(0, -1), false);
      hi = [Infinity, Infinity, Infinity];
    } else if (p.includes('-')) {
      const [a, b] = p.split('-', 2);
      lo = boundOf(a, false);
      hi = boundOf(b, true);
    } else {
      lo = boundOf(p, false);
      hi = boundOf(p, true);
    }
    if (lo && hi && cmp(lo, rel) <= 0 && cmp(rel, hi) <= 0) return true;
  }
  return false;
}

/** The default containerd uses in release `r` (defaultHistory when it names the release). */
export function defaultFor(node: SchemaNode, r: Release): { value: unknown; fromHistory?: string } | undefined {
  const hist = xOf(node).defaultHistory;
  if (hist) {
    for (const h of hist) if (historyCovers(h.versions, r)) return { value: h.value, fromHistory: h.versions };
  }
  if (node.default !== undefined) return { value: node.default };
  return undefined;
}

/**
 * Is the node usable in the document's target release? Unknown series (a pin newer than the
 * schemas know) count as available. A version-2 key on a 2.x release counts as available when
 * containerd migrates it (it has a v3 path).
 */
export function availableForDoc(node: SchemaNode, ctx: Pick<DocContext, 'release' | 'configVersion'>): boolean {
  if (!isKnownSeries(ctx.release)) return true;
  const x = xOf(node);
  if (availableIn(x.versions, ctx.release)) return true;
  return !!x.migration?.v3Path && nativeConfigVersion(ctx.release) > ctx.configVersion;
}

/**
 * Is the node deprecated in release `r`? A deprecation that starts in a later release
 * (grpc.address is "deprecated since 2.3.0 (config version 4)" but the v2 schema lists it
 * too) does not count for releases before it; without a release any deprecation counts.
 */
export function isDeprecated(node: SchemaNode, r?: Release): boolean {
  const dep = xOf(node).deprecated;
  if (!(node.deprecated === true || dep)) return false;
  if (!r) return true;
  const since = parseRelease(dep?.since);
  if (!since) return true;
  return cmp([r.major, r.minor, r.patch ?? Infinity], [since.major, since.minor, since.patch ?? 0]) >= 0;
}

function isCriNode(node: SchemaNode): boolean {
  const x = xOf(node);
  const p = x.plugin ?? x.path ?? '';
  return /\bcri\b|grpc\.v1\.cri|cri\.v1\./.test(p);
}

// ---------------------------------------------------------------------------------------
// Markdown

export interface DocOptions {
  /** The key as written in the document when it differs from the schema's spelling. */
  writtenAs?: string;
  /** Hovering a value: the value's source text. */
  value?: string;
  /** A user-named map entry (`runc` in `runtimes.runc`). */
  mapEntry?: boolean;
  /** Leave out the link line (completion items keep it short). */
  noLink?: boolean;
}

function code(s: string): string {
  const ticks = s.includes('`') ? '``' : '`';
  const pad = s.startsWith('`') || s.endsWith('`') ? ' ' : '';
  return `${ticks}${pad}${s}${pad}${ticks}`;
}

function oneLine(v: unknown): string {
  const s = formatTomlValue(v);
  return s.length > 200 ? s.slice(0, 197) + '…' : s;
}

const docsCache = new WeakMap<SchemaNode, Map<string, string>>();

/** Markdown docs for `key` whose schema is `node`, for the document context `ctx`. */
export function keyDocs(node: SchemaNode, key: string, ctx: DocContext, opts: DocOptions = {}): string {
  if (opts.value !== undefined || opts.writtenAs !== undefined) return buildDocs(node, key, ctx, opts);
  // Completion asks for the same docs on every keystroke: cache per node and context.
  const ck = [key, formatRelease(ctx.release), ctx.configVersion, ctx.releaseSource, !!opts.mapEntry, !!opts.noLink].join('\u0000');
  let m = docsCache.get(node);
  if (!m) docsCache.set(node, (m = new Map()));
  let md = m.get(ck);
  if (md === undefined) {
    md = buildDocs(node, key, ctx, opts);
    if (m.size > 64) m.clear();
    m.set(ck, md);
  }
  return md;
}

function buildDocs(node: SchemaNode, key: string, ctx: DocContext, opts: DocOptions): string {
  const x = xOf(node);
  const rel = formatRelease(ctx.release);
  const out: string[] = [];
  const kind = typeLabel(node);
  const head = opts.mapEntry ? `${code(key)} — entry of a ${kind === 'table' ? 'map' : kind}` : `${code(key)}: ${kind}`;
  out.push(`**${head}**` + (isDeprecated(node, ctx.release) ? ' — *deprecated*' : ''));
  if (opts.writtenAs && opts.writtenAs !== key) {
    out.push(`Written here as ${code(opts.writtenAs)}; containerd matches it to ${code(key)} (case-insensitive).`);
  }
  if (node.description) out.push(node.description);

  const facts: string[] = [];
  if (opts.value !== undefined) {
    const d = defaultFor(node, ctx.release);
    const isDefault = d !== undefined && formatTomlValue(d.value) === opts.value.trim();
    facts.push(`**Value:** ${code(opts.value.trim())}${isDefault ? ' (the default)' : ''}`);
  }
  if (!isTable(node) || node.default !== undefined) {
    const d = defaultFor(node, ctx.release);
    if (d) {
      const where = d.fromHistory ? ` (containerd ${d.fromHistory})` : '';
      let line = `**Default in ${rel}:** ${code(oneLine(d.value))}${where}`;
      if (x.defaultNote) line += ` — ${x.defaultNote}`;
      facts.push(line);
    } else if (x.defaultNote) {
      facts.push(`**Default:** ${x.defaultNote}`);
    }
    if (x.defaultWindows !== undefined) facts.push(`**Default on Windows:** ${code(oneLine(x.defaultWindows))}`);
    if (x.defaultHistory && x.defaultHistory.length > 1) {
      facts.push('**Default by release:** ' + x.defaultHistory.map((h) => `${h.versions}: ${code(oneLine(h.value))}`).join('; '));
    }
  }
  if (node.enum && node.enum.length) {
    facts.push('**Allowed values:** ' + node.enum.map((v) => code(formatTomlValue(v))).join(', '));
  } else if (x.allowedValues && x.allowedValues.length) {
    facts.push('**Allowed values:** ' + x.allowedValues.map((v) => code(String(v))).join(', ') + ' (not exhaustive)');
  }
  if (x.allowedValuesNote) facts.push(`**Values:** ${x.allowedValuesNote}`);
  if (node.format === 'duration') facts.push('**Format:** a Go duration such as `10s`, `5m0s` or `1h30m`.');
  if (x.appliesWhen) facts.push(`**Applies when:** ${x.appliesWhen}`);
  if (x.platforms && x.platforms.length) facts.push(`**Platforms:** ${x.platforms.join(', ')}`);

  const validIn = describeVersions(x.versions);
  let versionsLine = `**Valid in containerd:** ${validIn}`;
  if (x.removedIn) versionsLine += ` (removed in ${x.removedIn})`;
  facts.push(versionsLine);
  if (x.versions && isKnownSeries(ctx.release) && !availableIn(x.versions, ctx.release)) {
    const migrated = availableForDoc(node, ctx);
    facts.push(
      migrated
        ? `⚠️ Not read directly by containerd ${rel}: it migrates this key to the version 3 layout on load.`
        : `⚠️ **Not available in containerd ${rel}**, the release this file targets (${sourceText(ctx)}).`,
    );
  }

  const dep = x.deprecated;
  if (dep || node.deprecated) {
    const parts: string[] = [];
    if (dep?.since) parts.push(`since ${dep.since}`);
    if (dep?.removedIn) parts.push(`removed in ${dep.removedIn}`);
    else if (dep?.removalTarget) parts.push(`removal planned for ${dep.removalTarget}`);
    const later = !isDeprecated(node, ctx.release);
    let line = (later ? `**Deprecated in later releases** (not yet in ${rel})` : '**Deprecated**') + (parts.length ? ' ' + parts.join(', ') : '') + '.';
    if (dep?.replacement) line += ` **Use instead:** ${code(dep.replacement)}.`;
    if (dep?.note) line += ` ${dep.note}`;
    if (!dep && node.deprecationMessage) line = `**Deprecated:** ${node.deprecationMessage}`;
    facts.push(line);
  }
  const mig = x.migration;
  if (mig?.v3Path) facts.push(`**Config version 3:** ${code(mig.v3Path)}` + (mig.note ? ` — ${mig.note}` : ''));
  if (mig?.v2Path) facts.push(`**Config version 2:** ${code(mig.v2Path)}`);
  if (ctx.configVersion === 1 && x.path && x.v1Path) facts.push(`**Config version 2 form:** ${code(x.path)}`);
  if (x.keyMatching) facts.push(`**Key matching:** ${x.keyMatching}`);
  if (x.validation) facts.push(`**If wrong:** ${x.validation}`);
  if (x.note) facts.push(x.note);

  out.push(facts.join('  \n'));
  if (!opts.noLink) {
    out.push(`[containerd ${rel} configuration docs](${docsUrl(ctx.release, isCriNode(node))})`);
  }
  return out.filter((s) => s.length > 0).join('\n\n');
}

function sourceText(ctx: DocContext): string {
  switch (ctx.releaseSource) {
    case 'pin':
      return 'pinned by the `# containerd:` comment';
    case 'setting':
      return 'from the default-release setting';
    default:
      return `assumed for config version ${ctx.configVersion}`;
  }
}
