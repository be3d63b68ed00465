// Protocol tests: the real language server (dist/server.js) over stdio, driven like an editor.
// Needs `npm run build` first; bundled to out/test/protocol/server.test.js and run with `node --test`.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { CodeAction, Diagnostic, DocumentSymbol, Hover, MarkupContent, Position } from 'vscode-languageserver-types';
import {
  applyEdits,
  BIN,
  itemsOf,
  LspClient,
  positionOf,
  ROOT,
  SERVER_JS,
  type PublishedDiagnostics,
} from './lspClient';

const DIAGNOSTIC_TAG_DEPRECATED = 2;
const SEVERITY_ERROR = 1;
const SEVERITY_WARNING = 2;

// Every planted mistake sits on its own line; the line numbers (0-based) are asserted below.
const PLANTED = `version = 2
root = "/var/lib/containerd"
oom_scroe = 0

[grpc]
  address = "/run/containerd/containerd.sock"

[plugins."io.containerd.grpc.v1.cri"]
  enable_selinux = "true"
  sandbox_image = "registry.k8s.io/pause:3.9"

[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "crun"
  no_pivot = true

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
  SystemdCgroup = true

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  BinaryName = "/usr/bin/runc"

[plugins."io.containerd.grpc.v1.cri".registry]
  config_path = "/etc/containerd/certs.d"
`;

const LINE = {
  version: 0,
  typo: 2,
  selinux: 8,
  defaultRuntime: 12,
  noPivot: 13,
  systemdMisplaced: 17,
  binaryName: 20,
};

let uriCounter = 0;
function newUri(name = 'config.toml'): string {
  return `file:///tmp/containerd-taskserv-protocol/${++uriCounter}/${name}`;
}

/** Diagnostic.message is `string | MarkupContent` in the 3.18 types. */
function msg(d: Diagnostic): string {
  return typeof d.message === 'string' ? d.message : d.message.value;
}

function byCode(diags: Diagnostic[], code: string): Diagnostic[] {
  return diags.filter((d) => d.code === code);
}

function describeDiags(diags: Diagnostic[]): string {
  return diags.map((d) => `${d.range.start.line}:${d.range.start.character} ${d.code} ${msg(d)}`).join('\n');
}

function onlyOne(diags: Diagnostic[], code: string): Diagnostic {
  const found = byCode(diags, code);
  assert.equal(found.length, 1, `expected exactly one ${code}, got:\n${describeDiags(diags)}`);
  return found[0];
}

/** Text with a `|` cursor marker → text without it + the marker's position. */
function cursor(marked: string): { text: string; pos: Position } {
  const i = marked.indexOf('|');
  assert.ok(i >= 0, 'cursor marker missing');
  const text = marked.slice(0, i) + marked.slice(i + 1);
  const before = text.slice(0, i);
  const line = before.split('\n').length - 1;
  const character = i - (before.lastIndexOf('\n') + 1);
  return { text, pos: { line, character } };
}

function markdownOf(h: Hover | null): string {
  assert.ok(h, 'expected a hover');
  const c = h.contents as MarkupContent;
  assert.equal(typeof c, 'object');
  assert.equal(c.kind, 'markdown');
  return c.value;
}

function findSymbol(syms: DocumentSymbol[] | null | undefined, path: string[]): DocumentSymbol | undefined {
  let level = syms ?? [];
  let found: DocumentSymbol | undefined;
  for (const name of path) {
    found = level.find((s) => s.name === name);
    if (!found) return undefined;
    level = found.children ?? [];
  }
  return found;
}

function contains(outer: { start: Position; end: Position }, inner: { start: Position; end: Position }): boolean {
  const le = (a: Position, b: Position) => a.line < b.line || (a.line === b.line && a.character <= b.character);
  return le(outer.start, inner.start) && le(inner.end, outer.end);
}

