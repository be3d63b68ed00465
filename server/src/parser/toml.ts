/**
 * TOML front end: text -> positioned document tree.
 *
 * Parsing is done by toml-eslint-parser (maintained, TOML 1.0 compliant, and it keeps a
 * range for every key and value). It stops at the first error, so recovery is ours: the
 * offending line is blanked (same length, so every offset stays valid) and the text is
 * parsed again, a bounded number of times. Each blanked line becomes a diagnostic at the
 * exact place the parser reported, and the rest of the document is still checked.
 */
import { parseTOML, ParseError, type AST } from 'toml-eslint-parser';
import type {
  ArrayNode,
  Comment,
  ObjectNode,
  ParsedDocument,
  Property,
  ScalarNode,
  Section,
  Span,
  SyntaxProblem,
  ValueNode,
} from '../tree/model';

const MAX_RECOVERIES = 64;
/** Deeper nesting than this is cut off with an error: containerd never needs it, and every walker stays shallow. */
export const MAX_DEPTH = 64;
const RECOVERY_BUDGET_MS = 400;

export function parseToml(text: string): ParsedDocument {
  const syntaxErrors: SyntaxProblem[] = [];
  const skippedHeaders = new Set<number>();
  let src = text;
  let ast: AST.TOMLProgram | undefined;
  const t0 = Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      ast = parseTOML(src, { tomlVersion: '1.0' });
      break;
    } catch (e) {
      const idx = e instanceof ParseError ? Math.max(0, Math.min(e.index, src.length)) : 0;
      const message = e instanceof Error ? e.message : String(e);
      let [lineStart, lineEnd] = lineAround(src, idx);
      // "x =" followed by a newline: the parser reports the next token; the culprit is the line before.
      const valueMissing = /same line|unspecified value/i.test(message) && src.slice(lineStart, idx).trim() === '';
      if (valueMissing || src.slice(lineStart, lineEnd).trim() === '') {
        const prev = previousNonBlankLine(src, lineStart);
        if (prev) [lineStart, lineEnd] = prev;
      }
      const line = src.slice(lineStart, lineEnd);
      const isHeader = /^\s*\[/.test(line);
      const duplicate = /multiple times/i.test(message);
      const lead = line.length - line.trimStart().length;
      syntaxErrors.push({
        range: valueMissing
          ? { start: lineStart + lead, end: lineStart + line.trimEnd().length }
          : errorSpan(src, idx, lineEnd),
        message: describe(message, duplicate, isHeader),
        code: duplicate ? (isHeader ? 'containerd/duplicate-table' : 'containerd/duplicate-key') : 'containerd/syntax',
      });
      const giveUp = attempt >= MAX_RECOVERIES || Date.now() - t0 > RECOVERY_BUDGET_MS || !(e instanceof ParseError);
      if (giveUp || line.trim() === '') {
        ast = undefined;
        break;
      }
      if (duplicate && isHeader) {
        // Keep the table but give it a unique throw-away name; its body is then skipped.
        src = src.slice(0, lineStart) + placeholderHeader(line, skippedHeaders.size) + src.slice(lineEnd);
        skippedHeaders.add(lineStart + lead);
      } else {
        src = src.slice(0, lineStart) + line.replace(/[^\r]/g, ' ') + src.slice(lineEnd);
      }
    }
  }
  const doc: ParsedDocument = {
    language: 'toml',
    text,
    root: { kind: 'object', origin: 'root', range: { start: 0, end: text.length }, props: [] },
    sections: [],
    syntaxErrors,
    comments: [],
  };
  if (ast) new TreeBuilder(src, doc, skippedHeaders).build(ast);
  return doc;
}

function lineAround(src: string, idx: number): [number, number] {
  const start = src.lastIndexOf('\n', idx - 1) + 1;
  const nl = src.indexOf('\n', idx);
  return [start, nl < 0 ? src.length : nl];
}

function previousNonBlankLine(src: string, lineStart: number): [number, number] | undefined {
  let end = lineStart - 1;
  while (end > 0) {
    const start = src.lastIndexOf('\n', end - 1) + 1;
    if (src.slice(start, end).trim() !== '') return [start, end];
    end = start - 1;
  }
  return undefined;
}

function errorSpan(src: string, idx: number, lineEnd: number): Span {
  if (idx >= lineEnd) return { start: idx, end: idx };
  let end = idx + 1;
  while (end < lineEnd && !/\s/.test(src[end])) end++;
  return { start: idx, end };
}

