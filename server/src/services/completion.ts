/**
 * Completion for containerd config.toml.
 *
 * The context is read from the TEXT around the cursor (the current line and the nearest
 * table header above it), because the document is usually unfinished while typing and the
 * parser blanks broken lines. The tree is only consulted for facts that survive errors
 * (multi-line values, existing runtime names, sibling values).
 *
 * Contexts:
 *  - header (`[` / `[[` at line start): every table path of the file's schema valid in the
 *    target release, plugin IDs quoted, CRI tables first; `<name>` map segments offer the
 *    entries already defined in the file plus a snippet with a `${1:name}` placeholder.
 *    Tables already defined with a `[header]` elsewhere are left out (TOML forbids
 *    defining a table twice and containerd would refuse to start).
 *  - key (empty line / partial key, no `=`): keys of the current table that are not set yet.
 *    Keys not available in the target release are OMITTED (they would be flagged by
 *    diagnostics); deprecated ones are kept but tagged and sorted last. In a runtime
 *    `options` table only the options decoded for that runtime's `runtime_type` are offered.
 *    Sub-tables are not offered here (header completion covers them), but whole-block
 *    snippets (runc/crun/youki runtime, registry config_path) are.
 *  - value (after `key =`): enum values, booleans, examples, runtime names, snapshotters,
 *    runtime types, the default; inside `[...]` for string arrays (plugin IDs for
 *    disabled_plugins/required_plugins).
 */
import {
  CompletionItemKind,
  CompletionItemTag,
  InsertTextFormat,
  type CompletionItem,
  type CompletionList,
  type Position,
  type Range,
} from 'vscode-languageserver-types';
import {
  elementOf,
  isArrayOfTables,
  isTable,
  keysOf,
  pluginIds,
  resolve,
  schemaFor,
  tablePaths,
  typeOf,
  type SchemaNode,
} from '../schema/catalog';
import { quoteKey, splitPath, type PathSegment } from '../tree/keypath';
import { getAt, nodeAt, walkProps, type ParsedDocument } from '../tree/model';
import type { ServiceDocument } from './context';
import {
  availableForDoc,
  defaultFor,
  formatTomlValue,
  isDeprecated,
  keyDocs,
  typeLabel,
  xOf,
} from './docs';

const EMPTY: CompletionList = { isIncomplete: false, items: [] };

export const KNOWN_SNAPSHOTTERS = ['overlayfs', 'native', 'btrfs', 'zfs', 'devmapper', 'blockfile', 'erofs'];
export const KNOWN_RUNTIME_TYPES = ['io.containerd.runc.v2', 'io.containerd.runhcs.v1', 'io.containerd.kata.v2', 'io.containerd.runsc.v1'];
const CRI_PLUGINS = ['io.containerd.cri.v1.runtime', 'io.containerd.cri.v1.images', 'io.containerd.grpc.v1.cri', 'cri'];
const DEFAULT_RUNTIME_TYPE = 'io.containerd.runc.v2';

export function complete(sd: ServiceDocument, pos: Position): CompletionList {
  try {
    return completeUnguarded(sd, pos);
  } catch {
    // Completion must never take the server down on odd input; tests call completeUnguarded.
    return EMPTY;
  }
}

// ---------------------------------------------------------------------------------------
// Text helpers (shared with hover)

export interface HeaderLine {
  line: number;
  /** Offset of the line start. */
  lineStart: number;
  array: boolean;
  /** Offset (in the document) where the text between the brackets starts. */
  innerStart: number;
  /** The text between the brackets (to the closing bracket or the end of the line). */
  inner: string;
  closed: boolean;
  segs: PathSegment[];
  path: string[];
}

/** Index of the first `ch` outside quoted strings in `s`, or -1. */
export function indexOutsideQuotes(s: string, ch: string): number {
  let q: string | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (q) {
      if (c === '\\' && q === '"') i++;
      else if (c === q) q = undefined;
    } else if (c === '"' || c === "'") q = c;
    else if (c === ch) return i;
  }
  return -1;
}

