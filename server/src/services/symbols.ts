/**
 * Document symbols (the outline) and folding ranges for containerd config.toml.
 *
 * Outline: the tree's structure in document order — top-level keys and tables, and under
 * `plugins` one Module symbol per plugin ID with its tables (Object) and keys (typed by
 * value: String / Number / Boolean / Array) as children. Arrays of tables are an Array
 * symbol with one Object child per `[[...]]` element.
 *
 * Folding: each `[table]` section from its header to its last non-blank, non-comment body
 * line (found in the text, so broken documents still fold); multi-line arrays, inline
 * tables and multi-line strings (from the tree); runs of two or more whole-line comments.
 */
import {
  FoldingRangeKind,
  SymbolKind,
  type DocumentSymbol,
  type FoldingRange,
} from 'vscode-languageserver-types';
import { childOf, elementOf, schemaFor, type SchemaNode } from '../schema/catalog';
import type { ObjectNode, Property, Span, ValueNode } from '../tree/model';
import { textIndex } from './completion';
import { toRange, type ServiceDocument } from './context';

const MAX_DEPTH = 32;
const MAX_DETAIL = 60;

export function documentSymbols(sd: ServiceDocument): DocumentSymbol[] {
  const schema = schemaFor(sd.ctx.configVersion);
  return objectSymbols(sd, sd.parsed.root, [], schema, 0);
}

function objectSymbols(sd: ServiceDocument, obj: ObjectNode, path: string[], schema: SchemaNode | undefined, depth: number): DocumentSymbol[] {
  if (depth > MAX_DEPTH) return [];
  return obj.props.map((p) => propSymbol(sd, p, [...path, p.key], schema ? childOf(elementOf(schema), p.key)?.node : undefined, depth));
}

/** The outline kind of a value (shared with taskservSymbols.ts). */
export function valueKind(v: ValueNode): SymbolKind {
  switch (v.kind) {
    case 'string':
      return SymbolKind.String;
    case 'integer':
    case 'float':
      return SymbolKind.Number;
    case 'boolean':
      return SymbolKind.Boolean;
    case 'array':
      return SymbolKind.Array;
    case 'object':
      return SymbolKind.Object;
    case 'null':
      return SymbolKind.Null;
    default:
      return SymbolKind.Constant;
  }
}

/** The smallest span covering both. */
export function span(a: Span, b: Span): Span {
  return { start: Math.min(a.start, b.start), end: Math.max(a.end, b.end) };
}

function propSymbol(sd: ServiceDocument, p: Property, path: string[], node: SchemaNode | undefined, depth: number): DocumentSymbol {
  const v = p.value;
  const isPluginsRoot = path.length === 1 && p.key === 'plugins' && v.kind === 'object';
  const isPlugin = path.length === 2 && path[0] === 'plugins' && v.kind === 'object';
  let kind = valueKind(v);
  if (isPluginsRoot) kind = SymbolKind.Namespace;
  else if (isPlugin) kind = SymbolKind.Module;
  let detail: string | undefined;
  let children: DocumentSymbol[] | undefined;
  if (v.kind === 'object') {
    children = objectSymbols(sd, v, path, node, depth + 1);
    if (isPlugin && node?.description) detail = clip(node.description.split(/(?<=\.)\s/)[0]);
  } else if (v.kind === 'array' && v.ofTables) {
    const el = node ? elementOf(node) : undefined;
    children = v.items.map((it, i) => {
      const r = it.kind === 'object' && it.headerRange ? span(it.range, it.headerRange) : it.range;
      return {
        name: `[${i}]`,
        kind: SymbolKind.Object,
        range: toRange(sd.text, r),
        selectionRange: toRange(sd.text, it.kind === 'object' && it.headerRange ? it.headerRange : { start: r.start, end: r.start }),
        children: it.kind === 'object' ? objectSymbols(sd, it, path, el, depth + 1) : [],
      };
    });
  } else {
    detail = clip(sd.parsed.text.slice(v.range.start, v.range.end).replace(/\s+/g, ' '));
  }
  const full = span(p.range, p.keyRange);
  const sym: DocumentSymbol = {
    name: p.key === '' ? '""' : p.key,
    kind,
    range: toRange(sd.text, full),
    selectionRange: toRange(sd.text, p.keyRange),
  };
  if (detail) sym.detail = detail;
  if (children) {
    // A table's range must contain its children's (headers make tables discontinuous).
    let r = full;
    const grow = (c: DocumentSymbol): void => {
      r = span(r, { start: sd.text.offsetAt(c.range.start), end: sd.text.offsetAt(c.range.end) });
    };
    children.forEach(grow);
    sym.range = toRange(sd.text, r);
    sym.children = children;
  }
  return sym;
}

