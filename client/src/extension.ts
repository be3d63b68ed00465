/**
 * VS Code adapter: starts the language server, claims containerd configs among TOML files,
 * and shows/changes the target release in the status bar. All logic lives in the server or
 * in client/src/core; this file only translates to the VS Code API.
 */
import * as vscode from 'vscode';
import { LanguageClient, TransportKind, type LanguageClientOptions, type ServerOptions } from 'vscode-languageclient/node';
import { looksLikeContainerdConfig } from '../../server/src/detect';
import { pinEdit, RELEASE_CHOICES } from './core/releasePin';
import { RenderPreview } from './preview';
import { createSshPool, loadSshConfig, type SshPool, type HostConfig } from './core/ssh';
import { mergeInventory, type SettingsHost } from './core/hosts/inventory';
import { VsCodeCredentials } from './hosts/credentials';
import { HostsView } from './hosts/hostsView';
import { HostCommands } from './hosts/hostCommands';
import { registerPreflight } from './hosts/preflightCommands';
import { addHostToSettings } from './hosts/addHost';
import { registerInstall } from './hosts/installCommands';
import { registerExplorer, type ExplorerApi } from './explorer/register';
import { RENDER_REQUEST, type RenderResult } from '../../server/src/render/types';

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

export async function activate(context: vscode.ExtensionContext): Promise<ExplorerApi> {
  const log = vscode.window.createOutputChannel('containerd Language Server', { log: true });
  context.subscriptions.push(log);

  const serverModule = context.asAbsolutePath('dist/server.js');
  const serverOptions: ServerOptions = {
    run: { module: serverModule, transport: TransportKind.ipc },
    debug: { module: serverModule, transport: TransportKind.ipc, options: { execArgv: ['--nolazy', '--inspect=6019'] } },
  };
  const config = () => vscode.workspace.getConfiguration('containerd');
  const clientOptions: LanguageClientOptions = {
    // Files and unsaved editors only: the render preview and remote-config views are read-only
    // views of other files, and diagnostics on them would repeat the source's.
    documentSelector: [
      { language: LANGUAGE_ID, scheme: 'file' },
      { language: LANGUAGE_ID, scheme: 'untitled' },
      { language: KCL_ID, scheme: 'file' },
      { language: KCL_ID, scheme: 'untitled' },
    ],
    outputChannel: log,
    initializationOptions: {
      defaultRelease: config().get<string>('defaultRelease', 'auto'),
      // With the official KCL extension present, its language server reports KCL syntax errors.
      kclExtension: vscode.extensions.getExtension(KCL_EXTENSION_ID) !== undefined,
    },
    synchronize: { configurationSection: 'containerd' },
  };
  client = new LanguageClient('containerd', 'containerd Language Server', serverOptions, clientOptions);

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
    if (started || !client || !isOurs(doc)) return;
    started = client.start().then(() => refreshStatus(), (e: unknown) => log.error(`language server failed to start: ${String(e)}`));
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
  const api = registerHosts(context, () => (client?.isRunning() ? client : undefined));

  context.subscriptions.push({ dispose: () => void client?.stop() });
  for (const d of vscode.workspace.textDocuments) {
    claim(d);
    ensureStarted(d);
  }
  return api;
}

/** The Hosts view, the SSH pool (created on first use) and the deploy/host commands. */
function registerHosts(context: vscode.ExtensionContext, languageClient: () => LanguageClient | undefined): ExplorerApi {
  const sshLog = vscode.window.createOutputChannel('containerd SSH', { log: true });
  const deployLog = vscode.window.createOutputChannel('containerd Deploy', { log: true });
  context.subscriptions.push(sshLog, deployLog);
  let pool: SshPool | undefined;
  const getPool = (): SshPool => {
    if (!pool) {
      const cfg = vscode.workspace.getConfiguration('containerd.ssh');
      pool = createSshPool({
        credentials: new VsCodeCredentials(context.secrets, sshLog),
        knownHostsPath: cfg.get<string>('knownHostsFile') || undefined,
        log: (level, msg) => sshLog[level](msg),
      });
    }
    return pool;
  };
  context.subscriptions.push({ dispose: () => pool?.closeAll() });

  // The config the hosts should have: the workspace taskserv's rendered config.toml, if any.
  const expectedConfig = async (): Promise<string | undefined> => {
    const files = await vscode.workspace.findFiles('**/*.k', '**/node_modules/**', 50);
    for (const f of files) {
      const doc = await vscode.workspace.openTextDocument(f);
      if (!/:\s*Containerd\s*=/.test(doc.getText())) continue;
      const c = languageClient();
      if (!c) return undefined;
      const r = await c.sendRequest<RenderResult | null>(RENDER_REQUEST, { uri: doc.uri.toString() });
      return r?.files.find((x) => x.kind === 'config.toml')?.content;
    }
    return undefined;
  };
  const view = new HostsView(getPool, expectedConfig, sshLog);
  const loadHosts = (): void => {
    const cfg = vscode.workspace.getConfiguration('containerd');
    let fromSsh: HostConfig[] = [];
    try {
      fromSsh = loadSshConfig(cfg.get<string>('ssh.configFile') || undefined).hosts();
    } catch (e) {
      sshLog.warn(`cannot read the ssh config: ${e instanceof Error ? e.message : String(e)}`);
    }
    const { hosts, problems } = mergeInventory(cfg.get<SettingsHost[]>('hosts', []), fromSsh);
    for (const p of problems) sshLog.warn(p.message);
    view.setHosts(hosts);
  };
  loadHosts();
  const tree = vscode.window.createTreeView('containerd.hosts', { treeDataProvider: view, showCollapseAll: true });
  context.subscriptions.push(
    tree,
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('containerd.hosts') || e.affectsConfiguration('containerd.ssh')) {
        pool?.closeAll();
        pool = undefined;
        loadHosts();
      }
    }),
    // Probe hosts the first time the view is shown, not at activation.
    tree.onDidChangeVisibility((e) => {
      if (e.visible && view.allHosts().some((h) => !view.statusOf(h))) void view.refresh();
    }),
    vscode.commands.registerCommand('containerd.hosts.add', () => addHostToSettings()),
    vscode.commands.registerCommand('containerd.hosts.edit', () => vscode.commands.executeCommand('workbench.action.openSettingsJson', { revealSetting: { key: 'containerd.hosts' } })),
  );
  if (tree.visible) void view.refresh();
  new HostCommands(context, view, getPool, languageClient, deployLog).register();
  registerPreflight(context, { pool: getPool, hosts: () => view.allHosts(), client: languageClient });
  registerInstall(context, { pool: getPool, hosts: () => view.allHosts(), log: deployLog, client: languageClient, refresh: (hs) => void view.refresh(hs) });
  return { hostsView: view, explorer: registerExplorer(context, view, tree, getPool) };
}

export async function deactivate(): Promise<void> {
  await client?.stop();
  client = undefined;
}