describe('language server over stdio', { timeout: 120_000 }, () => {
  let client: LspClient;

  before(async () => {
    assert.ok(existsSync(SERVER_JS), `${SERVER_JS} missing: run npm run build first`);
    client = await LspClient.start();
  });

  after(async () => {
    await client?.shutdown();
  });

  it('initialize announces the capabilities the server implements', () => {
    const res = client.initializeResult!;
    assert.ok(res, 'no initialize result');
    const caps = res.capabilities;
    const sync = caps.textDocumentSync;
    const kind = typeof sync === 'number' ? sync : sync?.change;
    assert.equal(kind, 2, 'incremental sync');
    assert.ok(caps.completionProvider, 'completionProvider');
    for (const ch of ['[', '.', '=']) assert.ok(caps.completionProvider!.triggerCharacters?.includes(ch), `trigger ${ch}`);
    assert.ok(caps.hoverProvider);
    assert.ok(caps.documentSymbolProvider);
    assert.ok(caps.foldingRangeProvider);
    const ca = caps.codeActionProvider;
    assert.ok(ca && typeof ca === 'object' && ca.codeActionKinds?.includes('quickfix'), 'quickfix code actions');
    assert.equal(res.serverInfo?.name, 'containerd-taskserv');
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(res.serverInfo?.version, pkg.version, 'the version comes from package.json');
  });

  describe('diagnostics', () => {
    const uri = newUri();
    let first: PublishedDiagnostics;

    before(async () => {
      first = await client.openAndWait(uri, PLANTED, 1);
    });

    it('are published for the opened version', () => {
      assert.equal(first.version, 1);
      assert.ok(first.diagnostics.length >= 5, describeDiags(first.diagnostics));
      for (const d of first.diagnostics) {
        assert.equal(d.source, 'containerd');
        assert.match(String(d.code), /^containerd\//);
      }
    });

    it('misplaced SystemdCgroup directly under runtimes.runc', () => {
      const d = onlyOne(first.diagnostics, 'containerd/misplaced-key');
      assert.equal(d.range.start.line, LINE.systemdMisplaced);
      assert.equal(d.range.start.character, 2);
      assert.equal(d.range.end.character, 2 + 'SystemdCgroup'.length);
      assert.match(msg(d), /options/);
    });

    it('unknown key with a "Did you mean" suggestion', () => {
      const d = onlyOne(first.diagnostics, 'containerd/unknown-key');
      assert.equal(d.range.start.line, LINE.typo);
      assert.match(msg(d), /Did you mean `oom_score`/);
    });

    it('type mismatch for enable_selinux = "true" is an error on the value', () => {
      const d = onlyOne(first.diagnostics, 'containerd/type-mismatch');
      assert.equal(d.range.start.line, LINE.selinux);
      assert.equal(d.severity, SEVERITY_ERROR);
      assert.equal(PLANTED.split('\n')[LINE.selinux].slice(d.range.start.character, d.range.end.character), '"true"');
    });

    it('a used deprecated key is tagged Deprecated', () => {
      const d = byCode(first.diagnostics, 'containerd/deprecated').find((x) => x.range.start.line === LINE.noPivot);
      assert.ok(d, `no deprecated diagnostic on no_pivot:\n${describeDiags(first.diagnostics)}`);
      assert.ok(d.tags?.includes(DIAGNOSTIC_TAG_DEPRECATED), 'DiagnosticTag.Deprecated');
      assert.equal(d.severity, SEVERITY_WARNING);
    });

    it('default_runtime_name naming an undefined runtime is an error', () => {
      const d = onlyOne(first.diagnostics, 'containerd/undefined-runtime');
      assert.equal(d.range.start.line, LINE.defaultRuntime);
      assert.equal(d.severity, SEVERITY_ERROR);
      assert.match(msg(d), /crun/);
    });

    it('valid lines carry no diagnostics', () => {
      const bad = first.diagnostics.filter((d) => [LINE.version, LINE.binaryName, 1, 5, 9, 16, 23].includes(d.range.start.line));
      assert.deepEqual(bad, [], describeDiags(bad));
    });

    it('didChange (incremental) fixing the type mismatch updates the diagnostics', async () => {
      const line = PLANTED.split('\n')[LINE.selinux];
      const start = line.indexOf('"true"');
      const after = client.mark();
      await client.changeIncremental(uri, 2, [
        { range: { start: { line: LINE.selinux, character: start }, end: { line: LINE.selinux, character: start + 6 } }, text: 'true' },
      ]);
      const next = await client.waitForDiagnostics(uri, { version: 2, after });
      assert.equal(next.version, 2);
      assert.deepEqual(byCode(next.diagnostics, 'containerd/type-mismatch'), []);
      // The other mistakes are still reported, at the same lines.
      assert.equal(onlyOne(next.diagnostics, 'containerd/misplaced-key').range.start.line, LINE.systemdMisplaced);
      assert.equal(onlyOne(next.diagnostics, 'containerd/undefined-runtime').range.start.line, LINE.defaultRuntime);
    });

    it('didChange (full text) defining the crun runtime removes undefined-runtime', async () => {
      const text = PLANTED.replace('enable_selinux = "true"', 'enable_selinux = true') +
        '\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.crun]\n  runtime_type = "io.containerd.runc.v2"\n';
      const next = await client.changeAndWait(uri, 3, text);
      assert.equal(next.version, 3);
      assert.deepEqual(byCode(next.diagnostics, 'containerd/undefined-runtime'), [], describeDiags(next.diagnostics));
      assert.deepEqual(byCode(next.diagnostics, 'containerd/type-mismatch'), []);
      assert.equal(byCode(next.diagnostics, 'containerd/misplaced-key').length, 1);
    });

    it('a syntax error is reported and the rest of the file is still checked', async () => {
      const text = PLANTED.replace('root = "/var/lib/containerd"', 'root = "/var/lib/containerd');
      const d = await client.openAndWait(newUri(), text);
      const syntax = byCode(d.diagnostics, 'containerd/syntax');
      assert.ok(syntax.length >= 1, describeDiags(d.diagnostics));
      assert.equal(syntax[0].range.start.line, 1);
      assert.equal(byCode(d.diagnostics, 'containerd/misplaced-key').length, 1, 'rest of file still validated');
    });

    it('didClose clears the diagnostics', async () => {
      const u = newUri();
      await client.openAndWait(u, PLANTED);
      const after = client.mark();
      await client.close(u);
      const cleared = await client.waitForDiagnostics(u, { after });
      assert.deepEqual(cleared.diagnostics, []);
    });
  });

  describe('completion', () => {
    const complete = async (marked: string) => {
      const { text, pos } = cursor(marked);
      const uri = newUri();
      await client.openAndWait(uri, text);
      const items = itemsOf(await client.completion(uri, pos));
      for (const it of items) {
        const te = it.textEdit as { range?: { start: Position; end: Position } } | undefined;
        if (te?.range) {
          assert.equal(te.range.start.line, pos.line, `textEdit of ${it.label} leaves the cursor line`);
          assert.ok(te.range.start.character <= pos.character && te.range.end.character >= pos.character,
            `textEdit range of ${it.label} does not cover the cursor`);
        }
      }
      return { items, labels: items.map((i) => i.label) };
    };
    const RUNC_HEAD = '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]\n  runtime_type = "io.containerd.runc.v2"\n';

    it('header `[plugins."io.containerd.` offers full plugin IDs of the file\'s version', async () => {
      const { items, labels } = await complete('version = 2\n\n[plugins."io.containerd.|');
      assert.ok(labels.includes('plugins."io.containerd.grpc.v1.cri"'), labels.slice(0, 20).join(', '));
      assert.ok(!labels.some((l) => l.includes('io.containerd.cri.v1.runtime')), 'no version 3 plugin IDs in a version 2 / 1.7 file');
      for (const it of items) {
        const te = it.textEdit as { newText: string } | undefined;
        assert.ok(te && te.newText.startsWith('['), `${it.label}: header items replace the whole header`);
      }
    });

    it('header completion in a version 3 file offers io.containerd.cri.v1.runtime', async () => {
      const { labels } = await complete('version = 3\n\n[plugins."io.containerd.|');
      assert.ok(labels.includes('plugins."io.containerd.cri.v1.runtime"'), labels.slice(0, 20).join(', '));
      // In version 3 the runtimes moved out of the gRPC CRI plugin (which still exists for streaming settings).
      assert.ok(!labels.some((l) => l.startsWith('plugins."io.containerd.grpc.v1.cri".containerd')), 'v2 CRI runtime tables offered in a v3 file');
    });

    it('header completion in a version-less (v1) file offers short plugin IDs', async () => {
      const { labels } = await complete('[plugins.|');
      assert.ok(labels.includes('plugins.cri'), labels.slice(0, 20).join(', '));
      assert.ok(!labels.some((l) => l.includes('"io.containerd.grpc.v1.cri"')));
    });

    it('header completion leaves out tables already defined', async () => {
      const { labels } = await complete('version = 2\n[grpc]\n  uid = 0\n\n[|');
      assert.ok(labels.includes('debug'));
      assert.ok(!labels.includes('grpc'), 'grpc is already defined');
    });

    it('`SystemdCgroup = ` offers exactly true and false', async () => {
      const { labels } = await complete(`version = 2\n${RUNC_HEAD}[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\n  SystemdCgroup = |\n`);
      assert.deepEqual([...labels].sort(), ['false', 'true']);
    });

    it('`enable_selinux = ` offers booleans', async () => {
      const { labels } = await complete('version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  enable_selinux = |\n');
      assert.deepEqual([...labels].sort(), ['false', 'true']);
    });

    it('an empty line in runtimes.runc.options offers runc options (SystemdCgroup, BinaryName) only', async () => {
      const { labels } = await complete(`version = 2\n${RUNC_HEAD}[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\n  |\n`);
      assert.ok(labels.includes('SystemdCgroup'), labels.join(', '));
      assert.ok(labels.includes('BinaryName'), labels.join(', '));
      assert.ok(!labels.includes('TypeUrl'), 'TypeUrl is not a runc option');
      assert.ok(!labels.includes('runtime_type'), 'runtime_type belongs to the runtime table');
      assert.ok(!labels.includes('enable_selinux'));
    });

    it('keys already set in the table are not offered again', async () => {
      const { labels } = await complete(`version = 2\n${RUNC_HEAD}[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\n  SystemdCgroup = true\n  |\n`);
      assert.ok(labels.includes('BinaryName'));
      assert.ok(!labels.includes('SystemdCgroup'));
    });

    it('a kata runtime\'s options table offers generic shim options, not runc ones', async () => {
      const { labels } = await complete('version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.kata]\n  runtime_type = "io.containerd.kata.v2"\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.kata.options]\n  |\n');
      assert.ok(labels.includes('ConfigPath'), labels.join(', '));
      assert.ok(!labels.includes('SystemdCgroup'));
    });

    it('[grpc] offers the grpc keys', async () => {
      const { items, labels } = await complete('version = 2\n[grpc]\n  address = "/run/containerd/containerd.sock"\n  |\n');
      for (const k of ['uid', 'gid', 'max_recv_message_size']) assert.ok(labels.includes(k), `${k} in ${labels.join(', ')}`);
      assert.ok(!labels.includes('address'), 'address is already set');
      assert.ok(!labels.includes('root') && !labels.includes('SystemdCgroup'), 'keys of other tables');
      const uid = items.find((i) => i.label === 'uid')!;
      assert.ok(uid.documentation || uid.detail, 'keys carry documentation');
    });

    it('`default_runtime_name = ` offers the runtimes defined in the file', async () => {
      const { labels } = await complete(`version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd]\n  default_runtime_name = |\n${RUNC_HEAD}[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.kata]\n  runtime_type = "io.containerd.kata.v2"\n`);
      assert.ok(labels.includes('runc') && labels.includes('kata'), labels.join(', '));
      assert.ok(!labels.includes('crun'), 'crun is not defined in this file');
    });

    it('`snapshotter = ` offers overlayfs and `runtime_type = ` offers io.containerd.runc.v2', async () => {
      const a = await complete('version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd]\n  snapshotter = |\n');
      assert.ok(a.labels.includes('overlayfs'), a.labels.join(', '));
      const b = await complete('version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.crun]\n  runtime_type = |\n');
      assert.ok(b.labels.includes('io.containerd.runc.v2'), b.labels.join(', '));
    });

    it('inside `disabled_plugins = [` offers plugin IDs', async () => {
      const { labels } = await complete('version = 2\ndisabled_plugins = [|]\n');
      assert.ok(labels.includes('io.containerd.grpc.v1.cri'), labels.join(', '));
    });

    it('top level offers top-level keys, not the ones already set', async () => {
      const { labels } = await complete('version = 2\noom_score = 0\n|\n');
      assert.ok(labels.includes('root') && labels.includes('state'), labels.join(', '));
      assert.ok(!labels.includes('oom_score') && !labels.includes('version'));
    });

    it('nothing inside a comment', async () => {
      const { labels } = await complete('version = 2\n# Systemd|\n');
      assert.deepEqual(labels, []);
    });

    it('deprecation tags follow the target release (as diagnostics do)', async () => {
      // grpc.tcp_address is deprecated only since containerd 2.3 (config version 4); a
      // version 2 file targets 1.7, where diagnostics do not report it as deprecated.
      const uri = newUri();
      const used = 'version = 2\n[grpc]\n  tcp_address = "0.0.0.0:10010"\n';
      const diags = await client.openAndWait(uri, used);
      assert.deepEqual(byCode(diags.diagnostics, 'containerd/deprecated'), [], 'diagnostics: not deprecated in 1.7');
      const { items } = await complete('version = 2\n[grpc]\n  uid = 0\n  |\n');
      const tcp = items.find((i) => i.label === 'tcp_address');
      assert.ok(tcp, 'tcp_address offered');
      assert.ok(!tcp.tags?.includes(1) && !tcp.deprecated,
        'completion tags tcp_address Deprecated for a 1.7 target although it is deprecated only since 2.3');
    });
  });

  describe('hover, symbols, folding, code actions, documentInfo', () => {
    const uri = newUri();
    let diags: Diagnostic[];

    before(async () => {
      diags = (await client.openAndWait(uri, PLANTED)).diagnostics;
    });

    it('hover on a key shows its type and description', async () => {
      const md = markdownOf(await client.hover(uri, positionOf(PLANTED, 'BinaryName', 3)));
      assert.match(md, /BinaryName/);
      assert.match(md, /string/);
      assert.match(md, /OCI runtime binary/i);
      const h = await client.hover(uri, positionOf(PLANTED, 'enable_selinux', 2));
      const md2 = markdownOf(h);
      assert.match(md2, /boolean/);
      assert.match(md2, /SELinux/);
      assert.equal(h!.range?.start.line, LINE.selinux);
    });

    it('hover on a header segment documents the table / plugin', async () => {
      const md = markdownOf(await client.hover(uri, positionOf(PLANTED, '[grpc]', 2)));
      assert.match(md, /grpc/);
      const cri = markdownOf(await client.hover(uri, positionOf(PLANTED, 'io.containerd.grpc.v1.cri', 5)));
      assert.match(cri, /CRI/);
    });

    it('hover on an unknown key or a blank line gives nothing', async () => {
      assert.equal(await client.hover(uri, positionOf(PLANTED, 'oom_scroe', 2)), null);
      assert.equal(await client.hover(uri, { line: 3, character: 0 }), null);
    });

    it('documentSymbol gives the table hierarchy', async () => {
      const syms = await client.documentSymbol(uri);
      assert.ok(Array.isArray(syms) && syms.length > 0);
      const grpc = findSymbol(syms, ['grpc']);
      assert.ok(grpc, 'grpc');
      assert.ok(findSymbol(grpc.children, ['address']));
      const misplaced = findSymbol(syms, ['plugins', 'io.containerd.grpc.v1.cri', 'containerd', 'runtimes', 'runc', 'SystemdCgroup']);
      assert.ok(misplaced, 'runc.SystemdCgroup');
      assert.equal(misplaced.selectionRange.start.line, LINE.systemdMisplaced);
      assert.ok(findSymbol(syms, ['plugins', 'io.containerd.grpc.v1.cri', 'containerd', 'runtimes', 'runc', 'options', 'BinaryName']));
      const check = (s: DocumentSymbol) => {
        assert.ok(contains(s.range, s.selectionRange), `${s.name}: selectionRange outside range`);
        for (const c of s.children ?? []) {
          assert.ok(contains(s.range, c.range), `${c.name} outside its parent ${s.name}`);
          check(c);
        }
      };
      syms.forEach(check);
    });

    it('foldingRange folds every table section', async () => {
      const ranges = await client.foldingRange(uri);
      assert.ok(Array.isArray(ranges));
      const lines = PLANTED.split('\n');
      const headerLines = lines.map((l, i) => (l.startsWith('[') ? i : -1)).filter((i) => i >= 0);
      for (const h of headerLines) {
        const r = ranges.find((x) => x.startLine === h);
        assert.ok(r, `no folding range for the header on line ${h}`);
        assert.ok(r.endLine > h && r.endLine < lines.length);
        assert.notEqual(lines[r.endLine].trim(), '', `folding range of line ${h} ends on a blank line`);
      }
    });

    it('quick fix moves the misplaced SystemdCgroup into .options', async () => {
      const d = onlyOne(diags, 'containerd/misplaced-key');
      const actions = (await client.codeAction(uri, d.range, [d])) as CodeAction[];
      assert.ok(Array.isArray(actions));
      const fix = actions.find((a) => a.kind === 'quickfix' && /Move/.test(a.title));
      assert.ok(fix, `no move quick fix in ${actions.map((a) => a.title).join(' | ')}`);
      const edits = fix.edit?.changes?.[uri];
      assert.ok(edits && edits.length > 0, 'the fix edits this document');
      const fixed = applyEdits(PLANTED, edits);
      const lines = fixed.split('\n');
      assert.equal(lines.filter((l) => /^\s*SystemdCgroup\s*=\s*true/.test(l)).length, 1, fixed);
      // SystemdCgroup now sits in the options table.
      const at = lines.findIndex((l) => /^\s*SystemdCgroup/.test(l));
      const header = lines.slice(0, at).reverse().find((l) => l.startsWith('['));
      assert.equal(header, '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]', fixed);
      const u2 = newUri();
      const after = await client.openAndWait(u2, fixed);
      assert.deepEqual(byCode(after.diagnostics, 'containerd/misplaced-key'), [], describeDiags(after.diagnostics));
      assert.deepEqual(byCode(after.diagnostics, 'containerd/syntax'), []);
      const sym = await client.documentSymbol(u2);
      assert.ok(findSymbol(sym, ['plugins', 'io.containerd.grpc.v1.cri', 'containerd', 'runtimes', 'runc', 'options', 'SystemdCgroup']));
      // Other diagnostics are unchanged.
      assert.equal(byCode(after.diagnostics, 'containerd/undefined-runtime').length, 1);
    });

    it('quick fix renames the typo to the suggestion', async () => {
      const d = onlyOne(diags, 'containerd/unknown-key');
      const actions = (await client.codeAction(uri, d.range, [d])) as CodeAction[];
      const fix = actions.find((a) => a.kind === 'quickfix');
      assert.ok(fix?.edit?.changes?.[uri], 'rename fix');
      const fixed = applyEdits(PLANTED, fix.edit!.changes![uri]);
      assert.match(fixed.split('\n')[LINE.typo], /^oom_score = 0$/);
      const after = await client.openAndWait(newUri(), fixed);
      assert.deepEqual(byCode(after.diagnostics, 'containerd/unknown-key'), []);
    });

    it('code actions without diagnostics do not crash and offer no quick fix', async () => {
      const actions = await client.codeAction(uri, { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, []);
      assert.ok(Array.isArray(actions));
      assert.ok(!actions.some((a) => a.kind === 'quickfix'));
    });

    it('containerd/documentInfo reports config version and target release', async () => {
      const info = await client.documentInfo(uri);
      assert.deepEqual(info, { configVersion: 2, versionExplicit: true, release: '1.7', releaseSource: 'inferred' });
      const u2 = newUri();
      await client.openAndWait(u2, '# containerd: 2.1.3\nversion = 3\n');
      assert.deepEqual(await client.documentInfo(u2), { configVersion: 3, versionExplicit: true, release: '2.1.3', releaseSource: 'pin' });
      const u3 = newUri();
      await client.openAndWait(u3, '[plugins.cri]\n');
      const v1 = await client.documentInfo(u3);
      assert.equal(v1?.configVersion, 1);
      assert.equal(v1?.versionExplicit, false);
      assert.equal(await client.documentInfo('file:///not/open.toml'), null);
    });

    it('requests for a document that is not open answer empty', async () => {
      const u = 'file:///not/open/config.toml';
      assert.deepEqual(itemsOf(await client.completion(u, { line: 0, character: 0 })), []);
      assert.equal(await client.hover(u, { line: 0, character: 0 }), null);
      assert.deepEqual(await client.documentSymbol(u), []);
    });
  });

  it('the server logged no handler failure and wrote nothing alarming to stderr', () => {
    assert.ok(client.alive());
    assert.deepEqual(client.errorLogs(), []);
    assert.doesNotMatch(client.stderr, /Error|exception/i);
  });
});

describe('server options', { timeout: 60_000 }, () => {
  it('validateAll=false leaves non-containerd TOML alone but still checks containerd configs', async () => {
    const c = await LspClient.start({ initializationOptions: { validateAll: false } });
    try {
      const cargo = await c.openAndWait(newUri('Cargo.toml'), '[package]\nname = "x"\nversion = "0.1.0"\n');
      assert.deepEqual(cargo.diagnostics, []);
      const ours = await c.openAndWait(newUri(), PLANTED);
      assert.ok(byCode(ours.diagnostics, 'containerd/misplaced-key').length === 1);
    } finally {
      await c.shutdown();
    }
  });

  it('initializationOptions.defaultRelease sets the target release', async () => {
    const c = await LspClient.start({ initializationOptions: { defaultRelease: '2.1' } });
    try {
      const u = newUri();
      await c.openAndWait(u, 'version = 2\n');
      assert.deepEqual(await c.documentInfo(u), { configVersion: 2, versionExplicit: true, release: '2.1', releaseSource: 'setting' });
    } finally {
      await c.shutdown();
    }
  });

  it('`containerd-taskserv lsp --stdio` (bin launcher) answers initialize and publishes diagnostics', async () => {
    const c = await LspClient.start({ args: [BIN, 'lsp', '--stdio'] });
    try {
      assert.equal(c.initializeResult?.serverInfo?.name, 'containerd-taskserv');
      assert.ok(c.initializeResult?.capabilities.completionProvider);
      const d = await c.openAndWait(newUri(), PLANTED);
      assert.equal(byCode(d.diagnostics, 'containerd/type-mismatch').length, 1);
    } finally {
      await c.shutdown();
    }
    assert.ok(c.exit, 'server exited after shutdown/exit');
    assert.equal(c.exit.code, 0, `exit code after shutdown+exit: ${JSON.stringify(c.exit)}`);
  });
});

// Cases found by test/fuzz: each is a small, deterministic version of a fuzzer finding.
describe('robustness (cases found by fuzzing)', { timeout: 60_000 }, () => {
  const quickFixes = async (c: LspClient, uri: string, d: Diagnostic) =>
    ((await c.codeAction(uri, d.range, [d])) ?? []).filter((a) => a.kind === 'quickfix' && a.edit?.changes?.[uri]);

  it('deep nesting (5,000-deep array / inline table, 2,812-segment dotted key) neither kills the server nor loses diagnostics', async () => {
    const c = await LspClient.start();
    const dotted = Array.from({ length: 2812 }, (_, i) => `k${i % 7}`).join('.');
    try {
      for (const [i, text] of [
        `version = 2\ndeep = ${'['.repeat(5000)}1${']'.repeat(5000)}\n[grpc]\n  uid = 0\n`,
        `version = 2\ndeep = ${'{ a = '.repeat(5000)}1${' }'.repeat(5000)}\n[grpc]\n  uid = 0\n`,
        // an 8 KB dotted key inside a deprecated table (diagnostics' default-value check recursed on it)
        `[plugins.cri.containerd.default_runtime]\n${dotted} = 1\n`,
      ].entries()) {
        const uri = newUri();
        const d = await c.openAndWait(uri, text, 1, 20_000).catch((e: Error) => {
          throw new Error(`case ${i}: ${e.message.split('\n')[0]}\nserver stderr:\n${c.stderr.slice(0, 1500)}`);
        });
        assert.ok(Array.isArray(d.diagnostics));
        assert.ok(c.alive(), 'server alive');
        await c.hover(uri, { line: 1, character: 2500 });
        if (i === 2) assert.ok(d.diagnostics.length > 0, 'the deprecated default_runtime table is still reported');
        await c.documentSymbol(uri);
        await c.foldingRange(uri);
        assert.deepEqual(c.errorLogs().map((l) => l.message.split('\n')[0]), [], `case ${i}: handler failures`);
      }
    } finally {
      await c.shutdown();
    }
  });

  it('a lone CR (a line break for LSP, not for TOML) does not shift completion ranges', async () => {
    const c = await LspClient.start();
    try {
      const uri = newUri();
      // LSP lines: 0 "# comment", 1 "version = 2", 2 "", 3 "".
      await c.openAndWait(uri, '# comment\rversion = 2\n\n');
      for (const pos of [{ line: 1, character: 0 }, { line: 2, character: 0 }]) {
        for (const item of itemsOf(await c.completion(uri, pos))) {
          const r = (item.textEdit as { range?: { start: Position; end: Position } } | undefined)?.range;
          if (!r) continue;
          assert.ok(r.start.line === pos.line && r.end.line === pos.line && r.start.character <= pos.character && pos.character <= r.end.character,
            `completion ${item.label} at ${JSON.stringify(pos)} has textEdit range ${JSON.stringify(r)}`);
        }
      }
    } finally {
      await c.shutdown();
    }
  });

  it('rename quick fixes do not create a duplicate table or key', async () => {
    const c = await LspClient.start();
    try {
      const cases = [
        // short plugin ID in a v2 file, while the full-ID table already exists
        'version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/containerd/certs.d"\n[plugins.cri.registry]\n  config_path = "/x"\n',
        // case-insensitive key next to its canonical spelling
        'version = 2\n[grpc]\n  uid = 0\n  UID = 1\n',
      ];
      for (const text of cases) {
        const uri = newUri();
        const d = await c.openAndWait(uri, text);
        const withRename = d.diagnostics.filter((x) => (x.data as { fix?: string } | undefined)?.fix === 'rename');
        assert.ok(withRename.length > 0, `no rename fix offered:\n${describeDiags(d.diagnostics)}`);
        for (const diag of withRename) {
          for (const fix of await quickFixes(c, uri, diag)) {
            const fixed = applyEdits(text, fix.edit!.changes![uri]);
            const after = await c.openAndWait(newUri(), fixed);
            const broken = after.diagnostics.filter((x) => /^containerd\/(syntax|duplicate-(key|table))$/.test(String(x.code)));
            assert.deepEqual(broken.map((b) => `${b.range.start.line + 1}: ${b.code}`), [],
              `"${fix.title}" for ${diag.code} turns a fixable problem into a fatal TOML error:\n${fixed}`);
          }
        }
      }
    } finally {
      await c.shutdown();
    }
  });

  it('SystemdCgroup written directly in the CRI table: no quick fix leads to a CRI load failure', async () => {
    const c = await LspClient.start();
    try {
      const uri = newUri();
      const text = 'version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  SystemdCgroup = true\n';
      const d = await c.openAndWait(uri, text);
      const onKey = d.diagnostics.filter((x) => x.range.start.line === 2);
      assert.ok(onKey.length > 0, 'the misplaced SystemdCgroup is reported');
      for (const diag of onKey) {
        assert.doesNotMatch(msg(diag), /Did you mean `systemd_cgroup`/,
          '`systemd_cgroup = true` in the CRI table makes the CRI plugin fail to load (containerd/cri-plugin-fails)');
        for (const fix of await quickFixes(c, uri, diag)) {
          const fixed = applyEdits(text, fix.edit!.changes![uri]);
          const after = await c.openAndWait(newUri(), fixed);
          assert.deepEqual(after.diagnostics.filter((x) => x.severity === SEVERITY_ERROR).map((x) => `${x.code}: ${msg(x)}`), [],
            `"${fix.title}" produces errors:\n${fixed}`);
        }
      }
    } finally {
      await c.shutdown();
    }
  });
});
