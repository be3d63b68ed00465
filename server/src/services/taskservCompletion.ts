/**
 * Completion for taskserv files (KCL `containerd: Containerd = {...}`).
 *
 * The context comes from the TEXT before the cursor, because the document is usually unfinished
 * while typing: a forward scan from the start of the file to the cursor (aware of strings, raw and
 * triple-quoted strings and comments) keeps a stack of the open `{` / `[` / `(` with the key each
 * one belongs to (`containerd: Containerd = {` is the root, `config: {` → `config`, `a.b: {` →
 * `a`,`b`). Like the parser, an entry line dedented to (or left of) the line that opened a dict
 * closes it, so a missing `}` above the cursor does not misplace it. The parsed tree is only used
 * for facts that survive errors (keys already set, the `runtimes` list).
 *
 * Contexts (inside the Containerd declaration):
 *  - key (a partial key, no `:`/`=` yet): the schema fields of the enclosing dict that are not set
 *    yet, with type + default (KCL syntax) as detail, the field's markdown as documentation and
 *    `key: <value snippet>` as insert text; in `runtime_configs` / `install.runtimes` the runtime
 *    names listed in `runtimes` that have no entry yet;
 *  - value (after `key: `): enum values, True/False, the default, the runtimes listed (for
 *    `runtime_default`), releases (for `version`), runtime types and snapshotters;
 *  - inside a string value: the same string choices without quotes; inside the `runtimes` string
 *    the known runtime names not listed yet (after a comma or at the start);
 *  - at the top level: a `containerd: Containerd = {…}` declaration snippet when there is none.
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
import { childOf, elementOf, isTable, keysOf, resolve, taskservSchema, typeOf, type SchemaNode } from '../schema/catalog';
import { findProp, getAt, type ObjectNode } from '../tree/model';
import { nativeConfigVersion, parseRelease } from '../schema/releases';
import { containerdDeclaration } from './taskserv';
import type { ServiceDocument } from './context';
import { KNOWN_RUNTIME_TYPES, KNOWN_SNAPSHOTTERS } from './completion';

const EMPTY: CompletionList = { isIncomplete: false, items: [] };

/** Releases offered for `version` (the latest patch of each series the schemas know). */
export const TASKSERV_RELEASES = ['1.6.36', '1.7.27', '2.0.6', '2.1.3', '2.2.1', '2.3.4'];
/** Runtime names offered when the schema lists none. */
const FALLBACK_RUNTIMES = ['runc', 'crun', 'youki'];
/** Bounded work: documents larger than this are scanned only in their last part. */
const MAX_SCAN = 2_000_000;
/** Longest entry text (before the cursor, or before a bracket) that is matched against the key patterns. */
const MAX_SEG = 4096;

export function taskservComplete(sd: ServiceDocument, pos: Position): CompletionList {
  try {
    return taskservCompleteUnguarded(sd, pos);
  } catch {
    // Completion must never take the server down on odd input; tests call the unguarded form.
    return EMPTY;
  }
}

// ---------------------------------------------------------------------------------------
// x-taskserv

export interface XTaskserv {
  target?: 'config.toml' | 'crictl.yaml' | 'systemd' | 'install' | 'none';
  key?: string;
  note?: string;
  notContainerd?: { message: string; equivalent?: string };
  listOf?: string[];
  since?: string;
}

export function xts(node: SchemaNode | undefined): XTaskserv {
  return ((node as Record<string, unknown> | undefined)?.['x-taskserv'] ?? {}) as XTaskserv;
}

// ---------------------------------------------------------------------------------------
// The text scan

export interface ScanFrame {
  open: '{' | '[' | '(';
  /** Offset of the bracket. */
  start: number;
  /** Line of the bracket and indentation of that line. */
  openLine: number;
  openIndent: number;
  /** The key path this bracket is the value of (undefined: a list element, an argument, …). */
  keyPath?: string[];
  /** `name: Type = {` / `name = Type {`: the type name. */
  typeName?: string;
  /** Keys written directly in this dict before the cursor. */
  keys: Set<string>;
  /** Offset where the current entry of this frame started (after the bracket, a `,` or a newline). */
  segStart: number;
}

export interface CursorContext {
  offset: number;
  /** Open brackets from the outermost to the innermost. */
  frames: ScanFrame[];
  /** Start offset of the current top-level statement segment (when no frame is open). */
  topSegStart: number;
  inComment: boolean;
  /** The string literal that contains the cursor. */
  inString?: { start: number; quote: string; triple: boolean; raw: boolean; contentStart: number };
  /** The Containerd declaration's frame index in `frames`, or -1. */
  declIndex: number;
  /** Key path inside the declaration of the innermost dict (undefined when not in the declaration, or a path step is unknown). */
  path?: string[];
  /** Text of the current entry, from its start to the cursor (or to the string's start when in a string). */
  seg: string;
  segStart: number;
}

