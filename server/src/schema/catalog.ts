/**
 * Read access to the generated JSON Schemas (schemas/*.schema.json): look a key path up,
 * list the keys of a table, find where a key name is valid. Everything the feature
 * services know about containerd's keys comes through here.
 */
import v1 from '../../../schemas/containerd-config-v1.schema.json';
import v2 from '../../../schemas/containerd-config-v2.schema.json';
import v3 from '../../../schemas/containerd-config-v3.schema.json';
import v4 from '../../../schemas/containerd-config-v4.schema.json';
import taskserv from '../../../schemas/taskserv-containerd.schema.json';
import type { ConfigVersion } from './releases';

export interface XContainerd {
  path?: string;
  configVersions?: number[];
  versions?: Record<string, string>;
  addedIn?: string;
  removedIn?: string;
  deprecated?: { since?: string; removalTarget?: string; removedIn?: string; replacement?: string; note?: string };
  migration?: { v3Path?: string; v2Path?: string; note?: string };
  validation?: string;
  appliesWhen?: string;
  runtimeTypes?: string[];
  platforms?: string[];
  defaultNote?: string;
  defaultWindows?: unknown;
  defaultHistory?: { versions: string; value: unknown }[];
  allowedValuesNote?: string;
  v1Path?: string;
  sources?: string[];
}

export interface SchemaNode {
  type?: string | string[];
  title?: string;
  description?: string;
  markdownDescription?: string;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: SchemaNode | boolean;
  items?: SchemaNode;
  enum?: unknown[];
  examples?: unknown[];
  default?: unknown;
  format?: string;
  pattern?: string;
  deprecated?: boolean;
  deprecationMessage?: string;
  'x-closed'?: boolean;
  'x-map'?: string;
  'x-free-form'?: boolean;
  'x-key-matching'?: string;
  'x-containerd'?: XContainerd;
}

const SCHEMAS: Record<ConfigVersion, SchemaNode> = {
  1: v1 as unknown as SchemaNode,
  2: v2 as unknown as SchemaNode,
  3: v3 as unknown as SchemaNode,
  4: v4 as unknown as SchemaNode,
};

export function schemaFor(v: ConfigVersion): SchemaNode {
  return SCHEMAS[v];
}

/** The Containerd taskserv schema (the KCL value `containerd: Containerd = {...}`). */
export function taskservSchema(): SchemaNode {
  return taskserv as unknown as SchemaNode;
}

export const ALL_CONFIG_VERSIONS: readonly ConfigVersion[] = [1, 2, 3, 4];

export function typeOf(node: SchemaNode): string | undefined {
  return Array.isArray(node.type) ? node.type[0] : node.type;
}

export function isTable(node: SchemaNode): boolean {
  return typeOf(node) === 'object' || (!!node.properties && !node.type);
}

export function isArrayOfTables(node: SchemaNode): boolean {
  return typeOf(node) === 'array' && !!node.items && isTable(node.items);
}

export interface Child {
  node: SchemaNode;
  /** The key as the schema spells it (differs from the input for case-insensitive matches). */
  canonical: string;
  /** The key is a user-chosen map entry name (`runtimes.<name>`). */
  mapEntry: boolean;
  /** Matched only by ignoring case. */
  caseInsensitive: boolean;
}

/** The schema of `key` inside table `parent`, following containerd's key matching. */
export function childOf(parent: SchemaNode, key: string): Child | undefined {
  const props = parent.properties;
  if (props && Object.prototype.hasOwnProperty.call(props, key)) {
    return { node: props[key], canonical: key, mapEntry: false, caseInsensitive: false };
  }
  if (props && parent['x-key-matching'] === 'case-insensitive') {
    const lower = key.toLowerCase();
    for (const k of Object.keys(props)) {
      if (k.toLowerCase() === lower) return { node: props[k], canonical: k, mapEntry: false, caseInsensitive: true };
    }
  }
  const ap = parent.additionalProperties;
  if (parent['x-map'] && ap && typeof ap === 'object') {
    return { node: ap, canonical: key, mapEntry: true, caseInsensitive: false };
  }
  return undefined;
}