function describe(message: string, duplicate: boolean, isHeader: boolean): string {
  if (duplicate) {
    return isHeader
      ? 'This table is defined twice. containerd refuses to start: TOML forbids defining a table more than once.'
      : 'This key is defined twice. containerd refuses to start: TOML forbids defining a key more than once.';
  }
  return `TOML syntax error: ${message}. containerd refuses to start with this file.`;
}

function placeholderHeader(line: string, n: number): string {
  const lead = line.length - line.trimStart().length;
  const inner = line.trim().length;
  const tag = '_dup' + n.toString(36);
  const body = (tag + '_'.repeat(Math.max(0, inner))).slice(0, Math.max(1, inner - 2));
  return ' '.repeat(lead) + '[' + body + ']' + ' '.repeat(Math.max(0, line.length - lead - body.length - 2));
}

class TreeBuilder {
  private readonly depth = new WeakMap<ObjectNode, number>();
  /** key -> property per object: tables with thousands of entries stay linear to build. */
  private readonly index = new WeakMap<ObjectNode, Map<string, Property>>();

  private lookup(obj: ObjectNode, key: string): Property | undefined {
    return this.index.get(obj)?.get(key);
  }

  constructor(
    private readonly src: string,
    private readonly doc: ParsedDocument,
    private readonly skipped: Set<number>,
  ) {}

  build(ast: AST.TOMLProgram): void {
    const top = ast.body[0];
    for (const c of ast.comments) {
      this.doc.comments.push({ range: span(c.range), text: c.value } satisfies Comment);
    }
    for (const item of top.body) {
      if (item.type === 'TOMLKeyValue') this.insertKeyValue(this.doc.root, item);
      else this.insertTable(item);
    }
  }

  private insertTable(t: AST.TOMLTable): void {
    if (this.skipped.has(t.range[0])) return;
    const keys = t.key.keys;
    if (keys.length > MAX_DEPTH) {
      this.tooDeep(span(t.key.range));
      return;
    }
    let obj = this.doc.root;
    for (let i = 0; i < keys.length - 1; i++) obj = this.descend(obj, keys[i], t);
    const last = keys[keys.length - 1];
    const name = keyName(last);
    const headerRange = this.headerSpan(t);
    const range = { start: t.range[0], end: t.range[1] };
    let target: ObjectNode;
    if (t.kind === 'array') {
      let prop = this.lookup(obj, name);
      if (!prop || prop.value.kind !== 'array') {
        const arr: ArrayNode = { kind: 'array', range: { ...range }, items: [], ofTables: true };
        prop = this.addProp(obj, name, span(last.range), arr, range, span(t.key.range));
      } else {
        prop.keyRanges.push(span(last.range));
        extend(prop.value.range, range);
        extend(prop.range, range);
      }
      target = { kind: 'object', origin: 'array-item', range: { ...range }, headerRange, props: [] };
      (prop.value as ArrayNode).items.push(target);
    } else {
      let prop = this.lookup(obj, name);
      if (prop && prop.value.kind === 'object') {
        prop.keyRanges.push(span(last.range));
        const o = prop.value;
        if (o.origin === 'implicit') {
          o.origin = 'header';
          o.headerRange = headerRange;
        }
        extend(o.range, range);
        extend(prop.range, range);
        target = o;
      } else {
        target = { kind: 'object', origin: 'header', range: { ...range }, headerRange, props: [] };
        this.addProp(obj, name, span(last.range), target, range, span(t.key.range));
      }
    }
    this.extendAncestors(t);
    const section: Section = {
      path: keys.map(keyName),
      headerRange,
      range,
      arrayItem: t.kind === 'array',
      node: target,
    };
    this.doc.sections.push(section);
    for (const kv of t.body) this.insertKeyValue(target, kv);
  }

  /** Step into (or create) the object for a non-final header segment. */
  private descend(obj: ObjectNode, k: AST.TOMLBare | AST.TOMLQuoted, t: AST.TOMLTable): ObjectNode {
    const name = keyName(k);
    const prop = this.lookup(obj, name);
    if (prop) {
      prop.keyRanges.push(span(k.range));
      if (prop.value.kind === 'object') return prop.value;
      if (prop.value.kind === 'array' && prop.value.items.length) {
        const lastItem = prop.value.items[prop.value.items.length - 1];
        if (lastItem.kind === 'object') return lastItem;
      }
    }
    const o: ObjectNode = { kind: 'object', origin: 'implicit', range: span(t.range), props: [] };
    this.addProp(obj, name, span(k.range), o, span(t.range));
    return o;
  }

