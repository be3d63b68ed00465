/**
 * Hover for containerd config.toml: on a key, a value or a header segment (plugin ID, table
 * name, map entry name) show the schema docs for the file's config version and target
 * release (see docs.ts). Header lines are read from the text (segment by segment, so it
 * works on a header the parser could not read); keys and values come from the tree, with
 * a text fallback for lines the parser blanked.
 */
import type { Hover, Position } from 'vscode-languageserver-types';
import { childOf, elementOf, isTable, keyIndex, schemaFor, type SchemaNode } from '../schema/catalog';
import { formatPath } from '../tree/keypath';
import { splitPath } from '../tree/keypath';
import { nodeAt, type Span } from '../tree/model';
import { headerAbove, indexOutsideQuotes, parseHeaderLine, textIndex } from './completion';
import { toRange, type ServiceDocument } from './context';
import { keyDocs } from './docs';

interface Target {
  node: SchemaNode;
  key: string;
  writtenAs: string;
  mapEntry: boolean;
}

/** Walk a concrete path through the schema, keeping what each step matched. */
function lookup(root: SchemaNode, path: readonly string[]): Target | undefined {
  let node = root;
  let last: Target | undefined;
  for (const k of path) {
    const c = childOf(elementOf(node), k);
    if (!c) return undefined;
    node = c.node;
    last = { node, key: c.canonical, writtenAs: k, mapEntry: c.mapEntry };
  }
  return last;
}

function make(sd: ServiceDocument, t: Target, span: Span, value?: string): Hover {
  const md = keyDocs(t.node, t.key, sd.ctx, {
    writtenAs: t.writtenAs !== t.key ? t.writtenAs : undefined,
    mapEntry: t.mapEntry,
    value,
  });
  return { contents: { kind: 'markdown', value: md }, range: toRange(sd.text, span) };
}

/** A key that is not valid where it stands: its docs from where containerd does read it. */
function misplaced(sd: ServiceDocument, schema: SchemaNode, key: string, span: Span): Hover | null {
  const places = (keyIndex(schema).get(key.toLowerCase()) ?? []).filter((l) => !isTable(elementOf(l.node)));
  const loc = places.find((l) => !l.node.deprecated) ?? places[0];
  if (!loc) return null;
  const table = loc.table.map((seg) => (seg === '<name>' ? seg : formatPath([seg]))).join('.');
  const note = `**Not read here.** containerd reads \`${loc.key}\` in \`[${table}]\`${places.length > 1 ? ' (and other tables)' : ''}; in this table it is ignored.\n\n---\n\n`;
  const h = make(sd, { node: loc.node, key: loc.key, writtenAs: key, mapEntry: false }, span);
  const md = (h.contents as { value: string }).value;
  return { ...h, contents: { kind: 'markdown', value: note + md } };
}

export function hover(sd: ServiceDocument, pos: Position): Hover | null {
  const td = sd.text;
  const offset = td.offsetAt(pos);
  const p = td.positionAt(offset);
  const idx = textIndex(sd.parsed);
  const lineText = idx.lines[p.line] ?? '';
  const lineStart = idx.lineStarts[p.line] ?? offset - p.character;
  const col = p.character;
  const hash = indexOutsideQuotes(lineText, '#');
  if (hash >= 0 && col > hash) return null;
  const schema = schemaFor(sd.ctx.configVersion);

  // 1. Header line: the segment under the cursor.
  const h = parseHeaderLine(lineText, lineStart, p.line);
  if (h) {
    const rel = offset - h.innerStart;
    const i = h.segs.findIndex((s) => rel >= s.start && rel <= s.end);
    if (i < 0) return null;
    const t = lookup(schema, h.path.slice(0, i + 1));
    if (!t) return null;
    const s = h.segs[i];
    return make(sd, t, { start: h.innerStart + s.start, end: h.innerStart + s.end });
  }

  // 2. The tree: keys (incl. dotted and inline-table keys) and values.
  const hit = nodeAt(sd.parsed, offset);
  if (hit.prop) {
    const prop = hit.prop;
    const v = prop.value;
    if (hit.onKey) {
      const span = prop.keyRanges.find((r) => offset >= r.start && offset <= r.end) ?? prop.keyRange;
      // A key written on a header line is handled above; here it is `key = ...`.
      const t = lookup(schema, hit.path);
      if (t) return make(sd, t, span);
      return misplaced(sd, schema, prop.key, span);
    }
    if (v.kind !== 'object' && offset >= v.range.start && offset <= v.range.end) {
      const t = lookup(schema, hit.path);
      if (!t) return null;
      let span: Span = v.range;
      let raw = sd.parsed.text.slice(v.range.start, v.range.end);
      if (v.kind === 'array') {
        const item = v.items.find((it) => offset >= it.range.start && offset <= it.range.end);
        if (item && item.kind !== 'object' && item.kind !== 'array') {
          span = item.range;
          raw = sd.parsed.text.slice(item.range.start, item.range.end);
        }
      }
      if (raw.length > 200) raw = raw.slice(0, 197) + '…';
      return make(sd, t, span, raw);
    }
  }

  // 3. Text fallback for a `key = value` line the parser could not read.
  const eq = indexOutsideQuotes(lineText, '=');
  if (eq < 0) return null;
  const segs = splitPath(lineText.slice(0, eq));
  if (!segs.length) return null;
  const base = headerAbove(idx, p.line)?.path ?? [];
  if (col <= eq) {
    const i = segs.findIndex((s) => col >= s.start && col <= s.end);
    if (i < 0) return null;
    const t = lookup(schema, [...base, ...segs.slice(0, i + 1).map((s) => s.name)]);
    return t ? make(sd, t, { start: lineStart + segs[i].start, end: lineStart + segs[i].end }) : null;
  }
  const t = lookup(schema, [...base, ...segs.map((s) => s.name)]);
  if (!t) return null;
  let valueText = lineText.slice(eq + 1);
  if (hash > eq) valueText = lineText.slice(eq + 1, hash);
  const lead = valueText.length - valueText.trimStart().length;
  const raw = valueText.trim();
  if (!raw) return make(sd, t, { start: lineStart + segs[0].start, end: lineStart + segs[segs.length - 1].end });
  const start = lineStart + eq + 1 + lead;
  return make(sd, t, { start, end: start + raw.length }, raw);
}
