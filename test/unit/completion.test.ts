import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { CompletionItemTag, type CompletionItem, type TextEdit } from 'vscode-languageserver-types';
import { LanguageService } from '../../server/src/languageService';
import { complete, completeUnguarded } from '../../server/src/services/completion';

const ls = new LanguageService();

/** `|` marks the cursor. */
function run(src: string) {
  const i = src.indexOf('|');
  assert.ok(i >= 0, 'cursor marker');
  const text = src.slice(0, i) + src.slice(i + 1);
  const td = TextDocument.create('file:///x/config.toml', 'toml', 1, text);
  const sd = ls.prepare(td);
  const res = completeUnguarded(sd, td.positionAt(i));
  return { items: res.items, td, labels: res.items.map((x) => x.label) };
}

const edit = (it: CompletionItem): TextEdit => it.textEdit as TextEdit;

test('header: v3 plugin IDs when typing [plugins."io.containerd.', () => {
  const { items, labels } = run('version = 3\n[plugins."io.containerd.|');
  assert.ok(labels.includes('plugins."io.containerd.cri.v1.runtime"'));
  assert.ok(labels.includes('plugins."io.containerd.cri.v1.images".registry'));
  assert.ok(!labels.includes('plugins."io.containerd.runtime.v1.linux"'));
  const rt = items.find((x) => x.label === 'plugins."io.containerd.cri.v1.runtime"')!;
  // replaces the whole header, adds the closing bracket, and still matches what was typed
  assert.equal(edit(rt).newText, '[plugins."io.containerd.cri.v1.runtime"]');
  assert.deepEqual(edit(rt).range.start, { line: 1, character: 0 });
  assert.deepEqual(edit(rt).range.end, { line: 1, character: 24 });
  assert.ok(rt.filterText!.startsWith('[plugins."io.containerd.'));
  // CRI tables sort before other plugins
  const gc = items.find((x) => x.label === 'plugins."io.containerd.gc.v1.scheduler"')!;
  assert.ok(rt.sortText! < gc.sortText!);
});

test('header: v2 plugin IDs', () => {
  const { labels } = run('version = 2\n[plugins."io.containerd.|');
  assert.ok(labels.includes('plugins."io.containerd.grpc.v1.cri"'));
  assert.ok(labels.includes('plugins."io.containerd.grpc.v1.cri".containerd'));
  assert.ok(!labels.includes('plugins."io.containerd.cri.v1.runtime"'));
});

test('header: version 1 uses short plugin IDs', () => {
  const { labels } = run('[plugins.|');
  assert.ok(labels.includes('plugins.cri'));
  assert.ok(!labels.includes('plugins."io.containerd.grpc.v1.cri"'));
});

test('header: closing bracket kept, existing runtimes and a <name> snippet offered', () => {
  const { items } = run('version = 3\n[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.crun]\n[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.|]\n');
  const crunOpts = items.find((x) => x.label === 'plugins."io.containerd.cri.v1.runtime".containerd.runtimes.crun.options');
  assert.ok(crunOpts, 'existing runtime entry offered');
  assert.deepEqual(edit(crunOpts).range.end, { line: 2, character: 61 });
  // the table defined on line 1 is not offered again
  assert.ok(!items.some((x) => x.label === 'plugins."io.containerd.cri.v1.runtime".containerd.runtimes.crun'));
  const snip = items.find((x) => x.label === 'plugins."io.containerd.cri.v1.runtime".containerd.runtimes.<name>.options');
  assert.ok(snip);
  assert.equal(edit(snip).newText, '[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.${1:name}.options]');
});

test('header: [[ arrays of tables and single-quoted typing', () => {
  const { items } = run("version = 3\n[plugins.'io.containerd.transfer.v1.local'.unpa|");
  const up = items.find((x) => edit(x).newText.includes('unpack_config'));
  assert.ok(up);
  assert.equal(edit(up).newText, "[[plugins.'io.containerd.transfer.v1.local'.unpack_config]]");
  assert.ok(up.filterText!.startsWith("[plugins.'io.containerd.transfer.v1.local'"));
});

