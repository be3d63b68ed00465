/**
 * Document symbols (the outline) and folding ranges for taskserv files (KCL).
 *
 * Outline: every top-level declaration (`containerd: Containerd = {…}` is a Class with its type
 * as detail), then its dicts and fields in document order. `plugins` is a Namespace and each
 * plugin dict under it a Module; a `runtime_configs` / `install.runtimes` entry is an Object whose
 * detail is its runtime_type; leaves are typed by their value (String / Number / Boolean / Array
 * / Null) with the value as detail. A dict's range is grown to contain its key and children.
 *
 * Folding: found in the TEXT (string- and comment-aware bracket matching), so broken documents
 * still fold: every multi-line `{…}`, `[…]` and `(…)` (up to the line before a closing bracket
 * that starts its line; an unclosed bracket folds to the last non-blank line), multi-line
 * triple-quoted strings, and runs of two or more whole-line comments.
 */
import { FoldingRangeKind, SymbolKind, type DocumentSymbol, type FoldingRange } from 'vscode-languageserver-types';
import { childOf, elementOf, taskservSchema, type SchemaNode } from '../schema/catalog';
import type { ObjectNode, Property, Span, ValueNode } from '../tree/model';
import { toRange, type ServiceDocument } from './context';
import { xts } from './taskservCompletion';
import { span, valueKind } from './symbols';

const MAX_DEPTH = 64;
const MAX_DETAIL = 60;
const MAX_SYMBOLS = 20_000;

export function taskservSymbols(sd: ServiceDocument): DocumentSymbol[] {
  const budget = { left: MAX_SYMBOLS };
  const out: DocumentSymbol[] = [];
  for (const p of sd.parsed.root.props) {
    if (budget.left-- <= 0) break;
    const typed = p.value.kind === 'object' && p.value.typeName;
    const isContainerd = p.value.kind === 'object' && (p.value.typeName === 'Containerd' || (!p.value.typeName && p.key === 'containerd'));
    const sym = propSymbol(sd, p, [], isContainerd ? taskservSchema() : undefined, 0, budget, true);
    if (typed) {
      sym.kind = SymbolKind.Class;
      sym.detail = (p.value as ObjectNode).typeName;
    } else if (p.value.kind !== 'object') {
      sym.kind = SymbolKind.Variable;
    }
    out.push(sym);
  }
  return out;
}


function clip(s: string): string {
  const t = s.replace(/\s+/g, ' ');
  return t.length > MAX_DETAIL ? t.slice(0, MAX_DETAIL - 1) + '…' : t;
}

/**
 * `schema` is the schema node of the dict holding `p` (undefined outside the Containerd value);
 * `path` the field path of that dict.
 */
function propSymbol(
  sd: ServiceDocument,
  p: Property,
  path: string[],
  schema: SchemaNode | undefined,
  depth: number,
  budget: { left: number },
  isRoot = false,
): DocumentSymbol {
  const v = p.value;
  const field = isRoot ? [] : [...path, p.key];
  const child = isRoot ? (schema ? { node: schema, mapEntry: false } : undefined) : schema ? childOf(elementOf(schema), p.key) : undefined;
  let kind = valueKind(v);
  let detail: string | undefined;
  let children: DocumentSymbol[] | undefined;
  if (!isRoot && v.kind === 'object') {
    if (field.length === 1 && field[0] === 'plugins') kind = SymbolKind.Namespace;
    else if (field.length === 2 && field[0] === 'plugins') kind = SymbolKind.Module;
    if (child?.mapEntry) {
      const rt = v.props.find((q) => q.key === 'runtime_type');
      if (rt && rt.value.kind === 'string') detail = clip(String(rt.value.value));
    }
  }
  if (child && xts(child.node).notContainerd) detail = 'not a containerd setting' + (detail ? ` · ${detail}` : '');
  if (v.kind === 'object') {
    children = [];
    if (depth < MAX_DEPTH) {
      for (const q of v.props) {
        if (budget.left-- <= 0) break;
        children.push(propSymbol(sd, q, field, child?.node, depth + 1, budget));
      }
    }
  } else if (v.kind === 'array') {
    const text = sd.parsed.text.slice(v.range.start, Math.min(v.range.end, v.range.start + 256));
    detail = (detail ? detail + ' · ' : '') + clip(v.items.length + (v.items.length === 1 ? ' item' : ' items') + (v.items.length ? ': ' + text : ''));
  } else {
    const raw = sd.parsed.text.slice(v.range.start, Math.min(v.range.end, v.range.start + 256));
    detail = (detail ? detail + ' · ' : '') + clip(raw);
  }
  let full = span(p.range, p.keyRange);
  for (const k of p.keyRanges) full = span(full, k);
  if (v.kind !== 'object') full = span(full, v.range);
  const sym: DocumentSymbol = {
    name: p.key === '' ? '""' : p.key,
    kind,
    range: toRange(sd.text, full),
    selectionRange: toRange(sd.text, p.keyRange),
  };
  if (detail) sym.detail = detail;
  if (children) {
    let r = full;
    for (const c of children) r = span(r, { start: sd.text.offsetAt(c.range.start), end: sd.text.offsetAt(c.range.end) });
    sym.range = toRange(sd.text, r);
    sym.children = children;
  }
  return sym;
}