const ID = String.raw`[\p{L}_$][\p{L}\p{N}_$]*`;
const QSTR = String.raw`"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'`;
const KEY = `(?:${ID}|${QSTR})`;
const KEYPATH = `${KEY}(?:\\s*\\.\\s*${KEY})*`;
/** `key:` / `key =` / `key +=` at the start of an entry, with the rest of the text. */
const RE_KEY_OP = new RegExp(`^\\s*(${KEYPATH})\\s*(:|\\+=|=(?!=))(.*)$`, 'su');
/** What can precede a bracket: `key:` `key =` `key: Type =` `key = Type` `key` (shorthand). */
const RE_BEFORE_BRACKET = new RegExp(
  `^\\s*(${KEYPATH})\\s*(?::\\s*(${ID}(?:\\.${ID})*)\\s*=|:|\\+=|=\\s*(${ID}(?:\\.${ID})*)|=|)\\s*$`,
  'su',
);
const RE_KEYPATH = new RegExp(`^${KEYPATH}$`, 'u');

/** Split a key path expression (`a.b`, `"x".y`) into names. */
export function splitKeyPath(expr: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`\\s*(${KEY})\\s*(?:\\.|$)`, 'uy');
  let m: RegExpExecArray | null;
  re.lastIndex = 0;
  while (re.lastIndex < expr.length && (m = re.exec(expr))) {
    const k = m[1];
    out.push(unquote(k));
    if (m[0].length === 0) break;
  }
  return out;
}

function unquote(k: string): string {
  if (k.startsWith('"') || k.startsWith("'")) {
    const inner = k.slice(1, -1);
    return inner.replace(/\\(.)/g, '$1');
  }
  return k.startsWith('$') ? k.slice(1) : k;
}

function indentAt(text: string, lineStart: number): number {
  let i = lineStart;
  while (i < text.length && (text[i] === ' ' || text[i] === '\t')) i++;
  return i - lineStart;
}

