// renderTaskserv: the five seed taskserv configurations rendered into config.toml, crictl.yaml
// and the systemd drop-in; every config.toml re-parses and passes our own validation for the
// taskserv's release, with stable output and a source map that points at the right keys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { parseKcl } from '../../server/src/parser/kcl';
import { parseToml } from '../../server/src/parser/toml';
import { LanguageService } from '../../server/src/languageService';
import { renderTaskserv } from '../../server/src/render/render';
import { TomlFloat, writeToml } from '../../server/src/render/toml-writer';
import type { RenderedFile, RenderResult } from '../../server/src/render/types';
import { getAt, toValue, type ParsedDocument } from '../../server/src/tree/model';
import { seedBlocks, type SeedBlock } from '../helpers/seed';

const ROOT = process.env.CONTAINERD_TASKSERV_ROOT ?? path.resolve(__dirname, '../../..');
const SEED = path.resolve(ROOT, '../shared/seed/containerd-taskserv.md');

const CRI = 'io.containerd.grpc.v1.cri';
const RUNTIME = 'io.containerd.cri.v1.runtime';
const IMAGES = 'io.containerd.cri.v1.images';


function seeds(): SeedBlock[] {
  return seedBlocks(SEED);
}

const SEEDS = seeds();

/**
 * The seed writes booleans in lower case (`true`); KCL spells them `True`/`False`. The KCL front
 * end accepts both, and the value tests below use the KCL spelling (a test checks both spellings
 * render the same config).
 */
function kclBooleans(text: string): string {
  return text.replace(/:\s*true\b/g, ': True').replace(/:\s*false\b/g, ': False');
}

const seed = (title: string): string => {
  const s = SEEDS.find((x) => x.title.startsWith(title));
  assert.ok(s, `seed "${title}" not found`);
  return kclBooleans(s.text);
};

function render(text: string): { r: RenderResult; doc: ParsedDocument } {
  const doc = parseKcl(text);
  const r = renderTaskserv(doc);
  assert.ok(r, 'no Containerd value rendered');
  return { r, doc };
}

function file(r: RenderResult, kind: RenderedFile['kind']): RenderedFile {
  const f = r.files.find((x) => x.kind === kind);
  assert.ok(f, `no ${kind} rendered`);
  return f;
}

/** Errors (severity 1) of our config.toml validation, release from a pin comment or from the setting. */
function errors(content: string, release: string, how: 'pin' | 'setting'): string[] {
  const text = how === 'pin' ? `# containerd: ${release}\n${content}` : content;
  const ls = new LanguageService({ settings: how === 'setting' ? { defaultRelease: release } : {} });
  const sd = ls.prepare(TextDocument.create('file:///x/config.toml', 'containerd-toml', 1, text));
  return ls
    .validate(sd)
    .filter((d) => d.severity === 1)
    .map((d) => `${d.range.start.line + 1}: ${String(d.code)} ${typeof d.message === 'string' ? d.message : ''}`);
}

function at(content: string, p: string[]): unknown {
  const doc = parseToml(content);
  const v = getAt(doc.root, p);
  return v === undefined ? undefined : toValue(v);
}

function lineOf(content: string, re: RegExp): number {
  const i = content.split('\n').findIndex((l) => re.test(l));
  assert.ok(i >= 0, `no line matches ${re}:\n${content}`);
  return i;
}

function sourceText(doc: ParsedDocument, f: RenderedFile, line: number): string {
  const e = f.sourceMap.find((m) => m.line === line);
  assert.ok(e, `no source map entry for line ${line}`);
  return doc.text.slice(e.source.start, e.source.end);
}

test('the seed has five Containerd configurations', () => {
  assert.deepEqual(
    SEEDS.map((s) => s.title),
    ['Basic Configuration', 'Production Configuration', 'Multi-Runtime Configuration', 'Security-Hardened Configuration', 'High-Performance Configuration'],
  );
});

