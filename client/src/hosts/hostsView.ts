/**
 * The Hosts view: infra groups → hosts → their service, config and backups. State comes from
 * the probe core; `contextValue` carries it so menus offer only what makes sense.
 */
import * as vscode from 'vscode';
import type { HostConfig, SshPool } from '../core/ssh/types';
import { groupHosts, hostKey, withDefaults } from '../core/hosts/inventory';
import { describeStatus, probeHost, unreachable, type HostStatus } from '../core/hosts/probe';
import { listBackups } from '../core/deploy/operations';

export type Node =
  | { kind: 'group'; name: string; hosts: HostConfig[] }
  | { kind: 'host'; host: HostConfig }
  | { kind: 'service'; host: HostConfig }
  | { kind: 'config'; host: HostConfig }
  | { kind: 'backups'; host: HostConfig }
  | { kind: 'backup'; host: HostConfig; path: string }
  | { kind: 'message'; text: string; icon?: string };

export class HostsView implements vscode.TreeDataProvider<Node> {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private hosts: HostConfig[] = [];
  private readonly status = new Map<string, HostStatus>();
  private readonly probing = new Set<string>();
  private readonly nodes = new Map<string, Node>();

  constructor(private readonly pool: () => SshPool, private readonly expectedConfig: () => Promise<string | undefined>, private readonly log: vscode.LogOutputChannel) {}

  setHosts(hosts: HostConfig[]): void {
    this.hosts = hosts;
    this.changed.fire(undefined);
  }

  allHosts(): HostConfig[] {
    return this.hosts;
  }

  statusOf(h: HostConfig): HostStatus | undefined {
    return this.status.get(hostKey(h));
  }

  /** Probe every host (bounded concurrency); each finished probe refreshes only its own item. */
  async refresh(hosts = this.hosts): Promise<void> {
    const expected = await this.expectedConfig().catch(() => undefined);
    const queue = [...hosts];
    const worker = async (): Promise<void> => {
      for (let h = queue.shift(); h; h = queue.shift()) await this.probe(h, expected);
    };
    await Promise.all(Array.from({ length: Math.min(4, queue.length) }, worker));
  }

  private async probe(h: HostConfig, expected: string | undefined): Promise<void> {
    const key = hostKey(h);
    if (this.probing.has(key)) return;
    this.probing.add(key);
    try {
      const conn = await this.pool().get(h);
      this.status.set(key, await probeHost(conn, h, expected));
    } catch (e) {
      this.log.warn(`${h.name}: ${e instanceof Error ? e.message : String(e)}`);
      this.status.set(key, unreachable(e instanceof Error ? e.message : String(e)));
    } finally {
      this.probing.delete(key);
      this.changed.fire(this.nodes.get(key));
    }
  }

  getChildren(node?: Node): vscode.ProviderResult<Node[]> {
    if (!node) {
      const groups = groupHosts(this.hosts);
      if (groups.size === 1) return [...groups.values()][0].map((host) => this.hostNode(host));
      return [...groups.entries()].map(([name, hosts]) => ({ kind: 'group', name, hosts }));
    }
    switch (node.kind) {
      case 'group':
        return node.hosts.map((host) => this.hostNode(host));
      case 'host':
        return [{ kind: 'service', host: node.host }, { kind: 'config', host: node.host }, { kind: 'backups', host: node.host }];
      case 'backups':
        return this.backups(node.host);
      default:
        return [];
    }
  }

  private hostNode(host: HostConfig): Node {
    const key = hostKey(host);
    let n = this.nodes.get(key);
    if (!n || n.kind !== 'host' || n.host !== host) {
      n = { kind: 'host', host };
      this.nodes.set(key, n);
    }
    return n;
  }

