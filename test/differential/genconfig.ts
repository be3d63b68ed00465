/**
 * Helpers for the containerd differential test (containerd16.test.ts):
 *   - walk a config schema (schemas/containerd-config-v2.schema.json, format in schemas/README.md)
 *     down to its leaf keys, instantiating `x-map` entries and arrays of tables;
 *   - decide whether a key exists in a given containerd release (`x-containerd.versions`);
 *   - generate a non-default value of the right type for a key, plus the sibling settings the
 *     value needs to be meaningful (e.g. runc options need `runtime_type = "io.containerd.runc.v2"`);
 *   - pack many keys into as few config files as possible without conflicting settings;
 *   - serialise those files as TOML while remembering the line of every key;
 *   - compare a value read back from `containerd config dump` with the value we wrote.
 *
 * Nothing here knows about containerd processes or the linter; the test does that.
 */

// ---------------------------------------------------------------------------------------------
// Schema shape (only what we read)

export interface XContainerd {
  path?: string;
  configVersions?: number[];
  versions?: Record<string, string>;
  platforms?: string[];
  runtimeTypes?: string[];
  appliesWhen?: string;
  [k: string]: unknown;
}

export interface SchemaNode {
  type?: string | string[];
  properties?: Record<string, SchemaNode>;
  additionalProperties?: SchemaNode | boolean;
  patternProperties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  default?: unknown;
  enum?: unknown[];
  format?: string;
  'x-map'?: string;
  'x-free-form'?: boolean;
  'x-closed'?: boolean;
  'x-containerd'?: XContainerd;
  [k: string]: unknown;
}

/** A path segment: a concrete key, a map slot to be named later, or one array-of-tables element. */
export type Seg = { key: string } | { map: string; parent: string } | { index: 0 };

export interface Leaf {
  /** Path with map slots still open. */
  segs: Seg[];
  /** Human-readable path, `<name>` for map slots and `[]` for arrays of tables. */
  display: string;
  node: SchemaNode;
  xc: XContainerd;
}

function typeOf(node: SchemaNode): string | undefined {
  if (Array.isArray(node.type)) return node.type.find((t) => t !== 'null');
  return node.type;
}

function isTable(node: SchemaNode): boolean {
  return typeOf(node) === 'object' || node.properties !== undefined || node['x-map'] !== undefined;
}

export function displayPath(segs: Seg[]): string {
  const out: string[] = [];
  for (const s of segs) {
    if ('key' in s) out.push(/^[A-Za-z0-9_-]+$/.test(s.key) ? s.key : JSON.stringify(s.key));
    else if ('map' in s) out.push(`<${s.map}>`);
    else out[out.length - 1] += '[]';
  }
  return out.join('.');
}

/**
 * Every leaf (non-table value) under `node`. Tables are descended through `properties`, `x-map`
 * tables through one instantiated entry (`additionalProperties`), arrays of tables through one
 * element. A table that is a leaf in TOML terms (a free-form map without a value schema) is
 * reported as a leaf of type object.
 */
export function collectLeaves(node: SchemaNode, segs: Seg[] = [], inherited: XContainerd = {}): Leaf[] {
  const xc = node['x-containerd'] ?? inherited;
  const t = typeOf(node);
  if (t === 'array' && node.items && isTable(node.items)) {
    return collectLeaves(node.items, [...segs, { index: 0 }], xc);
  }
  if (!isTable(node)) {
    return [{ segs, display: displayPath(segs), node, xc }];
  }
  const out: Leaf[] = [];
  for (const [k, child] of Object.entries(node.properties ?? {})) {
    out.push(...collectLeaves(child, [...segs, { key: k }], xc));
  }
  const parent = segs.length ? segs[segs.length - 1] : undefined;
  const parentKey = parent && 'key' in parent ? parent.key : '';
  if (node['x-map'] !== undefined && node.additionalProperties && typeof node.additionalProperties === 'object') {
    out.push(...collectLeaves(node.additionalProperties, [...segs, { map: node['x-map'], parent: parentKey }], xc));
  }
  if (out.length === 0 && segs.length > 0 && node['x-map'] === undefined && !node['x-free-form']) {
    // A table with no declared content (e.g. an empty plugin table): nothing to set.
    return [];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Versions

export interface ContainerdVersion { major: number; minor: number; patch: number; raw: string }

/** Parse `containerd --version` output ("containerd github.com/containerd/containerd 1.6.20~ds1 ..."). */
export function parseContainerdVersion(text: string): ContainerdVersion | undefined {
  const m = /\bv?(\d+)\.(\d+)\.(\d+)/.exec(text);
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), raw: m[0] };
}