/** Scan `text` from the start to `offset`. Linear; never throws on any input. */
export function scanToCursor(text: string, offset: number): CursorContext {
  offset = Math.max(0, Math.min(offset, text.length));
  const frames: ScanFrame[] = [];
  let topSegStart = 0;
  let i = 0;
  if (offset > MAX_SCAN) {
    // Start at a line boundary; a huge document loses outer context but stays fast.
    const from = text.lastIndexOf('\n', offset - MAX_SCAN);
    i = from < 0 ? 0 : from + 1;
    topSegStart = i;
  }
  let line = 0;
  for (let k = 0; k < i; k++) if (text.charCodeAt(k) === 10) line++;
  let lineStart = i;
  let inComment = false;
  let str: CursorContext['inString'];
  const segStartOf = (): number => (frames.length ? frames[frames.length - 1].segStart : topSegStart);
  const setSeg = (v: number): void => {
    if (frames.length) frames[frames.length - 1].segStart = v;
    else topSegStart = v;
  };
  while (i < offset) {
    const c = text[i];
    if (str) {
      if (str.triple) {
        if (c === '\\' && !str.raw) {
          i += 2;
          continue;
        }
        if (c === str.quote && text[i + 1] === str.quote && text[i + 2] === str.quote) {
          i += 3;
          str = undefined;
          continue;
        }
        if (c === '\n') {
          line++;
          lineStart = i + 1;
        }
        i++;
        continue;
      }
      if (c === '\n') {
        // an unterminated string ends with its line (the lexer does the same)
        str = undefined;
        continue;
      }
      if (c === '\\') {
        i += text[i + 1] === '\n' ? 1 : 2;
        continue;
      }
      if (c === str.quote) str = undefined;
      i++;
      continue;
    }
    if (inComment) {
      if (c === '\n') inComment = false;
      else {
        i++;
        continue;
      }
    }
    switch (c) {
      case '#':
        inComment = true;
        i++;
        continue;
      case '\n': {
        line++;
        lineStart = i + 1;
        const top = frames[frames.length - 1];
        if (!top || top.open !== '(') setSeg(i + 1);
        // An entry line dedented to (or left of) the line that opened a dict closes it.
        const ind = indentAt(text, lineStart);
        const nextCh = text[lineStart + ind];
        const rest = text.slice(lineStart + ind, Math.min(text.length, lineStart + ind + 200));
        const isEntry = lineStart + ind <= text.length && nextCh !== undefined && nextCh !== '}' && nextCh !== ']' && nextCh !== ')' && nextCh !== '#' &&
          RE_KEY_OP.test(rest.split('\n', 1)[0]);
        const lineHasCursor = offset >= lineStart && offset <= lineStart + (text.indexOf('\n', lineStart) < 0 ? text.length - lineStart : text.indexOf('\n', lineStart) - lineStart);
        const partialKeyLine = lineHasCursor && offset > lineStart + ind && /^[\p{L}\p{N}_$.]+$/u.test(text.slice(lineStart + ind, offset));
        if (isEntry || partialKeyLine) {
          while (frames.length > 1) {
            const f = frames[frames.length - 1];
            if (f.openLine < line && f.openIndent >= ind) frames.pop();
            else break;
          }
          if (frames.length) frames[frames.length - 1].segStart = i + 1;
        }
        i++;
        continue;
      }
      case '"':
      case "'": {
        const raw = i > 0 && (text[i - 1] === 'r' || text[i - 1] === 'R') && !/[\p{L}\p{N}_$]/u.test(text[i - 2] ?? ' ');
        const triple = text[i + 1] === c && text[i + 2] === c;
        str = { start: raw ? i - 1 : i, quote: c, triple, raw, contentStart: i + (triple ? 3 : 1) };
        i += triple ? 3 : 1;
        continue;
      }
      case '{':
      case '[':
      case '(': {
        const segFrom = segStartOf();
        const f: ScanFrame = { open: c, start: i, openLine: line, openIndent: indentAt(text, lineStart), keys: new Set(), segStart: i + 1 };
        if (c !== '(' && i - segFrom <= MAX_SEG) {
          const m = RE_BEFORE_BRACKET.exec(text.slice(segFrom, i));
          if (m && m[1]) {
            f.keyPath = splitKeyPath(m[1]);
            f.typeName = m[2] ?? m[3];
            const parent = frames[frames.length - 1];
            if (parent && parent.open === '{' && f.keyPath.length) parent.keys.add(f.keyPath[0]);
          }
        }
        frames.push(f);
        i++;
        continue;
      }
      case '}':
      case ']':
      case ')': {
        const want = c === '}' ? '{' : c === ']' ? '[' : '(';
        // pop to the matching opener; a stray closer is ignored
        for (let k = frames.length - 1; k >= 0; k--) {
          if (frames[k].open === want) {
            frames.length = k;
            break;
          }
        }
        i++;
        continue;
      }
      case ',': {
        const top = frames[frames.length - 1];
        if (!top || top.open !== '(') setSeg(i + 1);
        i++;
        continue;
      }
      case ':':
      case '=': {
        const top = frames[frames.length - 1];
        if (top && top.open === '{' && i - top.segStart <= MAX_SEG && !(c === '=' && (text[i + 1] === '=' || '!<>='.includes(text[i - 1] ?? '')))) {
          const m = RE_KEYPATH.exec(text.slice(top.segStart, i).trim().replace(/\+$/, '').trim());
          if (m) {
            const ks = splitKeyPath(m[0]);
            if (ks.length) top.keys.add(ks[0]);
          }
        }
        i++;
        continue;
      }
      default:
        i++;
    }
  }
  const segStart = segStartOf();
  const ctx: CursorContext = {
    offset,
    frames,
    topSegStart,
    inComment,
    inString: str,
    declIndex: -1,
    seg: text.slice(segStart, str ? str.start : offset),
    segStart,
  };
  if (frames.length && frames[0].open === '{' && frames[0].keyPath) {
    const f0 = frames[0];
    if (f0.typeName === 'Containerd' || (f0.typeName === undefined && f0.keyPath!.length === 1 && f0.keyPath![0] === 'containerd')) {
      ctx.declIndex = 0;
      const path: string[] = [];
      let ok = true;
      for (let k = 1; k < frames.length; k++) {
        const f = frames[k];
        if (f.open !== '{' || !f.keyPath) {
          ok = false;
          break;
        }
        path.push(...f.keyPath);
      }
      if (ok) ctx.path = path;
    }
  }
  return ctx;
}

// ---------------------------------------------------------------------------------------
// Document facts

