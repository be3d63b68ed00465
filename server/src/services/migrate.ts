/**
 * Rewrite a config version 2 (or version 1 / version-less) file as config version 3, the
 * way containerd 2.x's `containerd config migrate` would.
 *
 * Every leaf of the source (scalar, plain array, empty table, array of tables as a whole)
 * is mapped to its version 3 path:
 * 1. Version 1 short plugin IDs (`plugins.cri`) become full IDs (v1 schema's
 *    `x-containerd.plugin`, else containerd's fallback `io.containerd.service.v1.<id>` for
 *    `*-service` and `io.containerd.grpc.v1.<id>`).
 * 2. The v2 schema node's `x-containerd.migration.v3Path` (with `<name>` placeholders filled
 *    in order from the concrete path) gives the new path; `migration.v3Path: null` means the
 *    key has no version 3 equivalent and is dropped with a note.
 * 3. Otherwise, a key that is valid as-is in the v3 schema is kept.
 * 4. Otherwise the nearest ancestor with a `v3Path` decides (e.g. runhcs options below
 *    `runtimes.<name>.options`); ancestors that were removed drop the key.
 * 5. Keys unknown to the v2 schema follow their nearest mapped ancestor (kept, with a note,
 *    so the v3 file still shows the same "unknown key" warning); keys of unknown plugins and
 *    other free tables are kept unchanged.
 * Special cases from containerd's migration: `sched_core = true` becomes
 * `io.containerd.shim.v1.manager` `env = ["SCHED_CORE=1"]`; a string moved to an array key
 * (`cni.bin_dir` -> `cni.bin_dirs`) is wrapped in an array; plugin IDs in
 * `disabled_plugins` / `required_plugins` are renamed like the tables.
 *
 * The output imitates `containerd config default`: `version = 3` and the other top-level
 * keys first, then tables (top-level tables in source order, plugin tables sorted by ID,
 * scalars before sub-tables), plugin IDs in double quotes, strings in double quotes,
 * integers without `_`, inline arrays. A table gets a header when it has values of its own,
 * is empty, or is a top-level table; headers are indented 2 spaces per enclosing header and
 * body lines 2 more. Comments are not carried over (containerd's migrate drops them too).
 */
import { formatPath, parsePath, quoteKey, tomlString } from '../tree/keypath';
import type { ObjectNode, Property, ValueNode } from '../tree/model';
import { resolve, schemaFor, isFreeForm, elementOf, type SchemaNode, type XContainerd } from '../schema/catalog';
import type { ServiceDocument } from './context';

export interface MigrationStats {
  /** Leaves whose path did not change. */
  kept: number;
  /** Leaves written under a new path (plugin renames included). */
  moved: number;
  /** Leaves dropped because containerd 2.x no longer has them. */
  dropped: number;
  /** Leaves unknown to the v2 schema, carried over. */
  unknown: number;
}

export interface MigrationResult {
  text: string;
  notes: string[];
  stats: MigrationStats;
}

type OutVal = { kind: 'raw'; text: string } | OutTable | { kind: 'aot'; items: ObjectNode[] };
interface OutTable {
  kind: 'table';
  entries: Map<string, OutVal>;
}

const SCHED_CORE_ENV = '["SCHED_CORE=1"]';

function newTable(): OutTable {
  return { kind: 'table', entries: new Map() };
}

function xOf(node: SchemaNode | undefined): (XContainerd & { plugin?: string }) | undefined {
  return node?.['x-containerd'] as (XContainerd & { plugin?: string }) | undefined;
}

/** The full plugin ID for a version 1 short ID (identity for full IDs). */
export function fullPluginId(id: string): string {
  if (id.includes('.')) return id;
  const node = schemaFor(1).properties?.plugins?.properties?.[id];
  const full = xOf(node)?.plugin;
  if (full) return full;
  return id.endsWith('-service') ? `io.containerd.service.v1.${id}` : `io.containerd.grpc.v1.${id}`;
}