for (const s of SEEDS) {
  test(`seed "${s.title}" renders a valid, stable config`, () => {
    const { r, doc } = render(s.text);
    assert.equal(r.name, 'containerd');
    assert.equal(r.release, '1.7.18');
    assert.equal(r.configVersion, 2);
    const cfg = file(r, 'config.toml');
    assert.equal(cfg.path, '/etc/containerd/config.toml');
    const parsed = parseToml(cfg.content);
    assert.deepEqual(parsed.syntaxErrors, [], cfg.content);
    assert.equal(at(cfg.content, ['version']), 2);
    assert.deepEqual(errors(cfg.content, r.release, 'pin'), [], cfg.content);
    assert.deepEqual(errors(cfg.content, r.release, 'setting'), [], cfg.content);
    assert.doesNotMatch(cfg.content, /=\s*[-+]?\d+_\d/, 'numbers are written without _ separators');
    assert.doesNotMatch(cfg.content, /^\s*systemd_cgroup\s*=/m, 'the legacy CRI systemd_cgroup key is never written');
    // stable: the same text renders the same files
    const again = renderTaskserv(parseKcl(s.text));
    assert.deepEqual(again, r);
    // every key line and header has a source-map entry inside the document
    const lines = cfg.content.split('\n');
    lines.forEach((l, i) => {
      if (!l.trim()) return;
      const e = cfg.sourceMap.find((m) => m.line === i);
      assert.ok(e, `line ${i} "${l}" has no source map entry`);
      assert.ok(e.source.start >= 0 && e.source.end <= doc.text.length && e.source.end > e.source.start);
    });
    assert.ok(r.files.some((f) => f.kind === 'crictl.yaml'));
  });
}

test('the seed as written (lower-case booleans) renders like the KCL spelling', () => {
  for (const s of SEEDS) {
    assert.deepEqual(renderTaskserv(parseKcl(s.text))?.files, renderTaskserv(parseKcl(kclBooleans(s.text)))?.files, s.title);
  }
});

test('Production: values, runtimes, default runtime and the cgroup driver', () => {
  const { r, doc } = render(seed('Production'));
  const c = file(r, 'config.toml').content;
  assert.equal(at(c, ['root']), '/var/lib/containerd');
  assert.equal(at(c, ['state']), '/run/containerd');
  assert.equal(at(c, ['grpc', 'address']), '/run/containerd/containerd.sock');
  assert.equal(at(c, ['grpc', 'max_recv_message_size']), 16777216);
  assert.match(c, /max_send_message_size = 16777216$/m);
  assert.equal(at(c, ['plugins', CRI, 'sandbox_image']), 'registry.k8s.io/pause:3.9');
  assert.equal(at(c, ['plugins', CRI, 'stream_idle_timeout']), '4h');
  assert.equal(at(c, ['plugins', CRI, 'selinux_category_range']), 1024);
  assert.equal(at(c, ['plugins', CRI, 'containerd', 'default_runtime_name']), 'runc');
  const rt = (n: string, ...p: string[]) => at(c, ['plugins', CRI, 'containerd', 'runtimes', n, ...p]);
  for (const n of ['runc', 'crun', 'youki']) {
    assert.equal(rt(n, 'runtime_type'), 'io.containerd.runc.v2');
    assert.equal(rt(n, 'options', 'SystemdCgroup'), true);
  }
  assert.equal(rt('runc', 'options', 'BinaryName'), undefined);
  assert.equal(rt('crun', 'options', 'BinaryName'), '/usr/local/bin/crun');
  assert.equal(rt('youki', 'options', 'BinaryName'), '/usr/local/bin/youki');
  // sub-tables indented 2 spaces per level after the first, plugin IDs quoted
  assert.match(c, /^\[plugins\]$/m);
  assert.match(c, /^ {2}\[plugins\."io\.containerd\.grpc\.v1\.cri"\]$/m);
  assert.match(c, /^ {4}\[plugins\."io\.containerd\.grpc\.v1\.cri"\.containerd\]$/m);
  assert.match(c, /^ {4}sandbox_image = "registry\.k8s\.io\/pause:3\.9"$/m);
  assert.ok(c.startsWith('version = 2\n'), c);

  // source map: the line of a key points at the taskserv key that produced it
  const f = file(r, 'config.toml');
  assert.equal(sourceText(doc, f, lineOf(c, /^\s*sandbox_image = /)), 'sandbox_image');
  assert.equal(sourceText(doc, f, lineOf(c, /^\s*max_recv_message_size = /)), 'max_recv_message_size');
  assert.equal(sourceText(doc, f, lineOf(c, /^\s*default_runtime_name = /)), 'runtime_default');
  assert.equal(sourceText(doc, f, lineOf(c, /^\s*SystemdCgroup = /)), 'systemd_cgroup');
  assert.equal(sourceText(doc, f, lineOf(c, /^\s*BinaryName = /)), 'runtimes');
  assert.equal(sourceText(doc, f, lineOf(c, /^version = /)), 'version');
  const rootLine = lineOf(c, /^root = /);
  assert.deepEqual(f.sourceMap.find((m) => m.line === rootLine)?.outPath, ['root']);
});

