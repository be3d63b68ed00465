import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { SymbolKind, type DocumentSymbol } from 'vscode-languageserver-types';
import { LanguageService } from '../../server/src/languageService';
import { documentSymbols, foldingRanges } from '../../server/src/services/symbols';

const ls = new LanguageService();
const prep = (text: string) => ls.prepare(TextDocument.create('file:///x/config.toml', 'toml', 1, text));

const CONFIG = [
  'version = 2', //                                                         0
  'root = "/var/lib/containerd"', //                                        1
  '', //                                                                    2
  '# CRI settings', //                                                      3
  '# for Kubernetes', //                                                    4
  '[plugins."io.containerd.grpc.v1.cri"]', //                               5
  '  sandbox_image = "registry.k8s.io/pause:3.9"', //                       6
  '  cdi_spec_dirs = [', //                                                 7
  '    "/etc/cdi",', //                                                     8
  '    "/var/run/cdi",', //                                                 9
  '  ]', //                                                                 10
  '', //                                                                    11
  '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]', // 12
  '  SystemdCgroup = true', //                                              13
  '', //                                                                    14
  '[plugins."io.containerd.gc.v1.scheduler"]', //                           15
  '  pause_threshold = 0.02', //                                            16
  '', //                                                                    17
  '[[plugins."io.containerd.transfer.v1.local".unpack_config]]', //         18
  '  platform = "linux/amd64"', //                                          19
  '  snapshotter = "overlayfs"', //                                         20
  '', //                                                                    21
  '[grpc]', //                                                              22
  '  address = "/run/containerd/containerd.sock"', //                       23
  '',
].join('\n');

function shape(s: DocumentSymbol): unknown {
  return s.children && s.children.length ? [s.name, s.kind, s.children.map(shape)] : [s.name, s.kind];
}

function within(outer: DocumentSymbol, inner: { start: { line: number; character: number }; end: { line: number; character: number } }): boolean {
  const le = (a: { line: number; character: number }, b: { line: number; character: number }) => a.line < b.line || (a.line === b.line && a.character <= b.character);
  return le(outer.range.start, inner.start) && le(inner.end, outer.range.end);
}

test('outline groups by plugin with sensible kinds', () => {
  const syms = documentSymbols(prep(CONFIG));
  assert.deepEqual(
    syms.map((s) => [s.name, s.kind]),
    [
      ['version', SymbolKind.Number],
      ['root', SymbolKind.String],
      ['plugins', SymbolKind.Namespace],
      ['grpc', SymbolKind.Object],
    ],
  );
  const plugins = syms[2];
  assert.deepEqual(
    plugins.children!.map((s) => [s.name, s.kind]),
    [
      ['io.containerd.grpc.v1.cri', SymbolKind.Module],
      ['io.containerd.gc.v1.scheduler', SymbolKind.Module],
      ['io.containerd.transfer.v1.local', SymbolKind.Module],
    ],
  );
  const cri = plugins.children![0];
  assert.deepEqual(shape(cri), [
    'io.containerd.grpc.v1.cri',
    SymbolKind.Module,
    [
      ['sandbox_image', SymbolKind.String],
      ['cdi_spec_dirs', SymbolKind.Array],
      ['containerd', SymbolKind.Object, [['runtimes', SymbolKind.Object, [['runc', SymbolKind.Object, [['options', SymbolKind.Object, [['SystemdCgroup', SymbolKind.Boolean]]]]]]]]],
    ],
  ]);
  assert.ok(cri.detail && /CRI/.test(cri.detail));
  const transfer = plugins.children![2];
  assert.deepEqual(shape(transfer), [
    'io.containerd.transfer.v1.local',
    SymbolKind.Module,
    [['unpack_config', SymbolKind.Array, [['[0]', SymbolKind.Object, [['platform', SymbolKind.String], ['snapshotter', SymbolKind.String]]]]]],
  ]);
  assert.equal(cri.children![0].detail, '"registry.k8s.io/pause:3.9"');
  // every child range lies inside its parent's and every selection range inside its range
  const check = (s: DocumentSymbol): void => {
    assert.ok(within(s, s.selectionRange), `${s.name} selection`);
    for (const c of s.children ?? []) {
      assert.ok(within(s, c.range), `${c.name} in ${s.name}`);
      check(c);
    }
  };
  syms.forEach(check);
});

test('folding: sections, multi-line arrays, comment blocks', () => {
  const f = foldingRanges(prep(CONFIG));
  const has = (s: number, e: number, kind?: string) => f.some((r) => r.startLine === s && r.endLine === e && (kind === undefined || r.kind === kind));
  assert.ok(has(3, 4, 'comment'), JSON.stringify(f));
  assert.ok(has(5, 10, 'region'), 'cri section to its last body line');
  assert.ok(has(7, 9), 'multi-line array (closing bracket stays visible)');
  assert.ok(has(12, 13, 'region'));
  assert.ok(has(15, 16, 'region'));
  assert.ok(has(18, 20, 'region'));
  assert.ok(has(22, 23, 'region'));
  assert.ok(!f.some((r) => r.startLine === 0));
});

test('folding and symbols survive a broken document', () => {
  const text = 'version = 3\n[plugins."io.containerd.cri.v1.runtime"\n  enable_cdi = \n[grpc]\n  address = "x"\n  uid = 0\n';
  const sd = prep(text);
  assert.doesNotThrow(() => documentSymbols(sd));
  const f = foldingRanges(sd);
  assert.ok(f.some((r) => r.startLine === 3 && r.endLine === 5));
  assert.deepEqual(documentSymbols(prep('')), []);
  assert.deepEqual(foldingRanges(prep('')), []);
});

test('inline tables fold and appear as objects', () => {
  const text = 'version = 3\n[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]\n  options = {\n    SystemdCgroup = true }\n';
  // TOML 1.0 inline tables are single-line; the parser reports it, nothing throws
  assert.doesNotThrow(() => foldingRanges(prep(text)));
  const ok = 'version = 3\n[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]\n  options = { SystemdCgroup = true }\n';
  const syms = documentSymbols(prep(ok));
  const runc = syms[1].children![0].children![0].children![0].children![0];
  assert.equal(runc.name, 'runc');
  assert.deepEqual(shape(runc.children![0]), ['options', SymbolKind.Object, [['SystemdCgroup', SymbolKind.Boolean]]]);
});
