// Tests for the generated JSON Schemas (schemas/*.schema.json) and docs/config-reference.md.
// Compiled by `tsc -p .` to out/test/unit/schemas.test.js and run with `node --test`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Ajv from 'ajv';

const ROOT = process.env.CONTAINERD_TASKSERV_ROOT ?? path.resolve(__dirname, '../../..');
const KEYS_JSON = path.resolve(ROOT, '../shared/research/containerd/keys.json');
const HAVE_KEYS = existsSync(KEYS_JSON);
const VERSIONS = [1, 2, 3, 4] as const;
type ConfigVersion = (typeof VERSIONS)[number];

interface XContainerd {
  path: string;
  v1Path?: string;
  type?: string;
  configVersions: number[];
  versions: Record<string, string>;
  appliesWhen?: string;
  runtimeTypes?: string[];
  deprecated?: { replacement?: string; since?: string };
  migration?: { v3Path?: string | null; v2Path?: string | null };
  [k: string]: unknown;
}

interface SchemaNode {
  type?: string;
  format?: string;
  pattern?: string;
  description?: string;
  markdownDescription?: string;
  default?: unknown;
  enum?: unknown[];
  deprecated?: boolean;
  deprecationMessage?: string;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: SchemaNode | boolean;
  items?: SchemaNode;
  'x-closed'?: boolean;
  'x-map'?: string;
  'x-free-form'?: boolean;
  'x-key-matching'?: string;
  'x-containerd'?: XContainerd;
  [k: string]: unknown;
}

interface CatalogueEntry {
  path: string;
  config_versions: number[];
  v1_path?: string;
  type: string;
}

function loadSchema(v: ConfigVersion): SchemaNode {
  return JSON.parse(readFileSync(path.join(ROOT, 'schemas', `containerd-config-v${v}.schema.json`), 'utf8')) as SchemaNode;
}

const schemas = new Map<ConfigVersion, SchemaNode>(VERSIONS.map((v) => [v, loadSchema(v)]));

function schemaFor(v: ConfigVersion): SchemaNode {
  const s = schemas.get(v);
  assert.ok(s, `schema v${v} loaded`);
  return s;
}