test('Production: crictl.yaml', () => {
  const { r, doc } = render(seed('Production'));
  const f = file(r, 'crictl.yaml');
  assert.equal(f.path, '/etc/crictl.yaml');
  assert.deepEqual(f.content.trimEnd().split('\n'), [
    'runtime-endpoint: unix:///run/containerd/containerd.sock',
    'image-endpoint: unix:///run/containerd/containerd.sock',
    'timeout: 2',
    'debug: false',
    'pull-image-on-create: false',
    'disable-pull-on-run: false',
  ]);
  assert.equal(sourceText(doc, f, 0), 'runtime_endpoint');
  assert.equal(sourceText(doc, f, 2), 'timeout');
  // no resources: no drop-in
  assert.equal(r.files.find((x) => x.kind === 'systemd-dropin'), undefined);
});

test('crictl.yaml defaults follow the grpc socket', () => {
  const { r } = render(`containerd: Containerd = {
    version: "1.7.18"
    config: {
        grpc: {
            address: "/run/k8s/containerd.sock"
        }
    }
    crictl: {
        timeout: 10
        debug: True
    }
}
`);
  const c = file(r, 'crictl.yaml').content;
  assert.match(c, /^runtime-endpoint: unix:\/\/\/run\/k8s\/containerd\.sock$/m);
  assert.match(c, /^image-endpoint: unix:\/\/\/run\/k8s\/containerd\.sock$/m);
  assert.match(c, /^timeout: 10$/m);
  assert.match(c, /^debug: true$/m);
});

test('Multi-Runtime: runtime_configs win over the defaults', () => {
  const { r } = render(seed('Multi-Runtime'));
  const c = file(r, 'config.toml').content;
  const rt = (n: string, ...p: string[]) => at(c, ['plugins', CRI, 'containerd', 'runtimes', n, ...p]);
  assert.equal(rt('runc', 'options', 'BinaryName'), '/usr/local/bin/runc');
  assert.equal(rt('runc', 'options', 'NoPivotRoot'), false);
  assert.equal(rt('runc', 'options', 'IoUid'), 0);
  assert.equal(rt('runc', 'options', 'CriuPath'), '', 'CriuPath is read by 1.7.18');
  assert.equal(rt('youki', 'options', 'SystemdCgroup'), false);
  assert.equal(rt('crun', 'options', 'SystemdCgroup'), true);
  assert.equal(at(c, ['plugins', CRI, 'containerd', 'default_runtime_name']), 'runc');
});