/** The version 3 plugin ID for a version 2 one (`io.containerd.monitor.v1.cgroups` -> `...monitor.task.v1.cgroups`). */
export function v3PluginId(id: string): string {
  const full = fullPluginId(id);
  const node = schemaFor(2).properties?.plugins?.properties?.[full];
  const to = xOf(node)?.migration?.v3Path;
  if (to) {
    const p = parsePath(to);
    if (p.length === 2 && p[0] === 'plugins') return p[1];
  }
  return full;
}

/** Fill `<name>` placeholders of `target` with the concrete names used at `<name>` positions of the source. */
function fillNames(target: string[], schemaPath: readonly string[], concrete: readonly string[]): string[] {
  const names: string[] = [];
  schemaPath.forEach((s, i) => {
    if (s === '<name>') names.push(concrete[i]);
  });
  let n = 0;
  return target.map((s) => (s === '<name>' ? (names[n++] ?? s) : s));
}

type Mapping =
  | { kind: 'keep' | 'move'; to: string[]; unknown?: boolean; removedNote?: string }
  | { kind: 'drop'; reason: string; at: string[] };

function dropReason(x: XContainerd | undefined, path: readonly string[]): string {
  const m = x?.migration?.note;
  const dep = x?.deprecated;
  const parts: string[] = [];
  if (m && !/^moved by/.test(m)) {
    parts.push(m.replace(/;?\s*the key is dropped \([^)]*\)/, '').replace(/^no v3 equivalent/, 'no config version 3 equivalent'));
  }
  else parts.push(`no config version 3 equivalent${x?.removedIn ? ` (removed in containerd ${x.removedIn})` : ''}`);
  if (dep?.replacement) parts.push(`replacement: ${dep.replacement}`);
  void path;
  return parts.join('; ');
}

function mapPath(src: string[]): Mapping {
  const v2 = schemaFor(2);
  const v3 = schemaFor(3);
  const path = src[0] === 'plugins' && src.length >= 2 ? ['plugins', fullPluginId(src[1]), ...src.slice(2)] : [...src];
  const r2 = resolve(v2, path);
  if (r2) {
    const x = xOf(r2.node);
    if (x?.migration && x.migration.v3Path) {
      const to = fillNames(parsePath(x.migration.v3Path), r2.schemaPath, path);
      return { kind: samePath(to, src) ? 'keep' : 'move', to };
    }
    if (x?.migration && 'v3Path' in x.migration && !x.migration.v3Path && !(x.configVersions ?? []).includes(3)) {
      // A dropped ancestor table explains it better (default_runtime, untrusted_workload_runtime).
      for (let i = 1; i < path.length; i++) {
        const ra = resolve(v2, path.slice(0, i));
        const xa = xOf(ra?.node);
        if (xa?.migration && 'v3Path' in xa.migration && !xa.migration.v3Path && !(xa.configVersions ?? []).includes(3)) {
          return { kind: 'drop', reason: dropReason(xa, path.slice(0, i)), at: path.slice(0, i) };
        }
      }
      return { kind: 'drop', reason: dropReason(x, path), at: path };
    }
    const r3 = resolve(v3, path);
    if (r3 && (xOf(r3.node)?.configVersions ?? [3]).includes(3)) {
      return { kind: samePath(path, src) ? 'keep' : 'move', to: path, removedNote: xOf(r3.node)?.removedIn };
    }
  }
  // Nearest ancestor with a decision.
  let removedAncestor: { xa: XContainerd; prefix: string[] } | undefined;
  for (let i = path.length - 1; i >= 1; i--) {
    const prefix = path.slice(0, i);
    const ra = resolve(v2, prefix);
    if (!ra) continue;
    const xa = xOf(ra.node);
    if (xa?.migration && xa.migration.v3Path) {
      const to = [...fillNames(parsePath(xa.migration.v3Path), ra.schemaPath, prefix), ...path.slice(i)];
      const r3 = resolve(v3, to);
      const parent = resolve(v3, to.slice(0, -1));
      if (r3 || !r2 || (parent && isFreeForm(elementOf(parent.node)))) {
        return { kind: 'move', to, unknown: !r2 || !r3 };
      }
      return { kind: 'drop', reason: dropReason(xOf(r2.node), path), at: path };
    }
    if (xa?.migration && 'v3Path' in xa.migration && !xa.migration.v3Path && !(xa.configVersions ?? []).includes(3)) {
      return { kind: 'drop', reason: dropReason(xa, prefix), at: prefix };
    }
    if (xa?.removedIn && !(xa.configVersions ?? []).includes(3)) {
      // Removed here, but a table further up may still say where it went (runtimes.<name>).
      removedAncestor ??= { xa, prefix };
      continue;
    }
    if (resolve(v3, prefix)) break; // the ancestor is unchanged in v3: keep the key where it is
  }
  if (removedAncestor) {
    return { kind: 'drop', reason: dropReason(removedAncestor.xa, removedAncestor.prefix), at: removedAncestor.prefix };
  }
  if (r2) {
    const x = xOf(r2.node);
    if (x?.removedIn || (x?.configVersions && !x.configVersions.includes(3))) {
      return { kind: 'drop', reason: dropReason(x, path), at: path };
    }
  }
  return { kind: samePath(path, src) ? 'keep' : 'move', to: path, unknown: !r2 && !resolve(v3, path) };
}

