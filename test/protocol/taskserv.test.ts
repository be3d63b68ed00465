// Protocol tests for taskserv (KCL) documents: the real language server (dist/server.js) over
// stdio with `.k` documents (languageId KCL): diagnostics for the seed's five configurations,
// planted mistakes, completion, hover, symbols, folding and the `containerd/render` request.
// Needs `npm run build` first; bundled to out/test/protocol/taskserv.test.js.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Diagnostic, MarkupContent, Position } from 'vscode-languageserver-types';
import { itemsOf, LspClient, positionOf, ROOT, SERVER_JS, type PublishedDiagnostics } from './lspClient';
import { seedBlocks, type SeedBlock } from '../helpers/seed';

const SEED = path.resolve(ROOT, '../shared/seed/containerd-taskserv.md');
const HAVE_SEED = existsSync(SEED);
const SEVERITY_ERROR = 1;
const SEVERITY_INFORMATION = 3;

function seeds(): SeedBlock[] {
  if (!HAVE_SEED) return [];
  return seedBlocks(SEED);
}

const SEEDS = seeds();
const seed = (title: string): string => {
  const s = SEEDS.find((x) => x.title.startsWith(title));
  assert.ok(s, `seed block "${title}"`);
  return s.text;
};

let counter = 0;
function kUri(name = 'containerd.k'): string {
  return `file:///tmp/containerd-taskserv-protocol-kcl/${process.pid}-${++counter}/${name}`;
}

function msg(d: Diagnostic): string {
  return typeof d.message === 'string' ? d.message : d.message.value;
}

function describeDiags(ds: Diagnostic[]): string {
  return ds.map((d) => `${d.range.start.line}:${d.range.start.character} [${d.severity}] ${d.code} ${msg(d)}`).join('\n');
}

interface RenderResponse {
  name: string;
  release: string;
  configVersion: number;
  files: { path: string; kind: string; content: string }[];
  notes: string[];
}