// ---------------------------------------------------------------------------------------
// Folding

export function taskservFolding(sd: ServiceDocument): FoldingRange[] {
  const text = sd.parsed.text;
  const n = text.length;
  const lineOf: number[] = []; // line start offsets
  lineOf.push(0);
  for (let i = 0; i < n; i++) if (text.charCodeAt(i) === 10) lineOf.push(i + 1);
  const lines = lineOf.length;
  const lineText = (l: number): string => text.slice(lineOf[l], l + 1 < lines ? lineOf[l + 1] - 1 : n);

  const ranges: FoldingRange[] = [];
  const stack: { ch: string; line: number }[] = [];
  const inString = new Set<number>(); // lines that start inside a triple-quoted string
  const commentLines = new Set<number>();
  let line = 0;
  let i = 0;
  const closeLine = (openLine: number, endLine: number, closerStartsLine: boolean): void => {
    const end = closerStartsLine ? endLine - 1 : endLine;
    if (end > openLine) ranges.push({ startLine: openLine, endLine: end });
  };
  while (i < n) {
    const c = text[i];
    if (c === '\n') {
      line++;
      i++;
      continue;
    }
    if (c === '#') {
      const e = text.indexOf('\n', i);
      if (text.slice(lineOf[line], i).trim() === '') commentLines.add(line);
      i = e < 0 ? n : e;
      continue;
    }
    if (c === '"' || c === "'") {
      const triple = text[i + 1] === c && text[i + 2] === c;
      const raw = i > 0 && (text[i - 1] === 'r' || text[i - 1] === 'R');
      const startLine = line;
      i += triple ? 3 : 1;
      while (i < n) {
        const d = text[i];
        if (d === '\\' && !raw) {
          if (text[i + 1] === '\n') {
            if (!triple) break;
            line++;
          }
          i += 2;
          continue;
        }
        if (d === '\n') {
          if (!triple) break; // unterminated: ends with its line
          line++;
          inString.add(line);
          i++;
          continue;
        }
        if (d === c && (!triple || (text[i + 1] === c && text[i + 2] === c))) {
          i += triple ? 3 : 1;
          break;
        }
        i++;
      }
      if (triple && line > startLine) ranges.push({ startLine, endLine: line });
      continue;
    }
    if (c === '{' || c === '[' || c === '(') {
      if (stack.length < 10_000) stack.push({ ch: c, line });
      i++;
      continue;
    }
    if (c === '}' || c === ']' || c === ')') {
      const want = c === '}' ? '{' : c === ']' ? '[' : '(';
      for (let k = stack.length - 1; k >= 0; k--) {
        if (stack[k].ch !== want) continue;
        const open = stack[k];
        stack.length = k;
        closeLine(open.line, line, text.slice(lineOf[line], i).trim() === '');
        break;
      }
      i++;
      continue;
    }
    i++;
  }
  // Unclosed brackets fold to the last non-blank line.
  if (stack.length) {
    let last = lines - 1;
    while (last > 0 && lineText(last).trim() === '') last--;
    for (const s of stack) if (last > s.line) ranges.push({ startLine: s.line, endLine: last });
  }
  // Comment blocks.
  let runStart = -1;
  for (let l = 0; l <= lines; l++) {
    const isComment = l < lines && commentLines.has(l) && !inString.has(l);
    if (isComment && runStart < 0) runStart = l;
    if (!isComment && runStart >= 0) {
      if (l - 1 > runStart) ranges.push({ startLine: runStart, endLine: l - 1, kind: FoldingRangeKind.Comment });
      runStart = -1;
    }
  }
  // One range per start line (the widest).
  const byStart = new Map<number, FoldingRange>();
  for (const r of ranges) {
    const have = byStart.get(r.startLine);
    if (!have || r.endLine > have.endLine) byStart.set(r.startLine, r);
  }
  return [...byStart.values()].sort((a, b) => a.startLine - b.startLine);
}
