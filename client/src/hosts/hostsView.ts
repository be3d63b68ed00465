/**
 * The Hosts view: infra groups → hosts → their service (version, CRI conditions, access path,
 * socket, journal), config, backups and, from the container explorer (explorer/explorer.ts), their
 * containerd namespaces → pods → containers, containers outside pods, and images. State comes from
 * the probe and runtime cores; `contextValue` carries it so menus offer only what makes sense.
 */
import * as vscode from 'vscode';
import type { HostConfig, SshPool } from '../core/ssh/types';
import { groupHosts, hostKey, withDefaults } from '../core/hosts/inventory';
import { describeStatus, probeHost, unreachable, type HostStatus } from '../core/hosts/probe';
import { preflightBadge, preflightResults } from './preflightCommands';
import { listBackups } from '../core/deploy/operations';
import type { ContainerExplorer } from '../explorer/explorer';
import { serviceRows, type InfoRow, type NodeSpec } from '../explorer/model';
import { explorerItemId, infoItem, specItem } from '../explorer/explorerNodes';

export type Node =
  | { kind: 'group'; name: string; hosts: HostConfig[] }
  | { kind: 'host'; host: HostConfig }
  | { kind: 'service'; host: HostConfig }
  | { kind: 'config'; host: HostConfig }
  | { kind: 'backups'; host: HostConfig }
  | { kind: 'backup'; host: HostConfig; path: string }
  | { kind: 'message'; text: string; icon?: string; command?: vscode.Command; tooltip?: string }
  /** the explorer: namespaces, pods, containers, images, folders */
  | { kind: 'explorer'; host: HostConfig; spec: NodeSpec }
  /** a row of the Service item (version, CRI, condition, access path, socket) */
  | { kind: 'serviceInfo'; host: HostConfig; row: InfoRow }
  | { kind: 'journal'; host: HostConfig }
  /** the host's runtime could not be listed: the reason, with Retry */
  | { kind: 'explorerError'; host: HostConfig; text: string; connection: boolean };

export class HostsView implements vscode.TreeDataProvider<Node> {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private hosts: HostConfig[] = [];
  private readonly status = new Map<string, HostStatus>();
  private readonly probing = new Set<string>();
  private readonly nodes = new Map<string, Node>();

  private explorer: ContainerExplorer | undefined;

  constructor(private readonly pool: () => SshPool, private readonly expectedConfig: () => Promise<string | undefined>, private readonly log: vscode.LogOutputChannel) {
    preflightResults.onDidChange((hosts) => {
      for (const h of hosts) this.changed.fire(this.nodes.get(hostKey(h)));
    });
  }

  /** Adds the container explorer below each host. */
  attachExplorer(explorer: ContainerExplorer): vscode.Disposable {
    this.explorer = explorer;
    explorer.setHosts(this.hosts);
    const subs = [
      explorer.onDidChangeHost((h) => this.changed.fire(this.nodes.get(hostKey(h)))),
      explorer.onDidChangeAll(() => this.changed.fire(undefined)),
    ];
    return { dispose: () => subs.forEach((d) => d.dispose()) };
  }