export type Availability = 'yes' | 'not-in-series' | 'not-in-patch';

/**
 * Whether a key whose `x-containerd.versions` is `versions` exists in containerd `v`.
 * Spec per series: `all`, `X+` (patch X or later; X may be `1.6.24` or `24`), `X-Y`.
 */
export function availability(versions: Record<string, string> | undefined, v: ContainerdVersion): Availability {
  if (!versions) return 'yes';
  const spec = versions[`${v.major}.${v.minor}`];
  if (spec === undefined) return 'not-in-series';
  const s = spec.trim();
  if (s === 'all' || s === '') return 'yes';
  const patchOf = (x: string): number => {
    const parts = x.trim().split('.');
    return Number(parts[parts.length - 1]);
  };
  let m = /^([\d.]+)\+$/.exec(s);
  if (m) return v.patch >= patchOf(m[1]) ? 'yes' : 'not-in-patch';
  m = /^([\d.]+)\s*-\s*([\d.]+)$/.exec(s);
  if (m) return v.patch >= patchOf(m[1]) && v.patch <= patchOf(m[2]) ? 'yes' : 'not-in-patch';
  // Several ranges separated by commas.
  if (s.includes(',')) {
    const key = `${v.major}.${v.minor}`;
    return s.split(',').some((part) => availability({ [key]: part.trim() }, v) === 'yes') ? 'yes' : 'not-in-patch';
  }
  throw new Error(`unrecognised version spec ${JSON.stringify(spec)}`);
}

// ---------------------------------------------------------------------------------------------
// Values

/** TOML floats are kept apart from integers so that `1` vs `1.0` is written as intended. */
export class TomlFloat {
  constructor(readonly v: number) {}
}
export type TomlValue = string | number | boolean | TomlFloat | TomlValue[] | TomlTable;
export interface TomlTable { [k: string]: TomlValue }

export function isTomlTable(v: unknown): v is TomlTable {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof TomlFloat);
}