  private extendAncestors(t: AST.TOMLTable): void {
    // Implicit parents cover every header below them.
    let obj = this.doc.root;
    for (const k of t.key.keys.slice(0, -1)) {
      const p = this.lookup(obj, keyName(k));
      if (!p) return;
      extend(p.range, span(t.range));
      if (p.value.kind === 'object') {
        extend(p.value.range, span(t.range));
        obj = p.value;
      } else if (p.value.kind === 'array' && p.value.items.length) {
        const li = p.value.items[p.value.items.length - 1];
        if (li.kind !== 'object') return;
        extend(li.range, span(t.range));
        obj = li;
      } else return;
    }
  }

  private tooDeep(range: Span): void {
    this.doc.syntaxErrors.push({
      range,
      code: 'containerd/syntax',
      message: `Nested more than ${MAX_DEPTH} levels deep: this part is not checked (no containerd setting is that deep).`,
    });
  }

  private depthOf(obj: ObjectNode): number {
    return this.depth.get(obj) ?? 0;
  }

  private insertKeyValue(obj: ObjectNode, kv: AST.TOMLKeyValue, level = this.depthOf(obj)): void {
    const keys = kv.key.keys;
    if (level + keys.length > MAX_DEPTH) {
      this.tooDeep(span(kv.key.range));
      return;
    }
    let cur = obj;
    for (let i = 0; i < keys.length - 1; i++) {
      const name = keyName(keys[i]);
      const existing = this.lookup(cur, name);
      if (existing && existing.value.kind === 'object') {
        existing.keyRanges.push(span(keys[i].range));
        extend(existing.range, span(kv.range));
        extend(existing.value.range, span(kv.range));
        cur = existing.value;
      } else {
        const o: ObjectNode = { kind: 'object', origin: 'implicit', range: span(kv.range), props: [] };
        this.addProp(cur, name, span(keys[i].range), o, span(kv.range), span(kv.key.range));
        cur = o;
      }
    }
    const last = keys[keys.length - 1];
    this.addProp(cur, keyName(last), span(last.range), this.value(kv.value, level + keys.length), span(kv.range), span(kv.key.range));
  }

  private value(v: AST.TOMLContentNode, level = 0): ValueNode {
    const range = span(v.range);
    if ((v.type === 'TOMLArray' || v.type === 'TOMLInlineTable') && level >= MAX_DEPTH) {
      this.tooDeep(range);
      return { kind: 'array', range, items: [], ofTables: false };
    }
    if (v.type === 'TOMLArray') {
      return { kind: 'array', range, items: v.elements.map((e) => this.value(e, level + 1)), ofTables: false };
    }
    if (v.type === 'TOMLInlineTable') {
      const o: ObjectNode = { kind: 'object', origin: 'inline', range, props: [] };
      this.depth.set(o, level + 1);
      for (const kv of v.body) this.insertKeyValue(o, kv, level + 1);
      return o;
    }
    const raw = this.src.slice(range.start, range.end);
    switch (v.kind) {
      case 'string':
        return { kind: 'string', range, value: v.value, raw } satisfies ScalarNode;
      case 'integer':
        return { kind: 'integer', range, value: v.value, raw };
      case 'float':
        return { kind: 'float', range, value: v.value, raw };
      case 'boolean':
        return { kind: 'boolean', range, value: v.value, raw };
      default:
        return { kind: 'datetime', range, value: (v as AST.TOMLDateTimeValue).datetime, raw };
    }
  }

  private addProp(obj: ObjectNode, key: string, keyRange: Span, value: ValueNode, range: Span, keyExprRange?: Span): Property {
    if (value.kind === 'object') this.depth.set(value, this.depthOf(obj) + 1);
    else if (value.kind === 'array') for (const it of value.items) if (it.kind === 'object') this.depth.set(it, this.depthOf(obj) + 1);
    const p: Property = { key, keyRange, keyRanges: [keyRange], value, range: { ...range }, keyExprRange };
    obj.props.push(p);
    let idx = this.index.get(obj);
    if (!idx) this.index.set(obj, (idx = new Map()));
    if (!idx.has(key)) idx.set(key, p);
    return p;
  }

  private headerSpan(t: AST.TOMLTable): Span {
    const start = t.range[0];
    const close = this.src.indexOf(']', t.key.range[1]);
    let end = close < 0 ? t.key.range[1] : close + 1;
    if (t.kind === 'array' && this.src[end] === ']') end++;
    return { start, end };
  }
}

function keyName(k: AST.TOMLBare | AST.TOMLQuoted): string {
  return k.type === 'TOMLBare' ? k.name : k.value;
}

function span(r: readonly [number, number]): Span {
  return { start: r[0], end: r[1] };
}

function extend(a: Span, b: Span): void {
  if (b.start < a.start) a.start = b.start;
  if (b.end > a.end) a.end = b.end;
}
