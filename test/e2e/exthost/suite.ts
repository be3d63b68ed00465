/*
 * Extension integration tests that run INSIDE code-server's remote extension host, against the
 * real extension (extensionDevelopmentPath = the repo root, so dist/client.js + dist/server.js) and
 * the fixture workspace test/e2e/workspace. Only the `vscode` API is used: no import of our code.
 *
 * Bundled by test/e2e/exthost.test.ts (esbuild, mocha bundled in, `vscode` external) into
 * out/exthost/index.js, whose `run()` the extension host calls (extensionTestsPath). mocha's spec
 * reporter writes with console.log, which the workbench forwards to window.codeAutomationLog.
 *
 * Besides pass/fail, the suite prints one informational line
 *   EXTHOST-TIMINGS {"activeBefore":…,"activationMs":…,"firstDiagnosticsMs":…}
 * measured with performance.now() from openTextDocument of the first containerd config.toml until
 * the extension is active / has published a diagnostic. The test extension host is busy with its
 * own start-up at that moment, so these are upper bounds; bench/activation.mjs measures properly.
 */
import * as assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import Mocha from 'mocha';
import * as vscode from 'vscode';

const EXTENSION_ID = 'containerd-taskserv.containerd-taskserv';
const CONFIG = 'mistakes/containerd/config.toml';
const RUNC_OPTIONS = '[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]';
const RUNC_OPTIONS_RE = new RegExp(`^\\s*${RUNC_OPTIONS.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`);

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Poll `probe` until it returns something truthy; bounded. */
async function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

function workspaceUri(rel: string): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'no workspace folder is open');
  return vscode.Uri.joinPath(folder.uri, ...rel.split('/'));
}

const codeOf = (d: vscode.Diagnostic): string =>
  typeof d.code === 'object' && d.code !== null ? String(d.code.value) : String(d.code ?? '');

const labelOf = (i: vscode.CompletionItem): string => (typeof i.label === 'string' ? i.label : i.label.label);

function hoverText(hovers: vscode.Hover[]): string {
  return hovers
    .flatMap((h) => h.contents)
    .map((c) => (typeof c === 'string' ? c : 'value' in c ? c.value : String(c)))
    .join('\n');
}

/** 0-based line of the first line matching `re`. */
function lineOf(doc: vscode.TextDocument, re: RegExp): number {
  for (let i = 0; i < doc.lineCount; i++) if (re.test(doc.lineAt(i).text)) return i;
  throw new Error(`no line matches ${re} in ${doc.uri.path}`);
}

