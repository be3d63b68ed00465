/**
 * The remote half of the extension — SSH pool, Hosts view, deploy, preflight, install and the
 * container explorer — in its own bundle (dist/hosts.js). extension.ts loads it on first use (the
 * Hosts view shown, one of its commands run, or a containerd document active for a moment), so
 * that activation does not pay for ssh2, gRPC and the rest.
 */
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { createSshPool, loadSshConfig, type SshPool, type HostConfig } from './core/ssh';
import { mergeInventory, type SettingsHost } from './core/hosts/inventory';
import { VsCodeCredentials } from './hosts/credentials';
import { HostsView, type Node } from './hosts/hostsView';
import { HostCommands } from './hosts/hostCommands';
import { registerPreflight } from './hosts/preflightCommands';
import { addHostToSettings } from './hosts/addHost';
import { registerInstall } from './hosts/installCommands';
import { registerExplorer, type ExplorerApi } from './explorer/register';
import { RENDER_REQUEST, type RenderResult } from '../../server/src/render/types';

export type { ExplorerApi };

/** The Hosts view, the SSH pool (created on first use) and the deploy/host commands. */
export function activateHosts(
  context: vscode.ExtensionContext,
  languageClient: () => LanguageClient | undefined,
  tree: vscode.TreeView<Node>,
  setProvider: (p: vscode.TreeDataProvider<Node>) => void,
): ExplorerApi {
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
  setProvider(view);
  context.subscriptions.push(
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