function splitPath(p: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const c of p) {
    if (c === '"') quoted = !quoted;
    if (c === '.' && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

function unquote(s: string): string {
  return s.length >= 2 && s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1) : s;
}

/** Walk a schema by a keys.json-style path (quoted segments, <name> map keys, x[].y arrays). */
function lookup(schema: SchemaNode, p: string): SchemaNode | undefined {
  let node: SchemaNode | undefined = schema;
  for (const raw of splitPath(p)) {
    if (!node) return undefined;
    if (/^<[^>]+>$/.test(raw)) {
      if (!node['x-map'] || typeof node.additionalProperties !== 'object') return undefined;
      node = node.additionalProperties;
      continue;
    }
    const isArray = raw.endsWith('[]');
    const name = unquote(isArray ? raw.slice(0, -2) : raw);
    const props: Record<string, SchemaNode> | undefined = node.properties;
    node = props && Object.prototype.hasOwnProperty.call(props, name) ? props[name] : undefined;
    if (isArray) node = node?.type === 'array' ? node.items : undefined;
  }
  return node;
}

interface Visited {
  node: SchemaNode;
  where: string;
  parent?: SchemaNode;
}

function seg(name: string): string {
  return /^[A-Za-z0-9_-]+$/.test(name) ? name : JSON.stringify(name);
}

function* walk(node: SchemaNode, where = '', parent?: SchemaNode): Generator<Visited> {
  yield { node, where, parent };
  for (const [k, child] of Object.entries(node.properties ?? {})) yield* walk(child, where ? `${where}.${seg(k)}` : seg(k), node);
  if (node.items) yield* walk(node.items, `${where}[]`, node);
  if (node.additionalProperties && typeof node.additionalProperties === 'object') {
    yield* walk(node.additionalProperties, `${where}.<${node['x-map'] ?? 'name'}>`, node);
  }
}

function loadCatalogue(): CatalogueEntry[] {
  const cat = JSON.parse(readFileSync(KEYS_JSON, 'utf8')) as { keys: CatalogueEntry[] };
  return cat.keys;
}

// ---------------------------------------------------------------------------------------------

test('every keys.json entry is reachable in the schema of each of its config versions', { skip: !HAVE_KEYS && `no ${KEYS_JSON}` }, () => {
  const entries = loadCatalogue();
  assert.equal(entries.length, 559);
  const problems: string[] = [];
  for (const e of entries) {
    for (const v of e.config_versions) {
      const node = lookup(schemaFor(v as ConfigVersion), e.path);
      if (!node) problems.push(`v${v}: ${e.path} not found`);
      else if (node['x-containerd']?.path !== e.path) problems.push(`v${v}: ${e.path} has x-containerd.path ${node['x-containerd']?.path}`);
    }
    if (e.v1_path) {
      const node = lookup(schemaFor(1), e.v1_path);
      if (!node) problems.push(`v1: ${e.v1_path} (v1_path of ${e.path}) not found`);
      else if (node['x-containerd']?.path !== e.path) problems.push(`v1: ${e.v1_path} is not ${e.path}`);
    }
  }
  assert.deepEqual(problems, []);
});

test('each schema is valid draft-07 and compiles with ajv', () => {
  for (const v of VERSIONS) {
    const schema = schemaFor(v);
    assert.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#');
    assert.equal(schema.$id, `urn:containerd-taskserv:config-v${v}`);
    assert.equal(typeof schema.title, 'string');
    assert.equal(typeof schema.description, 'string');
    const ajv = new Ajv({ strict: false, allErrors: true });
    ajv.addFormat('duration', true);
    assert.equal(ajv.validateSchema(schema), true, `v${v} meta-schema: ${ajv.errorsText(ajv.errors)}`);
    assert.doesNotThrow(() => ajv.compile(schema), `v${v} compiles`);
  }
});

/** Build a config instance from schema defaults; map tables get one entry named "sample". */
function sampleFromDefaults(node: SchemaNode): unknown {
  if (node.default !== undefined) return structuredClone(node.default);
  if (node.type === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, child] of Object.entries(node.properties ?? {})) {
      const val = sampleFromDefaults(child);
      if (val !== undefined) out[k] = val;
    }
    if (node['x-map'] && typeof node.additionalProperties === 'object') {
      const val = sampleFromDefaults(node.additionalProperties);
      if (val !== undefined) out.sample = val;
    }
    return Object.keys(out).length ? out : undefined;
  }
  if (node.type === 'array' && node.items?.type === 'object') {
    const el = sampleFromDefaults(node.items);
    return el === undefined ? undefined : [el];
  }
  return undefined;
}

test('a sample instance built from defaults validates; a type-broken one fails', () => {
  for (const v of VERSIONS) {
    const ajv = new Ajv({ strict: false, allErrors: true });
    ajv.addFormat('duration', true);
    const validate = ajv.compile(schemaFor(v));
    const sample = sampleFromDefaults(schemaFor(v)) as Record<string, unknown>;
    assert.ok(sample && typeof sample === 'object');
    sample.version = v;
    assert.ok(Object.keys(sample).length > 5, `v${v} sample has content`);
    assert.equal(validate(sample), true, `v${v} sample: ${ajv.errorsText(validate.errors)}`);

    const broken = structuredClone(sample);
    broken.oom_score = 'high';
    assert.equal(validate(broken), false, `v${v}: string oom_score must fail`);

    const broken2 = structuredClone(sample);
    broken2.timeouts = { 'io.containerd.timeout.shim.load': '5 seconds' };
    assert.equal(validate(broken2), false, `v${v}: bad duration must fail`);
  }
  // A type error deep inside a runtime's options fails too.
  const ajv = new Ajv({ strict: false });
  ajv.addFormat('duration', true);
  const v2 = ajv.compile(schemaFor(2));
  const bad = {
    version: 2,
    plugins: { 'io.containerd.grpc.v1.cri': { containerd: { runtimes: { runc: { runtime_type: 'io.containerd.runc.v2', options: { SystemdCgroup: 'true' } } } } } },
  };
  assert.equal(v2(bad), false);
  const good = structuredClone(bad);
  good.plugins['io.containerd.grpc.v1.cri'].containerd.runtimes.runc.options.SystemdCgroup = true as unknown as string;
  assert.equal(v2(good), true, ajv.errorsText(v2.errors));
});

