// Tests for the generated taskserv schema (schemas/taskserv-containerd.schema.json) and
// docs/taskserv-mapping.md: seed coverage, the x-taskserv contract (schemas/README.md), agreement
// with the config.toml schemas, and that the committed files are what the generators produce.
// Bundled by esbuild to out/test/unit/taskserv-schema.test.js and run with `node --test`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Ajv from 'ajv';

const BUNDLED_ROOT = path.resolve(__dirname, '../../..');
// out/test/unit/ -> repo root; when bundled elsewhere (e.g. /tmp), run from the repo root instead.
const ROOT = process.env.CONTAINERD_TASKSERV_ROOT ??
  (existsSync(path.join(BUNDLED_ROOT, 'schemas', 'taskserv-containerd.schema.json')) ? BUNDLED_ROOT : process.cwd());
const SEED = path.resolve(ROOT, '../shared/seed/containerd-taskserv.md');
const SCHEMA_FILE = path.join(ROOT, 'schemas', 'taskserv-containerd.schema.json');
const DOCS_FILE = path.join(ROOT, 'docs', 'taskserv-mapping.md');
const TARGETS = ['config.toml', 'crictl.yaml', 'systemd', 'install', 'none'];

interface XTaskserv {
  target: string;
  key?: string;
  note?: string;
  notContainerd?: { message: string; equivalent?: string };
  since?: string;
  listOf?: string[];
}

