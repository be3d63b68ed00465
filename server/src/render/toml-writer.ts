/**
 * Serialise a containerd config model as TOML, the way `containerd config default` writes it.
 *
 * The model is plain nested objects (`TomlTable`): a key holds a scalar, an array, a nested
 * table, or an array of tables (an array whose items are all tables). Floats that must stay
 * floats even when integral are wrapped in `TomlFloat`; every other `number` is written as an
 * integer when it is one (never with `_` separators) and as a float otherwise.
 *
 * Layout (deterministic, independent of the model's insertion order):
 * - top level: scalars first in containerd's order (version, root, state, temp, plugin_dir,
 *   disabled_plugins, required_plugins, oom_score, imports, then any other key sorted), then tables
 *   in containerd's order (grpc, ttrpc, debug, metrics, cgroup, timeouts, plugins, proxy_plugins,
 *   stream_processors, then any other table sorted);
 * - inside a table: its `key = value` lines sorted by key (as containerd's own dump sorts them),
 *   then its sub-tables and arrays of tables sorted by key (so plugin tables are sorted by ID);
 * - every table on the way gets a header (`[plugins]` too, as containerd writes it), indented by
 *   2 spaces per nesting level after the first; body lines 2 spaces deeper than their header;
 *   a blank line before every header;
 * - keys quoted only when they are not bare (`plugins."io.containerd.grpc.v1.cri"`), strings as
 *   double-quoted basic strings with escapes, arrays of scalars inline.
 */
import { formatPath, quoteKey, tomlString } from '../tree/keypath';

export class TomlFloat {
  constructor(readonly value: number) {}
}

export type TomlScalar = string | number | boolean | TomlFloat;
export type TomlValue = TomlScalar | TomlValue[] | TomlTable;
export interface TomlTable {
  [key: string]: TomlValue;
}

export interface WrittenLine {
  /** 0-based line number in the output. */
  line: number;
  /** Key path of the key (or table header) written on that line. */
  path: string[];
  /** The line is a table header (`[a.b]` / `[[a.b]]`) rather than a `key = value` line. */
  header: boolean;
}

export interface TomlOutput {
  text: string;
  lines: WrittenLine[];
}

const TOP_SCALARS = ['version', 'root', 'state', 'temp', 'plugin_dir', 'disabled_plugins', 'required_plugins', 'oom_score', 'imports'];
const TOP_TABLES = ['grpc', 'ttrpc', 'debug', 'metrics', 'cgroup', 'timeouts', 'plugins', 'proxy_plugins', 'stream_processors'];

export function isTable(v: TomlValue | undefined): v is TomlTable {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof TomlFloat);
}

function isArrayOfTables(v: TomlValue): v is TomlTable[] {
  return Array.isArray(v) && v.length > 0 && v.every(isTable);
}


function floatText(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf';
  const s = String(n);
  return /[.eE]/.test(s) ? s : s + '.0';
}

/** The TOML text of a value written after `key = `. */
export function tomlValue(v: TomlValue): string {
  if (v instanceof TomlFloat) return floatText(v.value);
  switch (typeof v) {
    case 'string':
      return tomlString(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'number':
      return Number.isInteger(v) ? BigInt(v).toString() : floatText(v);
  }
  if (Array.isArray(v)) return '[' + v.map(tomlValue).join(', ') + ']';
  const keys = Object.keys(v).sort();
  return keys.length ? '{ ' + keys.map((k) => `${quoteKey(k)} = ${tomlValue(v[k])}`).join(', ') + ' }' : '{}';
}

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function ordered(keys: string[], preferred: readonly string[]): string[] {
  const known = preferred.filter((k) => keys.includes(k));
  const rest = keys.filter((k) => !preferred.includes(k)).sort(byName);
  return [...known, ...rest];
}

const IND = '  ';

export function writeToml(model: TomlTable): TomlOutput {
  const out: string[] = [];
  const lines: WrittenLine[] = [];

  const keyLine = (indent: string, path: string[], v: TomlValue): void => {
    lines.push({ line: out.length, path, header: false });
    out.push(`${indent}${quoteKey(path[path.length - 1])} = ${tomlValue(v)}`);
  };
  const header = (text: string, path: string[]): void => {
    if (out.length) out.push('');
    lines.push({ line: out.length, path, header: true });
    out.push(text);
  };

  const isScalarEntry = (v: TomlValue): boolean => !isTable(v) && !isArrayOfTables(v);

  const body = (t: TomlTable, path: string[], depth: number): void => {
    const keys = Object.keys(t);
    const ind = IND.repeat(depth);
    for (const k of keys.filter((k) => isScalarEntry(t[k])).sort(byName)) keyLine(ind + IND, [...path, k], t[k]);
    for (const k of keys.filter((k) => !isScalarEntry(t[k])).sort(byName)) child(t[k], [...path, k], depth + 1);
  };

  const child = (v: TomlValue, path: string[], depth: number): void => {
    const ind = IND.repeat(depth);
    if (isTable(v)) {
      header(`${ind}[${formatPath(path)}]`, path);
      body(v, path, depth);
    } else if (isArrayOfTables(v)) {
      for (const item of v) {
        header(`${ind}[[${formatPath(path)}]]`, path);
        body(item, path, depth);
      }
    }
  };

  const top = Object.keys(model);
  for (const k of ordered(top.filter((k) => isScalarEntry(model[k])), TOP_SCALARS)) keyLine('', [k], model[k]);
  for (const k of ordered(top.filter((k) => !isScalarEntry(model[k])), TOP_TABLES)) child(model[k], [k], 0);

  return { text: out.join('\n') + '\n', lines };
}