test('leaves have type and description; deprecations have messages; durations have a format; options carry runtimeTypes', () => {
  const durationRe = (p: string) => new RegExp(p, 'u');
  for (const v of VERSIONS) {
    const problems: string[] = [];
    for (const { node, where, parent } of walk(schemaFor(v))) {
      if (!where) continue;
      if (!node.type) problems.push(`${where}: no type`);
      // Element schemas of arrays of scalars (`x[]`) are bare types; everything else is documented.
      const scalarElement = where.endsWith('[]') && node.type !== 'object';
      if (!node.description && !scalarElement) problems.push(`${where}: no description`);
      const xc = node['x-containerd'];
      if (xc) {
        if (!node.markdownDescription) problems.push(`${where}: no markdownDescription`);
        if (typeof xc.path !== 'string' || !Array.isArray(xc.configVersions) || typeof xc.versions !== 'object') problems.push(`${where}: incomplete x-containerd`);
        if (xc.type?.includes('duration')) {
          if (node.format !== 'duration' || !node.pattern) problems.push(`${where}: duration without format/pattern`);
        }
      }
      if (node.deprecated && !node.deprecationMessage) problems.push(`${where}: deprecated without deprecationMessage`);
      if (node.format === 'duration') {
        const re = durationRe(node.pattern ?? '');
        for (const ok of ['0', '10s', '1h30m', '1.5h', '300ms', '-1s', '2us', '5µs', '1m0s', '100ns']) if (!re.test(ok)) problems.push(`${where}: rejects ${ok}`);
        for (const bad of ['', '10', 's', '1 s', '1d', '5 minutes', '.s']) if (re.test(bad)) problems.push(`${where}: accepts ${bad}`);
      }
      // Option keys under a runtime options table.
      if (parent?.['x-key-matching'] === 'case-insensitive' && parent.properties && Object.values(parent.properties).includes(node)) {
        if (!xc?.runtimeTypes?.length) problems.push(`${where}: option without runtimeTypes`);
        if (xc?.appliesWhen?.startsWith('runtime_type is io.containerd.runc.v2') && !xc.runtimeTypes?.includes('io.containerd.runc.v2')) {
          problems.push(`${where}: runc option without runc.v2`);
        }
      }
      if (node['x-map'] && (typeof node.additionalProperties !== 'object' || !node.additionalProperties)) problems.push(`${where}: x-map without additionalProperties schema`);
    }
    assert.deepEqual(problems, [], `v${v}`);
  }
});

test('plugins table is closed and every plugin table carries x-containerd', () => {
  for (const v of VERSIONS) {
    const plugins = schemaFor(v).properties?.plugins;
    assert.ok(plugins);
    assert.equal(plugins['x-closed'], true);
    const ids = Object.keys(plugins.properties ?? {});
    assert.ok(ids.length > 10, `v${v} has plugins`);
    for (const id of ids) {
      const p: SchemaNode | undefined = plugins.properties?.[id];
      const xc: XContainerd | undefined = p?.['x-containerd'];
      assert.ok(xc, `v${v} ${id} has x-containerd`);
      assert.equal(typeof xc.path, 'string');
      assert.ok(Array.isArray(xc.configVersions) && xc.configVersions.length > 0);
      assert.ok(Object.keys(xc.versions).length > 0, `v${v} ${id} versions`);
      if (v === 1) assert.ok(!id.includes('.'), `v1 uses short IDs: ${id}`);
      else assert.ok(id.startsWith('io.containerd.'), `v${v} uses full URIs: ${id}`);
    }
  }
});

