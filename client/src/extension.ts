/**
 * VS Code adapter: starts the language server, claims containerd configs among TOML files,
 * and shows/changes the target release in the status bar. All logic lives in the server or
 * in client/src/core; this file only translates to the VS Code API.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { looksLikeContainerdConfig } from '../../server/src/detect';
import { pinEdit, RELEASE_CHOICES } from './core/releasePin';
import { RenderPreview } from './preview';
import type { ExplorerApi } from './hostsMain';

/** What activate() returns (the extension's `exports`): the Hosts half, loaded on demand. */
export interface HostsApi {
  loadHosts(): Promise<ExplorerApi>;
}

export const LANGUAGE_ID = 'containerd-toml';
/** The official KCL extension's language id, which we also contribute for `.k` files. */
export const KCL_ID = 'KCL';
const KCL_EXTENSION_ID = 'kcl.kcl-vscode-extension';
const DOCUMENT_INFO_REQUEST = 'containerd/documentInfo';

interface DocumentInfo {
  configVersion: number;
  versionExplicit: boolean;
  release: string;
  releaseSource: 'pin' | 'setting' | 'inferred';
}

let client: LanguageClient | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<HostsApi> {
  const log = vscode.window.createOutputChannel('containerd Language Server', { log: true });
  context.subscriptions.push(log);

  const config = () => vscode.workspace.getConfiguration('containerd');
  // vscode-languageclient lives in dist/lsp.js (client/src/lsp.ts), loaded with the first containerd
  // document — after activation, so opening a TOML file that is not ours costs nothing.
  const createClient = (): LanguageClient => {
    const lsp = require(path.join(__dirname, 'lsp.js')) as typeof import('./lsp');
    return lsp.createLanguageClient(context, log, {
      languages: [LANGUAGE_ID, KCL_ID],
      defaultRelease: config().get<string>('defaultRelease', 'auto'),
      // With the official KCL extension present, its language server reports KCL syntax errors.
      kclExtension: vscode.extensions.getExtension(KCL_EXTENSION_ID) !== undefined,
    });
  };

  // Claim TOML files that are containerd configs (content detection) so that exactly one
  // language, ours or Even Better TOML's, serves each file: no double diagnostics.
  // VS Code has no built-in TOML language: without Even Better TOML a .toml file is plain text.
  const claim = (doc: vscode.TextDocument): void => {
    const globs = config().get<string[]>('taskservFiles', []);
    if (doc.languageId !== KCL_ID && doc.uri.scheme === 'file' && globs.some((g) => vscode.languages.match({ pattern: g }, doc) > 0)) {
      void vscode.languages.setTextDocumentLanguage(doc, KCL_ID);
      return;
    }
    const candidate = doc.languageId === 'toml' || (doc.languageId === 'plaintext' && doc.uri.path.endsWith('.toml'));
    if (!candidate || !config().get<boolean>('detectConfigFiles', true)) return;
    if (looksLikeContainerdConfig(doc.getText())) {
      void vscode.languages.setTextDocumentLanguage(doc, LANGUAGE_ID);
    }
  };

  // The server process starts with the first containerd document, not at activation:
  // activating on TOML/plain-text files must stay cheap for people who never open one.
  let started: Promise<void> | undefined;
  const isOurs = (doc: vscode.TextDocument): boolean =>
    doc.languageId === LANGUAGE_ID || (doc.languageId === KCL_ID && (/\/taskservs\//.test(doc.uri.path) || /:\s*Containerd\s*=/.test(doc.getText())));
  const ensureStarted = (doc: vscode.TextDocument): void => {
    if (started || !isOurs(doc)) return;
    started = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => {
        client = createClient();
        return client.start();
      })
      .then(() => refreshStatus(), (e: unknown) => log.error(`language server failed to start: ${String(e)}`));
  };
  context.subscriptions.push(
    vscode.workspace.onDidOpenTextDocument((d) => {
      claim(d);
      ensureStarted(d);
    }),
  );

  const status = vscode.window.createStatusBarItem('containerd.release', vscode.StatusBarAlignment.Right, 100);
  status.name = vscode.l10n.t('containerd target release');
  status.command = 'containerd.setTargetRelease';
  context.subscriptions.push(status);

  const refreshStatus = async (): Promise<void> => {
    const editor = vscode.window.activeTextEditor;
    if (!editor || (editor.document.languageId !== LANGUAGE_ID && editor.document.languageId !== KCL_ID) || !client || !client.isRunning()) {
      status.hide();
      return;
    }
    try {
      const info = await client.sendRequest<DocumentInfo | null>(DOCUMENT_INFO_REQUEST, { uri: editor.document.uri.toString() });
      if (!info) return status.hide();
      const source = { pin: vscode.l10n.t('pinned in the file'), setting: vscode.l10n.t('from settings'), inferred: vscode.l10n.t('assumed from `version`') }[info.releaseSource];
      status.text = `$(package) containerd ${info.release} · v${info.configVersion}`;
      status.tooltip = new vscode.MarkdownString(
        vscode.l10n.t('Checked against containerd {0} ({1}); config version {2}. Click to change.', info.release, source, info.configVersion));
      status.show();
    } catch (e) {
      log.warn(`documentInfo failed: ${String(e)}`);
      status.hide();
    }
  };

  context.subscriptions.push(
    vscode.window.onDidChangeActiveTextEditor(() => void refreshStatus()),
    vscode.workspace.onDidChangeTextDocument((e) => {
      if (e.document === vscode.window.activeTextEditor?.document) void refreshStatus();
    }),
    vscode.commands.registerCommand('containerd.setTargetRelease', async () => {
      const editor = vscode.window.activeTextEditor;
      if (!editor || editor.document.languageId !== LANGUAGE_ID) {
        void vscode.window.showInformationMessage(vscode.l10n.t('Open a containerd config.toml first.'));
        return;
      }
      const items: (vscode.QuickPickItem & { release?: string })[] = [
        ...RELEASE_CHOICES.map((r) => ({ label: `containerd ${r}`, release: r as string })),
        { label: vscode.l10n.t('Remove the pin'), description: vscode.l10n.t('use the setting or infer from `version`') },
      ];
      const pick = await vscode.window.showQuickPick(items, { placeHolder: vscode.l10n.t('Target containerd release for this file') });
      if (!pick) return;
      const edit = pinEdit(editor.document.getText(), pick.release);
      if (!edit) return;
      await editor.edit((b) => {
        if (edit.insert) b.insert(new vscode.Position(edit.line, 0), edit.text + '\n');
        else if (edit.text === '') b.delete(editor.document.lineAt(edit.line).rangeIncludingLineBreak);
        else b.replace(editor.document.lineAt(edit.line).range, edit.text);
      });
    }),
    vscode.commands.registerCommand('containerd.restartServer', async () => {
      if (client?.isRunning()) await client.restart();
    }),
    vscode.commands.registerCommand('containerd.showServerOutput', () => log.show()),
  );
  new RenderPreview(() => (client?.isRunning() ? client : undefined), log).register(context);
  const api = lazyHosts(context, () => (client?.isRunning() ? client : undefined));

  context.subscriptions.push({ dispose: () => void client?.stop() });
  for (const d of vscode.workspace.textDocuments) {
    claim(d);
    ensureStarted(d);
  }
  return api;
}

/**
 * Hosts, deploy and the explorer live in dist/hosts.js (client/src/hostsMain.ts), loaded on first
 * use: the Hosts view is created here with a provider that loads it when the view first asks for
 * items, and every command of that half is registered here as a proxy that loads it, hands over
 * to the real command and disappears.
 */
function lazyHosts(context: vscode.ExtensionContext, languageClient: () => LanguageClient | undefined): HostsApi {
  const own = new Set<string>(['containerd.setTargetRelease', 'containerd.restartServer', 'containerd.showServerOutput', 'containerd.previewRender', 'containerd.previewRenderAll']);
  const commands: string[] = ((context.extension.packageJSON as { contributes?: { commands?: { command: string }[] } }).contributes?.commands ?? [])
    .map((c) => c.command)
    .filter((c) => !own.has(c));
  const changed = new vscode.EventEmitter<unknown>();
  let real: vscode.TreeDataProvider<unknown> | undefined;
  const provider: vscode.TreeDataProvider<unknown> = {
    onDidChangeTreeData: changed.event,
    getTreeItem: (e) => real!.getTreeItem(e),
    getChildren: async (e) => {
      await load();
      return real!.getChildren(e);
    },
    getParent: (e) => real?.getParent?.(e),
    resolveTreeItem: (item, e, token) => (real?.resolveTreeItem ? real.resolveTreeItem(item, e, token) : item),
  };
  const tree = vscode.window.createTreeView<unknown>('containerd.hosts', { treeDataProvider: provider, showCollapseAll: true });
  context.subscriptions.push(tree, changed);

  const proxies = commands.map((id) =>
    vscode.commands.registerCommand(id, async (...args: unknown[]) => {
      await load();
      return vscode.commands.executeCommand(id, ...args);
    }),
  );
  let loading: Promise<ExplorerApi> | undefined;
  const load = (): Promise<ExplorerApi> =>
    (loading ??= Promise.resolve().then(() => {
      for (const p of proxies) p.dispose();
      // a runtime path, so that esbuild leaves this bundle out of dist/client.js
      const mod = require(path.join(__dirname, 'hosts.js')) as typeof import('./hostsMain');
      return mod.activateHosts(context, languageClient, tree as vscode.TreeView<never>, (p) => {
        real = p as vscode.TreeDataProvider<unknown>;
        context.subscriptions.push(real.onDidChangeTreeData!((e) => changed.fire(e)));
      });
    }));
  context.subscriptions.push({ dispose: () => proxies.forEach((p) => p.dispose()) });

  // The deploy target lives in the status bar next to containerd documents: load the hosts half a
  // moment after one becomes active (after activation, never during it).
  let timer: NodeJS.Timeout | undefined;
  const soon = (ed: vscode.TextEditor | undefined): void => {
    if (loading || !ed || (ed.document.languageId !== LANGUAGE_ID && ed.document.languageId !== KCL_ID)) return;
    clearTimeout(timer);
    timer = setTimeout(() => void load(), 1500);
  };
  context.subscriptions.push(vscode.window.onDidChangeActiveTextEditor(soon), { dispose: () => clearTimeout(timer) });
  soon(vscode.window.activeTextEditor);
  return { loadHosts: load };
}

export async function deactivate(): Promise<void> {
  await client?.stop();
  client = undefined;
}