function clip(s: string): string {
  return s.length > MAX_DETAIL ? s.slice(0, MAX_DETAIL - 1) + '…' : s;
}

// ---------------------------------------------------------------------------------------
// Folding

export function foldingRanges(sd: ServiceDocument): FoldingRange[] {
  const td = sd.text;
  const idx = textIndex(sd.parsed);
  const out: FoldingRange[] = [];
  const usedStart = new Set<number>();
  const push = (r: FoldingRange): void => {
    if (r.endLine <= r.startLine || usedStart.has(r.startLine)) return;
    usedStart.add(r.startLine);
    out.push(r);
  };

  // Multi-line values from the tree.
  const multi: { start: number; end: number; closeOwnLine: boolean }[] = [];
  const visitValue = (v: ValueNode, depth: number): void => {
    if (depth > MAX_DEPTH) return;
    if (v.kind === 'object') {
      if (v.origin === 'inline') addMulti(v.range);
      for (const p of v.props) visitValue(p.value, depth + 1);
    } else if (v.kind === 'array') {
      if (!v.ofTables) addMulti(v.range);
      for (const it of v.items) visitValue(it, depth + 1);
    } else if (v.kind === 'string') {
      addMulti(v.range);
    }
  };
  const addMulti = (r: Span): void => {
    const s = td.positionAt(r.start);
    const e = td.positionAt(r.end);
    if (e.line <= s.line) return;
    const endLineText = idx.lines[e.line] ?? '';
    const closeOwnLine = endLineText.slice(0, e.character).trim().length <= 3 && /^\s*[\]}'"]/.test(endLineText);
    multi.push({ start: s.line, end: e.line, closeOwnLine });
  };
  visitValue(sd.parsed.root, 0);
  const insideMulti = (line: number): boolean => multi.some((m) => line > m.start && line <= m.end);

  // Sections: header line to the last body line (blank and comment lines at the end excluded).
  const headers = idx.headers.filter((h) => !insideMulti(h.line));
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i];
    const limit = i + 1 < headers.length ? headers[i + 1].line : idx.lines.length;
    let last = h.line;
    for (let l = h.line + 1; l < limit; l++) {
      const t = idx.lines[l].trim();
      if (t !== '' && !t.startsWith('#')) last = l;
      else if (insideMulti(l)) last = l;
    }
    push({ startLine: h.line, endLine: last, kind: FoldingRangeKind.Region });
  }

  for (const m of multi) push({ startLine: m.start, endLine: m.closeOwnLine ? m.end - 1 : m.end });

  // Consecutive whole-line comments.
  let runStart = -1;
  for (let l = 0; l <= idx.lines.length; l++) {
    const isComment = l < idx.lines.length && /^\s*#/.test(idx.lines[l]) && !insideMulti(l);
    if (isComment && runStart < 0) runStart = l;
    if (!isComment && runStart >= 0) {
      if (l - 1 > runStart) push({ startLine: runStart, endLine: l - 1, kind: FoldingRangeKind.Comment });
      runStart = -1;
    }
  }
  return out.sort((a, b) => a.startLine - b.startLine);
}