const GO_UNITS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go `time.ParseDuration` (enough of it): returns nanoseconds or undefined. */
export function parseGoDuration(s: string): number | undefined {
  let rest = s.trim();
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    if (rest[0] === '-') sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') return undefined;
  let total = 0;
  const re = /^(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;
  while (rest.length) {
    const m = re.exec(rest);
    if (!m) return undefined;
    total += Number(m[1]) * GO_UNITS[m[2]];
    rest = rest.slice(m[0].length);
  }
  return sign * total;
}

function leafName(leaf: Leaf): string {
  for (let i = leaf.segs.length - 1; i >= 0; i--) {
    const s = leaf.segs[i];
    if ('key' in s) return s.key;
  }
  return '';
}

/**
 * Hand-picked realistic non-default values, by the key's display path (or its last segment,
 * prefixed with `*.`). They keep the generated files free of *semantic* problems that the linter
 * rightly reports (a bad snapshotter name, a nonexistent file, ...), and they read well.
 * `$DIR` is replaced by the test's scratch directory; `$FILE:name` makes the test create that file.
 */
export const VALUE_OVERRIDES: Record<string, TomlValue> = {
  oom_score: -999,
  root: '$DIR/root',
  state: '$DIR/state',
  temp: '$DIR/tmp',
  plugin_dir: '$DIR/plugins',
  required_plugins: ['io.containerd.grpc.v1.cri'],
  disabled_plugins: ['io.containerd.snapshotter.v1.aufs'],
  'grpc.address': '$DIR/containerd.sock',
  'grpc.tcp_address': '127.0.0.1:10010',
  'grpc.tcp_tls_ca': '$FILE:grpc-ca.pem',
  'grpc.tcp_tls_cert': '$FILE:grpc-cert.pem',
  'grpc.tcp_tls_key': '$FILE:grpc-key.pem',
  'grpc.max_recv_message_size': 33554432,
  'grpc.max_send_message_size': 33554432,
  'ttrpc.address': '$DIR/containerd.sock.ttrpc',
  'debug.address': '$DIR/debug.sock',
  'metrics.address': '127.0.0.1:1338',
  'cgroup.path': '/system.slice/containerd-difftest',
  '*.uid': 1000,
  '*.gid': 1000,
  '*.sandbox_image': 'registry.example.com/pause:3.9',
  '*.stream_server_address': '0.0.0.0',
  '*.stream_server_port': '10011',
  '*.stream_idle_timeout': '2h30m0s',
  '*.unset_seccomp_profile': 'runtime/default',
  '*.snapshotter': 'native',
  '*.bin_dir': '$DIR/cni/bin',
  '*.conf_dir': '$DIR/cni/net.d',
  '*.cni_conf_dir': '$DIR/cni/net.d-runtime',
  '*.conf_template': '$FILE:cni-template.json',
  '*.ip_pref': 'ipv6',
  '*.base_runtime_spec': '$FILE:base-spec.json',
  '*.rdt_config_file': '$FILE:rdt.yaml',
  '*.tls_cert_file': '$FILE:stream-cert.pem',
  '*.tls_key_file': '$FILE:stream-key.pem',
  '*.ca_file': '$FILE:registry-ca.pem',
  '*.cert_file': '$FILE:registry-cert.pem',
  '*.key_file': '$FILE:registry-key.pem',
  '*.<name>.endpoint': ['https://mirror.example.com'],
  '*.config_path': '$DIR/certs.d',
  '*.pod_annotations': ['io.example.pod/*'],
  '*.container_annotations': ['io.example.container/*'],
  '*.runtime_path': '/usr/local/bin/containerd-shim-example-v2',
  '*.runtime_engine': '/usr/local/sbin/runc-legacy',
  '*.runtime_root': '$DIR/runc-legacy',
  '*.BinaryName': '/usr/local/sbin/runc-custom',
  '*.Root': '$DIR/runc-root',
  '*.CriuPath': '/usr/local/sbin/criu',
  '*.CriuImagePath': '$DIR/criu-images',
  '*.CriuWorkPath': '$DIR/criu-work',
  '*.ShimCgroup': '/system.slice/containerd-shims',
  '*.TypeUrl': 'io.containerd.kata.v2.options',
  '*.ConfigPath': '$FILE:kata-configuration.toml',
  '*.username': 'difftest',
  '*.password': 'difftest-password',
  '*.auth': 'ZGlmZnRlc3Q6ZGlmZnRlc3QtcGFzc3dvcmQ=',
  '*.identitytoken': 'difftest-token',
  '*.key_model': '',
  '*.path': '$DIR/opt',
  '*.root_path': '$DIR/snapshots',
  '*.platforms': ['linux/amd64', 'linux/arm64'],
  '*.default': ['walking', 'example-differ'],
  '*.deletion_threshold': 5,
  '*.mutation_threshold': 200,
  '*.pause_threshold': new TomlFloat(0.25),
  '*.schedule_delay': '5m0s',
  '*.startup_delay': '250ms',
  '*.interval': '30s',
  '*.content_sharing_policy': 'isolated',
  '*.runtime': 'crun',
  '*.shim': 'containerd-shim-custom',
  '*.pool_name': 'containerd-difftest-pool',
  '*.base_image_size': '20GB',
  '*.fs_options': '-E nodiscard',
  '*.fs_type': 'xfs',
  'proxy_plugins.<name>.type': 'snapshot',
  'proxy_plugins.<name>.address': '$DIR/example-snapshotter.sock',
  'stream_processors.<name>.accepts': ['application/vnd.example.layer.v1.tar+encrypted'],
  'stream_processors.<name>.returns': 'application/vnd.oci.image.layer.v1.tar',
  'stream_processors.<name>.path': '/usr/local/bin/example-decoder',
  'stream_processors.<name>.args': ['--keys', '/etc/example/keys'],
  'stream_processors.<name>.env': ['EXAMPLE_CONFIG=/etc/example/config'],
  '*.headers.<name>': ['difftest'],
  'timeouts.<name>': '7s',
};

function lookupOverride(leaf: Leaf): TomlValue | undefined {
  const name = leafName(leaf);
  const candidates = [leaf.display, `*.${leaf.display.split('.').slice(-2).join('.')}`, name, `*.${name}`];
  for (const c of candidates) if (c in VALUE_OVERRIDES) return VALUE_OVERRIDES[c];
  return undefined;
}

function cleanEnum(values: unknown[] | undefined): unknown[] {
  // Only real values: drop documentation placeholders such as "<name of a proxy snapshotter>".
  return (values ?? []).filter((v) => typeof v !== 'string' || !/[<\s(]/.test(v));
}

export function isDuration(leaf: Leaf): boolean {
  return leaf.node.format === 'duration';
}

/** A value of the leaf's type that differs from its default. Throws when it cannot make one. */
export function nonDefaultValue(leaf: Leaf): TomlValue {
  const node = leaf.node;
  const def = node.default;
  const override = lookupOverride(leaf);
  if (override !== undefined) return override;
  const enumValues = cleanEnum(node.enum);
  if (enumValues.length) {
    const pick = enumValues.find((v) => v !== def && v !== '') ?? enumValues.find((v) => v !== def);
    if (pick === undefined) throw new Error(`${leaf.display}: no enum value other than the default`);
    return typeOf(node) === 'number' ? new TomlFloat(Number(pick)) : (pick as TomlValue);
  }
  const t = typeOf(node);
  switch (t) {
    case 'boolean':
      return def === true ? false : true;
    case 'integer':
      return typeof def === 'number' && def !== 0 ? def * 2 : 7;
    case 'number': {
      const d = typeof def === 'number' ? def : 0;
      return new TomlFloat(d >= 0 && d < 1 ? (d === 0.25 ? 0.5 : 0.25) : d + 1.5);
    }
    case 'string': {
      if (isDuration(leaf)) {
        const dns = typeof def === 'string' ? parseGoDuration(def) : undefined;
        return dns === 90e9 ? '45s' : '1m30s';
      }
      if (typeof def === 'string' && def.startsWith('/')) return `$DIR/${leafName(leaf)}`;
      return `difftest-${leafName(leaf)}`;
    }
    case 'array': {
      const it = node.items ? typeOf(node.items) : 'string';
      if (it === 'string') return [`difftest-${leafName(leaf)}`];
      if (it === 'integer') return [7];
      if (it === 'boolean') return [true];
      throw new Error(`${leaf.display}: cannot make an array of ${it}`);
    }
    default:
      throw new Error(`${leaf.display}: cannot make a value of type ${String(t)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Plans: one key, its value, what else must (not) be in the same file

export type Path = (string | number)[];

export interface Assignment { path: Path; value: TomlValue }

export interface Plan {
  leaf: Leaf;
  /** Concrete path of the key under test. */
  path: Path;
  value: TomlValue;
  /** Sibling settings that must be in the same file (with exactly these values). */
  requires: Assignment[];
  /** Path prefixes that must not be set in the same file. */
  forbids: Path[];
}

const CRI = 'io.containerd.grpc.v1.cri';
const RUNC = 'io.containerd.runc.v2';
const KATA = 'io.containerd.kata.v2';
const LINUX_V1 = 'io.containerd.runtime.v1.linux';

/** Names used when a map entry must be invented, by the map's parent key. */
const MAP_NAMES: Record<string, string> = {
  mirrors: 'registry.example.com',
  configs: 'registry.example.com',
  auths: 'registry.example.com',
  headers: 'X-Difftest',
  timeouts: 'io.containerd.timeout.difftest',
  proxy_plugins: 'example',
  stream_processors: 'example',
  runtimes: 'runc',
};

function isRuncOption(leaf: Leaf): boolean {
  const rt = leaf.xc.runtimeTypes ?? [];
  if (rt.length) return rt.includes(RUNC);
  return /runc\.v2/.test(leaf.xc.appliesWhen ?? '') && !/other than/.test(leaf.xc.appliesWhen ?? '');
}

/**
 * Turn a leaf into a plan: pick map entry names, the value, and the context containerd 1.x needs
 * for the setting to be valid (the CRI plugin's own validation, pkg/cri/config/config.go@v1.6:
 * runtime_engine/runtime_root only with io.containerd.runtime.v1.linux, systemd_cgroup/no_pivot
 * only when the default runtime is v1.linux, registry mirrors/configs.tls never with config_path,
 * 1.x replaces the runtimes map so `runc` must stay defined, ...).
 */
export function planFor(leaf: Leaf): Plan {
  const name = leafName(leaf);
  const segKeys = leaf.segs.map((s) => ('key' in s ? s.key : 'map' in s ? `<${s.map}>` : '[]'));
  const inRuntimeTable = (() => {
    const i = segKeys.findIndex((k, j) => (k === 'runtimes' && segKeys[j + 1]?.startsWith('<')) || k === 'default_runtime' || k === 'untrusted_workload_runtime');
    return i;
  })();
  const isOption = segKeys.includes('options');

  // Decide the runtime handler name and its runtime_type.
  let runtimeName = 'runc';
  let runtimeType = RUNC;
  if (inRuntimeTable >= 0) {
    if (name === 'runtime_engine' || name === 'runtime_root') {
      runtimeName = 'legacy';
      runtimeType = LINUX_V1;
    } else if ((isOption && !isRuncOption(leaf)) || (name === 'runtime_type' && segKeys[inRuntimeTable] === 'runtimes')) {
      // Generic shim options; also the runtime_type of a map entry (the built-in `runc` entry already has runc.v2).
      runtimeName = 'kata';
      runtimeType = KATA;
    }
  }

  const path: Path = [];
  for (const s of leaf.segs) {
    if ('key' in s) path.push(s.key);
    else if ('index' in s) path.push(0);
    else path.push(s.parent === 'runtimes' ? runtimeName : MAP_NAMES[s.parent] ?? 'example');
  }

  let value = nonDefaultValue(leaf);
  const requires: Assignment[] = [];
  const forbids: Path[] = [];
  const criPrefix = ['plugins', CRI];

  if (inRuntimeTable >= 0) {
    const rtTable = path.slice(0, segKeys[inRuntimeTable] === 'runtimes' ? inRuntimeTable + 2 : inRuntimeTable + 1);
    if (name === 'runtime_type' && path.length === rtTable.length + 1) {
      value = runtimeType;
    } else {
      requires.push({ path: [...rtTable, 'runtime_type'], value: runtimeType });
    }
    if (segKeys[inRuntimeTable] === 'runtimes') {
      // 1.x replaces the built-in runtimes map: keep `runc` (the default runtime) defined.
      requires.push({ path: [...criPrefix, 'containerd', 'runtimes', 'runc', 'runtime_type'], value: RUNC });
    }
  }
  if (path[0] === 'proxy_plugins' && path.length >= 3) {
    // containerd 1.6 panics ("plugin: no type") on a proxy plugin without a snapshot/content type.
    for (const [k, v] of [['type', 'snapshot'], ['address', '$DIR/example-snapshotter.sock']] as const) {
      if (!(path.length === 3 && path[2] === k)) requires.push({ path: [path[0], path[1], k], value: v });
    }
  }
  const criRel = path[0] === 'plugins' && path[1] === CRI ? path.slice(2).join('.') : undefined;
  if (criRel === 'systemd_cgroup' || criRel === 'no_pivot' || criRel === 'containerd.no_pivot' || criRel === 'containerd.default_runtime_name') {
    // Only valid when the default runtime is io.containerd.runtime.v1.linux.
    if (criRel === 'containerd.default_runtime_name') value = 'legacy';
    else requires.push({ path: [...criPrefix, 'containerd', 'default_runtime_name'], value: 'legacy' });
    requires.push({ path: [...criPrefix, 'containerd', 'runtimes', 'legacy', 'runtime_type'], value: LINUX_V1 });
    requires.push({ path: [...criPrefix, 'containerd', 'runtimes', 'runc', 'runtime_type'], value: RUNC });
    // A typed default_runtime would become the default runtime instead.
    forbids.push([...criPrefix, 'containerd', 'default_runtime', 'runtime_type']);
  }
  if (criRel === 'registry.config_path') {
    forbids.push([...criPrefix, 'registry', 'mirrors'], [...criPrefix, 'registry', 'configs']);
  }
  if (criRel?.startsWith('registry.mirrors') || criRel?.startsWith('registry.configs')) {
    forbids.push([...criPrefix, 'registry', 'config_path']);
  }
  if (path[0] === 'disabled_plugins' && Array.isArray(value)) {
    for (const id of value) if (typeof id === 'string') forbids.push(['plugins', id]);
  }
  return { leaf, path, value, requires, forbids };
}

// ---------------------------------------------------------------------------------------------
// Packing plans into files

export interface GeneratedFile {
  name: string;
  root: TomlTable;
  plans: Plan[];
  forbids: Path[];
  /** Every concrete path set in the file, by key (path joined with NUL). */
  assigned: Map<string, TomlValue>;
}

const keyOf = (p: Path): string => p.join('\u0000');

function isPrefix(prefix: Path, p: Path): boolean {
  return prefix.length <= p.length && prefix.every((s, i) => s === p[i]);
}

function sameValue(a: TomlValue, b: TomlValue): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function fits(file: GeneratedFile, plan: Plan): boolean {
  const sets: Assignment[] = [{ path: plan.path, value: plan.value }, ...plan.requires];
  for (const a of sets) {
    const k = keyOf(a.path);
    const have = file.assigned.get(k);
    if (have !== undefined && !sameValue(have, a.value)) return false;
    if (file.forbids.some((f) => isPrefix(f, a.path))) return false;
    // A scalar where a table is (or the reverse).
    for (const existing of file.assigned.keys()) {
      if (existing !== k && (existing.startsWith(k + '\u0000') || k.startsWith(existing + '\u0000'))) return false;
    }
  }
  for (const f of plan.forbids) {
    for (const existing of file.assigned.keys()) {
      if (isPrefix(f, existing.split('\u0000'))) return false;
    }
  }
  return true;
}

export function setAt(root: TomlTable, path: Path, value: TomlValue): void {
  let cur: TomlTable | TomlValue[] = root;
  for (let i = 0; i < path.length - 1; i++) {
    const seg = path[i];
    const nextIsIndex = typeof path[i + 1] === 'number';
    const holder = cur as Record<string | number, TomlValue>;
    let next = holder[seg];
    if (next === undefined) {
      next = nextIsIndex ? [] : {};
      holder[seg] = next;
    }
    if (nextIsIndex) {
      const arr = next as TomlValue[];
      const idx = path[i + 1] as number;
      if (arr[idx] === undefined) arr[idx] = {};
      cur = arr;
    } else {
      cur = next as TomlTable;
    }
  }
  (cur as Record<string | number, TomlValue>)[path[path.length - 1]] = value;
}

export function getAt(root: unknown, path: Path): unknown {
  let cur: unknown = root;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return cur;
}

/** Greedy first-fit packing; `header` assignments go into every file (e.g. `version = 2`). */
export function pack(plans: Plan[], header: Assignment[], prefix = 'gen'): GeneratedFile[] {
  const files: GeneratedFile[] = [];
  const newFile = (): GeneratedFile => {
    const f: GeneratedFile = { name: `${prefix}-${files.length + 1}.toml`, root: {}, plans: [], forbids: [], assigned: new Map() };
    for (const a of header) {
      setAt(f.root, a.path, a.value);
      f.assigned.set(keyOf(a.path), a.value);
    }
    files.push(f);
    return f;
  };
  for (const plan of plans) {
    let file = files.find((f) => fits(f, plan));
    if (!file) {
      file = newFile();
      if (!fits(file, plan)) throw new Error(`${plan.leaf.display}: conflicts with the file header`);
    }
    for (const a of [...plan.requires, { path: plan.path, value: plan.value }]) {
      setAt(file.root, a.path, a.value);
      file.assigned.set(keyOf(a.path), a.value);
    }
    file.forbids.push(...plan.forbids);
    file.plans.push(plan);
  }
  return files;
}

// ---------------------------------------------------------------------------------------------
// TOML output with line numbers

export function tomlKey(k: string | number): string {
  const s = String(k);
  return /^[A-Za-z0-9_-]+$/.test(s) ? s : JSON.stringify(s);
}

function tomlScalar(v: TomlValue): string {
  if (v instanceof TomlFloat) {
    const s = String(v.v);
    return /[.eE]/.test(s) ? s : `${s}.0`;
  }
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(tomlScalar).join(', ')}]`;
  return `{ ${Object.entries(v).map(([k, x]) => `${tomlKey(k)} = ${tomlScalar(x)}`).join(', ')} }`;
}

const isArrayOfTables = (v: TomlValue): v is TomlTable[] => Array.isArray(v) && v.length > 0 && v.every(isTomlTable);

export interface RenderedToml {
  text: string;
  /** 1-based line of every key (path joined with NUL; array elements by index). */
  lines: Map<string, number>;
}

/** Render a table tree as TOML: scalars first, then sub-tables as `[a."b".c]` headers. */
export function renderToml(root: TomlTable): RenderedToml {
  const out: string[] = [];
  const lines = new Map<string, number>();
  const emitTable = (table: TomlTable, path: Path, header: string | undefined): void => {
    const scalars = Object.entries(table).filter(([, v]) => !isTomlTable(v) && !isArrayOfTables(v));
    const tables = Object.entries(table).filter(([, v]) => isTomlTable(v) || isArrayOfTables(v));
    if (header !== undefined && (scalars.length > 0 || tables.length === 0)) {
      if (out.length) out.push('');
      out.push(header);
      lines.set(keyOf(path), out.length);
    }
    for (const [k, v] of scalars) {
      out.push(`${header !== undefined ? '  ' : ''}${tomlKey(k)} = ${tomlScalar(v)}`);
      lines.set(keyOf([...path, k]), out.length);
    }
    for (const [k, v] of tables) {
      const p = [...path, k];
      const dotted = p.filter((s) => typeof s === 'string').map(tomlKey).join('.');
      if (isArrayOfTables(v)) {
        v.forEach((el, i) => emitTable(el, [...p, i], `[[${dotted}]]`));
      } else {
        emitTable(v as TomlTable, p, `[${dotted}]`);
      }
    }
  };
  emitTable(root, [], undefined);
  return { text: out.join('\n') + '\n', lines };
}

export function lineOf(rendered: RenderedToml, path: Path): number | undefined {
  return rendered.lines.get(keyOf(path));
}

// ---------------------------------------------------------------------------------------------
// Comparing what containerd printed with what we wrote

export function expandPlaceholders(v: TomlValue, dir: string, files: Set<string>): TomlValue {
  if (typeof v === 'string') {
    if (v.startsWith('$FILE:')) {
      const f = `${dir}/${v.slice('$FILE:'.length)}`;
      files.add(f);
      return f;
    }
    return v.replace(/\$DIR/g, dir);
  }
  if (Array.isArray(v)) return v.map((x) => expandPlaceholders(x, dir, files));
  if (isTomlTable(v)) {
    const o: TomlTable = {};
    for (const [k, x] of Object.entries(v)) o[k] = expandPlaceholders(x, dir, files);
    return o;
  }
  return v;
}

/** Does `actual` (parsed from the dump) equal `expected` (what we wrote)? */
export function dumpMatches(expected: TomlValue, actual: unknown, duration: boolean): boolean {
  if (expected instanceof TomlFloat) return typeof actual === 'number' && Math.abs(actual - expected.v) < 1e-9;
  if (duration && typeof expected === 'string' && typeof actual === 'string') {
    const a = parseGoDuration(actual);
    const e = parseGoDuration(expected);
    return a !== undefined && a === e;
  }
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && actual.length === expected.length && expected.every((e, i) => dumpMatches(e, actual[i], duration));
  }
  if (isTomlTable(expected)) {
    return isTomlTable(actual as TomlValue) && Object.entries(expected).every(([k, e]) => dumpMatches(e, (actual as Record<string, unknown>)[k], duration));
  }
  return actual === expected;
}

export function show(v: unknown): string {
  if (v instanceof TomlFloat) return String(v.v);
  if (v === undefined) return '(absent)';
  return JSON.stringify(v);
}