/** The runtime names the document lists in `runtimes` (tree first, text fallback), in order. */
export function listedRuntimes(sd: ServiceDocument): string[] {
  const decl = containerdDeclaration(sd.parsed);
  let raw: string | undefined;
  if (decl && decl.value.kind === 'object') {
    const r = findProp(decl.value, 'runtimes');
    if (r && r.value.kind === 'string') raw = String(r.value.value);
  }
  if (raw === undefined) {
    const m = /(?:^|[\s{,])runtimes\s*[:=]\s*("|')([^"'\n]*)\1?/m.exec(sd.parsed.text);
    if (m) raw = m[2];
  }
  if (raw === undefined) {
    const d = taskservSchema().properties?.runtimes?.default;
    raw = typeof d === 'string' ? d : 'runc';
  }
  const out: string[] = [];
  for (const p of raw.split(',')) {
    const n = p.trim();
    if (n && !out.includes(n)) out.push(n);
  }
  return out;
}

function declObject(sd: ServiceDocument): ObjectNode | undefined {
  const decl = containerdDeclaration(sd.parsed);
  return decl && decl.value.kind === 'object' ? decl.value : undefined;
}

/** Keys set in the dict at `path` of the declaration (from the tree), except the one under the cursor. */
function keysInTree(sd: ServiceDocument, path: string[], offset: number): string[] {
  const root = declObject(sd);
  if (!root) return [];
  const node = path.length ? getAt(root, path) : root;
  if (!node || node.kind !== 'object') return [];
  return node.props.filter((p) => !p.keyRanges.some((r) => offset >= r.start && offset <= r.end)).map((p) => p.key);
}

// ---------------------------------------------------------------------------------------
// Formatting

function snipEsc(s: string): string {
  return s.replace(/[\\$}]/g, (c) => '\\' + c);
}

function choiceEsc(s: string): string {
  return s.replace(/[\\$}|,]/g, (c) => '\\' + c);
}

/** A value in KCL syntax: `True`, `"str"`, `[…]`, `{…}`. */
export function kclValue(v: unknown, depth = 0): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return depth > 3 ? '[…]' : '[' + v.map((x) => kclValue(x, depth + 1)).join(', ') + ']';
  if (typeof v === 'object') {
    if (depth > 3) return '{…}';
    const e = Object.entries(v as Record<string, unknown>);
    return e.length ? '{' + e.map(([k, x]) => `${/^[A-Za-z_][\w]*$/.test(k) ? k : JSON.stringify(k)}: ${kclValue(x, depth + 1)}`).join(', ') + '}' : '{}';
  }
  return String(v);
}

function short(s: string, n = 60): string {
  return s.length > n ? s.slice(0, n - 1) + '…' : s;
}

/** `string`, `boolean`, `integer`, `list of string`, `dict`, `dict (map)`, `integer | string`. */
export function kclTypeLabel(node: SchemaNode): string {
  if (Array.isArray(node.type)) return node.type.map((t) => (t === 'array' ? 'list' : t === 'object' ? 'dict' : t)).join(' | ');
  const t = typeOf(node);
  if (t === 'array') {
    const it = node.items ? typeOf(node.items) : undefined;
    return it ? `list of ${it}` : 'list';
  }
  if (t === 'object' || isTable(node)) return node['x-map'] ? 'dict (map)' : 'dict';
  return t ?? 'any';
}

/** The insert-text snippet of a field's value. */
export function valueSnippet(node: SchemaNode, key: string, sd: ServiceDocument): string {
  const t = typeOf(node);
  if (key === 'runtime_default') {
    const names = listedRuntimes(sd);
    return names.length ? `"\${1|${names.map(choiceEsc).join(',')}|}"` : '"${1:runc}"';
  }
  if (node.enum && node.enum.length) {
    const vals = node.enum.filter((v) => v !== '');
    if (vals.length) {
      if (t === 'string') return `"\${1|${vals.map((v) => choiceEsc(String(v))).join(',')}|}"`;
      return `\${1|${vals.map((v) => choiceEsc(kclValue(v))).join(',')}|}`;
    }
  }
  if (isTable(elementOf(node))) return '{\n\t$0\n}';
  switch (t) {
    case 'boolean':
      return node.default === true ? '${1|True,False|}' : '${1|False,True|}';
    case 'string': {
      const d = typeof node.default === 'string' ? node.default : '';
      return d ? `"\${1:${snipEsc(d)}}"` : '"$1"';
    }
    case 'integer':
    case 'number':
      return `\${1:${typeof node.default === 'number' ? node.default : 0}}`;
    case 'array':
      return '[$1]';
    default:
      return node.default !== undefined ? `\${1:${snipEsc(kclValue(node.default))}}` : '$1';
  }
}

// ---------------------------------------------------------------------------------------
// Entry point

interface Cur {
  sd: ServiceDocument;
  text: string;
  offset: number;
  ctx: CursorContext;
}

