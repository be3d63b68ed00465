import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { MarkupContent } from 'vscode-languageserver-types';
import { LanguageService } from '../../server/src/languageService';
import { hover } from '../../server/src/services/hover';
import { historyCovers, defaultFor } from '../../server/src/services/docs';
import { resolve, schemaFor } from '../../server/src/schema/catalog';

const ls = new LanguageService();

function at(src: string) {
  const i = src.indexOf('|');
  const text = src.slice(0, i) + src.slice(i + 1);
  const td = TextDocument.create('file:///x/config.toml', 'toml', 1, text);
  const h = hover(ls.prepare(td), td.positionAt(i));
  return { h, md: h ? (h.contents as MarkupContent).value : '', td };
}

const RUNC_OPTS = '[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]';

test('hover on the SystemdCgroup key: description, type, default, versions, link', () => {
  const { h, md } = at(`version = 3\n${RUNC_OPTS}\n  System|dCgroup = true\n`);
  assert.ok(h);
  assert.match(md, /`SystemdCgroup`: boolean/);
  assert.match(md, /systemd cgroup driver/);
  assert.match(md, /\*\*Default in 2\.2:\*\* `false`/);
  assert.match(md, /Valid in containerd:\*\* 2\.0, 2\.1, 2\.2, 2\.3/);
  assert.match(md, /https:\/\/github\.com\/containerd\/containerd\/blob\/release\/2\.2\/docs\/cri\/config\.md/);
  assert.deepEqual(h.range, { start: { line: 2, character: 2 }, end: { line: 2, character: 15 } });
});

test('hover on a differently cased option key explains case-insensitive matching', () => {
  const { md } = at(`version = 3\n${RUNC_OPTS}\n  system|dcgroup = true\n`);
  assert.match(md, /Written here as `systemdcgroup`/);
});

test('hover on a plugin ID in a header', () => {
  const { h, md } = at('version = 3\n[plugins."io.containerd.cri.v1.ru|ntime".containerd]\n');
  assert.ok(h);
  assert.match(md, /`io\.containerd\.cri\.v1\.runtime`: table/);
  assert.match(md, /Valid in containerd:\*\* 2\.0/);
  assert.deepEqual(h.range, { start: { line: 1, character: 9 }, end: { line: 1, character: 39 } });
});

test('hover on a table name and a map entry name in a header', () => {
  const t = at('version = 2\n[plugins."io.containerd.grpc.v1.cri".contai|nerd]\n');
  assert.match(t.md, /`containerd`: table/);
  const e = at('version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.cr|un]\n');
  assert.match(e.md, /`crun` — entry of a map/);
});

test('hover on a deprecated key shows the replacement', () => {
  const { md } = at('version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  systemd_c|group = true\n');
  assert.match(md, /\*deprecated\*/);
  assert.match(md, /removed in 2\.0\.0/);
  assert.match(md, /Use instead:\*\* `plugins\."io\.containerd\.grpc\.v1\.cri"\.containerd\.runtimes\.<name>\.options\.SystemdCgroup/);
});

test('hover on a deprecated table in a header (registry.mirrors)', () => {
  const { md } = at('version = 2\n[plugins."io.containerd.grpc.v1.cri".registry.mir|rors."docker.io"]\n');
  assert.match(md, /Deprecated\*\* since 1\.5/);
  assert.match(md, /config_path/);
});

test('hover on a value shows the key docs and the value', () => {
  const { h, md } = at(`version = 3\n${RUNC_OPTS}\n  SystemdCgroup = tr|ue\n`);
  assert.ok(h);
  assert.match(md, /\*\*Value:\*\* `true`/);
  assert.match(md, /SystemdCgroup/);
  assert.deepEqual(h.range, { start: { line: 2, character: 18 }, end: { line: 2, character: 22 } });
  const d = at('version = 2\n[debug]\n  level = "in|fo"\n');
  assert.match(d.md, /Allowed values:\*\* `""`, `"trace"`/);
});

test('hover default follows defaultHistory for the pinned release', () => {
  const a = at('# containerd: 1.7.5\nversion = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  image_pull_progress_t|imeout = "1m"\n');
  assert.match(a.md, /Default in 1\.7\.5:\*\* `"1m0s"`/);
  const b = at('# containerd: 1.7.20\nversion = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  image_pull_progress_t|imeout = "1m"\n');
  assert.match(b.md, /Default in 1\.7\.20:\*\* `"5m0s"`/);
});

test('hover flags a key not available in the pinned release', () => {
  const { md } = at('# containerd: 1.6\nversion = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  enable_c|di = true\n');
  assert.match(md, /Not available in containerd 1\.6/);
});

test('hover works on a line the parser had to blank', () => {
  const { md } = at(`version = 3\n${RUNC_OPTS}\n  SystemdC|group = tru e x\n`);
  assert.match(md, /`SystemdCgroup`: boolean/);
});

test('no hover on unknown keys, comments and blank lines', () => {
  assert.equal(at('version = 2\n[grpc]\n  nope_k|ey = 1\n').h, null);
  assert.equal(at('version = 2\n# Syst|emdCgroup\n').h, null);
  assert.equal(at('version = 2\n|\n').h, null);
});

test('defaultHistory ranges', () => {
  assert.ok(historyCovers('1.7.0-1.7.9', { major: 1, minor: 7, patch: 3 }));
  assert.ok(!historyCovers('1.7.0-1.7.9', { major: 1, minor: 7 }));
  assert.ok(historyCovers('1.7.10+ and 2.x', { major: 2, minor: 1 }));
  assert.ok(historyCovers('2.0.x-2.1.x', { major: 2, minor: 1, patch: 4 }));
  assert.ok(!historyCovers('2.0.x-2.1.x', { major: 2, minor: 2 }));
  assert.ok(historyCovers('1.x', { major: 1, minor: 6 }));
  assert.ok(historyCovers('2.0+', { major: 2, minor: 3 }));
  const n = resolve(schemaFor(3), ['plugins', 'io.containerd.cri.v1.runtime', 'enable_cdi'])!.node;
  assert.equal(defaultFor(n, { major: 2, minor: 0 })!.value, true);
});

test('hover on a misplaced key explains where containerd reads it, with its docs', () => {
  const text = [
    'version = 2',
    '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]',
    '  runtime_type = "io.containerd.runc.v2"',
    '  SystemdCgroup = true',
  ].join('\n');
  const sd = new LanguageService().prepare(TextDocument.create('file:///x/config.toml', 'containerd-toml', 1, text));
  const h = new LanguageService().hover(sd, { line: 3, character: 5 });
  assert.ok(h, 'a hover');
  const md = (h.contents as { value: string }).value;
  assert.match(md, /Not read here/);
  assert.match(md, /runtimes\.<name>\.options/);
  assert.match(md, /systemd/i);
});
