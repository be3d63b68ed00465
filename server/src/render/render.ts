/**
 * Render a Containerd taskserv (the KCL value `containerd: Containerd = {...}`) into the files
 * it installs on a host: /etc/containerd/config.toml, /etc/crictl.yaml and, when resources are
 * limited, a systemd drop-in for containerd.service.
 *
 * config.toml is data-driven from the taskserv schema's `x-taskserv`: every field set in the
 * document whose target is `config.toml` is copied to its `key` (a version-2 TOML path; `<name>`
 * placeholders are filled from the field's map entry names, a field without a key of its own
 * inherits its parent's key plus its name). Code exists only for the transformed fields:
 * `runtimes` × `runtime_configs` × `runtime_default` × `plugins.cri.systemd_cgroup`, and
 * `config.version`. Fields under `config`, `plugins`, `runtime_*` are written before the
 * others (`security.*`, `performance.*`), and the first field to set a key wins, so
 * `plugins.cri.enable_selinux` beats `security.selinux_enabled`.
 *
 * The model is built in version-2 paths, then each key is mapped to the file's config version:
 * version 3/4 paths come from the version-2 schema's `x-containerd.migration.v3Path` (on the key
 * or its nearest ancestor; `v3Path: null` = no equivalent, the value goes to `notes`). For
 * version 4, keys of the top-level grpc/debug/metrics/ttrpc tables that the v4 schema marks
 * deprecated in favour of a 2.3 server plugin move there, with their siblings that the plugin
 * also has. A key is written only when the release reads it (`x-containerd.versions` of the
 * key in the release's native schema).
 */
import { findProp, getAt, type ObjectNode, type ParsedDocument, type Property, type Span, type ValueNode } from '../tree/model';
import { formatPath, parsePath } from '../tree/keypath';
import {
  childOf,
  elementOf,
  resolve,
  schemaFor,
  taskservSchema,
  typeOf,
  type SchemaNode,
  type XContainerd,
} from '../schema/catalog';
import {
  availableIn,
  configVersionSupport,
  formatRelease,
  nativeConfigVersion,
  parseRelease,
  type ConfigVersion,
  type Release,
} from '../schema/releases';
import { isTable, TomlFloat, writeToml, type TomlTable, type TomlValue } from './toml-writer';
import type { RenderedFile, RenderResult, SourceMapEntry } from './types';

export const CONFIG_TOML_PATH = '/etc/containerd/config.toml';
export const CRICTL_YAML_PATH = '/etc/crictl.yaml';
export const SYSTEMD_DROPIN_PATH = '/etc/systemd/system/containerd.service.d/10-taskserv.conf';

const CRI = 'io.containerd.grpc.v1.cri';
const RUNTIMES_V2 = ['plugins', CRI, 'containerd', 'runtimes'];
const DEFAULT_RUNTIME_V2 = ['plugins', CRI, 'containerd', 'default_runtime_name'];
const RUNC_TYPES = ['io.containerd.runc.v2', 'io.containerd.runc.v1'];
const DEFAULT_SOCKET = '/run/containerd/containerd.sock';
const SERVER_TABLES = ['grpc', 'debug', 'metrics', 'ttrpc'];

interface XTaskserv {
  target?: 'config.toml' | 'crictl.yaml' | 'systemd' | 'install' | 'none';
  key?: string;
  note?: string;
}

type TsNode = SchemaNode & { 'x-taskserv'?: XTaskserv };

function xts(node: SchemaNode | undefined): XTaskserv | undefined {
  return (node as TsNode | undefined)?.['x-taskserv'];
}

function xc(node: SchemaNode | undefined): XContainerd | undefined {
  return node?.['x-containerd'];
}

/** Fields whose rendering is code, not a copy (the generic loop skips them). */
const TRANSFORMED = new Set(['runtimes', 'plugins.cri.systemd_cgroup', 'config.version']);
/** Top-level fields copied in the second pass (they only fill keys nothing else set). */
const SECOND_PASS = new Set(['security', 'performance']);