/** Parse one line as a table header; undefined when it is not one. */
export function parseHeaderLine(lineText: string, lineStart: number, line: number): HeaderLine | undefined {
  const m = /^(\s*)(\[\[?)/.exec(lineText);
  if (!m) return undefined;
  const array = m[2] === '[[';
  const rest = lineText.slice(m[0].length);
  const close = indexOutsideQuotes(rest, ']');
  let inner = close >= 0 ? rest.slice(0, close) : rest;
  if (close < 0) {
    const hash = indexOutsideQuotes(inner, '#');
    if (hash >= 0) inner = inner.slice(0, hash);
    inner = inner.replace(/\s+$/, '');
  }
  const segs = splitPath(inner);
  return {
    line,
    lineStart,
    array,
    innerStart: lineStart + m[0].length,
    inner,
    closed: close >= 0,
    segs,
    path: segs.map((s) => s.name),
  };
}

interface TextIndex {
  lines: string[];
  lineStarts: number[];
  headers: HeaderLine[];
}

const indexCache = new WeakMap<ParsedDocument, TextIndex>();

/** All header lines of the document (skipping lines inside multi-line strings), cached per parse. */
export function textIndex(parsed: ParsedDocument): TextIndex {
  const cached = indexCache.get(parsed);
  if (cached) return cached;
  const text = parsed.text;
  // Lines end at \r\n, \n or a lone \r, exactly as LSP positions (and TextDocument) count them.
  const lines: string[] = [];
  const lineStarts: number[] = [];
  const headers: HeaderLine[] = [];
  const eol = /\r\n|\r|\n/g;
  let off = 0;
  let inMulti: string | undefined;
  for (;;) {
    const m = eol.exec(text);
    const end = m ? m.index : text.length;
    const l = text.slice(off, end);
    const i = lines.length;
    lines.push(l);
    lineStarts.push(off);
    if (!inMulti) {
      const h = parseHeaderLine(l, off, i);
      if (h) headers.push(h);
    }
    // Rough multi-line string tracking: toggle on each """ / ''' delimiter.
    for (const d of l.matchAll(/"""|'''/g)) {
      if (!inMulti) inMulti = d[0];
      else if (inMulti === d[0]) inMulti = undefined;
    }
    if (!m) break;
    off = m.index + m[0].length;
  }
  const idx = { lines, lineStarts, headers };
  indexCache.set(parsed, idx);
  return idx;
}

/** The nearest header strictly above `line`. */
export function headerAbove(idx: TextIndex, line: number): HeaderLine | undefined {
  let found: HeaderLine | undefined;
  for (const h of idx.headers) {
    if (h.line < line) found = h;
    else break;
  }
  return found;
}

/** Lines of the body of the section headed by `h` (or the root section when undefined). */
function bodyLines(idx: TextIndex, h: HeaderLine | undefined): number[] {
  const from = h ? h.line + 1 : 0;
  const next = idx.headers.find((x) => x.line >= from);
  const to = next ? next.line : idx.lines.length;
  const out: number[] = [];
  for (let i = from; i < to; i++) out.push(i);
  return out;
}

/** `key.path = value` on a line: the key segments and the raw value text. */
function keyValueOnLine(line: string): { segs: PathSegment[]; value: string } | undefined {
  if (/^\s*(#|\[)/.test(line)) return undefined;
  const eq = indexOutsideQuotes(line, '=');
  if (eq < 0) return undefined;
  const segs = splitPath(line.slice(0, eq));
  if (!segs.length || segs.some((s) => s.name === '' && !s.quoted)) return undefined;
  let value = line.slice(eq + 1);
  const hash = indexOutsideQuotes(value, '#');
  if (hash >= 0) value = value.slice(0, hash);
  return { segs, value: value.trim() };
}

function samePath(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((s, i) => s === b[i]);
}

function startsWithPath(a: readonly string[], prefix: readonly string[]): boolean {
  return a.length >= prefix.length && prefix.every((s, i) => s === a[i]);
}

/** The scalar value of `key` in table `tablePath`, from the tree or (if broken) the text. */
function siblingValue(sd: ServiceDocument, idx: TextIndex, tablePath: string[], key: string): string | undefined {
  const v = getAt(sd.parsed.root, [...tablePath, key]);
  if (v && v.kind === 'string') return v.value as string;
  for (const h of idx.headers) {
    if (h.array || !samePath(h.path, tablePath)) continue;
    for (const i of bodyLines(idx, h)) {
      const kv = keyValueOnLine(idx.lines[i]);
      if (kv && kv.segs.length === 1 && kv.segs[0].name === key) {
        const m = /^"((?:[^"\\]|\\.)*)"|^'([^']*)'/.exec(kv.value);
        if (m) return m[1] ?? m[2];
      }
    }
  }
  return undefined;
}

/** Names of the entries of the map table at `mapPath` that the document defines. */
function definedEntries(sd: ServiceDocument, idx: TextIndex, mapPath: string[], skipLine = -1): string[] {
  const names = new Set<string>();
  const v = getAt(sd.parsed.root, mapPath);
  if (v && v.kind === 'object') for (const p of v.props) if (p.value.kind === 'object') names.add(p.key);
  for (const h of idx.headers) {
    if (h.line !== skipLine && h.path.length > mapPath.length && startsWithPath(h.path, mapPath)) {
      const n = h.path[mapPath.length];
      if (n) names.add(n);
    }
  }
  return [...names];
}

/** Runtime handler names defined anywhere in the document (any CRI plugin's `runtimes`). */
function runtimeNames(sd: ServiceDocument, idx: TextIndex, preferPlugin?: string): string[] {
  const names = new Set<string>();
  const add = (path: readonly string[]): void => {
    for (let i = 0; i + 1 < path.length; i++) {
      if (path[i] === 'runtimes' && path[i - 1] === 'containerd' && (!preferPlugin || path[1] === preferPlugin)) names.add(path[i + 1]);
    }
  };
  for (const h of idx.headers) add(h.path);
  walkProps(sd.parsed.root, (p, path) => {
    if (p.value.kind === 'object') add(path);
  });
  return [...names];
}

// ---------------------------------------------------------------------------------------
// Entry

interface Cursor {
  sd: ServiceDocument;
  idx: TextIndex;
  offset: number;
  line: number;
  lineStart: number;
  lineText: string;
  before: string;
  after: string;
  schema: SchemaNode;
}

export function completeUnguarded(sd: ServiceDocument, pos: Position): CompletionList {
  const td = sd.text;
  const offset = td.offsetAt(pos);
  const p = td.positionAt(offset);
  const idx = textIndex(sd.parsed);
  const lineText = idx.lines[p.line] ?? '';
  const lineStart = idx.lineStarts[p.line] ?? offset - p.character;
  const col = Math.min(p.character, lineText.length);
  const cur: Cursor = {
    sd,
    idx,
    offset,
    line: p.line,
    lineStart,
    lineText,
    before: lineText.slice(0, col),
    after: lineText.slice(col),
    schema: schemaFor(sd.ctx.configVersion),
  };
  if (indexOutsideQuotes(cur.before, '#') >= 0) return EMPTY;

  // Inside a multi-line array or string that the tree knows about?
  const hit = nodeAt(sd.parsed, offset);
  const v = hit.prop && !hit.onKey ? hit.prop.value : undefined;
  if (v && offset > v.range.start && offset < v.range.end && !(v.kind === 'array' && v.ofTables)) {
    const spansLines = td.positionAt(v.range.start).line !== td.positionAt(v.range.end).line;
    if (spansLines && v.kind === 'array' && td.positionAt(v.range.start).line !== p.line) {
      const res = resolve(cur.schema, hit.path);
      return res ? list(arrayElementItems(cur, res.node, hit.path)) : EMPTY;
    }
    if (spansLines && v.kind !== 'object' && v.kind !== 'array') return EMPTY;
  }

  if (/^\s*\[/.test(cur.before)) return list(headerItems(cur));
  const eq = indexOutsideQuotes(cur.before, '=');
  if (eq >= 0) return list(valueItems(cur, eq));
  if (/[{},]/.test(cur.before)) return EMPTY; // inline tables: not handled
  return list(keyItems(cur));
}

function list(items: CompletionItem[]): CompletionList {
  return { isIncomplete: false, items };
}

function rangeOf(cur: Cursor, start: number, end: number): Range {
  return { start: cur.sd.text.positionAt(start), end: cur.sd.text.positionAt(end) };
}

// ---------------------------------------------------------------------------------------
// Snippet text helpers

function snipEsc(s: string): string {
  return s.replace(/[\\$}]/g, (c) => '\\' + c);
}

function choiceEsc(s: string): string {
  return s.replace(/[\\$}|,]/g, (c) => '\\' + c);
}

/** The `value` part of a `key = value` snippet for a schema node. */
export function valueSnippet(node: SchemaNode, cur: Pick<Cursor, 'sd'>): string {
  const t = typeOf(node);
  const d = defaultFor(node, cur.sd.ctx.release)?.value;
  const ordered = (vals: unknown[]): unknown[] => {
    const out = vals.filter((v) => v !== '' && v !== null);
    const i = out.findIndex((v) => v === d);
    if (i > 0) out.unshift(...out.splice(i, 1));
    return out;
  };
  if (t === 'boolean') return d === true ? '${1|true,false|}' : '${1|false,true|}';
  if (node.enum && node.enum.length) {
    const vals = ordered(node.enum);
    if (vals.length) {
      if (t === 'string') return '"${1|' + vals.map((v) => choiceEsc(String(v))).join(',') + '|}"';
      return '${1|' + vals.map((v) => choiceEsc(String(v))).join(',') + '|}';
    }
  }
  if (t === 'string') {
    let ph = typeof d === 'string' ? d : '';
    if (!ph && node.examples && typeof node.examples[0] === 'string') ph = node.examples[0] as string;
    const inner = JSON.stringify(ph).slice(1, -1);
    return ph ? `"\${1:${snipEsc(inner)}}"` : '"$1"';
  }
  if (t === 'integer' || t === 'number') return `\${1:${snipEsc(String(typeof d === 'number' ? d : 0))}}`;
  if (t === 'array') {
    if (Array.isArray(d) && d.length) return `[\${1:${snipEsc(formatTomlValue(d).slice(1, -1))}}]`;
    return '[$1]';
  }
  if (t === 'object') return '{ $1 }';
  return '$1';
}

// ---------------------------------------------------------------------------------------
// Header completion

interface TableEntry {
  path: string[];
  node: SchemaNode;
  array: boolean;
  rank: number;
  order: number;
  hasName: boolean;
}

const tableCache = new WeakMap<SchemaNode, TableEntry[]>();

function rankOf(path: string[]): number {
  if (path[0] !== 'plugins') return 3;
  if (path.length === 1) return 2;
  const cri = CRI_PLUGINS.indexOf(path[1]);
  return cri >= 0 ? 0 : 1;
}

function tableEntries(schema: SchemaNode): TableEntry[] {
  let out = tableCache.get(schema);
  if (out) return out;
  out = tablePaths(schema).map((t, i) => ({
    path: t.path,
    node: t.node,
    array: isArrayOfTables(t.node),
    rank: rankOf(t.path),
    order: i,
    hasName: t.path.includes('<name>'),
  }));
  tableCache.set(schema, out);
  return out;
}

function formatSegs(segs: readonly string[], q: '"' | "'"): string {
  return segs
    .map((s) => {
      if (/^[A-Za-z0-9_-]+$/.test(s) || s === '<name>' || /^\$\{\d+:name\}$/.test(s)) return s;
      if (q === "'" && !s.includes("'")) return `'${s}'`;
      return quoteKey(s);
    })
    .join('.');
}

function headerItems(cur: Cursor): CompletionItem[] {
  const m = /^(\s*)(\[\[?)/.exec(cur.before);
  if (!m) return [];
  const open = m[2];
  const typed = cur.before.slice(m[0].length);
  if (indexOutsideQuotes(typed, ']') >= 0) return []; // cursor after the closing bracket
  const start = cur.lineStart + m[1].length;
  const restOfLine = cur.lineText.slice(m[0].length);
  const close = indexOutsideQuotes(restOfLine, ']');
  let end: number;
  if (close >= 0) {
    end = cur.lineStart + m[0].length + close + 1;
    if (cur.lineText[m[0].length + close + 1] === ']') end++;
  } else {
    let t = restOfLine;
    const hash = indexOutsideQuotes(t, '#');
    if (hash >= 0) t = t.slice(0, hash);
    end = cur.lineStart + m[0].length + t.replace(/\s+$/, '').length;
    end = Math.max(end, cur.offset);
  }
  const range = rangeOf(cur, start, end);
  const firstQuote = /["']/.exec(typed);
  const q: '"' | "'" = firstQuote && firstQuote[0] === "'" ? "'" : '"';
  const ctx = cur.sd.ctx;

  const defined = new Set<string>();
  for (const h of cur.idx.headers) if (!h.array && h.line !== cur.line) defined.add(JSON.stringify(h.path));

  const items: CompletionItem[] = [];
  const push = (e: TableEntry, concrete: string[], snippet: boolean, entryFrom?: string): void => {
    const label = snippet ? formatSegs(concrete, q).replace(/\$\{\d+:name\}/g, '<name>') : formatSegs(concrete, q);
    const text = formatSegs(concrete, q);
    const newText = e.array ? `[[${text}]]` : `[${text}]`;
    const dep = isDeprecated(e.node, ctx.release);
    const last = e.path[e.path.length - 1];
    const item: CompletionItem = {
      label: e.array ? `[[${label}]]` : label,
      kind: snippet ? CompletionItemKind.Snippet : e.path.length === 2 && e.path[0] === 'plugins' ? CompletionItemKind.Module : CompletionItemKind.Struct,
      detail: (entryFrom ? `${entryFrom} · ` : '') + typeLabel(e.node) + (e.node.description ? ' — ' + shortText(e.node.description) : ''),
      documentation: { kind: 'markdown', value: keyDocs(e.node, last === '<name>' ? concrete[concrete.length - 1] : last, ctx, { mapEntry: last === '<name>', noLink: true }) },
      filterText: open + (snippet ? formatSegs(e.path, q) : text),
      sortText: `${dep ? 4 + e.rank : e.rank}_${String(e.order).padStart(4, '0')}_${snippet ? 1 : 0}`,
      textEdit: { range, newText: snippet ? newText : newText },
      insertTextFormat: snippet ? InsertTextFormat.Snippet : InsertTextFormat.PlainText,
    };
    if (snippet) {
      // escape everything except the placeholders we put in
      const parts = newText.split(/(\$\{\d+:name\})/);
      item.textEdit = { range, newText: parts.map((s, i) => (i % 2 ? s : snipEsc(s))).join('') };
    }
    if (dep) item.tags = [CompletionItemTag.Deprecated];
    items.push(item);
  };

  for (const e of tableEntries(cur.schema)) {
    if (!availableForDoc(e.node, ctx)) continue;
    if (!e.hasName) {
      if (!e.array && defined.has(JSON.stringify(e.path))) continue;
      push(e, e.path, false);
      continue;
    }
    // Existing entries of each map crossed by the path.
    for (const concrete of expandNames(cur, e.path)) {
      if (!e.array && defined.has(JSON.stringify(concrete))) continue;
      push(e, concrete, false, 'defined in this file');
    }
    let n = 0;
    const snippetPath = e.path.map((s) => (s === '<name>' ? `\${${++n}:name}` : s));
    push(e, snippetPath, true);
  }
  return items;
}

function shortText(s: string): string {
  const first = s.split(/(?<=\.)\s/)[0];
  return first.length > 80 ? first.slice(0, 77) + '…' : first;
}

/** Concrete paths for a schema path with `<name>` segments, using names the document defines. */
function expandNames(cur: Cursor, schemaPath: string[]): string[][] {
  let prefixes: string[][] = [[]];
  for (const seg of schemaPath) {
    if (seg !== '<name>') {
      prefixes = prefixes.map((p) => [...p, seg]);
      continue;
    }
    const next: string[][] = [];
    for (const p of prefixes) {
      for (const n of definedEntries(cur.sd, cur.idx, p, cur.line)) {
        next.push([...p, n]);
        if (next.length > 200) break;
      }
    }
    prefixes = next;
    if (!prefixes.length) return [];
  }
  return prefixes;
}

// ---------------------------------------------------------------------------------------
// Key completion

interface KeyEntry {
  key: string;
  node: SchemaNode;
}

const keyCache = new WeakMap<SchemaNode, KeyEntry[]>();

/** The leaf keys of a table (sub-tables and arrays of tables are left to header completion). */
function leafKeys(table: SchemaNode): KeyEntry[] {
  let out = keyCache.get(table);
  if (out) return out;
  const el = elementOf(table);
  out = keysOf(el)
    .map((k) => ({ key: k, node: el.properties![k] }))
    .filter((e) => !isTable(elementOf(e.node)));
  keyCache.set(table, out);
  return out;
}

function optionApplies(node: SchemaNode, runtimeType: string): boolean {
  const x = xOf(node);
  const types = x.runtimeTypes;
  if (!types || !types.length) return true;
  if (types.includes(runtimeType)) return true;
  if (types.includes('*')) return !(x.runtimeTypesExcluded ?? []).includes(runtimeType);
  return false;
}

/** Is `table` (schema path `schemaPath`) a runtime's `options`? Then the runtime's type. */
function runtimeTypeFor(cur: Cursor, tableNode: SchemaNode, schemaPath: string[], concrete: string[]): string | undefined {
  if (schemaPath[schemaPath.length - 1] !== 'options' || tableNode['x-key-matching'] !== 'case-insensitive') return undefined;
  const runtimePath = concrete.slice(0, -1);
  return siblingValue(cur.sd, cur.idx, runtimePath, 'runtime_type') ?? DEFAULT_RUNTIME_TYPE;
}

function keyItems(cur: Cursor): CompletionItem[] {
  const lead = cur.before.length - cur.before.trimStart().length;
  const partial = cur.before.slice(lead);
  if (partial && !/^[A-Za-z0-9_\-."' ]*$/.test(partial)) return [];
  const segs = splitPath(partial);
  const lastSeg = segs.length ? segs[segs.length - 1] : undefined;
  const prefix = segs.slice(0, -1).map((s) => s.name);
  const hdr = headerAbove(cur.idx, cur.line);
  const tablePath = [...(hdr?.path ?? []), ...prefix];
  const editStart = cur.lineStart + lead + (lastSeg ? lastSeg.start : 0);
  const tail = /^[A-Za-z0-9_-]*/.exec(cur.after)![0];
  const range = rangeOf(cur, editStart, cur.offset + tail.length);
  const keyOnly = /^[A-Za-z0-9_-]*\s*=/.test(cur.after);
  const items: CompletionItem[] = [];
  const ctx = cur.sd.ctx;

  const res = resolve(cur.schema, tablePath);
  if (res && isTable(elementOf(res.node))) {
    const table = elementOf(res.node);
    const ci = table['x-key-matching'] === 'case-insensitive';
    const present = new Set<string>();
    for (const i of bodyLines(cur.idx, hdr)) {
      if (i === cur.line) continue;
      const kv = keyValueOnLine(cur.idx.lines[i]);
      if (!kv || kv.segs.length <= prefix.length) continue;
      if (!prefix.every((p, j) => kv.segs[j].name === p)) continue;
      const k = kv.segs[prefix.length].name;
      present.add(ci ? k.toLowerCase() : k);
    }
    const rt = runtimeTypeFor(cur, table, res.schemaPath, tablePath);
    for (const e of leafKeys(res.node)) {
      if (present.has(ci ? e.key.toLowerCase() : e.key)) continue;
      if (!availableForDoc(e.node, ctx)) continue;
      if (rt && !optionApplies(e.node, rt)) continue;
      const dep = isDeprecated(e.node, ctx.release);
      const d = defaultFor(e.node, ctx.release);
      const k = quoteKey(e.key);
      const item: CompletionItem = {
        label: e.key,
        kind: CompletionItemKind.Property,
        detail: typeLabel(e.node) + (d ? ' = ' + shortValue(d.value) : ''),
        documentation: { kind: 'markdown', value: keyDocs(e.node, e.key, ctx, { noLink: true }) },
        filterText: k,
        sortText: `${dep ? 1 : 0}_${e.key}`,
        textEdit: { range, newText: keyOnly ? k : `${snipEsc(k)} = ${valueSnippet(e.node, cur)}` },
        insertTextFormat: keyOnly ? InsertTextFormat.PlainText : InsertTextFormat.Snippet,
      };
      if (dep) item.tags = [CompletionItemTag.Deprecated];
      items.push(item);
    }
  }
  if (!prefix.length && !keyOnly) items.push(...blockSnippets(cur, range));
  return items;
}

function shortValue(v: unknown): string {
  const s = formatTomlValue(v);
  return s.length > 60 ? s.slice(0, 57) + '…' : s;
}

// ---------------------------------------------------------------------------------------
// Block snippets

const RUNTIME_MAP: Record<number, string[]> = {
  1: ['plugins', 'cri', 'containerd', 'runtimes'],
  2: ['plugins', 'io.containerd.grpc.v1.cri', 'containerd', 'runtimes'],
  3: ['plugins', 'io.containerd.cri.v1.runtime', 'containerd', 'runtimes'],
  4: ['plugins', 'io.containerd.cri.v1.runtime', 'containerd', 'runtimes'],
};
const REGISTRY: Record<number, string[]> = {
  1: ['plugins', 'cri', 'registry'],
  2: ['plugins', 'io.containerd.grpc.v1.cri', 'registry'],
  3: ['plugins', 'io.containerd.cri.v1.images', 'registry'],
  4: ['plugins', 'io.containerd.cri.v1.images', 'registry'],
};
const RUNTIME_BLOCKS: { name: string; binary: string; what: string }[] = [
  { name: 'runc', binary: '/usr/bin/runc', what: 'runc (the default OCI runtime)' },
  { name: 'crun', binary: '/usr/bin/crun', what: 'crun (fast, low-memory OCI runtime in C)' },
  { name: 'youki', binary: '/usr/bin/youki', what: 'youki (OCI runtime in Rust)' },
];

function blockSnippets(cur: Cursor, range: Range): CompletionItem[] {
  const v = cur.sd.ctx.configVersion;
  const ctx = cur.sd.ctx;
  const out: CompletionItem[] = [];
  const mapPath = RUNTIME_MAP[v];
  const opts = resolve(cur.schema, [...mapPath, 'x', 'options']);
  const rtType = resolve(cur.schema, [...mapPath, 'x', 'runtime_type']);
  if (opts && rtType && availableForDoc(rtType.node, ctx)) {
    const existing = new Set(definedEntries(cur.sd, cur.idx, mapPath));
    const base = formatSegs(mapPath, '"');
    for (const b of RUNTIME_BLOCKS) {
      if (existing.has(b.name)) continue;
      const text =
        `[${snipEsc(base)}.\${1:${b.name}}]\n` +
        `  runtime_type = "io.containerd.runc.v2"\n` +
        `\n` +
        `[${snipEsc(base)}.\${1:${b.name}}.options]\n` +
        `  BinaryName = "\${2:${b.binary}}"\n` +
        `  SystemdCgroup = \${3|true,false|}\n$0`;
      out.push({
        label: `runtime: ${b.name} (block)`,
        kind: CompletionItemKind.Snippet,
        detail: `Runtime handler "${b.name}" with runc-compatible options`,
        documentation: {
          kind: 'markdown',
          value:
            `Adds a runtime handler for ${b.what}, usable from a Kubernetes RuntimeClass with \`handler: ${b.name}\`.\n\n` +
            '```toml\n' +
            `[${base}.${b.name}]\n  runtime_type = "io.containerd.runc.v2"\n\n[${base}.${b.name}.options]\n  BinaryName = "${b.binary}"\n  SystemdCgroup = true\n` +
            '```',
        },
        filterText: `${b.name} runtime block`,
        sortText: `8_runtime_${b.name}`,
        textEdit: { range, newText: text },
        insertTextFormat: InsertTextFormat.Snippet,
      });
    }
  }
  const regPath = REGISTRY[v];
  const cp = resolve(cur.schema, [...regPath, 'config_path']);
  const regDefined = cur.idx.headers.some((h) => samePath(h.path, regPath));
  if (cp && availableForDoc(cp.node, ctx) && !regDefined) {
    const base = formatSegs(regPath, '"');
    out.push({
      label: 'registry: config_path (block)',
      kind: CompletionItemKind.Snippet,
      detail: 'Registry hosts configuration directory (hosts.toml files)',
      documentation: {
        kind: 'markdown',
        value:
          'Points containerd at a directory of `<host>/hosts.toml` files for mirrors, TLS and auth (the replacement for the deprecated `mirrors`/`configs`).\n\n' +
          '```toml\n' +
          `[${base}]\n  config_path = "/etc/containerd/certs.d"\n` +
          '```',
      },
      filterText: 'registry config_path block',
      sortText: '8_registry',
      textEdit: { range, newText: `[${snipEsc(base)}]\n  config_path = "\${1:/etc/containerd/certs.d}"\n$0` },
      insertTextFormat: InsertTextFormat.Snippet,
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Value completion

interface ValueChoice {
  value: unknown;
  detail?: string;
}

function valueChoices(cur: Cursor, node: SchemaNode, concretePath: string[]): ValueChoice[] {
  const out: ValueChoice[] = [];
  const seen = new Set<string>();
  const add = (value: unknown, detail?: string): void => {
    const k = formatTomlValue(value);
    if (seen.has(k)) return;
    seen.add(k);
    out.push({ value, detail });
  };
  const key = concretePath[concretePath.length - 1];
  const t = typeOf(node);
  const d = defaultFor(node, cur.sd.ctx.release);
  if (t === 'boolean') {
    add(true);
    add(false);
  }
  for (const v of node.enum ?? []) add(v);
  if (key === 'default_runtime_name' || /runtime_handler$/.test(key)) {
    const plugin = concretePath[0] === 'plugins' ? concretePath[1] : undefined;
    let names = runtimeNames(cur.sd, cur.idx, plugin);
    if (!names.length) names = runtimeNames(cur.sd, cur.idx);
    for (const n of names) add(n, 'runtime defined in this file');
    if (cur.sd.ctx.release.major >= 2 && !names.includes('runc')) add('runc', 'built-in runtime (containerd 2.x keeps it)');
  }
  if (t === 'string') {
    for (const v of node.examples ?? []) if (typeof v === 'string') add(v, 'example');
    if (key === 'snapshotter') {
      for (const s of KNOWN_SNAPSHOTTERS) add(s, 'snapshotter');
      for (const n of definedEntries(cur.sd, cur.idx, ['proxy_plugins'])) {
        const type = siblingValue(cur.sd, cur.idx, ['proxy_plugins', n], 'type');
        if (!type || /snapshot/.test(type)) add(n, 'proxy snapshotter defined in this file');
      }
    }
    if (key === 'runtime_type') for (const s of KNOWN_RUNTIME_TYPES) add(s, 'runtime shim');
  }
  if (d && !(typeof d.value === 'object' && d.value !== null)) add(d.value);
  if (d) {
    const dk = formatTomlValue(d.value);
    for (const c of out) if (formatTomlValue(c.value) === dk) c.detail = c.detail ? `${c.detail} · default` : 'default';
  }
  return out;
}

function valueItems(cur: Cursor, eq: number): CompletionItem[] {
  const keyText = cur.before.slice(0, eq);
  const segs = splitPath(keyText);
  if (!segs.length || segs.some((s) => s.open)) return [];
  const hdr = headerAbove(cur.idx, cur.line);
  const path = [...(hdr?.path ?? []), ...segs.map((s) => s.name)];
  const res = resolve(cur.schema, path);
  if (!res) return [];
  const node = res.node;
  const afterEq = cur.before.slice(eq + 1);
  const lead = afterEq.length - afterEq.trimStart().length;
  const valueStart = cur.lineStart + eq + 1 + lead;
  const typed = afterEq.slice(lead);
  if (typed.startsWith('[')) return arrayElementItems(cur, node, path);
  if (typed.startsWith('{')) return [];
  if (typeOf(node) === 'object' || isArrayOfTables(node)) return [];
  const tail = /^[^\s#,\]}]*/.exec(cur.after)![0];
  const range = rangeOf(cur, valueStart, cur.offset + tail.length);
  const literal = typed.startsWith("'");
  return valueChoices(cur, node, path).map((c, i) => toValueItem(cur, node, c, range, i, literal, path));
}

function toValueItem(cur: Cursor, node: SchemaNode, c: ValueChoice, range: Range, i: number, literal: boolean, path: string[]): CompletionItem {
  const text = typeof c.value === 'string' && literal && !/['\n]/.test(c.value) ? `'${c.value}'` : formatTomlValue(c.value);
  const isDefault = !!c.detail && /default/.test(c.detail);
  return {
    label: typeof c.value === 'string' ? (c.value === '' ? '""' : c.value) : text,
    kind: node.enum || typeOf(node) === 'boolean' ? CompletionItemKind.EnumMember : CompletionItemKind.Value,
    detail: c.detail,
    documentation:
      i === 0 || isDefault
        ? { kind: 'markdown', value: keyDocs(node, path[path.length - 1], cur.sd.ctx, { noLink: true }) }
        : undefined,
    filterText: text,
    sortText: String(i).padStart(3, '0'),
    preselect: isDefault || undefined,
    textEdit: { range, newText: text },
  };
}

/** Items for an element of a (string) array value: plugin IDs for disabled/required_plugins. */
function arrayElementItems(cur: Cursor, node: SchemaNode, path: string[]): CompletionItem[] {
  if (typeOf(node) !== 'array' || !node.items) return [];
  const open = Math.max(cur.before.lastIndexOf('['), cur.before.lastIndexOf(','));
  const seg = cur.before.slice(open + 1);
  const lead = seg.length - seg.trimStart().length;
  const start = cur.lineStart + open + 1 + lead;
  const typed = seg.slice(lead);
  const tail = /^[^\s#,\]}]*/.exec(cur.after)![0];
  const range = rangeOf(cur, start, cur.offset + tail.length);
  const key = path[path.length - 1];
  const choices: ValueChoice[] = [];
  if (key === 'disabled_plugins' || key === 'required_plugins') {
    for (const id of pluginIds(cur.schema)) choices.push({ value: id, detail: 'plugin ID' });
  } else {
    for (const v of node.items.enum ?? []) choices.push({ value: v });
    for (const v of node.items.examples ?? []) choices.push({ value: v, detail: 'example' });
  }
  const literal = typed.startsWith("'");
  const item = node.items;
  return choices.map((c, i) => toValueItem(cur, item, c, range, i, literal, path));
}
