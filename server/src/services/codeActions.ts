/**
 * Code actions: the quick fixes carried by diagnostics (`data: FixData`, see fixes.ts) and
 * the "migrate this file to config version 3" refactoring.
 *
 * - `rename`: replace the key text at the diagnostic's range with `newKey`.
 * - `move`: for a `key = value` line, remove it and insert `key = value` into the table
 *   `toPath[:-1]` under the name `toPath[-1]` (see edits.ts for where it lands); for a table
 *   written with headers, rewrite the headers of it and of its sub-tables in place. When the
 *   target already holds that key, the fix only removes the misplaced line.
 * - Migration to version 3: offered for version 2 files, version 1 files and files without a
 *   `version` that have plugin tables, unless the file has syntax errors (the rewrite could
 *   otherwise drop the lines the parser had to skip).
 */
import type { CodeAction, Diagnostic, Range, TextEdit, WorkspaceEdit } from 'vscode-languageserver-types';
import { CodeActionKind } from 'vscode-languageserver-types';
import { formatPath, quoteKey, splitPath } from '../tree/keypath';
import { getAt, walkProps, type ParsedDocument, type Property, type Span } from '../tree/model';
import type { ServiceDocument } from './context';
import { isFixData, type FixData } from './fixes';
import { insertKeyValue, isLineProperty, removeLine, replaceAll, toTextEdits, valueText, type OffsetEdit } from './edits';
import { migrateToV3 } from './migrate';

export const MIGRATE_TITLE = 'Migrate file to config version 3 (containerd 2.x)';

const MIGRATE_CODES = new Set(['containerd/deprecated', 'containerd/wrong-layout']);

export function codeActions(sd: ServiceDocument, _range: Range, diagnostics: Diagnostic[]): CodeAction[] {
  const out: CodeAction[] = [];
  const seen = new Set<string>();
  for (const d of diagnostics) {
    if (!isFixData(d.data)) continue;
    const key = JSON.stringify([d.range, d.code, d.data]);
    if (seen.has(key)) continue;
    seen.add(key);
    const actions = fixActions(sd, d, d.data);
    if (actions.length === 1) actions[0].isPreferred = true;
    out.push(...actions);
  }
  const mig = migrationAction(sd);
  if (mig) out.push(mig);
  return out;
}

function workspaceEdit(sd: ServiceDocument, edits: TextEdit[]): WorkspaceEdit {
  return { changes: { [sd.text.uri]: edits } };
}

function fixActions(sd: ServiceDocument, d: Diagnostic, data: FixData): CodeAction[] {
  const td = sd.text;
  const doc = sd.parsed;
  const span: Span = { start: td.offsetAt(d.range.start), end: td.offsetAt(d.range.end) };
  if (data.fix === 'replace-value') {
    return [
      {
        title: `Change to ${data.value}`,
        kind: CodeActionKind.QuickFix,
        diagnostics: [d],
        edit: workspaceEdit(sd, [{ range: d.range, newText: data.value }]),
      },
    ];
  }
  if (data.fix === 'rename') {
    if (!data.newKey) return [];
    // Renaming onto a key that already exists would define it twice (fatal for containerd).
    const at = findPropAt(doc, span);
    if (at) {
      const parent = at.path.length > 1 ? getAt(doc.root, at.path.slice(0, -1)) : doc.root;
      if (parent && parent.kind === 'object' && parent.props.some((p) => p.key === data.newKey && p !== at.prop)) return [];
    }
    const target = lastSegmentSpan(doc.text, span);
    const edit: TextEdit = {
      range: { start: td.positionAt(target.start), end: td.positionAt(target.end) },
      newText: quoteKey(data.newKey),
    };
    return [
      {
        title: `Rename to \`${data.newKey}\``,
        kind: CodeActionKind.QuickFix,
        diagnostics: [d],
        edit: workspaceEdit(sd, [edit]),
      },
    ];
  }
  // move: line-based edits need unambiguous line ends; a lone CR (a line break for the editor,
  // not for TOML) makes "the key's line" ambiguous, so offer no move there.
  if (/\r(?!\n)/.test(doc.text)) return [];
  const toPath = data.toPath;
  if (!Array.isArray(toPath) || toPath.length === 0) return [];
  const found = findPropAt(doc, span);
  if (!found) return [];
  const { prop, path } = found;
  const table = toPath.slice(0, -1);
  const newKey = toPath[toPath.length - 1];
  const migrate = MIGRATE_CODES.has(String(d.code));
  const title = migrate
    ? `Migrate to \`${formatPath(toPath)}\``
    : `Move \`${prop.key}\` to [${formatPath(table)}]`;

  let edits: OffsetEdit[] | undefined;
  const existing = getAt(doc.root, toPath);
  if (isLineProperty(doc, prop) && !(prop.value.kind === 'object')) {
    if (existing) {
      if (samePath(path, toPath)) return [];
      // The target already has this key: the only safe fix is dropping the misplaced line.
      return [
        {
          title: `Remove \`${prop.key}\` (already set in [${formatPath(table)}])`,
          kind: CodeActionKind.QuickFix,
          diagnostics: [d],
          edit: workspaceEdit(sd, toTextEdits(td, doc.text, [removeLine(doc, prop)])),
        },
      ];
    }
    if (!tableWritable(doc, table)) return [];
    edits = [removeLine(doc, prop), insertKeyValue(doc, table, newKey, valueText(doc, prop))];
  } else if (prop.value.kind === 'object' && prop.value.origin !== 'inline') {
    if (existing || !tableWritable(doc, table)) return [];
    edits = moveTableHeaders(doc, prop, path, toPath);
  } else if (prop.value.kind === 'object' && isLineProperty(doc, prop)) {
    // an inline table value: move the line like a scalar
    if (existing || !tableWritable(doc, table)) return [];
    edits = [removeLine(doc, prop), insertKeyValue(doc, table, newKey, valueText(doc, prop))];
  }
  if (!edits || !edits.length) return [];
  return [
    {
      title,
      kind: CodeActionKind.QuickFix,
      diagnostics: [d],
      edit: workspaceEdit(sd, toTextEdits(td, doc.text, edits)),
    },
  ];
}

