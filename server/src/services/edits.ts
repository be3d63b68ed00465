/**
 * Text-edit helpers for code actions: remove a `key = value` line, insert one into an
 * existing table (or create the table), rename table headers. They work on offsets of the
 * ParsedDocument text and produce `OffsetEdit`s; `toTextEdits` turns a set of them into
 * one LSP TextEdit covering the changed span (so edits that touch each other — removing
 * the last line of a section and inserting right after that section — can never overlap).
 *
 * Placement rules:
 * - A key goes after the last body line of the (non array-item) section whose `path` equals
 *   its table; into the root table before the first header.
 * - When the table is only created implicitly by dotted keys inside an ancestor section
 *   (`options.SystemdCgroup = true` under `[...runtimes.runc]`), the key is written there as
 *   a dotted key, so no table is defined twice.
 * - Otherwise a new `[table]` section is created right after the section that shares the
 *   longest leading path with the table (its closest existing relative), or at the end of
 *   the document when no section shares even the first segment.
 * Keys and headers are written with `formatPath`/`quoteKey`; values are copied verbatim.
 * Indentation copies the target section's lines; new sections follow the document's style
 * (nested header indentation like `containerd config default`, or flush-left headers).
 */
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { TextEdit } from 'vscode-languageserver-types';
import { formatPath, quoteKey } from '../tree/keypath';
import { getAt, type ObjectNode, type ParsedDocument, type Property, type Section } from '../tree/model';

export interface OffsetEdit {
  start: number;
  end: number;
  text: string;
}

/** Start of the line containing `offset`. */
export function lineStart(text: string, offset: number): number {
  return text.lastIndexOf('\n', offset - 1) + 1;
}

/** Offset of the `\n` ending the line containing `offset` (or text.length). */
export function lineEnd(text: string, offset: number): number {
  const nl = text.indexOf('\n', offset);
  return nl < 0 ? text.length : nl;
}

function indentOf(text: string, offset: number): string {
  const ls = lineStart(text, offset);
  return /^[ \t]*/.exec(text.slice(ls))![0];
}

/** The line ending the document uses (for inserted lines). */
function eol(text: string): string {
  return text.includes('\r\n') ? '\r\n' : '\n';
}

/** End of the line of `offset`, excluding a `\r` before the `\n`. */
function contentEnd(text: string, offset: number): number {
  const e = lineEnd(text, offset);
  return e > 0 && text[e - 1] === '\r' ? e - 1 : e;
}

/**
 * Can this property's line be removed on its own? True for `key = value` lines (dotted keys
 * included) that share their lines with nothing else; false for keys inside inline tables,
 * table headers and array-of-tables.
 */
export function isLineProperty(doc: ParsedDocument, prop: Property): boolean {
  if (prop.value.kind === 'object' && prop.value.origin !== 'inline') return false;
  if (prop.value.kind === 'array' && prop.value.ofTables) return false;
  const text = doc.text;
  const start = prop.keyExprRange?.start ?? prop.range.start;
  if (text.slice(lineStart(text, start), start).trim() !== '') return false;
  const after = text.slice(prop.value.range.end, contentEnd(text, prop.value.range.end)).trim();
  return after === '' || after.startsWith('#');
}

/** Remove a `key = value` line (with its line break); comments on other lines stay. */
export function removeLine(doc: ParsedDocument, prop: Property): OffsetEdit {
  const text = doc.text;
  const start = lineStart(text, prop.keyExprRange?.start ?? prop.range.start);
  const endLine = lineEnd(text, Math.max(prop.range.end, prop.value.range.end));
  if (endLine < text.length) return { start, end: endLine + 1, text: '' };
  // Last line without a final newline: take the preceding line break instead.
  const s = start > 0 ? (start >= 2 && text[start - 2] === '\r' ? start - 2 : start - 1) : 0;
  return { start: s, end: text.length, text: '' };
}

/** The `value  # comment` text of a property, verbatim from the source. */
export function valueText(doc: ParsedDocument, prop: Property): string {
  const text = doc.text;
  const v = text.slice(prop.value.range.start, prop.value.range.end);
  const rest = text.slice(prop.value.range.end, contentEnd(text, prop.value.range.end));
  return rest.trim().startsWith('#') ? v + rest.replace(/\s+$/, '') : v;
}

interface IndentStyle {
  /** Headers are indented by nesting depth (containerd's own output). */
  nestedHeaders: boolean;
  /** Indentation of body lines relative to their header. */
  body: string;
}