function defineTests(root: Mocha.Suite): void {
  const s = Mocha.Suite.create(root, 'containerd-taskserv in the code-server extension host');
  const add = (title: string, fn: () => Promise<void>) => s.addTest(new Mocha.Test(title, fn));
  let config: vscode.TextDocument;

  add('activates on opening a config.toml under containerd/, which gets language containerd-toml', async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext, `extension ${EXTENSION_ID} is not loaded`);
    const activeBefore = ext.isActive;
    const t0 = performance.now();
    config = await vscode.workspace.openTextDocument(workspaceUri(CONFIG));
    await vscode.window.showTextDocument(config);
    await waitFor('the extension to activate', () => ext.isActive, 30_000);
    const activationMs = performance.now() - t0;
    await waitFor('the first containerd diagnostic', () => vscode.languages.getDiagnostics(config.uri).some((d) => d.source === 'containerd'), 60_000);
    const firstDiagnosticsMs = performance.now() - t0;
    console.log(`EXTHOST-TIMINGS ${JSON.stringify({ activeBefore, activationMs: Math.round(activationMs), firstDiagnosticsMs: Math.round(firstDiagnosticsMs) })}`);
    // (no assertion on activeBefore: onLanguage:plaintext may have activated it already, e.g. for a log document)
    assert.ok(ext.isActive);
    assert.equal(config.languageId, 'containerd-toml');
  });

  add('getDiagnostics lists containerd/misplaced-key for the misplaced SystemdCgroup', async () => {
    const line = lineOf(config, /^\s*SystemdCgroup\s*=/);
    const d = await waitFor('containerd/misplaced-key', () =>
      vscode.languages.getDiagnostics(config.uri).find((x) => codeOf(x) === 'containerd/misplaced-key'));
    assert.equal(d.range.start.line, line);
    assert.match(d.message, /SystemdCgroup/);
    const codes = vscode.languages.getDiagnostics(config.uri).map(codeOf).sort();
    for (const c of ['containerd/misplaced-key', 'containerd/type-mismatch', 'containerd/unknown-key']) {
      assert.ok(codes.includes(c), `missing ${c} in ${JSON.stringify(codes)}`);
    }
  });

  add('completion in the runc options table of a version 3 file offers SystemdCgroup and BinaryName', async () => {
    const header = lineOf(config, RUNC_OPTIONS_RE);
    assert.equal(config.lineAt(header + 1).text.trim(), '', 'fixture: the line after the options header must be empty');
    const list = await vscode.commands.executeCommand<vscode.CompletionList>(
      'vscode.executeCompletionItemProvider', config.uri, new vscode.Position(header + 1, 10));
    const labels = list.items.map(labelOf);
    assert.ok(labels.includes('SystemdCgroup'), `no SystemdCgroup among ${JSON.stringify(labels.slice(0, 40))}`);
    assert.ok(labels.includes('BinaryName'), `no BinaryName among ${JSON.stringify(labels.slice(0, 40))}`);
  });

  add('code action moves SystemdCgroup into the options table and the diagnostic goes away', async () => {
    const d = vscode.languages.getDiagnostics(config.uri).find((x) => codeOf(x) === 'containerd/misplaced-key');
    assert.ok(d, 'the misplaced-key diagnostic is gone already');
    const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', config.uri, d.range);
    const titles = actions.map((a) => a.title);
    const move = actions.find((a) => a.title.startsWith('Move `SystemdCgroup` to'));
    assert.ok(move, `no "Move \`SystemdCgroup\` to …" among ${JSON.stringify(titles)}`);
    assert.match(move.title, /runtimes\.runc\.options/);
    assert.ok(move.edit, 'the move action carries no edit');
    assert.ok(await vscode.workspace.applyEdit(move.edit), 'applyEdit failed');
    await waitFor('the misplaced-key diagnostic to disappear', () =>
      !vscode.languages.getDiagnostics(config.uri).some((x) => codeOf(x) === 'containerd/misplaced-key'));
    const optionsLine = lineOf(config, RUNC_OPTIONS_RE);
    const after = config.getText().split('\n').slice(optionsLine + 1).join('\n');
    assert.match(after, /SystemdCgroup\s*=\s*true/, 'SystemdCgroup is not below the options header');
  });

  add('hover over SystemdCgroup (now in the options table) shows its docs', async () => {
    const line = lineOf(config, /^\s*SystemdCgroup\s*=/);
    const col = config.lineAt(line).text.indexOf('SystemdCgroup') + 3;
    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', config.uri, new vscode.Position(line, col));
    const text = hoverText(hovers);
    assert.match(text, /SystemdCgroup/);
    assert.match(text, /systemd/i);
    assert.match(text, /cgroup/i);
  });

  add('a taskserv .k file is KCL and a runtime_default typo is an error', async () => {
    const uri = workspaceUri('taskservs/basic.k');
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc);
    assert.equal(doc.languageId, 'KCL');
    const line = lineOf(doc, /runtime_default:\s*"runc"/);
    const col = doc.lineAt(line).text.indexOf('"runc"') + 5; // before the closing quote
    const edit = new vscode.WorkspaceEdit();
    edit.insert(uri, new vscode.Position(line, col), 'c');
    assert.ok(await vscode.workspace.applyEdit(edit));
    assert.match(doc.lineAt(line).text, /"runcc"/);
    const d = await waitFor('containerd/runtime-default-not-listed', () =>
      vscode.languages.getDiagnostics(uri).find((x) => codeOf(x) === 'containerd/runtime-default-not-listed'));
    assert.equal(d.severity, vscode.DiagnosticSeverity.Error);
    assert.equal(d.range.start.line, line);
  });

  add('containerd.previewRender opens a containerd-render: document with default_runtime_name', async () => {
    const uri = workspaceUri('taskservs/production.k');
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc);
    await vscode.commands.executeCommand('containerd.previewRender');
    const preview = await waitFor('the preview document', () =>
      vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'containerd-render' && d.uri.query.includes(encodeURIComponent(uri.toString()))));
    const text = await waitFor('rendered text', () => (preview.getText().includes('default_runtime_name') ? preview.getText() : undefined), 15_000)
      .catch(() => { throw new Error(`preview text has no default_runtime_name:\n${preview.getText()}`); });
    assert.match(text, /\[plugins\."io\.containerd\.grpc\.v1\.cri"/);
    assert.ok(vscode.window.visibleTextEditors.some((e) => e.document === preview), 'the preview is not shown in an editor');
  });
}

/** Entry point called by the extension host (extensionTestsPath). */
export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'tdd', color: false, timeout: 90_000, reporter: 'spec' });
  defineTests(mocha.suite);
  console.log('EXTHOST-SUITE-START'); // test/e2e/codeserver.ts mochaLines() prints what follows
  return new Promise<void>((resolve, reject) => {
    mocha.run((failures) => (failures ? reject(new Error(`${failures} extension-host test(s) failed`)) : resolve()));
  });
}