function samePath(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Every step of `table` that exists must be a table we can add to (not a value or inline table). */
function tableWritable(doc: ParsedDocument, table: readonly string[]): boolean {
  let cur: ReturnType<typeof getAt> = doc.root;
  for (const k of table) {
    if (!cur || cur.kind !== 'object') return false;
    if (cur.origin === 'inline') return false;
    const next: ReturnType<typeof getAt> = getAt(cur, [k]);
    if (!next) return true;
    if (next.kind === 'array') return false;
    cur = next;
  }
  return !!cur && cur.kind === 'object' && cur.origin !== 'inline';
}

/** Rename the headers of a table (and its sub-tables) from `from` to `to`. */
function moveTableHeaders(doc: ParsedDocument, prop: Property, from: string[], to: string[]): OffsetEdit[] | undefined {
  const sections = doc.sections.filter((s) => from.every((k, i) => s.path[i] === k));
  if (!sections.length) return undefined;
  // Every place the table's key is written must be one of these headers (no dotted keys).
  for (const r of prop.keyRanges) {
    if (!sections.some((s) => r.start >= s.headerRange.start && r.end <= s.headerRange.end)) return undefined;
  }
  return sections.map((s) => {
    const p = [...to, ...s.path.slice(from.length)];
    const open = s.arrayItem ? '[[' : '[';
    const close = s.arrayItem ? ']]' : ']';
    return { start: s.headerRange.start, end: s.headerRange.end, text: open + formatPath(p) + close };
  });
}

/** The span of the last segment when a range covers a dotted key expression. */
function lastSegmentSpan(text: string, span: Span): Span {
  const segs = splitPath(text.slice(span.start, span.end));
  if (segs.length <= 1) return span;
  const last = segs[segs.length - 1];
  return { start: span.start + last.start, end: span.start + last.end };
}

/** The property whose key the diagnostic points at (exact key range first, then the key expression). */
export function findPropAt(doc: ParsedDocument, span: Span): { prop: Property; path: string[] } | undefined {
  let exact: { prop: Property; path: string[] } | undefined;
  let expr: { prop: Property; path: string[] } | undefined;
  let containing: { prop: Property; path: string[]; size: number } | undefined;
  walkProps(doc.root, (prop, path) => {
    for (const r of prop.keyRanges) {
      if (r.start === span.start && r.end === span.end && !exact) exact = { prop, path };
      if (r.start <= span.start && span.end <= r.end) {
        const size = r.end - r.start;
        if (!containing || size <= containing.size) containing = { prop, path, size };
      }
    }
    const x = prop.keyExprRange;
    if (x && x.start === span.start && x.end === span.end && prop.keyRange.end === x.end) expr = { prop, path };
  });
  if (exact) return exact;
  if (expr) return expr;
  if (containing) return { prop: containing.prop, path: containing.path };
  return undefined;
}

function hasPluginTables(doc: ParsedDocument): boolean {
  const p = doc.root.props.find((x) => x.key === 'plugins');
  return !!p && p.value.kind === 'object' && p.value.props.length > 0;
}

function migrationAction(sd: ServiceDocument): CodeAction | undefined {
  const { ctx, parsed } = sd;
  if (parsed.language !== 'toml' || parsed.syntaxErrors.length) return undefined;
  // A `version` that is not an integer 1–4 is an error of its own; do not guess.
  if (!ctx.versionExplicit && parsed.root.props.some((p) => p.key === 'version')) return undefined;
  const eligible =
    (ctx.versionExplicit && (ctx.configVersion === 2 || ctx.configVersion === 1)) ||
    (!ctx.versionExplicit && hasPluginTables(parsed));
  if (!eligible) return undefined;
  let text: string;
  try {
    text = migrateToV3(sd).text;
  } catch {
    return undefined;
  }
  return {
    title: MIGRATE_TITLE,
    kind: CodeActionKind.RefactorRewrite,
    edit: workspaceEdit(sd, [replaceAll(sd.text, text)]),
  };
}