/** Guess the document's indentation style from its sections. */
export function indentStyle(doc: ParsedDocument): IndentStyle {
  const text = doc.text;
  const bodyCounts = new Map<string, number>();
  let nestedHeaders = false;
  for (const s of doc.sections) {
    const h = indentOf(text, s.headerRange.start);
    if (h.length > 0) nestedHeaders = true;
    const first = firstBodyProp(s);
    if (first) {
      const b = indentOf(text, first.keyExprRange?.start ?? first.range.start);
      const rel = b.startsWith(h) ? b.slice(h.length) : b;
      bodyCounts.set(rel, (bodyCounts.get(rel) ?? 0) + 1);
    }
  }
  let body = '';
  let best = -1;
  for (const [k, n] of bodyCounts) {
    if (n > best) {
      best = n;
      body = k;
    }
  }
  if (best < 0) body = '  ';
  return { nestedHeaders, body };
}

/** Key/value properties written in a section's body (not sub-tables from other headers). */
function bodyProps(s: Section): Property[] {
  const out: Property[] = [];
  const hdrEnd = s.headerRange.end;
  const visit = (o: ObjectNode): void => {
    for (const p of o.props) {
      if (p.value.kind === 'object' && p.value.origin === 'implicit') {
        visit(p.value);
        continue;
      }
      if (p.range.start < hdrEnd || p.range.end > s.range.end) continue;
      if (p.value.kind === 'object' && p.value.origin !== 'inline') continue;
      else if (p.value.kind === 'array' && p.value.ofTables) continue;
      else out.push(p);
    }
  };
  visit(s.node);
  return out;
}

function firstBodyProp(s: Section): Property | undefined {
  let first: Property | undefined;
  for (const p of bodyProps(s)) if (!first || p.range.start < first.range.start) first = p;
  return first;
}

function lastBodyEnd(s: Section): number | undefined {
  let end: number | undefined;
  for (const p of bodyProps(s)) {
    const e = Math.max(p.range.end, p.value.range.end);
    if (end === undefined || e > end) end = e;
  }
  return end;
}

