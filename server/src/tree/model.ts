/**
 * The positioned document tree shared by every feature service.
 *
 * Both front ends (TOML for config.toml, the KCL subset for taskserv files) produce this
 * shape, so diagnostics, completion, hover, symbols and code actions are written once.
 * All ranges are UTF-16 offsets into the document text (`Span`); the LSP layer turns them
 * into line/character positions with the TextDocument it already has.
 */

export interface Span {
  start: number;
  end: number;
}

export type ScalarKind = 'string' | 'integer' | 'float' | 'boolean' | 'datetime' | 'null';

export interface ScalarNode {
  kind: ScalarKind;
  range: Span;
  value: string | number | boolean | null;
  /** The source text of the value (e.g. `16_777_216`, `'literal'`). */
  raw: string;
}

export interface ArrayNode {
  kind: 'array';
  range: Span;
  items: ValueNode[];
  /** An array of tables (`[[a.b]]` in TOML). */
  ofTables: boolean;
}

/** How an object came to exist in the source. */
export type ObjectOrigin =
  | 'root'
  | 'header' // TOML [a.b] / KCL `name: Type = {`
  | 'array-item' // TOML [[a.b]]
  | 'inline' // TOML { a = 1 } / KCL { a: 1 }
  | 'implicit'; // created by a dotted key or a header deeper down (TOML [a.b] creates `a`)

export interface ObjectNode {
  kind: 'object';
  range: Span;
  origin: ObjectOrigin;
  /** For header tables: the range of the whole `[ ... ]` header. */
  headerRange?: Span;
  /** KCL: the declared schema type of a top-level value (`containerd: Containerd = {…}`). */
  typeName?: string;
  /** KCL: range of the type name. */
  typeRange?: Span;
  props: Property[];
}

export type ValueNode = ScalarNode | ArrayNode | ObjectNode;

export interface Property {
  /** The key as containerd sees it (quotes removed). */
  key: string;
  /** Range of this key's text where it is (first) written. */
  keyRange: Span;
  /** Every place this key is written (a table path repeated in several headers). */
  keyRanges: Span[];
  value: ValueNode;
  /** The whole `key = value` line or the whole table with its body. */
  range: Span;
  /** For a TOML dotted key or header, the full key expression range (`a.b.c`). */
  keyExprRange?: Span;
}

/** A TOML table section (or KCL declaration): a header and the lines that belong to it. */
export interface Section {
  path: string[];
  headerRange: Span;
  /** From the start of the header to the end of its last line of body. */
  range: Span;
  arrayItem: boolean;
  node: ObjectNode;
}

export interface SyntaxProblem {
  range: Span;
  message: string;
  code: 'containerd/syntax' | 'containerd/duplicate-key' | 'containerd/duplicate-table';
}

export interface Comment {
  range: Span;
  text: string;
}

export interface ParsedDocument {
  language: 'toml' | 'kcl';
  text: string;
  root: ObjectNode;
  sections: Section[];
  syntaxErrors: SyntaxProblem[];
  comments: Comment[];
}

export function findProp(obj: ObjectNode, key: string): Property | undefined {
  for (const p of obj.props) if (p.key === key) return p;
  return undefined;
}

/** Follow a path of keys from an object; undefined when any step is missing or not an object. */
export function getAt(obj: ObjectNode, path: readonly string[]): ValueNode | undefined {
  let cur: ValueNode = obj;
  for (const k of path) {
    if (cur.kind !== 'object') return undefined;
    const p = findProp(cur, k);
    if (!p) return undefined;
    cur = p.value;
  }
  return cur;
}

export function contains(span: Span, offset: number): boolean {
  return offset >= span.start && offset <= span.end;
}

export interface NodeAtOffset {
  /** Keys from the root to the property found. */
  path: string[];
  prop?: Property;
  /** True when the offset is on the key, false when on the value. */
  onKey: boolean;
  /** The innermost object whose range contains the offset. */
  container: ObjectNode;
}

/** The deepest property whose key or value contains `offset`. */
export function nodeAt(doc: ParsedDocument, offset: number): NodeAtOffset {
  const path: string[] = [];
  let container: ObjectNode = doc.root;
  let found: Property | undefined;
  let onKey = false;
  const visit = (obj: ObjectNode): boolean => {
    for (const p of obj.props) {
      const onThisKey = p.keyRanges.some((r) => contains(r, offset));
      if (onThisKey && (p.value.kind !== 'object' || !deepHit(p.value, offset))) {
        path.push(p.key);
        found = p;
        onKey = true;
        return true;
      }
      if (contains(p.value.range, offset) || (p.value.kind === 'object' && deepHit(p.value, offset))) {
        path.push(p.key);
        found = p;
        onKey = false;
        if (p.value.kind === 'object') {
          container = p.value;
          visit(p.value);
        } else if (p.value.kind === 'array') {
          for (const item of p.value.items) {
            if (item.kind === 'object' && (contains(item.range, offset) || deepHit(item, offset))) {
              container = item;
              visit(item);
              break;
            }
          }
        }
        return true;
      }
    }
    return false;
  };
  visit(doc.root);
  return { path, prop: found, onKey, container };
}

/** Does any key or value below `obj` contain the offset (headers make ranges discontinuous)? */
function deepHit(obj: ObjectNode, offset: number): boolean {
  for (const p of obj.props) {
    if (p.keyRanges.some((r) => contains(r, offset))) return true;
    if (p.value.kind === 'object') {
      if (deepHit(p.value, offset)) return true;
    } else if (contains(p.value.range, offset)) return true;
    if (p.value.kind === 'array') {
      for (const it of p.value.items) if (it.kind === 'object' && deepHit(it, offset)) return true;
    }
  }
  return false;
}

/** Walk every property depth-first, with its key path. Arrays of tables are entered too. */
export function walkProps(
  obj: ObjectNode,
  fn: (prop: Property, path: string[], parent: ObjectNode) => void,
  base: string[] = [],
): void {
  for (const p of obj.props) {
    const path = [...base, p.key];
    fn(p, path, obj);
    if (p.value.kind === 'object') walkProps(p.value, fn, path);
    else if (p.value.kind === 'array') {
      for (const it of p.value.items) if (it.kind === 'object') walkProps(it, fn, path);
    }
  }
}

/** Plain JS value of a node (for ajv, rendering and tests). */
export function toValue(node: ValueNode): unknown {
  switch (node.kind) {
    case 'object': {
      const o: Record<string, unknown> = {};
      for (const p of node.props) o[p.key] = toValue(p.value);
      return o;
    }
    case 'array':
      return node.items.map(toValue);
    default:
      return node.value;
  }
}