/** The Containerd declaration: the first root property of type Containerd, else `containerd`. */
function declaration(doc: ParsedDocument): Property | undefined {
  const typed = doc.root.props.find((p) => p.value.kind === 'object' && p.value.typeName === 'Containerd');
  if (typed) return typed;
  return doc.root.props.find((p) => p.key === 'containerd' && p.value.kind === 'object');
}

function schemaDefault(path: string[]): unknown {
  return resolve(taskservSchema(), path)?.node.default;
}

interface Leaf {
  /** Version-2 TOML path. */
  path: string[];
  value: TomlValue;
  source: Span;
  /** Written because containerd needs it explicit, not because the taskserv set it. */
  implicit?: boolean;
}

/** Plain TOML value of a tree node; undefined for null. */
function tomlOf(node: ValueNode): TomlValue | undefined {
  switch (node.kind) {
    case 'string':
    case 'datetime':
      return String(node.value);
    case 'integer':
      return node.value as number;
    case 'float':
      return new TomlFloat(node.value as number);
    case 'boolean':
      return node.value as boolean;
    case 'null':
      return undefined;
    case 'array': {
      const items: TomlValue[] = [];
      for (const it of node.items) {
        const v = tomlOf(it);
        if (v !== undefined) items.push(v);
      }
      return items;
    }
    case 'object': {
      const t: TomlTable = {};
      for (const p of node.props) {
        const v = tomlOf(p.value);
        if (v !== undefined) t[p.key] = v;
      }
      return t;
    }
  }
}

