// migrateToV3: config version 2 (and 1) files rewritten as version 3, checked by parsing the
// output and resolving every key in the version 3 schema.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { parseToml } from '../../server/src/parser/toml';
import { detectContext, type ServiceDocument } from '../../server/src/services/context';
import { migrateToV3 } from '../../server/src/services/migrate';
import { resolve, schemaFor } from '../../server/src/schema/catalog';
import { getAt, toValue, walkProps, type ParsedDocument } from '../../server/src/tree/model';

const ROOT = process.env.CONTAINERD_TASKSERV_ROOT ?? path.resolve(__dirname, '../../..');
const RESEARCH = process.env.CONTAINERD_RESEARCH ?? path.resolve(ROOT, '../shared/research/containerd');
const DEFAULT_17 = path.join(RESEARCH, 'defaults/containerd-1.7-default.RECONSTRUCTED.toml');
const HAVE_RESEARCH = existsSync(DEFAULT_17);
const STRICT = process.env.CI === 'true';
const skipNoResearch = !HAVE_RESEARCH && !STRICT && `no ${RESEARCH}`;

const CRI = 'io.containerd.grpc.v1.cri';
const RUNTIME = 'io.containerd.cri.v1.runtime';
const IMAGES = 'io.containerd.cri.v1.images';

function prepare(text: string): ServiceDocument {
  const parsed = parseToml(text);
  return { text: TextDocument.create('file:///x/config.toml', 'toml', 1, text), parsed, ctx: detectContext(parsed) };
}

function migrate(text: string) {
  const r = migrateToV3(prepare(text));
  const out = parseToml(r.text);
  assert.deepEqual(out.syntaxErrors, [], `output does not parse:\n${r.text}`);
  return { ...r, out };
}

function at(doc: ParsedDocument, p: string[]): unknown {
  const v = getAt(doc.root, p);
  return v === undefined ? undefined : toValue(v);
}

function leaves(doc: ParsedDocument): string[][] {
  const out: string[][] = [];
  const visit = (obj: typeof doc.root, base: string[]) => {
    for (const p of obj.props) {
      const pp = [...base, p.key];
      if (p.value.kind === 'object' && p.value.props.length) visit(p.value, pp);
      else out.push(pp);
    }
  };
  visit(doc.root, []);
  return out;
}