test('systemd_cgroup fills SystemdCgroup of runc-type runtimes that do not set it, never the legacy key', () => {
  const { r, doc } = render(`containerd: Containerd = {
    version: "1.7.18"
    runtime_default: "crun"
    runtimes: "runc,crun,kata"
    runtime_configs: {
        crun: {
            options: {
                NoPivotRoot: True
            }
        }
        kata: {
            runtime_type: "io.containerd.kata.v2"
        }
    }
    plugins: {
        cri: {
            systemd_cgroup: True
        }
    }
    install: {
        prefix: "/opt/ctd/"
    }
}
`);
  const f = file(r, 'config.toml');
  const c = f.content;
  const rt = (n: string, ...p: string[]) => at(c, ['plugins', CRI, 'containerd', 'runtimes', n, ...p]);
  assert.equal(rt('runc', 'options', 'SystemdCgroup'), true);
  assert.equal(rt('crun', 'options', 'SystemdCgroup'), true);
  assert.equal(rt('crun', 'options', 'NoPivotRoot'), true);
  assert.equal(rt('crun', 'options', 'BinaryName'), '/opt/ctd/bin/crun');
  assert.equal(rt('kata', 'runtime_type'), 'io.containerd.kata.v2');
  assert.equal(rt('kata', 'options'), undefined, 'no runc options for a non-runc runtime');
  assert.equal(at(c, ['plugins', CRI, 'containerd', 'default_runtime_name']), 'crun');
  assert.equal(at(c, ['plugins', CRI, 'systemd_cgroup']), undefined);
  assert.deepEqual(errors(c, '1.7.18', 'pin'), [], c);
  assert.equal(sourceText(doc, f, lineOf(c, /^\s*runtime_type = "io\.containerd\.kata\.v2"/)), 'runtime_type');
  assert.equal(sourceText(doc, f, lineOf(c, /^\s*default_runtime_name = /)), 'runtime_default');
  // an implicit runtime_type points at the runtime_configs entry, else at runtimes
  const typeLines = c.split('\n').map((l, i) => [l, i] as const).filter(([l]) => /^\s*runtime_type = "io\.containerd\.runc\.v2"/.test(l));
  assert.deepEqual(typeLines.map(([, i]) => sourceText(doc, f, i)), ['crun', 'runtimes']);
});

test('Security-Hardened: no-effect fields are not rendered, selinux is', () => {
  const { r } = render(seed('Security-Hardened'));
  const c = file(r, 'config.toml').content;
  assert.equal(at(c, ['plugins', CRI, 'enable_selinux']), true);
  assert.equal(at(c, ['plugins', CRI, 'restrict_oom_score_adj']), true);
  for (const w of ['seccomp_profile_root', 'apparmor_profile', 'max_containers', 'user_namespaces', 'no_new_privileges']) {
    assert.ok(!c.includes(w), `${w} rendered:\n${c}`);
  }
  assert.equal(at(c, ['plugins', CRI, 'containerd', 'runtimes']), undefined, 'no runtimes set: none written');
});

test('High-Performance: performance fields, overlayfs, no GC cron, no drop-in for zero limits', () => {
  const { r } = render(seed('High-Performance'));
  const c = file(r, 'config.toml').content;
  assert.equal(at(c, ['plugins', CRI, 'max_concurrent_downloads']), 10);
  assert.equal(at(c, ['plugins', CRI, 'containerd', 'snapshotter']), 'overlayfs');
  assert.equal(at(c, ['plugins', CRI, 'containerd', 'disable_snapshot_annotations']), true);
  assert.equal(at(c, ['plugins', 'io.containerd.transfer.v1.local', 'max_concurrent_uploaded_layers']), 5);
  assert.equal(at(c, ['plugins', 'io.containerd.snapshotter.v1.overlayfs', 'root_path']), '/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs');
  assert.equal(at(c, ['plugins', 'io.containerd.snapshotter.v1.overlayfs', 'upperdir_label']), false);
  assert.ok(!/schedule|threshold/.test(c), c);
  assert.equal(r.files.find((x) => x.kind === 'systemd-dropin'), undefined, 'all limits are 0');
});