/** Step into an array of tables' element schema when needed. */
export function elementOf(node: SchemaNode): SchemaNode {
  return isArrayOfTables(node) ? (node.items as SchemaNode) : node;
}

export interface Resolved {
  node: SchemaNode;
  /** Path with `<name>` placeholders where map entries were crossed. */
  schemaPath: string[];
}

/** Resolve a key path from the root of a schema; undefined when any step is unknown. */
export function resolve(root: SchemaNode, path: readonly string[]): Resolved | undefined {
  let node = root;
  const schemaPath: string[] = [];
  for (const k of path) {
    const c = childOf(elementOf(node), k);
    if (!c) return undefined;
    node = c.node;
    schemaPath.push(c.mapEntry ? '<name>' : c.canonical);
  }
  return { node, schemaPath };
}

export function isFreeForm(node: SchemaNode): boolean {
  return node['x-free-form'] === true || node.additionalProperties === true;
}

/** Keys a table lists explicitly (map tables list none). */
export function keysOf(node: SchemaNode): string[] {
  return Object.keys(elementOf(node).properties ?? {});
}

export interface KeyLocation {
  /** Schema path of the table that holds the key (with `<name>` placeholders). */
  table: string[];
  key: string;
  node: SchemaNode;
}

const indexCache = new WeakMap<SchemaNode, Map<string, KeyLocation[]>>();

/** Every place a key name (lower-cased) is valid in a schema: for "misplaced key" checks. */
export function keyIndex(root: SchemaNode): Map<string, KeyLocation[]> {
  let idx = indexCache.get(root);
  if (idx) return idx;
  const map = new Map<string, KeyLocation[]>();
  idx = map;
  const visit = (node: SchemaNode, path: string[], depth: number): void => {
    if (depth > 24) return;
    const el = elementOf(node);
    for (const [k, child] of Object.entries(el.properties ?? {})) {
      const list = map.get(k.toLowerCase()) ?? [];
      list.push({ table: path, key: k, node: child });
      map.set(k.toLowerCase(), list);
      if (isTable(elementOf(child))) visit(child, [...path, k], depth + 1);
    }
    const ap = el.additionalProperties;
    if (el['x-map'] && ap && typeof ap === 'object' && isTable(elementOf(ap))) visit(ap, [...path, '<name>'], depth + 1);
  };
  visit(root, [], 0);
  indexCache.set(root, map);
  return map;
}

/** All table paths in a schema (for header completion), with `<name>` for map entries. */
export function tablePaths(root: SchemaNode): { path: string[]; node: SchemaNode }[] {
  const out: { path: string[]; node: SchemaNode }[] = [];
  const visit = (node: SchemaNode, path: string[], depth: number): void => {
    if (depth > 24) return;
    const el = elementOf(node);
    for (const [k, child] of Object.entries(el.properties ?? {})) {
      const ce = elementOf(child);
      if (isTable(ce)) {
        out.push({ path: [...path, k], node: child });
        visit(child, [...path, k], depth + 1);
      }
    }
    const ap = el.additionalProperties;
    if (el['x-map'] && ap && typeof ap === 'object' && isTable(elementOf(ap))) {
      out.push({ path: [...path, '<name>'], node: ap });
      visit(ap, [...path, '<name>'], depth + 1);
    }
  };
  visit(root, [], 0);
  return out;
}

/** Match a concrete path against a schema path with `<name>` placeholders. */
export function matchesSchemaPath(concrete: readonly string[], schemaPath: readonly string[]): boolean {
  if (concrete.length !== schemaPath.length) return false;
  return schemaPath.every((s, i) => s === '<name>' || s === concrete[i]);
}

/** Replace `<name>` placeholders with the names used in a concrete path of the same shape. */
export function instantiate(schemaPath: readonly string[], concrete: readonly string[]): string[] {
  return schemaPath.map((s, i) => (s === '<name>' && concrete[i] !== undefined ? concrete[i] : s));
}

export function pluginIds(root: SchemaNode): string[] {
  return Object.keys(root.properties?.plugins?.properties ?? {});
}