test('value: SystemdCgroup = offers true/false', () => {
  const { labels, items } = run('version = 3\n[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]\n  SystemdCgroup = |');
  assert.deepEqual([...labels].sort(), ['false', 'true']);
  assert.equal(items.find((x) => x.label === 'false')!.preselect, true);
});

test('key: runtime options for runc offer SystemdCgroup and BinaryName, not runhcs options', () => {
  const { labels, items } = run(
    'version = 3\n[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]\n  runtime_type = "io.containerd.runc.v2"\n[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]\n  |\n',
  );
  assert.ok(labels.includes('SystemdCgroup'));
  assert.ok(labels.includes('BinaryName'));
  assert.ok(!labels.includes('SandboxIsolation'));
  const sc = items.find((x) => x.label === 'SystemdCgroup')!;
  assert.equal(edit(sc).newText, 'SystemdCgroup = ${1|false,true|}');
  assert.equal(sc.detail, 'boolean = false');
});

test('key: options of a runhcs runtime offer runhcs options only', () => {
  const { labels } = run(
    'version = 3\n[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.wcow]\n  runtime_type = "io.containerd.runhcs.v1"\n[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.wcow.options]\n  |\n',
  );
  assert.ok(labels.includes('SandboxIsolation'));
  assert.ok(!labels.includes('SystemdCgroup'));
});

test('key: [grpc] keys minus the ones present, with type and default', () => {
  const { labels, items } = run('version = 2\n[grpc]\n  address = "/run/x.sock"\n  |\n  uid = 0\n');
  assert.ok(labels.includes('max_recv_message_size'));
  assert.ok(!labels.includes('address'));
  assert.ok(!labels.includes('uid'));
  const m = items.find((x) => x.label === 'max_recv_message_size')!;
  assert.equal(m.detail, 'integer = 16777216');
  assert.match((m.documentation as { value: string }).value, /Valid in containerd/);
});

test('key: partial key replaces only the typed word', () => {
  const { items } = run('version = 2\n[grpc]\n  max_r|');
  const m = items.find((x) => x.label === 'max_recv_message_size')!;
  assert.deepEqual(edit(m).range, { start: { line: 2, character: 2 }, end: { line: 2, character: 7 } });
});

test('value: default_runtime_name offers the runtimes defined in the file', () => {
  const { labels, items } = run(
    'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd]\n  default_runtime_name = |\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.crun]\n  runtime_type = "io.containerd.runc.v2"\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.kata]\n',
  );
  assert.ok(labels.includes('crun'));
  assert.ok(labels.includes('kata'));
  assert.equal(edit(items.find((x) => x.label === 'crun')!).newText, '"crun"');
});

test('value: enum values (debug.level) and typed quote', () => {
  const { labels, items } = run('version = 2\n[debug]\n  level = "de|"');
  assert.ok(labels.includes('debug'));
  assert.ok(labels.includes('warn'));
  const d = items.find((x) => x.label === 'debug')!;
  assert.equal(edit(d).newText, '"debug"');
  assert.deepEqual(edit(d).range, { start: { line: 2, character: 10 }, end: { line: 2, character: 14 } });
});

test('value: snapshotter and runtime_type suggestions', () => {
  const s = run('version = 3\n[plugins."io.containerd.cri.v1.images"]\n  snapshotter = |');
  for (const n of ['overlayfs', 'native', 'btrfs', 'zfs', 'devmapper', 'blockfile', 'erofs']) assert.ok(s.labels.includes(n), n);
  const r = run('version = 3\n[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.kata]\n  runtime_type = |');
  for (const n of ['io.containerd.runc.v2', 'io.containerd.kata.v2', 'io.containerd.runsc.v1', 'io.containerd.runhcs.v1']) assert.ok(r.labels.includes(n), n);
});

test('value: disabled_plugins array elements are plugin IDs', () => {
  const { labels } = run('version = 3\ndisabled_plugins = ["io.containerd.|"]');
  assert.ok(labels.includes('io.containerd.cri.v1.images'));
});