export function taskservCompleteUnguarded(sd: ServiceDocument, pos: Position): CompletionList {
  const text = sd.parsed.text;
  const offset = sd.text.offsetAt(pos);
  const ctx = scanToCursor(text, offset);
  if (ctx.inComment) return EMPTY;
  const cur: Cur = { sd, text, offset, ctx };
  if (!ctx.frames.length) return list(topLevelItems(cur));
  if (ctx.declIndex < 0 || !ctx.path) return EMPTY;
  const top = ctx.frames[ctx.frames.length - 1];
  if (ctx.inString) return list(stringItems(cur));
  if (top.open !== '{') return EMPTY;
  if (ctx.seg.length > MAX_SEG) return EMPTY;
  const kv = RE_KEY_OP.exec(ctx.seg);
  if (kv) return list(valueItems(cur, splitKeyPath(kv[1]), kv[3], ctx.segStart + ctx.seg.length - kv[3].length));
  return list(keyItems(cur));
}

function list(items: CompletionItem[]): CompletionList {
  return { isIncomplete: false, items };
}

/** An edit range: LSP wants it on one line, containing the cursor. */
function rangeOf(cur: Cur, start: number, end: number): Range {
  const td = cur.sd.text;
  const s = td.positionAt(Math.min(start, cur.offset));
  const e = td.positionAt(Math.max(end, cur.offset));
  const c = td.positionAt(cur.offset);
  return {
    start: s.line === c.line ? s : { line: c.line, character: 0 },
    end: e.line === c.line ? e : c,
  };
}

/** End of the identifier-ish word that continues after the cursor. */
function wordEnd(cur: Cur, re = /[\p{L}\p{N}_$.-]/u): number {
  let e = cur.offset;
  while (e < cur.text.length && e - cur.offset < 256 && re.test(cur.text[e])) e++;
  return e;
}

// ---------------------------------------------------------------------------------------
// Top level

function topLevelItems(cur: Cur): CompletionItem[] {
  const seg = cur.ctx.seg;
  if (cur.ctx.inString) return [];
  // `containerd: Cont|` → the type
  const typed = /^\s*([\p{L}_$][\p{L}\p{N}_$]*)\s*:\s*([\p{L}_]*)$/u.exec(seg);
  if (typed) {
    const start = cur.offset - typed[2].length;
    return [
      {
        label: 'Containerd',
        kind: CompletionItemKind.Class,
        detail: 'taskserv schema: a containerd installation',
        documentation: { kind: 'markdown', value: taskservSchema().description ?? 'The Containerd taskserv schema.' },
        textEdit: { range: rangeOf(cur, start, wordEnd(cur)), newText: 'Containerd = {\n\t$0\n}' },
        insertTextFormat: InsertTextFormat.Snippet,
      },
    ];
  }
  const partial = /^\s*([\p{L}_$][\p{L}\p{N}_$]*)?$/u.exec(seg);
  if (!partial) return [];
  if (containerdDeclaration(cur.sd.parsed)) return [];
  const start = cur.offset - (partial[1]?.length ?? 0);
  const d = (k: string): string => String(taskservSchema().properties?.[k]?.default ?? '');
  return [
    {
      label: 'containerd: Containerd',
      kind: CompletionItemKind.Snippet,
      detail: 'A Containerd taskserv declaration',
      documentation: {
        kind: 'markdown',
        value: 'Declares the containerd installation this taskserv renders: /etc/containerd/config.toml, /etc/crictl.yaml and a systemd drop-in.',
      },
      filterText: 'containerd',
      textEdit: {
        range: rangeOf(cur, start, wordEnd(cur)),
        newText:
          `containerd: Containerd = {\n\tname: "\${1:${snipEsc(d('name'))}}"\n\tversion: "\${2:${snipEsc(d('version'))}}"\n` +
          `\truntime_default: "\${3:${snipEsc(d('runtime_default'))}}"\n\truntimes: "\${4:${snipEsc(d('runtimes'))}}"\n\t$0\n}`,
      },
      insertTextFormat: InsertTextFormat.Snippet,
    },
  ];
}

// ---------------------------------------------------------------------------------------
// Keys