interface Node {
  type?: string | string[];
  format?: string;
  pattern?: string;
  default?: unknown;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  description?: string;
  markdownDescription?: string;
  properties?: Record<string, Node>;
  additionalProperties?: Node | boolean;
  items?: Node;
  'x-closed'?: boolean;
  'x-map'?: string;
  'x-free-form'?: boolean;
  'x-key-matching'?: string;
  'x-taskserv'?: XTaskserv;
  'x-containerd'?: { versions?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

const readJson = (f: string): Node => JSON.parse(readFileSync(f, 'utf8')) as Node;
const schema = readJson(SCHEMA_FILE);
const configV2 = readJson(path.join(ROOT, 'schemas', 'containerd-config-v2.schema.json'));

/** Every field of the taskserv schema with its dotted path (map entries as `<name>`). */
function fields(node: Node = schema, where = ''): { path: string; node: Node }[] {
  const out: { path: string; node: Node }[] = [];
  for (const [k, child] of Object.entries(node.properties ?? {})) {
    const p = where ? `${where}.${k}` : k;
    out.push({ path: p, node: child }, ...fields(child, p));
  }
  if (node.additionalProperties && typeof node.additionalProperties === 'object') {
    const p = `${where}.<${node['x-map'] ?? 'name'}>`;
    out.push({ path: p, node: node.additionalProperties }, ...fields(node.additionalProperties, p));
  }
  return out;
}

/** The schema node at a dotted taskserv path, entering maps for any key. */
function lookup(dotted: string): Node | undefined {
  let node: Node | undefined = schema;
  for (const seg of dotted.split('.')) {
    if (!node) return undefined;
    if (node.properties?.[seg]) node = node.properties[seg];
    else if (node['x-map'] && typeof node.additionalProperties === 'object') node = node.additionalProperties;
    else if (node['x-free-form'] && node['x-key-matching'] === 'case-insensitive') {
      const hit: string | undefined = Object.keys(node.properties ?? {}).find((k) => k.toLowerCase() === seg.toLowerCase());
      node = hit ? node.properties![hit] : undefined;
    } else return undefined;
  }
  return node;
}

/** Split a TOML path on dots outside double quotes. */
function splitKey(p: string): string[] {
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
  return out.map((s) => (s.length >= 2 && s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1) : s));
}

function resolveConfig(key: string): Node | undefined {
  let node: Node | undefined = configV2;
  for (const seg of splitKey(key)) {
    if (!node) return undefined;
    if (/^<[^>]+>$/.test(seg)) node = node['x-map'] && typeof node.additionalProperties === 'object' ? node.additionalProperties : undefined;
    else node = node.properties?.[seg];
  }
  return node;
}

/** The field paths of the seed's KCL blocks (`containerd: Containerd = {` … matching `}`). */
function seedFieldPaths(): { block: number; paths: string[] }[] {
  const lines = readFileSync(SEED, 'utf8').split(/\r?\n/);
  const blocks: { block: number; paths: string[] }[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^\s*containerd\s*:\s*Containerd\s*=\s*\{\s*$/.test(lines[i])) continue;
    const stack: string[] = [];
    const paths: string[] = [];
    for (i = i + 1; i < lines.length; i++) {
      const line = lines[i].replace(/#.*$/, '').trim();
      if (!line) continue;
      if (line === '}') {
        if (!stack.length) break;
        stack.pop();
        continue;
      }
      const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*:\s*(.*)$/.exec(line);
      if (!m) continue;
      paths.push([...stack, m[1]].join('.'));
      if (m[2].trim() === '{') stack.push(m[1]);
    }
    blocks.push({ block: blocks.length + 1, paths });
  }
  return blocks;
}

const HAVE_SEED = existsSync(SEED);

test('the seed has five Containerd blocks and every field in them is in the schema', { skip: !HAVE_SEED && !process.env.CI && 'seed not found' }, () => {
  const blocks = seedFieldPaths();
  assert.equal(blocks.length, 5, 'five KCL configurations in the seed');
  const missing: string[] = [];
  let count = 0;
  for (const { block, paths } of blocks) {
    for (const p of paths) {
      count++;
      if (!lookup(p)) missing.push(`block ${block}: ${p}`);
    }
  }
  assert.ok(count > 80, `extracted ${count} field paths`);
  assert.deepEqual(missing, []);
  // spot checks that the extraction went deep enough
  const all = new Set(blocks.flatMap((b) => b.paths));
  for (const p of ['config.grpc.max_send_message_size', 'runtime_configs.runc.options.NoPivotRoot', 'plugins.content.gc.schedule', 'plugins.snapshots.overlayfs.upperdir_label']) {
    assert.ok(all.has(p), `seed path ${p} extracted`);
  }
});

test('the schema is draft-07, compiles with ajv and accepts the seed values', () => {
  assert.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#');
  assert.equal(schema.$id, 'urn:containerd-taskserv:taskserv-containerd');
  assert.equal(schema.title, 'Containerd taskserv');
  const ajv = new Ajv({ strict: false, allErrors: true });
  ajv.addFormat('absolute-path', /^\//);
  ajv.addFormat('image-reference', /^[^\s]+$/);
  ajv.addFormat('duration', true);
  const validate = ajv.compile(schema);
  const seedLike = {
    name: 'containerd',
    version: '1.7.18',
    runtime_default: 'runc',
    runtimes: 'runc,crun,youki',
    config: { version: 2, root: '/var/lib/containerd', grpc: { address: '/run/containerd/containerd.sock', max_recv_message_size: 16777216 } },
    plugins: { cri: { stream_server_port: '0', stream_idle_timeout: '4h', selinux_category_range: 1024, sandbox_image: 'registry.k8s.io/pause:3.9', systemd_cgroup: true } },
    crictl: { runtime_endpoint: '/run/containerd/containerd.sock', timeout: 2 },
    resources: { cpu_quota: 0, memory_limit: 0, pid_limit: 0 },
    runtime_configs: { crun: { runtime_type: 'io.containerd.runc.v2', options: { BinaryName: '/usr/local/bin/crun', SystemdCgroup: true } } },
  };
  assert.ok(validate(seedLike), JSON.stringify(validate.errors));
  for (const bad of [
    { version: '1.7' },
    { runtimes: 'runc,,crun' },
    { resources: { oom_score_adj: -1001 } },
    { plugins: { cri: { selinux_category_range: 0 } } },
    { config: { grpc: { max_send_message_size: 0 } } },
    { crictl: { timeout: -1 } },
    { config: { version: 1 } },
  ]) {
    assert.equal(validate(bad), false, `rejects ${JSON.stringify(bad)}`);
  }
});

test('every field has a type, a description, a default (leaves) and x-taskserv with a valid target', () => {
  const all = fields();
  assert.ok(all.length > 100, `${all.length} fields`);
  for (const { path: p, node } of all) {
    assert.ok(node.type, `${p}: type`);
    assert.ok(node.description && node.markdownDescription, `${p}: description and markdownDescription`);
    const x = node['x-taskserv'];
    assert.ok(x, `${p}: x-taskserv`);
    assert.ok(TARGETS.includes(x.target), `${p}: target ${x.target}`);
    if (node.type !== 'object') assert.ok('default' in node, `${p}: default`);
    if (['crictl.yaml', 'systemd'].includes(x.target) && node.type !== 'object') assert.ok(x.key, `${p}: key`);
    if (x.target === 'config.toml' && node.type !== 'object') {
      assert.ok(x.key, `${p}: key`);
      assert.match(node.description!, /\/etc\/containerd\/config\.toml/, `${p}: says where it lands`);
    }
    if (x.target === 'none') assert.match(node.description!, /[Nn]ot rendered|no effect/, `${p}: says it has no effect`);
    if (node.type === 'object' && !node['x-map'] && !node['x-free-form']) assert.equal(node['x-closed'], true, `${p}: closed`);
  }
});

test('every config.toml key resolves in the version-2 config schema and the types agree', () => {
  let checked = 0;
  for (const { path: p, node } of fields()) {
    const x = node['x-taskserv']!;
    if (x.target !== 'config.toml' || !x.key) continue;
    const target = resolveConfig(x.key);
    assert.ok(target, `${p}: ${x.key} resolves`);
    checked++;
    if (p === 'runtimes') {
      assert.equal(target['x-map'], 'name', 'runtimes renders a map of runtime tables');
      continue;
    }
    assert.deepEqual(node.type, target.type, `${p}: type ${JSON.stringify(node.type)} = ${JSON.stringify(target.type)} of ${x.key}`);
    if (node.type === 'array') assert.equal(node.items?.type, target.items?.type, `${p}: item type`);
    if (target.format === 'duration') assert.equal(node.format, 'duration', `${p}: duration`);
    if (target.enum && p !== 'config.version') assert.deepEqual(node.enum, target.enum, `${p}: enum`);
    // defaults come from the config schema unless the taskserv renderer documents its own
    if (node.type !== 'object' && !['runtime_default', 'config.version', 'runtime_configs.<name>.runtime_type'].includes(p)) {
      assert.deepEqual(node.default, target.default, `${p}: default`);
    }
  }
  assert.ok(checked > 60, `${checked} config.toml fields checked`);
});

test('contract details: runtimes, options, versions, limits, since', () => {
  const runtimes = lookup('runtimes')!;
  assert.equal(runtimes.default, 'runc');
  assert.deepEqual(runtimes['x-taskserv']!.listOf, ['runc', 'crun', 'youki', 'kata', 'runsc', 'wasmtime']);
  assert.ok(new RegExp(runtimes.pattern!).test('runc,crun,youki'));
  assert.ok(!new RegExp(runtimes.pattern!).test('runc;crun'));
  assert.equal(lookup('runtime_default')!.default, 'runc');
  assert.equal(lookup('install.prefix')!.default, '/usr/local');
  assert.ok(new RegExp(lookup('version')!.pattern!).test('1.7.18'));
  assert.ok(!new RegExp(lookup('version')!.pattern!).test('1.7'));
  assert.equal(lookup('runtime_configs')!['x-map'], 'name');
  const options = lookup('runtime_configs.x.options')!;
  assert.equal(options['x-key-matching'], 'case-insensitive');
  assert.notEqual(options['x-closed'], true);
  for (const o of ['NoPivotRoot', 'NoNewKeyring', 'ShimCgroup', 'IoUid', 'IoGid', 'BinaryName', 'Root', 'CriuPath', 'SystemdCgroup']) {
    assert.ok(options.properties![o], `runc option ${o}`);
  }
  assert.equal(lookup('plugins.cri.sandbox_image')!.format, 'image-reference');
  assert.equal(lookup('config.root')!.format, 'absolute-path');
  assert.equal(lookup('resources.oom_score_adj')!.minimum, -1000);
  assert.equal(lookup('resources.oom_score_adj')!.maximum, 1000);
  assert.equal(lookup('plugins.cri.selinux_category_range')!.minimum, 1);
  assert.equal(lookup('crictl.timeout')!.minimum, 0);
  assert.ok(lookup('config.grpc.max_recv_message_size')!.minimum! > 0);
  assert.equal(lookup('performance.max_concurrent_uploads')!['x-taskserv']!.since, '1.7');
  assert.equal(lookup('plugins.cri.systemd_cgroup')!['x-taskserv']!.key,
    'plugins."io.containerd.grpc.v1.cri".containerd.runtimes.<name>.options.SystemdCgroup');
  assert.equal(lookup('crictl.runtime_endpoint')!['x-taskserv']!.key, 'runtime-endpoint');
  assert.equal(lookup('resources.pid_limit')!['x-taskserv']!.key, 'TasksMax');
  assert.match(lookup('runtime_default')!.description!, /default_runtime_name.*io\.containerd\.cri\.v1\.runtime/s);
});

test('seccomp_profile_root and content.gc.schedule are marked notContainerd with an equivalent', () => {
  for (const p of ['plugins.cri.seccomp_profile_root', 'plugins.content.gc.schedule', 'plugins.content.gc.threshold']) {
    const x = lookup(p)!['x-taskserv']!;
    assert.equal(x.target, 'none', p);
    assert.ok(x.notContainerd?.message, `${p}: message`);
    assert.ok(x.notContainerd?.equivalent, `${p}: equivalent`);
  }
  assert.match(lookup('plugins.cri.seccomp_profile_root')!['x-taskserv']!.notContainerd!.message, /kubelet/);
  assert.match(lookup('plugins.content.gc.schedule')!['x-taskserv']!.notContainerd!.equivalent!, /io\.containerd\.gc\.v1\.scheduler/);
});

test('the mapping doc lists every field', () => {
  const doc = readFileSync(DOCS_FILE, 'utf8');
  assert.match(doc.split('\n')[0], /generated by `npm run gen`; do not edit/);
  for (const { path: p } of fields()) assert.ok(doc.includes(`| \`${p}\` |`), `docs row for ${p}`);
});

test('regenerating gives byte-identical schema and docs', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'taskserv-gen-'));
  try {
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'gen-taskserv-schema.mjs'), '--out', tmp], { cwd: ROOT, stdio: 'pipe' });
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'gen-taskserv-docs.mjs'),
      '--schema', path.join(tmp, 'taskserv-containerd.schema.json'), '--out', tmp], { cwd: ROOT, stdio: 'pipe' });
    assert.ok(readFileSync(path.join(tmp, 'taskserv-containerd.schema.json')).equals(readFileSync(SCHEMA_FILE)),
      'schemas/taskserv-containerd.schema.json is current (run npm run gen)');
    assert.ok(readFileSync(path.join(tmp, 'taskserv-mapping.md')).equals(readFileSync(DOCS_FILE)),
      'docs/taskserv-mapping.md is current (run npm run gen)');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