test('resources render a systemd drop-in; 0 means not written', () => {
  const { r, doc } = render(`containerd: Containerd = {
    version: "1.7.18"
    resources: {
        cpu_quota: 200
        memory_limit: "4G"
        pid_limit: 0
        oom_score_adj: -999
    }
}
`);
  const f = file(r, 'systemd-dropin');
  assert.equal(f.path, '/etc/systemd/system/containerd.service.d/10-taskserv.conf');
  assert.deepEqual(f.content.trimEnd().split('\n'), ['[Service]', 'CPUQuota=200%', 'MemoryMax=4G', 'OOMScoreAdjust=-999']);
  assert.equal(sourceText(doc, f, 1), 'cpu_quota');
  assert.equal(sourceText(doc, f, 2), 'memory_limit');
  assert.equal(sourceText(doc, f, 3), 'oom_score_adj');

  const ints = render(`containerd: Containerd = {
    version: "1.7.18"
    resources: {
        memory_limit: 8589934592
        pid_limit: 4096
    }
}
`);
  assert.deepEqual(file(ints.r, 'systemd-dropin').content.trimEnd().split('\n'), ['[Service]', 'MemoryMax=8589934592', 'TasksMax=4096']);
});

test('a 2.1.0 taskserv renders config version 3 with the CRI runtime and images plugins', () => {
  const text = seed('Production').replace('version: "1.7.18"', 'version: "2.1.0"').replace(/^\s*version: 2\n/m, '');
  const { r } = render(text);
  assert.equal(r.configVersion, 3);
  const c = file(r, 'config.toml').content;
  assert.ok(c.startsWith('version = 3\n'), c);
  assert.equal(at(c, ['plugins', IMAGES, 'pinned_images', 'sandbox']), 'registry.k8s.io/pause:3.9');
  assert.equal(at(c, ['plugins', IMAGES, 'max_concurrent_downloads']), 3);
  assert.equal(at(c, ['plugins', RUNTIME, 'containerd', 'default_runtime_name']), 'runc');
  assert.equal(at(c, ['plugins', RUNTIME, 'containerd', 'runtimes', 'crun', 'options', 'BinaryName']), '/usr/local/bin/crun');
  assert.equal(at(c, ['plugins', RUNTIME, 'containerd', 'runtimes', 'youki', 'options', 'SystemdCgroup']), true);
  assert.equal(at(c, ['plugins', CRI, 'stream_server_address']), '127.0.0.1');
  assert.equal(at(c, ['plugins', CRI, 'sandbox_image']), undefined);
  assert.equal(at(c, ['plugins', CRI, 'disable_cgroup']), undefined, 'no version 3 equivalent');
  assert.ok(r.notes.some((n) => n.includes('disable_cgroup')), r.notes.join('\n'));
  assert.equal(at(c, ['grpc', 'address']), '/run/containerd/containerd.sock');
  assert.deepEqual(errors(c, '2.1.0', 'pin'), [], c);
  assert.deepEqual(errors(c, '2.1', 'setting'), [], c);
});

test('a 2.3.x taskserv renders config version 4', () => {
  const text = seed('Production').replace('version: "1.7.18"', 'version: "2.3.2"').replace(/^\s*version: 2\n/m, '');
  const { r } = render(text);
  assert.equal(r.configVersion, 4);
  const c = file(r, 'config.toml').content;
  assert.ok(c.startsWith('version = 4\n'), c);
  assert.equal(at(c, ['plugins', IMAGES, 'pinned_images', 'sandbox']), 'registry.k8s.io/pause:3.9');
  assert.equal(at(c, ['plugins', RUNTIME, 'containerd', 'runtimes', 'runc', 'options', 'SystemdCgroup']), true);
  // the grpc socket lives in the 2.3 server plugin, with its siblings
  assert.equal(at(c, ['plugins', 'io.containerd.server.v1.grpc', 'address']), '/run/containerd/containerd.sock');
  assert.equal(at(c, ['plugins', 'io.containerd.server.v1.grpc', 'max_recv_message_size']), 16777216);
  assert.equal(at(c, ['grpc', 'address']), undefined);
  assert.deepEqual(errors(c, '2.3.2', 'pin'), [], c);
  // explicit config.version 3 on 2.3 is honoured
  const v3 = render(seed('Production').replace('version: "1.7.18"', 'version: "2.3.2"').replace(/^(\s*)version: 2$/m, '$1version: 3'));
  assert.equal(v3.r.configVersion, 3);
  assert.ok(file(v3.r, 'config.toml').content.startsWith('version = 3\n'));
});