  private async backups(host: HostConfig): Promise<Node[]> {
    try {
      const conn = await this.pool().get(host);
      const list = await listBackups(conn, withDefaults(host).configPath);
      if (!list.length) return [{ kind: 'message', text: vscode.l10n.t('No backups yet'), icon: 'info' }];
      return list.map((b) => ({ kind: 'backup', host, path: typeof b === 'string' ? b : (b as { path: string }).path }));
    } catch (e) {
      return [{ kind: 'message', text: e instanceof Error ? e.message : String(e), icon: 'error' }];
    }
  }

  getTreeItem(node: Node): vscode.TreeItem {
    switch (node.kind) {
      case 'group': {
        const item = new vscode.TreeItem(node.name, vscode.TreeItemCollapsibleState.Expanded);
        item.iconPath = new vscode.ThemeIcon('server-environment');
        item.contextValue = 'group';
        item.description = vscode.l10n.t('{0} hosts', node.hosts.length);
        return item;
      }
      case 'host': {
        const st = this.status.get(hostKey(node.host));
        const { description, context } = describeStatus(st);
        const item = new vscode.TreeItem(node.host.name, vscode.TreeItemCollapsibleState.Collapsed);
        item.id = `host:${hostKey(node.host)}`;
        item.description = this.probing.has(hostKey(node.host)) ? vscode.l10n.t('checking…') : description;
        item.contextValue = context;
        item.tooltip = new vscode.MarkdownString(`**${node.host.name}** — \`${hostKey(node.host)}\`${st?.error ? `\n\n${st.error}` : ''}`);
        item.iconPath = !st
          ? new vscode.ThemeIcon('server')
          : !st.reachable
            ? new vscode.ThemeIcon('debug-disconnect', new vscode.ThemeColor('errorForeground'))
            : st.service === 'active'
              ? new vscode.ThemeIcon(st.sync === 'drifted' ? 'server' : 'pass', new vscode.ThemeColor(st.sync === 'drifted' ? 'list.warningForeground' : 'testing.iconPassed'))
              : new vscode.ThemeIcon('error', new vscode.ThemeColor('errorForeground'));
        return item;
      }
      case 'service': {
        const st = this.status.get(hostKey(node.host));
        const item = new vscode.TreeItem(vscode.l10n.t('Service: {0}', withDefaults(node.host).service), vscode.TreeItemCollapsibleState.None);
        item.description = st?.service ?? '';
        item.contextValue = `service.${st?.service ?? 'unknown'}`;
        item.iconPath = new vscode.ThemeIcon('gear');
        item.command = { command: 'containerd.hosts.journal', title: vscode.l10n.t('Show Journal'), arguments: [node] };
        return item;
      }
      case 'config': {
        const st = this.status.get(hostKey(node.host));
        const item = new vscode.TreeItem(withDefaults(node.host).configPath, vscode.TreeItemCollapsibleState.None);
        item.description = st?.sync === 'in-sync' ? vscode.l10n.t('in sync') : st?.sync === 'drifted' ? vscode.l10n.t('drifted') : '';
        item.contextValue = 'config';
        item.iconPath = new vscode.ThemeIcon('file-code');
        item.command = { command: 'containerd.hosts.showRemoteConfig', title: vscode.l10n.t('Show Remote Config'), arguments: [node] };
        return item;
      }
      case 'backups': {
        const item = new vscode.TreeItem(vscode.l10n.t('Backups'), vscode.TreeItemCollapsibleState.Collapsed);
        item.contextValue = 'backups';
        item.iconPath = new vscode.ThemeIcon('history');
        return item;
      }
      case 'backup': {
        const item = new vscode.TreeItem(node.path.split('/').pop() ?? node.path, vscode.TreeItemCollapsibleState.None);
        item.contextValue = 'backup';
        item.tooltip = node.path;
        item.iconPath = new vscode.ThemeIcon('archive');
        return item;
      }
      case 'message': {
        const item = new vscode.TreeItem(node.text, vscode.TreeItemCollapsibleState.None);
        item.iconPath = new vscode.ThemeIcon(node.icon ?? 'info');
        return item;
      }
    }
  }
}