describe('taskserv documents over stdio', { timeout: 120_000 }, () => {
  let client: LspClient;

  before(async () => {
    assert.ok(existsSync(SERVER_JS), `${SERVER_JS} missing: run npm run build first`);
    client = await LspClient.start();
  });

  after(async () => {
    await client?.shutdown();
  });

  async function openK(text: string, uri = kUri()): Promise<{ uri: string; diags: PublishedDiagnostics }> {
    const mark = client.mark();
    await client.open(uri, text, 1, 'KCL');
    const diags = await client.waitForDiagnostics(uri, { version: 1, after: mark });
    return { uri, diags };
  }

  it('each seed configuration opens with no error diagnostics', { skip: !HAVE_SEED && 'seed not found' }, async () => {
    assert.equal(SEEDS.length, 5, 'five seed configurations');
    for (const s of SEEDS) {
      const { diags } = await openK(s.text);
      const errors = diags.diagnostics.filter((d) => d.severity === SEVERITY_ERROR);
      assert.deepEqual(errors, [], `${s.title}:\n${describeDiags(errors)}`);
    }
  });

  it('a typo in runtime_default is containerd/runtime-default-not-listed', async () => {
    const text = 'containerd: Containerd = {\n    version: "1.7.18"\n    runtime_default: "runcc"\n    runtimes: "runc,crun"\n}\n';
    const { diags } = await openK(text);
    const found = diags.diagnostics.filter((d) => d.code === 'containerd/runtime-default-not-listed');
    assert.equal(found.length, 1, describeDiags(diags.diagnostics));
    assert.equal(found[0].severity, SEVERITY_ERROR);
    assert.equal(found[0].range.start.line, 2);
  });

  it('seccomp_profile_root is an Information containerd/not-containerd-setting', { skip: !HAVE_SEED && 'seed not found' }, async () => {
    const text = seed('Security-Hardened');
    const { diags } = await openK(text);
    const line = text.split('\n').findIndex((l) => l.includes('seccomp_profile_root'));
    const found = diags.diagnostics.filter((d) => d.code === 'containerd/not-containerd-setting' && d.range.start.line === line);
    assert.equal(found.length, 1, describeDiags(diags.diagnostics));
    assert.equal(found[0].severity, SEVERITY_INFORMATION);
  });

  it('completion answers for .k documents (fields, runtime names)', async () => {
    const text = 'containerd: Containerd = {\n    runtimes: "runc,crun,youki"\n    runtime_default: \n    \n}\n';
    const { uri } = await openK(text);
    const fields = itemsOf(await client.completion(uri, { line: 3, character: 4 }));
    const labels = fields.map((i) => i.label);
    for (const k of ['name', 'version', 'config', 'plugins', 'runtime_configs']) assert.ok(labels.includes(k), `${k} in ${labels.join(',')}`);
    assert.ok(!labels.includes('runtimes'), 'runtimes is set');
    const values = itemsOf(await client.completion(uri, { line: 2, character: 21 })).map((i) => i.label);
    assert.deepEqual(values, ['"runc"', '"crun"', '"youki"']);
    const inList = itemsOf(await client.completion(uri, positionOf(text, 'runc,crun,youki', 15))).map((i) => i.label);
    assert.ok(inList.includes('kata') && !inList.includes('crun'), inList.join(','));
  });

  it('hover answers on a field and on the type name', { skip: !HAVE_SEED && 'seed not found' }, async () => {
    const text = seed('Production');
    const { uri } = await openK(text);
    const h = await client.hover(uri, positionOf(text, 'sandbox_image', 2));
    assert.ok(h, 'a hover');
    const md = (h.contents as MarkupContent).value;
    assert.match(md, /plugins\."io\.containerd\.grpc\.v1\.cri"\.sandbox_image/);
    const t = await client.hover(uri, positionOf(text, 'Containerd', 3));
    assert.match((t!.contents as MarkupContent).value, /\/etc\/containerd\/config\.toml/);
    const none = await client.hover(uri, { line: 0, character: 26 });
    assert.equal(none, null);
  });

  it('document symbols and folding ranges answer for .k documents', { skip: !HAVE_SEED && 'seed not found' }, async () => {
    const text = seed('Multi-Runtime');
    const { uri } = await openK(text);
    const syms = await client.documentSymbol(uri);
    assert.ok(syms && syms.length === 1 && syms[0].name === 'containerd');
    assert.ok(syms[0].children!.some((c) => c.name === 'runtime_configs' && c.children!.length === 3));
    const folds = await client.foldingRange(uri);
    assert.ok(folds && folds.length === 8, JSON.stringify(folds));
  });

  it('containerd/render returns the files, config.toml naming the default runtime', { skip: !HAVE_SEED && 'seed not found' }, async () => {
    const text = seed('Multi-Runtime');
    const { uri } = await openK(text);
    const r = await client.request<RenderResponse | null>('containerd/render', { uri });
    assert.ok(r, 'a render result');
    const toml = r.files.find((f) => f.path === '/etc/containerd/config.toml');
    assert.ok(toml, `config.toml in ${r.files.map((f) => f.path).join(', ')}`);
    assert.match(toml.content, /default_runtime_name = "runc"/);
    assert.match(toml.content, /runtimes\.crun/);
    assert.equal(r.release, '1.7.18');
    assert.ok(r.files.some((f) => f.path === '/etc/crictl.yaml'));
  });

  it('broken .k documents get answers and the server logs no handler errors', async () => {
    const text = 'containerd: Containerd = {\n    config: {\n        grpc: {\n            address: "/run\n    plugins: { cri: [ }\n    runtimes: "runc,\n';
    const { uri } = await openK(text);
    const positions: Position[] = [];
    const lines = text.split('\n');
    for (let l = 0; l < lines.length; l++) for (let c = 0; c <= lines[l].length; c += 3) positions.push({ line: l, character: c });
    for (const p of positions) {
      await client.completion(uri, p);
      await client.hover(uri, p);
    }
    await client.documentSymbol(uri);
    await client.foldingRange(uri);
    await client.request('containerd/render', { uri });
    assert.ok(client.alive());
    assert.deepEqual(client.errorLogs(), []);
  });
});