test('the 1.7 default config migrates to a version 3 file whose every key resolves in the v3 schema', { skip: skipNoResearch }, () => {
  const text = readFileSync(DEFAULT_17, 'utf8');
  const { out, stats, notes, text: result } = migrate(text);
  assert.equal(at(out, ['version']), 3);
  assert.equal(at(out, ['plugins', RUNTIME, 'containerd', 'runtimes', 'runc', 'options', 'SystemdCgroup']), false);
  assert.equal(at(out, ['plugins', RUNTIME, 'containerd', 'runtimes', 'runc', 'runtime_type']), 'io.containerd.runc.v2');
  assert.equal(at(out, ['plugins', RUNTIME, 'containerd', 'runtimes', 'runc', 'sandboxer']), 'podsandbox');
  assert.equal(at(out, ['plugins', IMAGES, 'pinned_images', 'sandbox']), 'registry.k8s.io/pause:3.8');
  assert.equal(at(out, ['plugins', IMAGES, 'snapshotter']), 'overlayfs');
  assert.deepEqual(at(out, ['plugins', RUNTIME, 'cni', 'bin_dirs']), ['/opt/cni/bin']);
  assert.equal(at(out, ['plugins', 'io.containerd.monitor.task.v1.cgroups', 'no_prometheus']), false);
  assert.equal(at(out, ['plugins', 'io.containerd.monitor.container.v1.restart', 'interval']), '10s');
  for (const gone of ['io.containerd.monitor.v1.cgroups', 'io.containerd.internal.v1.restart', 'io.containerd.runtime.v1.linux', 'io.containerd.snapshotter.v1.aufs']) {
    assert.equal(at(out, ['plugins', gone]), undefined, gone);
  }
  // Only the streaming-server keys stay in io.containerd.grpc.v1.cri.
  const streaming = new Set(['disable_tcp_service', 'stream_server_address', 'stream_server_port', 'stream_idle_timeout', 'enable_tls_streaming', 'x509_key_pair_streaming']);
  for (const p of leaves(out)) {
    if (p[0] === 'plugins' && p[1] === CRI) assert.ok(streaming.has(p[2]), `left in ${CRI}: ${p.join('.')}`);
  }
  // Every key resolves in the version 3 schema.
  const v3 = schemaFor(3);
  for (const p of leaves(out)) assert.ok(resolve(v3, p), `not in the v3 schema: ${p.join('.')}`);
  // Unknown keys: none; the whole default is accounted for.
  assert.equal(stats.unknown, 0);
  assert.ok(stats.dropped > 0 && stats.moved > 0 && stats.kept > 0);
  assert.ok(notes.some((n) => n.includes('default_runtime')));
  assert.ok(notes.some((n) => n.includes('systemd_cgroup')));
  // containerd's style: header comment, version first, 2-space indentation, double quotes.
  assert.match(result, /^# Migrated from config version 2 to version 3/);
  assert.match(result, /\nversion = 3\n/);
  assert.match(result, /\n {2}\[plugins\."io\.containerd\.cri\.v1\.images"\]\n {4}/);
  assert.doesNotMatch(result, /= '/);
  // Stable: migrating twice gives the same text.
  assert.equal(migrateToV3(prepare(text)).text, result);
});

test('SystemdCgroup, sandbox_image, mirrors and a custom runtime move to the 2.x CRI plugins', () => {
  const text = [
    'version = 2',
    '# a comment',
    `[plugins."${CRI}"]`,
    "  sandbox_image = 'registry.k8s.io/pause:3.9'",
    '  stream_server_port = "10010"',
    '  max_container_log_line_size = 16_384',
    `  [plugins."${CRI}".containerd]`,
    '    default_runtime_name = "runc"',
    `  [plugins."${CRI}".containerd.runtimes.runc.options]`,
    '    SystemdCgroup = true',
    `  [plugins."${CRI}".containerd.runtimes.kata]`,
    '    runtime_type = "io.containerd.kata.v2"',
    '    sandbox_mode = "shim"',
    `  [plugins."${CRI}".registry.mirrors."docker.io"]`,
    '    endpoint = ["https://mirror.gcr.io", "https://registry-1.docker.io"]',
    '[plugins."io.containerd.runtime.v2.task"]',
    '  sched_core = true',
    '[plugins."io.containerd.snapshotter.v1.stargz"]',
    '  root_path = "/var/lib/stargz"',
    '',
  ].join('\n');
  const { out, notes, stats } = migrate(text);
  assert.equal(at(out, ['version']), 3);
  assert.equal(at(out, ['plugins', RUNTIME, 'containerd', 'runtimes', 'runc', 'options', 'SystemdCgroup']), true);
  assert.equal(at(out, ['plugins', RUNTIME, 'containerd', 'default_runtime_name']), 'runc');
  assert.equal(at(out, ['plugins', RUNTIME, 'containerd', 'runtimes', 'kata', 'runtime_type']), 'io.containerd.kata.v2');
  assert.equal(at(out, ['plugins', RUNTIME, 'containerd', 'runtimes', 'kata', 'sandboxer']), 'shim');
  assert.equal(at(out, ['plugins', RUNTIME, 'max_container_log_line_size']), 16384);
  assert.equal(at(out, ['plugins', IMAGES, 'pinned_images', 'sandbox']), 'registry.k8s.io/pause:3.9');
  assert.deepEqual(at(out, ['plugins', IMAGES, 'registry', 'mirrors', 'docker.io', 'endpoint']), ['https://mirror.gcr.io', 'https://registry-1.docker.io']);
  assert.equal(at(out, ['plugins', CRI, 'stream_server_port']), '10010');
  assert.deepEqual(at(out, ['plugins', 'io.containerd.shim.v1.manager', 'env']), ['SCHED_CORE=1']);
  assert.equal(at(out, ['plugins', 'io.containerd.runtime.v2.task']), undefined);
  // An unknown (third-party) plugin is kept as it is.
  assert.equal(at(out, ['plugins', 'io.containerd.snapshotter.v1.stargz', 'root_path']), '/var/lib/stargz');
  assert.equal(stats.unknown, 1);
  assert.ok(notes.some((n) => /Comments/.test(n)));
  assert.ok(notes.some((n) => /registry\.mirrors/.test(n)));
  const r = migrateToV3(prepare(text)).text;
  assert.match(r, /sandbox = "registry\.k8s\.io\/pause:3\.9"/, 'strings are written in double quotes');
  assert.match(r, /max_container_log_line_size = 16384\n/);
});

test('a misplaced or misspelled key in the v2 CRI table is carried along (with a note), not silently lost', () => {
  const text = [
    'version = 2',
    `[plugins."${CRI}"]`,
    '  tolerate_missing_hugepages_controller = true',
    `[plugins."${CRI}".containerd.runtimes.runc]`,
    '  SystemdCgroup = true',
  ].join('\n');
  const { out, notes, stats } = migrate(text);
  assert.equal(at(out, ['plugins', RUNTIME, 'containerd', 'runtimes', 'runc', 'SystemdCgroup']), true);
  assert.equal(stats.unknown, 2);
  assert.ok(notes.some((n) => n.includes('Ignoring unknown key') && n.includes('SystemdCgroup')));
});

test('version 1 files: short plugin IDs become full IDs before the v2 -> v3 mapping', () => {
  const text = [
    'disabled_plugins = ["cri"]',
    '[plugins.cri]',
    '  sandbox_image = "k8s.gcr.io/pause:3.2"',
    '[plugins.cri.containerd.runtimes.runc.options]',
    '  SystemdCgroup = true',
    '[plugins.cgroups]',
    '  no_prometheus = true',
    '[plugins.linux]',
    '  shim_debug = true',
  ].join('\n');
  const { out, notes, text: result } = migrate(text);
  assert.equal(at(out, ['version']), 3);
  assert.equal(at(out, ['plugins', IMAGES, 'pinned_images', 'sandbox']), 'k8s.gcr.io/pause:3.2');
  assert.equal(at(out, ['plugins', RUNTIME, 'containerd', 'runtimes', 'runc', 'options', 'SystemdCgroup']), true);
  assert.equal(at(out, ['plugins', 'io.containerd.monitor.task.v1.cgroups', 'no_prometheus']), true);
  assert.equal(at(out, ['plugins', 'linux']), undefined);
  assert.equal(at(out, ['plugins', 'io.containerd.runtime.v1.linux']), undefined);
  assert.deepEqual(at(out, ['disabled_plugins']), ['io.containerd.grpc.v1.cri']);
  assert.match(result, /^# Migrated from config version 1/);
  assert.ok(notes.some((n) => n.includes('cri -> io.containerd.grpc.v1.cri')));
  assert.ok(notes.some((n) => n.includes('three plugins')));
});

test('arrays of tables, inline tables and literal strings survive the rewrite', () => {
  const text = [
    'version = 2',
    '[plugins."io.containerd.transfer.v1.local"]',
    '  max_concurrent_downloads = 5',
    '  [[plugins."io.containerd.transfer.v1.local".unpack_config]]',
    '    platform = "linux/amd64"',
    '    snapshotter = "overlayfs"',
    '  [[plugins."io.containerd.transfer.v1.local".unpack_config]]',
    '    platform = "linux/arm64"',
    "    snapshotter = 'native'",
    '[proxy_plugins.fuse]',
    '  type = "snapshot"',
    "  address = '/run/x\\y.sock'",
    '[timeouts]',
    '  "io.containerd.timeout.shim.cleanup" = "5s"',
    '[debug]',
    '  level = """debug"""',
  ].join('\n');
  const { out } = migrate(text);
  const items = at(out, ['plugins', 'io.containerd.transfer.v1.local', 'unpack_config']) as Record<string, string>[];
  assert.deepEqual(items, [
    { platform: 'linux/amd64', snapshotter: 'overlayfs' },
    { platform: 'linux/arm64', snapshotter: 'native' },
  ]);
  assert.equal(at(out, ['proxy_plugins', 'fuse', 'address']), '/run/x\\y.sock');
  assert.equal(at(out, ['timeouts', 'io.containerd.timeout.shim.cleanup']), '5s');
  assert.equal(at(out, ['debug', 'level']), 'debug');
});

test('corpus: every version 1/2 file migrates without throwing and the output parses', { skip: skipNoResearch }, () => {
  const manifest = JSON.parse(readFileSync(path.join(RESEARCH, 'corpus/MANIFEST.json'), 'utf8')) as { file: string }[];
  let n = 0;
  const v3 = schemaFor(3);
  for (const { file } of manifest) {
    const p = path.join(RESEARCH, 'corpus', file);
    if (!existsSync(p)) continue;
    const text = readFileSync(p, 'utf8');
    const sd = prepare(text);
    if (sd.parsed.syntaxErrors.length || sd.ctx.configVersion > 2) continue;
    const r = migrateToV3(sd);
    const out = parseToml(r.text);
    assert.deepEqual(out.syntaxErrors, [], `${file}:\n${r.text}`);
    assert.equal(at(out, ['version']), 3, file);
    // Everything known is written where version 3 expects it; the rest was reported.
    let unresolved = 0;
    walkProps(out.root, (prop, pp) => {
      if (prop.value.kind !== 'object' && !resolve(v3, pp)) unresolved++;
    });
    assert.ok(unresolved <= r.stats.unknown, `${file}: ${unresolved} keys not in the v3 schema, ${r.stats.unknown} reported`);
    n++;
  }
  assert.ok(n >= 10, `only ${n} corpus files migrated`);
});