function keyItems(cur: Cur): CompletionItem[] {
  const seg = cur.ctx.seg;
  const lead = seg.length - seg.trimStart().length;
  const partial = seg.slice(lead);
  if (partial && !/^[\p{L}\p{N}_$.]*$/u.test(partial)) return [];
  const parts = partial.split('.');
  const last = parts.pop() ?? '';
  const prefix = parts.map((p) => (p.startsWith('$') ? p.slice(1) : p));
  if (prefix.some((p) => p === '')) return [];
  const path = [...cur.ctx.path!, ...prefix];
  const start = cur.offset - last.length;
  const end = wordEnd(cur, /[\p{L}\p{N}_$]/u);
  const range = rangeOf(cur, start, end);
  const keyOnly = /^\s*(?::|=|\+=)/.test(cur.text.slice(end, end + 64)) || /^\s*\{/.test(cur.text.slice(end, end + 64).split('\n', 1)[0]);
  const res = resolve(taskservSchema(), path);
  if (!res) return [];
  const node = elementOf(res.node);
  if (!isTable(node)) return [];
  const top = cur.ctx.frames[cur.ctx.frames.length - 1];
  const ci = node['x-key-matching'] === 'case-insensitive';
  const norm = (k: string): string => (ci ? k.toLowerCase() : k);
  const present = new Set<string>();
  for (const k of keysInTree(cur.sd, path, cur.offset)) present.add(norm(k));
  if (!prefix.length) for (const k of top.keys) present.add(norm(k));
  const items: CompletionItem[] = [];
  const release = cur.sd.ctx.release;

  // Map tables: runtime names.
  const ap = node.additionalProperties;
  if (node['x-map'] && ap && typeof ap === 'object') {
    const listed = listedRuntimes(cur.sd);
    const isRuntimeMap = path.length === 1 && path[0] === 'runtime_configs' || (path.length === 2 && path[0] === 'install' && path[1] === 'runtimes');
    const names = isRuntimeMap ? listed : [];
    let i = 0;
    for (const n of names) {
      if (present.has(norm(n))) continue;
      const k = /^[A-Za-z_][\w]*$/.test(n) ? n : JSON.stringify(n);
      items.push({
        label: n,
        kind: CompletionItemKind.Module,
        detail: path[0] === 'runtime_configs' ? `runtime "${n}" (listed in runtimes)` : `install runtime "${n}"`,
        documentation: { kind: 'markdown', value: ap.markdownDescription ?? ap.description ?? '' },
        sortText: `0_${String(i++).padStart(3, '0')}`,
        textEdit: { range, newText: keyOnly ? k : `${snipEsc(k)}: {\n\t$0\n}` },
        insertTextFormat: keyOnly ? InsertTextFormat.PlainText : InsertTextFormat.Snippet,
      });
    }
  }

  keysOf(node).forEach((key, order) => {
    if (present.has(norm(key))) return;
    const n = node.properties![key];
    const x = xts(n);
    const dep = n.deprecated === true;
    const notCd = !!x.notContainerd;
    const since = parseRelease(x.since);
    const tooNew = since && (release.major < since.major || (release.major === since.major && release.minor < since.minor) ||
      (release.major === since.major && release.minor === since.minor && since.patch !== undefined && release.patch !== undefined && release.patch < since.patch));
    let detail = kclTypeLabel(n);
    if (n.default !== undefined && !isTable(n)) detail += ' = ' + short(kclValue(n.default));
    if (notCd) detail += ' — not a containerd setting';
    else if (tooNew) detail += ` — needs containerd ${x.since}+`;
    const item: CompletionItem = {
      label: key,
      kind: isTable(elementOf(n)) ? CompletionItemKind.Module : CompletionItemKind.Property,
      detail,
      documentation: { kind: 'markdown', value: fieldMarkdown(n) },
      sortText: `${dep || notCd ? 3 : x.target === 'none' && key !== 'name' ? 2 : tooNew ? 1 : 0}_${String(order).padStart(3, '0')}`,
      textEdit: { range, newText: keyOnly ? key : `${snipEsc(key)}: ${valueSnippet(n, key, cur.sd)}` },
      insertTextFormat: keyOnly ? InsertTextFormat.PlainText : InsertTextFormat.Snippet,
    };
    if (dep || notCd) item.tags = [CompletionItemTag.Deprecated];
    items.push(item);
  });
  return items;
}

/** The field's markdown (the generated description says what it becomes on the host). */
export function fieldMarkdown(node: SchemaNode): string {
  const x = xts(node);
  let md = node.markdownDescription ?? node.description ?? '';
  if (x.notContainerd && !md.includes(x.notContainerd.message)) {
    md += `\n\n**Not a containerd setting:** ${x.notContainerd.message}` + (x.notContainerd.equivalent ? `\n\n**Instead:** ${x.notContainerd.equivalent}` : '');
  }
  return md;
}

// ---------------------------------------------------------------------------------------
// Values

interface Choice {
  /** The value (strings without quotes). */
  value: string | number | boolean;
  detail?: string;
  preselect?: boolean;
}

function choicesFor(cur: Cur, path: string[], node: SchemaNode): Choice[] {
  const key = path[path.length - 1];
  const out: Choice[] = [];
  const seen = new Set<string>();
  const add = (c: Choice): void => {
    const k = typeof c.value + ':' + String(c.value);
    if (seen.has(k)) return;
    seen.add(k);
    out.push(c);
  };
  const dflt = node.default;
  if (key === 'runtime_default' && path.length === 1) {
    for (const n of listedRuntimes(cur.sd)) add({ value: n, detail: 'listed in runtimes', preselect: n === dflt });
    return out;
  }
  if (key === 'version' && path.length === 1) {
    for (const r of TASKSERV_RELEASES) {
      const rel = parseRelease(r)!;
      add({ value: r, detail: `containerd ${rel.major}.${rel.minor} — config version ${nativeConfigVersion(rel)}` });
    }
    for (const e of node.examples ?? []) if (typeof e === 'string') add({ value: e, detail: 'example' });
    if (typeof dflt === 'string') add({ value: dflt, detail: 'default' });
    return out;
  }
  if (key === 'runtimes' && path.length === 1) {
    const names = xts(node).listOf ?? FALLBACK_RUNTIMES;
    add({ value: 'runc', detail: 'default', preselect: true });
    add({ value: 'runc,crun', detail: 'runc and crun' });
    add({ value: 'runc,crun,youki', detail: 'runc, crun and youki' });
    for (const n of names) add({ value: n, detail: 'runtime' });
    return out;
  }
  if (node.enum) for (const e of node.enum) if (typeof e === 'string' || typeof e === 'number' || typeof e === 'boolean') add({ value: e, preselect: e === dflt, detail: e === dflt ? 'default' : undefined });
  const t = typeOf(node);
  if (t === 'boolean') {
    add({ value: true, preselect: dflt === true, detail: dflt === true ? 'default' : undefined });
    add({ value: false, preselect: dflt === false, detail: dflt === false ? 'default' : undefined });
  }
  if (key === 'runtime_type') for (const r of KNOWN_RUNTIME_TYPES) add({ value: r, detail: r === dflt ? 'default' : 'runtime type' });
  if (key === 'snapshotter') for (const s of KNOWN_SNAPSHOTTERS) add({ value: s, detail: s === dflt ? 'default' : 'snapshotter' });
  if (key === 'arch' && !node.enum) for (const a of ['amd64', 'arm64']) add({ value: a });
  if (dflt !== undefined && (typeof dflt === 'string' || typeof dflt === 'number' || typeof dflt === 'boolean')) {
    if (!(typeof dflt === 'string' && dflt === '' && node.enum)) add({ value: dflt, detail: 'default', preselect: true });
  }
  for (const e of node.examples ?? []) if (typeof e === 'string' || typeof e === 'number') add({ value: e, detail: 'example' });
  return out;
}

function valueItems(cur: Cur, keyPath: string[], valueText: string, valueStart: number): CompletionItem[] {
  const lead = valueText.length - valueText.trimStart().length;
  const partial = valueText.slice(lead);
  if (partial && !/^[\p{L}\p{N}_.+-]*$/u.test(partial)) return [];
  const path = [...cur.ctx.path!, ...keyPath];
  const res = resolve(taskservSchema(), path);
  if (!res) return [];
  const node = res.node;
  const start = valueStart + lead;
  const range = rangeOf(cur, start, wordEnd(cur));
  // `key:|` (no space yet): the value gets one.
  const sp = lead === 0 && partial === '' && cur.text[start - 1] === ':' ? ' ' : '';
  const items: CompletionItem[] = [];
  if (isTable(elementOf(node))) {
    return [
      {
        label: '{…}',
        kind: CompletionItemKind.Struct,
        detail: kclTypeLabel(node),
        documentation: { kind: 'markdown', value: fieldMarkdown(node) },
        textEdit: { range, newText: sp + '{\n\t$0\n}' },
        insertTextFormat: InsertTextFormat.Snippet,
      },
    ];
  }
  if (typeOf(node) === 'array') {
    items.push({ label: '[]', kind: CompletionItemKind.Value, detail: kclTypeLabel(node), textEdit: { range, newText: sp + '[$1]' }, insertTextFormat: InsertTextFormat.Snippet });
    return items;
  }
  const choices = choicesFor(cur, path, node);
  choices.forEach((c, i) => {
    const lit = kclValue(c.value);
    const item: CompletionItem = {
      label: lit,
      kind: typeof c.value === 'boolean' ? CompletionItemKind.Keyword : CompletionItemKind.Value,
      detail: c.detail,
      filterText: typeof c.value === 'string' ? `${c.value}` : lit,
      sortText: `${c.preselect ? 0 : 1}_${String(i).padStart(3, '0')}`,
      textEdit: { range, newText: sp + lit },
      insertTextFormat: InsertTextFormat.PlainText,
    };
    if (c.preselect) item.preselect = true;
    items.push(item);
  });
  if (typeOf(node) === 'string' && !choices.length) {
    items.push({ label: '""', kind: CompletionItemKind.Value, detail: 'string', textEdit: { range, newText: sp + '"$1"' }, insertTextFormat: InsertTextFormat.Snippet });
  }
  return items;
}

/** The string containing the cursor: its content range (to the closing quote on this line). */
function stringContent(cur: Cur): { start: number; end: number } {
  const s = cur.ctx.inString!;
  const q = s.triple ? s.quote.repeat(3) : s.quote;
  let e = cur.offset;
  while (e < cur.text.length && e - cur.offset < 4096) {
    const ch = cur.text[e];
    if (ch === '\n' || ch === '\r') break; // a completion edit stays on the cursor's line
    if (ch === '\\' && !s.raw && cur.text[e + 1] !== '\n' && cur.text[e + 1] !== '\r') {
      e += 2;
      continue;
    }
    if (cur.text.startsWith(q, e)) break;
    e++;
  }
  const lineStart = cur.text.lastIndexOf('\n', cur.offset - 1) + 1;
  return { start: Math.max(s.contentStart, lineStart), end: Math.min(Math.max(e, cur.offset), cur.text.length) };
}

function stringItems(cur: Cur): CompletionItem[] {
  const top = cur.ctx.frames[cur.ctx.frames.length - 1];
  if (top.open !== '{' || cur.ctx.seg.length > MAX_SEG) return [];
  const kv = RE_KEY_OP.exec(cur.ctx.seg);
  if (!kv || kv[3].trim() !== '') return [];
  const path = [...cur.ctx.path!, ...splitKeyPath(kv[1])];
  const res = resolve(taskservSchema(), path);
  if (!res || typeOf(res.node) !== 'string' && !(Array.isArray(res.node.type) && res.node.type.includes('string'))) return [];
  const content = stringContent(cur);
  if (path.length === 1 && path[0] === 'runtimes') return runtimesStringItems(cur, res.node, content);
  const range = rangeOf(cur, content.start, content.end);
  return choicesFor(cur, path, res.node)
    .filter((c) => typeof c.value === 'string' && c.value !== '')
    .map((c, i) => {
      const v = String(c.value);
      const esc = JSON.stringify(v).slice(1, -1);
      const item: CompletionItem = {
        label: v,
        kind: CompletionItemKind.Value,
        detail: c.detail,
        sortText: `${c.preselect ? 0 : 1}_${String(i).padStart(3, '0')}`,
        textEdit: { range, newText: cur.ctx.inString!.raw ? v : esc },
      };
      if (c.preselect) item.preselect = true;
      return item;
    });
}

/** Inside the `runtimes` string: the known runtime names not listed yet. */
function runtimesStringItems(cur: Cur, node: SchemaNode, content: { start: number; end: number }): CompletionItem[] {
  const before = cur.text.slice(content.start, cur.offset);
  const comma = before.lastIndexOf(',');
  const itemStartRaw = comma + 1;
  const typedRaw = before.slice(itemStartRaw);
  const typed = typedRaw.trimStart();
  if (!/^[A-Za-z0-9_.-]*$/.test(typed)) return [];
  const itemStart = content.start + itemStartRaw + (typedRaw.length - typed.length);
  const after = cur.text.slice(cur.offset, content.end);
  const tail = /^[A-Za-z0-9_.-]*/.exec(after)![0];
  const whole = cur.text.slice(content.start, content.end);
  const listed = new Set<string>();
  let off = 0;
  for (const part of whole.split(',')) {
    const s = content.start + off;
    const e = s + part.length;
    off += part.length + 1;
    if (cur.offset >= s && cur.offset <= e) continue; // the item being typed
    const n = part.trim();
    if (n) listed.add(n);
  }
  const names = xts(node).listOf ?? FALLBACK_RUNTIMES;
  const range = rangeOf(cur, itemStart, cur.offset + tail.length);
  return names
    .filter((n) => !listed.has(n))
    .map((n, i) => ({
      label: n,
      kind: CompletionItemKind.EnumMember,
      detail: FALLBACK_RUNTIMES.includes(n) ? 'runc-compatible OCI runtime' : 'runtime handler (needs a runtime_configs entry with its runtime_type)',
      sortText: String(i).padStart(3, '0'),
      textEdit: { range, newText: n },
    }));
}