  setHosts(hosts: HostConfig[]): void {
    this.hosts = hosts;
    this.explorer?.setHosts(hosts);
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
    this.explorer?.invalidate(hosts);
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
        return this.hostChildren(node.host);
      case 'service':
        return this.serviceChildren(node.host);
      case 'backups':
        return this.backups(node.host);
      case 'explorer':
        return (node.spec.children ?? []).map((spec) => ({ kind: 'explorer', host: node.host, spec }));
      default:
        return [];
    }
  }

  private async hostChildren(host: HostConfig): Promise<Node[]> {
    const service: Node = { kind: 'service', host };
    const config: Node = { kind: 'config', host };
    const backups: Node = { kind: 'backups', host };
    const ex = this.explorer;
    if (!ex) return [service, config, backups];
    if (!vscode.workspace.isTrusted) {
      return [service, config, backups, {
        kind: 'message', icon: 'shield',
        text: vscode.l10n.t('Trust this workspace to see the host\'s containers'),
        command: { command: 'workbench.trust.manage', title: vscode.l10n.t('Manage Workspace Trust') },
      }];
    }
    const s = await ex.ensureLoaded(host);
    if (s.error) {
      const error: Node = { kind: 'explorerError', host, text: s.error.message, connection: s.error.connection };
      return s.error.connection ? [error] : [service, config, backups, error];
    }
    const out: Node[] = [service, config, backups, ...s.nodes.map((spec): Node => ({ kind: 'explorer', host, spec }))];
    const f = ex.filter;
    if (f && !s.nodes.length) out.push({ kind: 'message', icon: 'filter', text: vscode.l10n.t('Nothing matches “{0}”', f.text) });
    for (const w of s.snapshot?.warnings ?? []) out.push({ kind: 'message', icon: 'warning', text: w, tooltip: w });
    return out;
  }

  private serviceChildren(host: HostConfig): Node[] {
    const rows = this.explorer && vscode.workspace.isTrusted ? this.explorer.peek(host)?.snapshot?.info : undefined;
    return [...(rows ? serviceRows(rows).map((row): Node => ({ kind: 'serviceInfo', host, row })) : []), { kind: 'journal', host }];
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
        const m = this.explorer?.filter ? this.explorer.matches(node.host) : undefined;
        if (m) item.description = `${item.description} · ${vscode.l10n.t('{0} match(es)', m.containers + m.pods + m.images)}`;
        item.contextValue = context;
        // the last preflight (from Run Preflight Checks or a deploy): noted when it found problems
        const pf = preflightBadge(preflightResults.get(node.host));
        if (pf && pf.icon !== 'pass') item.description = `${item.description} · ${pf.description}`;
        item.tooltip = new vscode.MarkdownString(`**${node.host.name}** — \`${hostKey(node.host)}\`${st?.error ? `\n\n${st.error}` : ''}${pf ? `\n\n${pf.tooltip}` : ''}`);
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
        const info = this.explorer?.peek(node.host)?.snapshot?.info;
        const item = new vscode.TreeItem(vscode.l10n.t('Service: {0}', withDefaults(node.host).service), vscode.TreeItemCollapsibleState.Collapsed);
        item.id = explorerItemId(node.host, 'service');
        item.description = [st?.service, info ? `containerd ${info.version}` : undefined].filter(Boolean).join(' · ');
        item.contextValue = `service.${st?.service ?? 'unknown'}`;
        item.iconPath = new vscode.ThemeIcon('gear');
        return item;
      }
      case 'serviceInfo':
        return infoItem(node.host, node.row);
      case 'journal': {
        const item = new vscode.TreeItem(vscode.l10n.t('Journal'), vscode.TreeItemCollapsibleState.None);
        item.id = explorerItemId(node.host, 'service/journal');
        item.description = `journalctl -u ${withDefaults(node.host).service}`;
        item.iconPath = new vscode.ThemeIcon('output');
        item.contextValue = 'journal';
        item.command = { command: 'containerd.hosts.journal', title: vscode.l10n.t('Follow containerd Journal'), arguments: [node] };
        return item;
      }
      case 'explorer':
        return specItem(node.host, node.spec);
      case 'explorerError': {
        const item = new vscode.TreeItem(
          node.connection ? vscode.l10n.t('Cannot connect: {0}', firstLine(node.text)) : vscode.l10n.t('Cannot list containers: {0}', firstLine(node.text)),
          vscode.TreeItemCollapsibleState.None,
        );
        item.id = explorerItemId(node.host, 'error');
        item.tooltip = new vscode.MarkdownString().appendText(node.text).appendMarkdown(`\n\n${vscode.l10n.t('Click to retry.')}`);
        item.iconPath = new vscode.ThemeIcon('error', new vscode.ThemeColor('errorForeground'));
        item.contextValue = 'explorerError';
        item.command = { command: 'containerd.explorer.retry', title: vscode.l10n.t('Retry'), arguments: [node] };
        return item;
      }
      case 'config': {
        const st = this.status.get(hostKey(node.host));
        const item = new vscode.TreeItem(withDefaults(node.host).configPath, vscode.TreeItemCollapsibleState.None);
        if (this.explorer) item.id = explorerItemId(node.host, 'config');
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
        item.iconPath = new vscode.ThemeIcon(node.icon ?? 'info', node.icon === 'warning' ? new vscode.ThemeColor('list.warningForeground') : undefined);
        item.command = node.command;
        item.tooltip = node.tooltip;
        item.contextValue = 'message';
        return item;
      }
    }
  }

  /** The parent of a node, for TreeView.reveal (explorer nodes are found again by their path). */
  getParent(node: Node): vscode.ProviderResult<Node> {
    if (node.kind === 'host') {
      const groups = groupHosts(this.hosts);
      if (groups.size === 1) return undefined;
      for (const [name, hosts] of groups) if (hosts.includes(node.host)) return { kind: 'group', name, hosts };
      return undefined;
    }
    if (node.kind === 'group' || node.kind === 'message') return undefined;
    const host = this.nodes.get(hostKey(node.host));
    if (node.kind === 'serviceInfo' || node.kind === 'journal') return { kind: 'service', host: node.host };
    if (node.kind === 'backup') return { kind: 'backups', host: node.host };
    if (node.kind === 'explorer') {
      const s = this.explorer?.peek(node.host);
      const parent = s ? findParent(s.nodes, node.spec.id) : undefined;
      if (parent) return { kind: 'explorer', host: node.host, spec: parent };
    }
    return host;
  }
}

function firstLine(s: string): string {
  const l = s.split('\n')[0].trim();
  return l.length > 120 ? `${l.slice(0, 117)}…` : l;
}

function findParent(nodes: readonly NodeSpec[], id: string, parent?: NodeSpec): NodeSpec | undefined {
  for (const n of nodes) {
    if (n.id === id) return parent;
    if (n.children) {
      const p = findParent(n.children, id, n);
      if (p) return p;
    }
  }
  return undefined;
}