function samePath(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

// ---------------------------------------------------------------------------------------
// Values


function serialise(v: ValueNode): string {
  switch (v.kind) {
    case 'string':
      if (/^"(?!"")/.test(v.raw) && !v.raw.includes('\n')) return v.raw;
      return tomlString(String(v.value));
    case 'integer':
      if (/^[+-]?[0-9_]+$/.test(v.raw)) return v.raw.replace(/_/g, '').replace(/^\+/, '');
      return String(v.value);
    case 'float':
      return v.raw.replace(/_/g, '');
    case 'boolean':
    case 'datetime':
      return v.raw;
    case 'null':
      return '""';
    case 'array':
      return '[' + v.items.map(serialise).join(', ') + ']';
    case 'object':
      return v.props.length ? '{ ' + v.props.map((p) => `${quoteKey(p.key)} = ${serialise(p.value)}`).join(', ') + ' }' : '{}';
  }
}

// ---------------------------------------------------------------------------------------

export function migrateToV3(sd: ServiceDocument): MigrationResult {
  const doc = sd.parsed;
  const fromVersion = sd.ctx.versionExplicit ? sd.ctx.configVersion : undefined;
  const root = newTable();
  const notes: string[] = [];
  const stats: MigrationStats = { kept: 0, moved: 0, dropped: 0, unknown: 0 };
  const drops = new Map<string, { table: string[]; keys: string[]; reason: string; whole: boolean; count: number }>();
  const emptyDropped: string[] = [];
  const unknownNotes: string[] = [];
  const shortIds = new Set<string>();

  if (fromVersion !== undefined && fromVersion > 2) {
    notes.push(`The file already has version = ${fromVersion}; it was rewritten without changes to its keys.`);
  }

  const put = (to: string[], val: OutVal, from: string[]): boolean => {
    let t = root;
    for (let i = 0; i < to.length - 1; i++) {
      let next = t.entries.get(to[i]);
      if (!next) {
        next = newTable();
        t.entries.set(to[i], next);
      }
      if (next.kind !== 'table') {
        notes.push(`\`${formatPath(from)}\` was not written to \`${formatPath(to)}\`: \`${formatPath(to.slice(0, i + 1))}\` is not a table.`);
        return false;
      }
      t = next;
    }
    const last = to[to.length - 1];
    const existing = t.entries.get(last);
    if (existing) {
      if (existing.kind === 'table' && val.kind === 'table') return true;
      notes.push(`\`${formatPath(from)}\` was not written: \`${formatPath(to)}\` is already set by another key of the file.`);
      return false;
    }
    t.entries.set(last, val);
    return true;
  };

  const drop = (src: string[], at: string[], reason: string, count: boolean): void => {
    if (count) stats.dropped++;
    const whole = at.length < src.length;
    const table = whole ? at : src.slice(0, -1);
    const k = JSON.stringify([table, reason, whole]);
    let d = drops.get(k);
    if (!d) {
      d = { table, keys: [], reason, whole, count: 0 };
      drops.set(k, d);
    }
    if (count) d.count++;
    const rest = formatPath(src.slice(table.length));
    if (!whole && rest && !d.keys.includes(rest)) d.keys.push(rest);
  };

  const leaf = (src: string[], prop: Property): void => {
    if (src.length === 1 && src[0] === 'version') return;
    if (src[0] === 'plugins' && src.length >= 2 && !src[1].includes('.')) shortIds.add(src[1]);
    const isEmptyTable = prop.value.kind === 'object';
    const m = mapPath(src);
    if (isEmptyTable) {
      const r2 = resolve(schemaFor(2), src[0] === 'plugins' && src.length >= 2 ? ['plugins', fullPluginId(src[1]), ...src.slice(2)] : src);
      if (m.kind === 'drop' || r2?.node.deprecated || xOf(r2?.node)?.deprecated) {
        // Nothing is lost: an empty table of a removed or deprecated setting.
        if (!(m.kind === 'drop' && m.at.length < src.length && drops.has(JSON.stringify([m.at, m.reason, true])))) {
          emptyDropped.push(formatPath(src));
        }
        return;
      }
    }
    if (m.kind === 'drop') {
      drop(src, m.at, m.reason, true);
      return;
    }
    let to = m.to;
    let val: OutVal;
    if (prop.value.kind === 'object') val = newTable();
    else if (prop.value.kind === 'array' && prop.value.ofTables) val = { kind: 'aot', items: prop.value.items.filter((i): i is ObjectNode => i.kind === 'object') };
    else val = { kind: 'raw', text: serialise(prop.value) };

    // Special cases of containerd's migration.
    const last = src[src.length - 1];
    if (to[to.length - 1] === 'env' && to[1] === 'io.containerd.shim.v1.manager' && last === 'sched_core') {
      if (prop.value.kind === 'boolean' && prop.value.value === true) {
        val = { kind: 'raw', text: SCHED_CORE_ENV };
        notes.push('`sched_core = true` became `env = ["SCHED_CORE=1"]` in `plugins."io.containerd.shim.v1.manager"`.');
      } else {
        drop(src, src, '`sched_core = false` is the default (no core scheduling); nothing to carry over', true);
        return;
      }
    } else if (val.kind === 'raw' && prop.value.kind !== 'array') {
      const t3 = resolve(schemaFor(3), to);
      const t2 = resolve(schemaFor(2), src);
      if (t3 && t3.node.type === 'array' && t2 && t2.node.type !== 'array') {
        if (prop.value.kind === 'string' && prop.value.value === '') {
          drop(src, src, `empty; \`${formatPath(to)}\` keeps its default`, true);
          return;
        }
        val = { kind: 'raw', text: `[${val.text}]` };
        notes.push(
          `\`${formatPath(src)}\` became \`${formatPath(to)} = ${val.text}\`` +
            (last === 'bin_dir' ? ' (bin_dirs needs containerd 2.1+; for 2.0 rename it back to bin_dir = "…").' : '.'),
        );
      }
    }
    if (src.length === 1 && (last === 'disabled_plugins' || last === 'required_plugins') && prop.value.kind === 'array') {
      const ids = prop.value.items.map((i) => (i.kind === 'string' ? String(i.value) : undefined));
      if (ids.every((i) => i !== undefined)) {
        const renamed = (ids as string[]).map(v3PluginId);
        if (renamed.some((r, i) => r !== ids[i])) {
          notes.push(`\`${last}\`: plugin IDs renamed for containerd 2.x (${ids.filter((x, i) => x !== renamed[i]).map((x, i) => `${x} -> ${renamed.filter((r, j) => r !== ids[j])[i]}`).join(', ')}).`);
        }
        val = { kind: 'raw', text: '[' + renamed.map(tomlString).join(', ') + ']' };
        if (last === 'disabled_plugins' && renamed.includes('io.containerd.grpc.v1.cri')) {
          notes.push(
            'disabled_plugins: in containerd 2.x the CRI is three plugins; disabling only io.containerd.grpc.v1.cri leaves io.containerd.cri.v1.images and io.containerd.cri.v1.runtime loaded (add them to disable CRI completely).',
          );
        }
      }
    }
    if (!put(to, val, src)) return;
    if (isEmptyTable) return;
    if (m.unknown) {
      stats.unknown++;
      unknownNotes.push(
        samePath(to, src)
          ? `\`${formatPath(src)}\``
          : `\`${formatPath(src)}\` -> \`${formatPath(to)}\``,
      );
    } else if (m.kind === 'keep' && samePath(to, src)) stats.kept++;
    else stats.moved++;
    if (m.removedNote) notes.push(`\`${formatPath(to)}\` is kept, but containerd ${m.removedNote} and later no longer read it.`);
  };

  const visit = (obj: ObjectNode, base: string[]): void => {
    for (const p of obj.props) {
      const path = [...base, p.key];
      if (p.value.kind === 'object' && p.value.props.length > 0) visit(p.value, path);
      else leaf(path, p);
    }
  };
  visit(doc.root, []);

  if (shortIds.size) {
    notes.push(
      `Version 1 short plugin IDs were replaced by full IDs: ${[...shortIds].map((s) => `${s} -> ${v3PluginId(s)}`).join(', ')}.`,
    );
  }
  for (const d of drops.values()) {
    if (d.whole) {
      const n = d.count === 1 ? '1 key' : `${d.count} keys`;
      notes.push(`Dropped the table [${formatPath(d.table)}] (${n}): ${d.reason}.`);
      continue;
    }
    const where = d.table.length ? `[${formatPath(d.table)}]` : 'the top level';
    notes.push(`Dropped ${d.keys.map((k) => `\`${k}\``).join(', ')} from ${where}: ${d.reason}.`);
  }
  if (emptyDropped.length) {
    notes.push(`Dropped empty tables of deprecated or removed settings: ${emptyDropped.map((t) => `[${t}]`).join(', ')}.`);
  }
  if (unknownNotes.length) {
    notes.push(`Kept keys unknown to containerd's schema (containerd will log "Ignoring unknown key"): ${unknownNotes.join(', ')}.`);
  }
  if (['mirrors', 'configs', 'auths'].some((k) => hasEntries(root, ['plugins', 'io.containerd.cri.v1.images', 'registry', k]))) {
    notes.push(
      'registry.mirrors / configs / auths are deprecated; prefer registry.config_path with hosts.toml files (and never set both: the CRI plugin then fails to load).',
    );
  }
  if (doc.comments.length) notes.push('Comments of the original file are not carried over (containerd config migrate drops them too).');

  const text = render(root, notes, fromVersion);
  return { text, notes, stats };
}

function hasEntries(t: OutTable, path: string[]): boolean {
  let cur: OutVal | undefined = t;
  for (const k of path) {
    if (!cur || cur.kind !== 'table') return false;
    cur = cur.entries.get(k);
  }
  return !!cur && cur.kind === 'table' && cur.entries.size > 0;
}

// ---------------------------------------------------------------------------------------
// Rendering

const IND = '  ';

interface Out {
  lines: string[];
  /** Path of the header written last, when no body line followed it yet. */
  bareHeader?: string[];
}

function render(root: OutTable, notes: string[], fromVersion: number | undefined): string {
  const o: Out = { lines: [] };
  o.lines.push(
    `# Migrated from config version ${fromVersion ?? '1 (no version key)'} to version 3 by containerd-taskserv, as \`containerd config migrate\` would.`,
  );
  if (notes.length) {
    o.lines.push('# Notes:');
    for (const n of notes) o.lines.push(...wrapComment(n));
  }
  o.lines.push('version = 3');
  for (const [k, v] of root.entries) if (v.kind === 'raw') o.lines.push(`${quoteKey(k)} = ${v.text}`);
  for (const [k, v] of root.entries) if (v.kind === 'table') emitTable(o, v, [k], 0);
  for (const [k, v] of root.entries) if (v.kind === 'aot') emitAot(o, v.items, [k], 0);
  return o.lines.join('\n') + '\n';
}

function wrapComment(note: string): string[] {
  const out: string[] = [];
  let line = '#   - ';
  for (const w of note.split(' ')) {
    if (line.length + w.length > 100 && line.trim() !== '#   -') {
      out.push(line.trimEnd());
      line = '#     ';
    }
    line += w + ' ';
  }
  out.push(line.trimEnd());
  return out;
}

function orderedTables(t: OutTable, path: string[]): [string, OutTable][] {
  const tables = [...t.entries].filter((e): e is [string, OutTable] => e[1].kind === 'table');
  if (path.length === 1 && path[0] === 'plugins') tables.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return tables;
}

/** Write a header: a blank line before it unless it directly follows its parent's bare header. */
function header(o: Out, text: string, path: string[]): void {
  const parentBare = o.bareHeader && o.bareHeader.length < path.length && o.bareHeader.every((k, i) => path[i] === k);
  if (!parentBare && o.lines[o.lines.length - 1] !== '') o.lines.push('');
  o.lines.push(text);
  o.bareHeader = path;
}

function body(o: Out, text: string): void {
  o.lines.push(text);
  o.bareHeader = undefined;
}

function emitTable(o: Out, t: OutTable, path: string[], depth: number): void {
  const scalars = [...t.entries].filter((e) => e[1].kind === 'raw') as [string, { kind: 'raw'; text: string }][];
  const withHeader = scalars.length > 0 || t.entries.size === 0 || path.length === 1;
  const ind = IND.repeat(depth);
  if (withHeader) {
    header(o, `${ind}[${formatPath(path)}]`, path);
    for (const [k, v] of scalars) body(o, `${ind}${IND}${quoteKey(k)} = ${v.text}`);
  }
  const childDepth = withHeader ? depth + 1 : depth;
  for (const [k, v] of orderedTables(t, path)) emitTable(o, v, [...path, k], childDepth);
  for (const [k, v] of t.entries) if (v.kind === 'aot') emitAot(o, v.items, [...path, k], childDepth);
}

function emitAot(o: Out, items: ObjectNode[], path: string[], depth: number): void {
  const ind = IND.repeat(depth);
  for (const item of items) {
    header(o, `${ind}[[${formatPath(path)}]]`, path);
    emitObjectBody(o, item, path, depth);
  }
}

/** Body of an array-of-tables element, copied as it is (its keys are not migrated). */
function emitObjectBody(o: Out, obj: ObjectNode, path: string[], depth: number): void {
  const ind = IND.repeat(depth);
  const subs: [string, ObjectNode][] = [];
  const aots: [string, ObjectNode[]][] = [];
  for (const p of obj.props) {
    if (p.value.kind === 'object' && p.value.origin !== 'inline') subs.push([p.key, p.value]);
    else if (p.value.kind === 'array' && p.value.ofTables) aots.push([p.key, p.value.items.filter((i): i is ObjectNode => i.kind === 'object')]);
    else body(o, `${ind}${IND}${quoteKey(p.key)} = ${serialise(p.value)}`);
  }
  for (const [k, sub] of subs) {
    header(o, `${ind}${IND}[${formatPath([...path, k])}]`, [...path, k]);
    emitObjectBody(o, sub, [...path, k], depth + 1);
  }
  for (const [k, items] of aots) emitAot(o, items, [...path, k], depth + 1);
}