test('re-running the generators reproduces the committed files byte for byte', { skip: !HAVE_KEYS && `no ${KEYS_JSON}` }, () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'gen-schemas-'));
  try {
    const schemasOut = path.join(tmp, 'schemas');
    const docsOut = path.join(tmp, 'docs');
    execFileSync(process.execPath, [path.join(ROOT, 'scripts/gen-schemas.mjs'), '--keys', KEYS_JSON, '--out', schemasOut], { cwd: ROOT, stdio: 'pipe' });
    execFileSync(process.execPath, [path.join(ROOT, 'scripts/gen-docs.mjs'), '--schemas', schemasOut, '--out', docsOut], { cwd: ROOT, stdio: 'pipe' });
    for (const v of VERSIONS) {
      const name = `containerd-config-v${v}.schema.json`;
      assert.ok(readFileSync(path.join(schemasOut, name)).equals(readFileSync(path.join(ROOT, 'schemas', name))), `${name} is stale: run npm run gen`);
    }
    assert.ok(
      readFileSync(path.join(docsOut, 'config-reference.md')).equals(readFileSync(path.join(ROOT, 'docs', 'config-reference.md'))),
      'docs/config-reference.md is stale: run npm run gen',
    );
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('docs header says the file is generated', () => {
  const md = readFileSync(path.join(ROOT, 'docs', 'config-reference.md'), 'utf8');
  assert.match(md.split('\n')[0] ?? '', /generated.*npm run gen.*do not edit by hand/i);
  for (const v of VERSIONS) assert.ok(md.includes(`## Config version ${v}`));
});

test('spot checks against known containerd facts', () => {
  const v2 = schemaFor(2);
  const sysd = lookup(v2, 'plugins."io.containerd.grpc.v1.cri".containerd.runtimes.<name>.options.SystemdCgroup');
  assert.ok(sysd);
  assert.equal(sysd.type, 'boolean');
  assert.equal(sysd.default, false);
  assert.ok(sysd['x-containerd']?.runtimeTypes?.includes('io.containerd.runc.v2'));
  const opts = lookup(v2, 'plugins."io.containerd.grpc.v1.cri".containerd.runtimes.<name>.options');
  assert.ok(opts);
  assert.equal(opts['x-key-matching'], 'case-insensitive');
  assert.equal(opts['x-closed'], false);
  const runtimes = lookup(v2, 'plugins."io.containerd.grpc.v1.cri".containerd.runtimes');
  assert.equal(runtimes?.['x-map'], 'name');

  const sandboxImage = lookup(v2, 'plugins."io.containerd.grpc.v1.cri".sandbox_image');
  assert.ok(sandboxImage);
  assert.equal(sandboxImage.deprecated, true);
  assert.match(sandboxImage.deprecationMessage ?? '', /pinned_images\.sandbox/);
  assert.match(sandboxImage['x-containerd']?.deprecated?.replacement ?? '', /pinned_images\.sandbox$/);

  const v3 = schemaFor(3);
  assert.ok(lookup(v3, 'plugins."io.containerd.cri.v1.runtime"'));
  assert.ok(lookup(v3, 'plugins."io.containerd.cri.v1.images"'));
  assert.ok(lookup(v3, 'plugins."io.containerd.cri.v1.images".pinned_images.sandbox'));
  assert.ok(lookup(v3, 'plugins."io.containerd.grpc.v1.cri"'), 'v3 keeps the streaming part of grpc.v1.cri');
  assert.equal(lookup(v3, 'plugins."io.containerd.grpc.v1.cri".sandbox_image'), undefined);
  assert.equal(lookup(v2, 'plugins."io.containerd.cri.v1.images"'), undefined);
  const v3opt = lookup(v3, 'plugins."io.containerd.cri.v1.runtime".containerd.runtimes.<name>.options.SystemdCgroup');
  assert.deepEqual(v3opt?.['x-containerd']?.runtimeTypes, ['io.containerd.runc.v2']);

  const v1 = schemaFor(1);
  assert.ok(lookup(v1, 'plugins.cri'));
  assert.ok(lookup(v1, 'plugins.cri.containerd.runtimes.<name>.options.SystemdCgroup'));
  assert.equal(lookup(v1, 'plugins."io.containerd.grpc.v1.cri"'), undefined);

  const dur = lookup(v3, 'plugins."io.containerd.gc.v1.scheduler".schedule_delay');
  assert.equal(dur?.format, 'duration');
  const unpack = lookup(v3, 'plugins."io.containerd.transfer.v1.local".unpack_config[].snapshotter');
  assert.equal(unpack?.type, 'string');
  const v4 = schemaFor(4);
  assert.ok(lookup(v4, 'plugins."io.containerd.server.v1.grpc".address'));
  assert.equal(lookup(v3, 'plugins."io.containerd.server.v1.grpc"'), undefined);
});