test('snippets: runtime and registry blocks with the right plugin path per config version', () => {
  const v3 = run('version = 3\n\n|');
  const crun3 = v3.items.find((x) => x.label === 'runtime: crun (block)')!;
  assert.ok(crun3);
  assert.match(edit(crun3).newText, /\[plugins\."io\.containerd\.cri\.v1\.runtime"\.containerd\.runtimes\.\$\{1:crun\}\]/);
  assert.match(edit(crun3).newText, /runtime_type = "io\.containerd\.runc\.v2"/);
  assert.match(edit(crun3).newText, /BinaryName = /);
  assert.match(edit(crun3).newText, /SystemdCgroup = \$\{3\|true,false\|\}/);
  assert.ok(v3.labels.includes('runtime: youki (block)'));
  const reg3 = v3.items.find((x) => x.label === 'registry: config_path (block)')!;
  assert.match(edit(reg3).newText, /^\[plugins\."io\.containerd\.cri\.v1\.images"\.registry\]/);

  const v2 = run('version = 2\n\n|');
  const runc2 = v2.items.find((x) => x.label === 'runtime: runc (block)')!;
  assert.match(edit(runc2).newText, /\[plugins\."io\.containerd\.grpc\.v1\.cri"\.containerd\.runtimes\.\$\{1:runc\}\]/);
  const reg2 = v2.items.find((x) => x.label === 'registry: config_path (block)')!;
  assert.match(edit(reg2).newText, /^\[plugins\."io\.containerd\.grpc\.v1\.cri"\.registry\]/);

  // an already defined runtime is not offered as a block again
  const def = run('version = 3\n[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.crun]\n\n|');
  assert.ok(!def.labels.includes('runtime: crun (block)'));
  assert.ok(def.labels.includes('runtime: runc (block)'));
});

test('release filtering: enable_cdi (1.7+) not offered when the file pins 1.6', () => {
  const pinned = run('# containerd: 1.6\nversion = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  |\n');
  assert.ok(!pinned.labels.includes('enable_cdi'));
  assert.ok(pinned.labels.includes('sandbox_image'));
  const v17 = run('# containerd: 1.7\nversion = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  |\n');
  assert.ok(v17.labels.includes('enable_cdi'));
  // tables too: the 1.7-only NRI plugin is not offered to 1.6
  const h = run('# containerd: 1.6\nversion = 2\n[plugins."io.containerd.|');
  assert.ok(!h.labels.includes('plugins."io.containerd.nri.v1.nri"'));
});

test('deprecated keys are tagged and sorted last', () => {
  const { items } = run('version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  |\n');
  const sb = items.find((x) => x.label === 'systemd_cgroup')!;
  const cdi = items.find((x) => x.label === 'enable_cdi')!;
  assert.deepEqual(sb.tags, [CompletionItemTag.Deprecated]);
  assert.equal(cdi.tags, undefined);
  assert.ok(cdi.sortText! < sb.sortText!);
  // sandbox_image is only deprecated from 2.0 (config version 3): not tagged for 1.7
  assert.equal(items.find((x) => x.label === 'sandbox_image')!.tags, undefined);
});

test('unfinished document: `SystemdCgroup = ` followed by more text, and a broken header above', () => {
  const { labels } = run(
    'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\n  SystemdCgroup = |\n  BinaryName = \n[plugins."io.containerd.\n',
  );
  assert.deepEqual([...labels].sort(), ['false', 'true']);
});

test('never throws on broken or odd documents', () => {
  const docs = [
    '[[[[', '= = =', '[plugins."io.containerd.\n  x = """\n[', '"\'"\'"\n[a.b.c\nkey = {', '\u0000\r\n\r\n[plugins]\r\n',
    'version = 3\n[plugins."io.containerd.cri.v1.runtime".containerd.runtimes."]\n', 'a = [1,\n2,\n', '#',
  ];
  for (const text of docs) {
    const td = TextDocument.create('file:///x/config.toml', 'toml', 1, text);
    const sd = ls.prepare(td);
    for (let off = 0; off <= text.length; off++) {
      assert.doesNotThrow(() => completeUnguarded(sd, td.positionAt(off)), `${JSON.stringify(text)} @${off}`);
      complete(sd, td.positionAt(off));
    }
  }
});

test('nothing inside a comment', () => {
  assert.equal(run('version = 2\n# SystemdCgroup = |').items.length, 0);
});