test('a 1.6 release leaves out keys it does not read', () => {
  const { r } = render(seed('High-Performance').replace('version: "1.7.18"', 'version: "1.6.20"'));
  const c = file(r, 'config.toml').content;
  assert.equal(at(c, ['plugins', 'io.containerd.transfer.v1.local']), undefined);
  assert.ok(r.notes.some((n) => n.includes('max_concurrent_uploaded_layers')), r.notes.join('\n'));
  assert.deepEqual(errors(c, '1.6.20', 'pin'), [], c);
});

test('no Containerd value: undefined; a value named containerd without a type renders', () => {
  assert.equal(renderTaskserv(parseKcl('other: Foo = {\n    a: 1\n}\n')), undefined);
  const r = renderTaskserv(parseKcl('containerd = {\n    version: "1.7.18"\n    runtimes: "runc"\n}\n'));
  assert.ok(r);
  assert.equal(at(file(r, 'config.toml').content, ['plugins', CRI, 'containerd', 'runtimes', 'runc', 'runtime_type']), 'io.containerd.runc.v2');
});

test('toml-writer: containerd layout, order and value forms', () => {
  const out = writeToml({
    plugins: {
      'io.containerd.grpc.v1.cri': { sandbox_image: 'a"b\\c', containerd: { runtimes: { runc: { runtime_type: 'x' } } } },
      'io.containerd.gc.v1.scheduler': { pause_threshold: new TomlFloat(0.02), deletion_threshold: 0, f: new TomlFloat(1) },
    },
    grpc: { max_recv_message_size: 16777216, address: '/s' },
    proxy_plugins: { p: { type: 'snapshot', address: '/p' } },
    root: '/r',
    imports: ['/a', '/b'],
    version: 2,
    stream_processors: { s: { accepts: [], args: ['x'] } },
    cgroup: { path: '' },
    timeouts: { 'io.containerd.timeout.shim.cleanup': '5s' },
    arr: [{ a: 1 }, { a: 2 }],
  });
  assert.equal(
    out.text,
    [
      'version = 2',
      'root = "/r"',
      'imports = ["/a", "/b"]',
      '',
      '[grpc]',
      '  address = "/s"',
      '  max_recv_message_size = 16777216',
      '',
      '[cgroup]',
      '  path = ""',
      '',
      '[timeouts]',
      '  "io.containerd.timeout.shim.cleanup" = "5s"',
      '',
      '[plugins]',
      '',
      '  [plugins."io.containerd.gc.v1.scheduler"]',
      '    deletion_threshold = 0',
      '    f = 1.0',
      '    pause_threshold = 0.02',
      '',
      '  [plugins."io.containerd.grpc.v1.cri"]',
      '    sandbox_image = "a\\"b\\\\c"',
      '',
      '    [plugins."io.containerd.grpc.v1.cri".containerd]',
      '',
      '      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes]',
      '',
      '        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]',
      '          runtime_type = "x"',
      '',
      '[proxy_plugins]',
      '',
      '  [proxy_plugins.p]',
      '    address = "/p"',
      '    type = "snapshot"',
      '',
      '[stream_processors]',
      '',
      '  [stream_processors.s]',
      '    accepts = []',
      '    args = ["x"]',
      '',
      '[[arr]]',
      '  a = 1',
      '',
      '[[arr]]',
      '  a = 2',
      '',
    ].join('\n'),
  );
  const parsed = parseToml(out.text);
  assert.deepEqual(parsed.syntaxErrors, []);
  assert.equal(toValue(getAt(parsed.root, ['plugins', 'io.containerd.grpc.v1.cri', 'sandbox_image'])!), 'a"b\\c');
  const l = out.lines.find((x) => x.path.join('/') === 'plugins/io.containerd.gc.v1.scheduler/pause_threshold');
  assert.ok(l && !l.header && out.text.split('\n')[l.line].trim().startsWith('pause_threshold'));
  assert.ok(out.lines.some((x) => x.header && x.path.join('/') === 'plugins/io.containerd.grpc.v1.cri'));
});