function valueKind(v: TomlValue): string {
  if (v instanceof TomlFloat) return 'number';
  if (Array.isArray(v)) return 'array';
  if (isTable(v)) return 'object';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** Fit a value to the target key's type; undefined when it cannot be written there. */
function coerce(v: TomlValue, target: SchemaNode | undefined): TomlValue | undefined {
  const t = target ? typeOf(target) : undefined;
  if (!t) return v;
  const k = valueKind(v);
  if (t === k) return v;
  if (t === 'number' && k === 'integer') return new TomlFloat(v as number);
  if (t === 'integer' && k === 'number' && v instanceof TomlFloat && Number.isInteger(v.value)) return v.value;
  if (t === 'string' && (k === 'integer' || k === 'number')) return String(v instanceof TomlFloat ? v.value : v);
  if (t === 'array' && k !== 'array' && k !== 'object') return [v];
  if (t === 'object' && k === 'object') return v;
  return undefined;
}

function fillNames(target: string[], schemaPath: readonly string[], concrete: readonly string[]): string[] {
  const names: string[] = [];
  schemaPath.forEach((s, i) => {
    if (s === '<name>') names.push(concrete[i]);
  });
  let n = 0;
  return target.map((s) => (s === '<name>' ? (names[n++] ?? s) : s));
}

function samePath(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function startsWith(path: readonly string[], prefix: readonly string[]): boolean {
  return prefix.length <= path.length && prefix.every((x, i) => path[i] === x);
}

// ---------------------------------------------------------------------------------------
// Version-2 paths to the file's config version

type Mapped = { to: string[] } | { drop: string };

/** A version-2 path in config version 3 (the v2 schema's migration data on the key or an ancestor). */
export function v2ToV3(path: string[]): Mapped {
  const v2 = schemaFor(2);
  for (let i = path.length; i >= 1; i--) {
    const prefix = path.slice(0, i);
    const r = resolve(v2, prefix);
    if (!r) continue;
    const m = xc(r.node)?.migration;
    if (m && 'v3Path' in m) {
      if (m.v3Path) return { to: [...fillNames(parsePath(m.v3Path), r.schemaPath, prefix), ...path.slice(i)] };
      const note = m.note && !/^moved by/.test(m.note) ? m.note.replace(/;?\s*the key is dropped.*$/, '') : 'no config version 3 equivalent';
      return { drop: note };
    }
  }
  return { to: path };
}

/**
 * Config version 4: a key of a top-level grpc/debug/metrics/ttrpc table that the v4 schema marks
 * deprecated in favour of a server plugin moves there; so do its siblings the plugin also has
 * (matched by name, after the prefix the deprecated key has beyond its replacement's name:
 * `tcp_address` -> grpc-tcp `address` makes `tcp_tls_cert` -> grpc-tcp `tls_cert`).
 */
function v4ServerPath(path: string[], siblings: string[], release: Release): string[] {
  if (path.length !== 2 || !SERVER_TABLES.includes(path[0])) return path;
  const v4 = schemaFor(4);
  const table = path[0];
  const moves: { prefix: string; plugin: string[] }[] = [];
  for (const s of new Set([path[1], ...siblings])) {
    const node = resolve(v4, [table, s])?.node;
    const rep = xc(node)?.deprecated?.replacement;
    if (!node?.deprecated || !rep) continue;
    const to = parsePath(rep);
    const target = resolve(v4, to);
    if (to[0] !== 'plugins' || !target || !availableIn(xc(target.node)?.versions, release)) continue;
    const name = to[to.length - 1];
    if (s === path[1]) return to;
    if (s.endsWith(name)) moves.push({ prefix: s.slice(0, s.length - name.length), plugin: to.slice(0, -1) });
  }
  moves.sort((a, b) => b.prefix.length - a.prefix.length);
  for (const m of moves) {
    if (!path[1].startsWith(m.prefix)) continue;
    const to = [...m.plugin, path[1].slice(m.prefix.length)];
    const target = resolve(v4, to);
    if (target && availableIn(xc(target.node)?.versions, release)) return to;
  }
  return path;
}

// ---------------------------------------------------------------------------------------

export function renderTaskserv(doc: ParsedDocument): RenderResult | undefined {
  const decl = declaration(doc);
  if (!decl || decl.value.kind !== 'object') return undefined;
  const root = decl.value;
  const declSpan = decl.keyRange;
  const notes: string[] = [];
  const ts = taskservSchema();

  // ---- release and config version
  const verProp = findProp(root, 'version');
  const relText =
    verProp && verProp.value.kind === 'string' ? String(verProp.value.value) : String(schemaDefault(['version']) ?? '1.7.18');
  let release = parseRelease(relText);
  if (!release) {
    notes.push(`version "${relText}" is not a containerd release (X.Y.Z); rendered for containerd ${String(schemaDefault(['version']) ?? '1.7')}.`);
    release = parseRelease(String(schemaDefault(['version']) ?? '1.7')) ?? { major: 1, minor: 7 };
  }
  const native = nativeConfigVersion(release);
  let configVersion: ConfigVersion = native;
  const cvProp = getAt(root, ['config']) && getAt(root, ['config'])!.kind === 'object' ? findProp(getAt(root, ['config']) as ObjectNode, 'version') : undefined;
  if (cvProp) {
    const n = cvProp.value.kind === 'integer' ? (cvProp.value.value as number) : NaN;
    const support = configVersionSupport(release);
    if (n >= 2 && n <= support.max) configVersion = n as ConfigVersion;
    else notes.push(`config.version ${cvProp.value.kind === 'integer' ? n : 'value'} cannot be rendered for containerd ${formatRelease(release)}; wrote version ${native} instead.`);
  }
  /** The schema that says whether the release reads a key: the written version's, or the native one for a version 2 file on 2.x. */
  const checkVersion: ConfigVersion = configVersion === 2 && release.major >= 2 ? native : configVersion;

  // ---- collect version-2 leaves
  const leaves = new Map<string, Leaf>();
  const put = (leaf: Leaf, field: string): void => {
    const k = JSON.stringify(leaf.path);
    const had = leaves.get(k);
    if (had) {
      if (!leaf.implicit && JSON.stringify(had.value) !== JSON.stringify(leaf.value)) {
        notes.push(`\`${field}\` was not written: \`${formatPath(leaf.path)}\` is already set by another field.`);
      }
      return;
    }
    // A key inside something already written as a value (or the other way round) cannot be written.
    for (const other of leaves.values()) {
      if (startsWith(leaf.path, other.path) || startsWith(other.path, leaf.path)) {
        notes.push(`\`${field}\` was not written: \`${formatPath(leaf.path)}\` conflicts with \`${formatPath(other.path)}\`.`);
        return;
      }
    }
    leaves.set(k, leaf);
  };

  const runtimeList = runtimeNames(root, notes);

  const visit = (
    obj: ObjectNode,
    schema: SchemaNode | undefined,
    fieldPath: string[],
    inherited: { key?: string[]; target?: XTaskserv['target'] },
    pass: 1 | 2,
  ): void => {
    for (const p of obj.props) {
      const path = [...fieldPath, p.key];
      const dotted = path.join('.');
      if (fieldPath.length === 0 && SECOND_PASS.has(p.key) !== (pass === 2)) continue;
      if (TRANSFORMED.has(dotted)) continue;
      const child = schema ? childOf(elementOf(schema), p.key) : undefined;
      if (!child && !inherited.key) {
        notes.push(`\`${dotted}\` is not a field of the taskserv schema; not rendered.`);
        continue;
      }
      const x = xts(child?.node);
      const target = x?.target ?? inherited.target;
      if (target && target !== 'config.toml') continue; // other files, install-only and no-effect fields
      if (path[0] === 'runtime_configs' && path.length >= 2 && !runtimeList.names.includes(path[1])) continue;
      let key: string[] | undefined;
      if (x?.key) {
        const r = resolve(ts, path);
        key = fillNames(parsePath(x.key), r?.schemaPath ?? [], path);
      } else if (inherited.key) key = [...inherited.key, p.key];
      const v = p.value;
      const el = child ? elementOf(child.node) : undefined;
      const structured = !!el && (!!el.properties || !!el['x-map']);
      if (v.kind === 'object' && structured) {
        visit(v, child?.node, path, { key, target }, pass);
        continue;
      }
      if (!key || target !== 'config.toml') continue;
      const tv = tomlOf(v);
      if (tv === undefined) continue;
      put({ path: key, value: tv, source: p.keyRange }, dotted);
    }
  };
  visit(root, ts, [], {}, 1);
  renderRuntimes(root, runtimeList, put, declSpan);
  visit(root, ts, [], {}, 2);

  // ---- map to the file's config version, keep what the release reads
  const model: TomlTable = { version: configVersion };
  const srcOf = new Map<string, Span>();
  srcOf.set(JSON.stringify(['version']), cvProp?.keyRange ?? verProp?.keyRange ?? declSpan);
  const byTable = new Map<string, string[]>();
  for (const l of leaves.values()) {
    if (l.path.length === 2) byTable.set(l.path[0], [...(byTable.get(l.path[0]) ?? []), l.path[1]]);
  }
  const checkSchema = schemaFor(checkVersion);
  for (const l of leaves.values()) {
    const shown = formatPath(l.path);
    let written = l.path;
    let checked = l.path;
    if (configVersion >= 3 || checkVersion >= 3) {
      const m = v2ToV3(l.path);
      if ('drop' in m) {
        notes.push(`\`${shown}\` is not written: containerd ${formatRelease(release)} has no such setting (${m.drop}).`);
        continue;
      }
      checked = m.to;
      if (checkVersion === 4) checked = v4ServerPath(checked, byTable.get(l.path[0]) ?? [], release);
      if (configVersion >= 3) written = checked;
    }
    let target = resolve(checkSchema, checked);
    if (target && !availableIn(xc(target.node)?.versions, release) && !samePath(checked.slice(-1), l.path.slice(-1))) {
      // A renamed key (cni.bin_dir -> bin_dirs) that the release does not read yet: keep its old name.
      const alt = [...checked.slice(0, -1), l.path[l.path.length - 1]];
      const ra = resolve(checkSchema, alt);
      if (ra && availableIn(xc(ra.node)?.versions, release)) {
        target = ra;
        if (configVersion >= 3) written = [...written.slice(0, -1), l.path[l.path.length - 1]];
      }
    }
    if (!target) {
      notes.push(`\`${shown}\` is not written: containerd ${formatRelease(release)} does not read it (no such key in config version ${checkVersion}).`);
      continue;
    }
    if (!availableIn(xc(target.node)?.versions, release)) {
      notes.push(`\`${formatPath(checked)}\` is not written: containerd ${formatRelease(release)} does not read it.`);
      continue;
    }
    const value = coerce(l.value, target.node);
    if (value === undefined) {
      notes.push(`\`${formatPath(checked)}\` is not written: a ${valueKind(l.value)} cannot be written where containerd expects ${String(typeOf(target.node))}.`);
      continue;
    }
    if (!setIn(model, written, value)) {
      notes.push(`\`${formatPath(written)}\` is not written: it conflicts with another key.`);
      continue;
    }
    srcOf.set(JSON.stringify(written), l.source);
  }

  const files: RenderedFile[] = [configFile(model, srcOf, declSpan)];
  files.push(crictlFile(root, declSpan));
  const dropin = systemdFile(root, notes);
  if (dropin) files.push(dropin);

  return { name: decl.key, release: relText, configVersion, files, notes };
}

function setIn(model: TomlTable, path: string[], value: TomlValue): boolean {
  let t = model;
  for (const k of path.slice(0, -1)) {
    const next = t[k];
    if (next === undefined) t = t[k] = {};
    else if (isTable(next)) t = next;
    else return false;
  }
  const last = path[path.length - 1];
  if (last in t) return false;
  t[last] = value;
  return true;
}

// ---------------------------------------------------------------------------------------
// Runtimes

interface RuntimeList {
  names: string[];
  /** The `runtimes` property, when set. */
  prop?: Property;
  /** Runtimes are written (the taskserv sets runtimes or runtime_configs). */
  render: boolean;
}

function runtimeNames(root: ObjectNode, notes: string[]): RuntimeList {
  const prop = findProp(root, 'runtimes');
  const configs = findProp(root, 'runtime_configs');
  let text: string | undefined;
  if (prop) {
    if (prop.value.kind === 'string') text = String(prop.value.value);
    else if (prop.value.kind === 'array') text = prop.value.items.map((i) => (i.kind === 'string' ? String(i.value) : '')).join(',');
    else notes.push('`runtimes` is not a comma-separated string; runtimes are not rendered.');
  }
  text ??= String(resolve(taskservSchema(), ['runtimes'])?.node.default ?? 'runc');
  const names: string[] = [];
  for (const part of text.split(',')) {
    const n = part.trim();
    if (n && !names.includes(n)) names.push(n);
  }
  const render = (!!prop && prop.value.kind !== 'object' && names.length > 0) || (!!configs && configs.value.kind === 'object' && configs.value.props.length > 0);
  return { names, prop, render };
}

function renderRuntimes(
  root: ObjectNode,
  list: RuntimeList,
  put: (leaf: Leaf, field: string) => void,
  declSpan: Span,
): void {
  const configs = getAt(root, ['runtime_configs']);
  const dflt = findProp(root, 'runtime_default');
  if (!list.render) return;
  const prefixNode = getAt(root, ['install', 'prefix']);
  const prefix = (prefixNode && prefixNode.kind === 'string' ? String(prefixNode.value) : String(resolve(taskservSchema(), ['install', 'prefix'])?.node.default ?? '/usr/local')).replace(/\/+$/, '');
  const sdcProp = getAt(root, ['plugins', 'cri']) && getAt(root, ['plugins', 'cri'])!.kind === 'object'
    ? findProp(getAt(root, ['plugins', 'cri']) as ObjectNode, 'systemd_cgroup')
    : undefined;
  const systemd = sdcProp && sdcProp.value.kind === 'boolean' ? (sdcProp.value.value as boolean) : undefined;
  const listSpan = list.prop?.keyRange ?? declSpan;

  for (const name of list.names) {
    const cfgProp = configs && configs.kind === 'object' ? findProp(configs, name) : undefined;
    const cfg = cfgProp && cfgProp.value.kind === 'object' ? cfgProp.value : undefined;
    const base = [...RUNTIMES_V2, name];
    const tnode = cfg ? getAt(cfg, ['runtime_type']) : undefined;
    const rtype = tnode && tnode.kind === 'string' ? String(tnode.value) : 'io.containerd.runc.v2';
    // runtime_type: containerd 1.x replaces the whole runtimes map, so every entry needs it.
    put({ path: [...base, 'runtime_type'], value: rtype, source: cfgProp?.keyRange ?? listSpan, implicit: true }, `runtimes (${name})`);
    if (!RUNC_TYPES.includes(rtype)) continue;
    const opts = cfg ? getAt(cfg, ['options']) : undefined;
    const hasOpt = (k: string): boolean =>
      !!opts && opts.kind === 'object' && opts.props.some((p) => p.key.toLowerCase() === k.toLowerCase());
    if (name !== 'runc' && !hasOpt('BinaryName')) {
      put({ path: [...base, 'options', 'BinaryName'], value: `${prefix}/bin/${name}`, source: listSpan, implicit: true }, `runtimes (${name})`);
    }
    if (systemd !== undefined && !hasOpt('SystemdCgroup')) {
      put({ path: [...base, 'options', 'SystemdCgroup'], value: systemd, source: sdcProp!.keyRange, implicit: true }, 'plugins.cri.systemd_cgroup');
    }
  }
  // default_runtime_name: explicit with the runtimes (1.x), from runtime_default or the schema default.
  // Without runtime_default: the schema default when it is one of the runtimes, else the first runtime.
  let d: string;
  if (dflt && dflt.value.kind === 'string') d = String(dflt.value.value);
  else {
    const sd = String(resolve(taskservSchema(), ['runtime_default'])?.node.default ?? 'runc');
    d = list.names.includes(sd) || !list.names.length ? sd : list.names[0];
  }
  put({ path: DEFAULT_RUNTIME_V2, value: d, source: dflt?.keyRange ?? listSpan, implicit: true }, 'runtime_default');
}

// ---------------------------------------------------------------------------------------
// Files

function configFile(model: TomlTable, srcOf: Map<string, Span>, declSpan: Span): RenderedFile {
  const out = writeToml(model);
  const sourceMap: SourceMapEntry[] = [];
  const keyLines = out.lines.filter((l) => !l.header);
  for (const l of out.lines) {
    let source = srcOf.get(JSON.stringify(l.path));
    if (!source && l.header) {
      // A header points at the first key written below it.
      const first = keyLines.find((k) => k.line > l.line && startsWith(k.path, l.path) && srcOf.has(JSON.stringify(k.path)));
      source = first ? srcOf.get(JSON.stringify(first.path)) : undefined;
    }
    sourceMap.push({ line: l.line, outPath: l.path, source: source ?? declSpan });
  }
  return { path: CONFIG_TOML_PATH, kind: 'config.toml', content: out.text, sourceMap };
}

function yamlScalar(v: string | number | boolean): string {
  if (typeof v !== 'string') return String(v);
  if (/^[A-Za-z0-9_./:@+-]+$/.test(v) && !/^(true|false|yes|no|on|off|null|~|[-+]?[0-9.]+)$/i.test(v) && !v.includes(': ')) return v;
  return JSON.stringify(v);
}

function endpoint(v: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(v) ? v : `unix://${v}`;
}

function crictlFile(root: ObjectNode, declSpan: Span): RenderedFile {
  const crictl = getAt(root, ['crictl']);
  const ts = taskservSchema();
  const grpcAddr = getAt(root, ['config', 'grpc', 'address']);
  const socket = grpcAddr && grpcAddr.kind === 'string' && grpcAddr.value ? String(grpcAddr.value) : DEFAULT_SOCKET;
  const fields: { field: string; yaml: string; dflt: unknown }[] = [
    { field: 'runtime_endpoint', yaml: 'runtime-endpoint', dflt: socket },
    { field: 'image_endpoint', yaml: 'image-endpoint', dflt: undefined },
    { field: 'timeout', yaml: 'timeout', dflt: 2 },
    { field: 'debug', yaml: 'debug', dflt: false },
    { field: 'pull_image_on_create', yaml: 'pull-image-on-create', dflt: false },
    { field: 'disable_pull_on_run', yaml: 'disable-pull-on-run', dflt: false },
  ];
  const lines: string[] = [];
  const sourceMap: SourceMapEntry[] = [];
  let runtimeEp = endpoint(socket);
  for (const f of fields) {
    const sn = resolve(ts, ['crictl', f.field])?.node;
    const yamlKey = xts(sn)?.target === 'crictl.yaml' && xts(sn)?.key ? xts(sn)!.key! : f.yaml;
    const prop = crictl && crictl.kind === 'object' ? findProp(crictl, f.field) : undefined;
    let value: unknown = prop && (prop.value.kind === 'string' || prop.value.kind === 'integer' || prop.value.kind === 'boolean' || prop.value.kind === 'float')
      ? prop.value.value
      : undefined;
    if (value === undefined || value === '') {
      // Endpoints default to containerd's socket (the schema's default is only the documented one).
      value = f.field === 'runtime_endpoint' ? socket : f.field === 'image_endpoint' ? runtimeEp : (sn?.default ?? f.dflt);
    }
    if (f.field.endsWith('_endpoint')) {
      value = endpoint(String(value));
      if (f.field === 'runtime_endpoint') runtimeEp = value as string;
    }
    sourceMap.push({ line: lines.length, outPath: [yamlKey], source: prop?.keyRange ?? (crictl ? findProp(root, 'crictl')!.keyRange : declSpan) });
    lines.push(`${yamlKey}: ${yamlScalar(value as string | number | boolean)}`);
  }
  return { path: CRICTL_YAML_PATH, kind: 'crictl.yaml', content: lines.join('\n') + '\n', sourceMap };
}

function systemdFile(root: ObjectNode, notes: string[]): RenderedFile | undefined {
  const res = getAt(root, ['resources']);
  if (!res || res.kind !== 'object') return undefined;
  const ts = taskservSchema();
  const lines = ['[Service]'];
  const sourceMap: SourceMapEntry[] = [];
  const resProp = findProp(root, 'resources')!;
  for (const p of res.props) {
    const sn = resolve(ts, ['resources', p.key])?.node;
    const x = xts(sn);
    if (x?.target !== 'systemd' || !x.key) continue;
    const v = p.value;
    if (v.kind !== 'integer' && v.kind !== 'string' && v.kind !== 'float') {
      notes.push(`\`resources.${p.key}\` is not a number or string; ${x.key}= is not written.`);
      continue;
    }
    const raw = String(v.value).trim();
    // 0 / empty means unlimited: containerd.service's own setting applies. Not for OOMScoreAdjust,
    // where 0 is a real value (the unit's own is -999).
    if (raw === '' || (raw === '0' && x.key !== 'OOMScoreAdjust')) continue;
    let text = raw;
    if (x.key === 'CPUQuota') text = raw.endsWith('%') ? raw : `${raw}%`;
    if (/\s/.test(text)) {
      notes.push(`\`resources.${p.key}\` "${raw}" is not a valid ${x.key}= value; not written.`);
      continue;
    }
    sourceMap.push({ line: lines.length, outPath: ['Service', x.key], source: p.keyRange });
    lines.push(`${x.key}=${text}`);
  }
  if (lines.length === 1) return undefined;
  sourceMap.unshift({ line: 0, outPath: ['Service'], source: resProp.keyRange });
  return { path: SYSTEMD_DROPIN_PATH, kind: 'systemd-dropin', content: lines.join('\n') + '\n', sourceMap };
}