function samePath(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function isPrefix(prefix: readonly string[], path: readonly string[]): boolean {
  return prefix.length <= path.length && prefix.every((x, i) => x === path[i]);
}

/** The offset just after the line holding `offset` (start of the next line), and whether a newline must be added first. */
function afterLine(text: string, offset: number): { at: number; needNl: boolean } {
  const e = lineEnd(text, offset);
  return e < text.length ? { at: e + 1, needNl: false } : { at: text.length, needNl: true };
}

/**
 * Insert `key = valueText` into table `table` (a concrete path from the root), creating the
 * table when it does not exist. `key` is the unquoted key name.
 */
export function insertKeyValue(doc: ParsedDocument, table: readonly string[], key: string, value: string): OffsetEdit {
  const text = doc.text;
  const nl = eol(text);
  const line = (indent: string, k: string) => `${indent}${k} = ${value}`;

  if (table.length === 0) {
    // Root table: after the last root-level key line, else before the first header.
    const first = doc.sections.length ? Math.min(...doc.sections.map((s) => s.headerRange.start)) : text.length;
    let end: number | undefined;
    const visitRoot = (o: ObjectNode): void => {
      for (const p of o.props) {
        if (p.value.kind === 'object' && p.value.origin === 'implicit') visitRoot(p.value);
        else if (p.range.end <= first && !(p.value.kind === 'array' && p.value.ofTables)) {
          const e = Math.max(p.range.end, p.value.range.end);
          if (end === undefined || e > end) end = e;
        }
      }
    };
    visitRoot(doc.root);
    if (end !== undefined) {
      const { at, needNl } = afterLine(text, end);
      return { start: at, end: at, text: (needNl ? nl : '') + line(indentOf(text, end), quoteKey(key)) + nl };
    }
    let at = doc.sections.length ? lineStart(text, first) : text.length;
    // Keep a comment block that introduces the first header attached to it.
    while (at > 0) {
      const prev = lineStart(text, at - 1);
      if (!/^[ \t]*#/.test(text.slice(prev, at))) break;
      at = prev;
    }
    // ... unless that block starts the file (a file header comment, a release pin).
    if (at === 0 && doc.sections.length) at = lineStart(text, first);
    const pre = at > 0 && text[at - 1] !== '\n' ? nl : '';
    return { start: at, end: at, text: pre + line('', quoteKey(key)) + nl + (doc.sections.length ? nl : '') };
  }

  // 1. A section for exactly this table.
  const exact = doc.sections.filter((s) => !s.arrayItem && samePath(s.path, table));
  if (exact.length) {
    const s = exact[exact.length - 1];
    const end = lastBodyEnd(s);
    if (end !== undefined) {
      const { at, needNl } = afterLine(text, end);
      return { start: at, end: at, text: (needNl ? nl : '') + line(indentOf(text, end), quoteKey(key)) + nl };
    }
    const style = indentStyle(doc);
    const { at, needNl } = afterLine(text, s.headerRange.end);
    const ind = indentOf(text, s.headerRange.start) + style.body;
    return { start: at, end: at, text: (needNl ? nl : '') + line(ind, quoteKey(key)) + nl };
  }

  // 2. The table exists implicitly (dotted keys) inside an ancestor section: add a dotted key there.
  for (let i = table.length - 1; i >= 1; i--) {
    const anc = doc.sections.filter((s) => !s.arrayItem && samePath(s.path, table.slice(0, i)));
    if (!anc.length) continue;
    const rest = table.slice(i);
    for (const s of anc) {
      const v = getAt(s.node, rest);
      if (v && v.kind === 'object' && v.origin === 'implicit') {
        const end = lastBodyEnd(s);
        if (end === undefined) break;
        const { at, needNl } = afterLine(text, end);
        return { start: at, end: at, text: (needNl ? nl : '') + line(indentOf(text, end), formatPath([...rest, key])) + nl };
      }
    }
    break;
  }

  // 3. A new section after its closest relative (or at the end).
  const style = indentStyle(doc);
  let anchor: Section | undefined;
  let bestLen = 0;
  for (const s of doc.sections) {
    let n = 0;
    while (n < s.path.length && n < table.length && s.path[n] === table[n]) n++;
    if (n >= bestLen && n > 0) {
      // Prefer the section with the longest shared prefix; among equals, the last one
      // whose path is a prefix of the table (its parent) or the last in the document.
      if (n > bestLen || !anchor || isPrefix(s.path, table) || !isPrefix(anchor.path, table)) anchor = s;
      bestLen = n;
    }
  }
  // Nested style: a sub-table's header is indented like its parent's body lines; a sibling
  // or cousin gets the anchor's header indentation. Flush-left style: no indentation.
  let headerIndent = '';
  if (style.nestedHeaders && anchor) {
    const ah = indentOf(text, anchor.headerRange.start);
    if (isPrefix(anchor.path, table)) {
      const first = firstBodyProp(anchor);
      headerIndent = first ? indentOf(text, first.keyExprRange?.start ?? first.range.start) : ah + style.body;
    } else headerIndent = ah;
  }
  const header = `${headerIndent}[${formatPath(table)}]`;
  const body = line(headerIndent + style.body, quoteKey(key));
  if (anchor) {
    // After the anchor and everything nested below it that directly follows.
    let endOff = anchor.range.end;
    for (const s of doc.sections) {
      if (s.range.start >= anchor.range.start && isPrefix(anchor.path, s.path) && s.range.end > endOff) {
        // only contiguous descendants
        const between = doc.sections.filter((o) => o.range.start > anchor!.range.start && o.range.start < s.range.start);
        if (between.every((o) => isPrefix(anchor!.path, o.path))) endOff = s.range.end;
      }
    }
    const { at, needNl } = afterLine(text, endOff);
    return { start: at, end: at, text: (needNl ? nl : '') + nl + header + nl + body + nl };
  }
  const pre = text.length === 0 ? '' : text.endsWith('\n') ? nl : nl + nl;
  return { start: text.length, end: text.length, text: pre + header + nl + body + nl };
}

/** Apply offset edits to a string (edits must not overlap; an insert may touch a removal). */
export function applyOffsetEdits(text: string, edits: readonly OffsetEdit[]): string {
  const sorted = edits
    .map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.start - b.e.start || a.e.end - b.e.end || a.i - b.i)
    .map((x) => x.e);
  let out = '';
  let pos = 0;
  for (const e of sorted) {
    if (e.start < pos) throw new Error('overlapping edits');
    out += text.slice(pos, e.start) + e.text;
    pos = e.end;
  }
  return out + text.slice(pos);
}

/**
 * One TextEdit that turns the document into the result of `edits`: the smallest span that
 * changes (common prefix and suffix are left alone).
 */
export function toTextEdits(td: TextDocument, text: string, edits: readonly OffsetEdit[]): TextEdit[] {
  if (!edits.length) return [];
  const next = applyOffsetEdits(text, edits);
  const start = Math.min(...edits.map((e) => e.start));
  const endOld = Math.max(...edits.map((e) => e.end));
  const tail = text.length - endOld;
  return [
    {
      range: { start: td.positionAt(start), end: td.positionAt(endOld) },
      newText: next.slice(start, next.length - tail),
    },
  ];
}

/** Replace the whole document. */
export function replaceAll(td: TextDocument, newText: string): TextEdit {
  return { range: { start: td.positionAt(0), end: td.positionAt(td.getText().length) }, newText };
}
