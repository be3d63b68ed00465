/**
 * VS Code adapter for the live render preview: a read-only virtual document per rendered file,
 * refreshed as the taskserv changes, with "Go to Definition" from a rendered key back to the
 * taskserv field that produced it.
 */
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { RENDER_REQUEST, type RenderResult } from '../../server/src/render/types';
import { fileOf, parsePreviewQuery, previewText, previewUri, PREVIEW_SCHEME, sourceForLine, type RenderedKind } from './core/renderPreview';

export class RenderPreview implements vscode.TextDocumentContentProvider, vscode.DefinitionProvider {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly results = new Map<string, RenderResult | null>();
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly client: () => LanguageClient | undefined, private readonly log: vscode.LogOutputChannel) {}

  register(context: vscode.ExtensionContext): void {
    context.subscriptions.push(
      vscode.workspace.registerTextDocumentContentProvider(PREVIEW_SCHEME, this),
      vscode.languages.registerDefinitionProvider({ scheme: PREVIEW_SCHEME }, this),
      vscode.workspace.onDidChangeTextDocument((e) => this.sourceChanged(e.document)),
      vscode.commands.registerCommand('containerd.previewRender', (uri?: vscode.Uri) => this.open(uri, 'config.toml')),
      vscode.commands.registerCommand('containerd.previewRenderAll', async (uri?: vscode.Uri) => {
        for (const kind of ['config.toml', 'crictl.yaml', 'systemd-dropin'] as const) await this.open(uri, kind);
      }),
      this.changed,
    );
  }

  private previewFor(source: vscode.Uri, kind: RenderedKind): vscode.Uri {
    const { path, query } = previewUri(source.toString(), kind);
    return vscode.Uri.from({ scheme: PREVIEW_SCHEME, path, query });
  }

  async open(uri: vscode.Uri | undefined, kind: RenderedKind): Promise<void> {
    const source = uri ?? vscode.window.activeTextEditor?.document.uri;
    if (!source) {
      void vscode.window.showInformationMessage(vscode.l10n.t('Open a taskserv file first.'));
      return;
    }
    const doc = await vscode.workspace.openTextDocument(this.previewFor(source, kind));
    const lang = kind === 'config.toml' ? 'containerd-toml' : kind === 'crictl.yaml' ? 'yaml' : 'ini';
    const shown = await vscode.languages.setTextDocumentLanguage(doc, lang).then((d) => d, () => doc);
    await vscode.window.showTextDocument(shown, { viewColumn: vscode.ViewColumn.Beside, preview: false, preserveFocus: true });
  }

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const q = parsePreviewQuery(uri.query);
    if (!q) return '# not a preview address\n';
    const result = await this.render(q.sourceUri);
    return previewText(result, q.kind);
  }

  private async render(sourceUri: string): Promise<RenderResult | null> {
    const c = this.client();
    if (!c) return null;
    try {
      const r = await c.sendRequest<RenderResult | null>(RENDER_REQUEST, { uri: sourceUri });
      this.results.set(sourceUri, r);
      return r;
    } catch (e) {
      this.log.warn(`render failed: ${String(e)}`);
      return this.results.get(sourceUri) ?? null;
    }
  }

  private sourceChanged(doc: vscode.TextDocument): void {
    const key = doc.uri.toString();
    const open = vscode.workspace.textDocuments.filter((d) => d.uri.scheme === PREVIEW_SCHEME && parsePreviewQuery(d.uri.query)?.sourceUri === key);
    if (!open.length) return;
    const t = this.timers.get(key);
    if (t) clearTimeout(t);
    // Let the server see the change first, then re-render every open preview of this source.
    this.timers.set(key, setTimeout(() => {
      this.timers.delete(key);
      for (const d of open) this.changed.fire(d.uri);
    }, 150));
  }

  async provideDefinition(document: vscode.TextDocument, position: vscode.Position): Promise<vscode.Location | undefined> {
    const q = parsePreviewQuery(document.uri.query);
    if (!q) return undefined;
    const result = this.results.get(q.sourceUri) ?? (await this.render(q.sourceUri));
    const entry = sourceForLine(fileOf(result, q.kind)?.sourceMap ?? [], position.line);
    if (!entry) return undefined;
    const source = await vscode.workspace.openTextDocument(vscode.Uri.parse(q.sourceUri));
    return new vscode.Location(source.uri, new vscode.Range(source.positionAt(entry.source.start), source.positionAt(entry.source.end)));
  }
}
