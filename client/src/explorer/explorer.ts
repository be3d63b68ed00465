/**
 * The container explorer's state in VS Code: one session per host (its cached runtime client, the
 * last snapshot or the error, the built tree), the filter and the grouping, and the refresher that
 * decides when a host is reloaded. Each host loads on its own: a slow or dead host never holds up
 * another. The Hosts view (hosts/hostsView.ts) asks this for a host's children.
 */
import * as vscode from 'vscode';
import type { HostConfig, SshPool } from '../core/ssh/types';
import { SshError } from '../core/ssh/types';
import { hostKey, withDefaults } from '../core/hosts/inventory';
import { connectRuntime } from '../core/runtime';
import type { HostSnapshot, RuntimeClient } from '../core/runtime/types';
import { buildHostNodes, countMatches, GROUP_BY, parseFilter, type Filter, type GroupBy, type NodeSpec } from './model';
import { Refresher, type RefreshReason } from './refresher';

const FILTER_STATE = 'containerd.explorer.filter';
export const FILTERED_CONTEXT = 'containerd.explorer.filtered';
const LOAD_TIMEOUT_MS = 60_000;

export interface Session {
  host: HostConfig;
  key: string;
  client?: Promise<RuntimeClient>;
  snapshot?: HostSnapshot;
  /** why the last load failed; `connection`: SSH itself failed, so nothing else of the host works either */
  error?: { message: string; connection: boolean };
  nodes: NodeSpec[];
  loading?: Promise<void>;
  /** aborts loads and the client connect when the session is dropped */
  abort: AbortController;
  loads: number;
}

/** SSH-level failures: the host is down or refuses us, so the Service/Backups items cannot work either. */
function isConnectionError(e: unknown): boolean {
  return e instanceof SshError && ['unreachable', 'auth', 'timeout', 'host-key-changed', 'host-key-rejected', 'closed'].includes(e.kind);
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export class ContainerExplorer implements vscode.Disposable {
  private readonly sessions = new Map<string, Session>();
  private readonly hosts = new Map<string, HostConfig>();
  readonly refresher: Refresher;
  private filterValue: Filter | undefined;
  private groupByValue: GroupBy;
  private treeView: vscode.TreeView<unknown> | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  /** a host's subtree changed (the Hosts view fires its host item) */
  private readonly changedHost = new vscode.EventEmitter<HostConfig>();
  readonly onDidChangeHost = this.changedHost.event;
  /** the filter or the grouping changed: every host's subtree is rebuilt */
  private readonly changedAll = new vscode.EventEmitter<void>();
  readonly onDidChangeAll = this.changedAll.event;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly pool: () => SshPool,
    private readonly log: vscode.LogOutputChannel,
  ) {
    const cfg = vscode.workspace.getConfiguration('containerd.explorer');
    this.groupByValue = this.readGroupBy();
    this.filterValue = parseFilter(context.workspaceState.get<string>(FILTER_STATE));
    this.refresher = new Refresher(
      {
        subscribe: (key, onEvent, signal) => this.subscribe(key, onEvent, signal),
        refresh: (key, reason) => this.reloadKey(key, reason),
        onStreamEnded: (key, error) => {
          const s = this.sessions.get(key);
          if (s && (error === undefined || isConnectionError(error) || !(error instanceof Error))) this.dropClient(s);
        },
        log: (level, msg) => this.log[level](msg),
      },
      { pollMs: this.pollMs(cfg.get<number>('pollInterval', 30)) },
    );
    this.disposables.push(
      this.changedHost,
      this.changedAll,
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('containerd.explorer.groupBy')) {
          this.groupByValue = this.readGroupBy();
          this.rebuildAll();
        }
        if (e.affectsConfiguration('containerd.explorer.pollInterval')) {
          this.refresher.setPollInterval(this.pollMs(vscode.workspace.getConfiguration('containerd.explorer').get<number>('pollInterval', 30)));
        }
      }),
      vscode.workspace.onDidGrantWorkspaceTrust(() => this.changedAll.fire()),
    );
    void vscode.commands.executeCommand('setContext', FILTERED_CONTEXT, !!this.filterValue);
  }

  private pollMs(seconds: number | undefined): number {
    return typeof seconds === 'number' && seconds > 0 ? Math.max(5, seconds) * 1000 : 0;
  }

  private readGroupBy(): GroupBy {
    const g = vscode.workspace.getConfiguration('containerd.explorer').get<string>('groupBy', 'namespace');
    return (GROUP_BY as readonly string[]).includes(g) ? (g as GroupBy) : 'namespace';
  }

  /** The view the explorer lives in: visibility starts/stops the refresher; the filter shows in its description. */
  attach(tree: vscode.TreeView<unknown>): void {
    this.treeView = tree;
    this.refresher.setVisible(tree.visible);
    this.disposables.push(tree.onDidChangeVisibility((e) => this.refresher.setVisible(e.visible)));
    this.showFilter();
  }

  /** The Hosts view's TreeView (reveal/expand from scripts and tests). */
  get view(): vscode.TreeView<unknown> | undefined {
    return this.treeView;
  }

  get filter(): Filter | undefined {
    return this.filterValue;
  }

  get groupBy(): GroupBy {
    return this.groupByValue;
  }

  async setFilter(text: string | undefined): Promise<void> {
    this.filterValue = parseFilter(text);
    await this.context.workspaceState.update(FILTER_STATE, this.filterValue?.text);
    await vscode.commands.executeCommand('setContext', FILTERED_CONTEXT, !!this.filterValue);
    this.showFilter();
    this.rebuildAll();
  }

  async setGroupBy(g: GroupBy): Promise<void> {
    // the setting's change event rebuilds the tree
    await vscode.workspace.getConfiguration('containerd.explorer').update('groupBy', g, vscode.ConfigurationTarget.Global);
    if (this.groupByValue !== g) {
      this.groupByValue = g;
      this.rebuildAll();
    }
  }

  private showFilter(): void {
    if (!this.treeView) return;
    const f = this.filterValue;
    this.treeView.description = f ? vscode.l10n.t('filter: {0}', f.text) : undefined;
    this.treeView.message = f ? vscode.l10n.t('Showing the pods, containers and images that match “{0}” on every host.', f.text) : undefined;
  }

  private rebuildAll(): void {
    for (const s of this.sessions.values()) this.build(s);
    this.changedAll.fire();
  }

  private build(s: Session): void {
    s.nodes = s.snapshot ? buildHostNodes(s.snapshot, { groupBy: this.groupByValue, filter: this.filterValue }) : [];
  }

  /** How many things of a loaded host the filter lets through (undefined: not loaded). */
  matches(host: HostConfig): { containers: number; pods: number; images: number } | undefined {
    const s = this.sessions.get(hostKey(host));
    return s?.snapshot ? countMatches(s.snapshot, this.filterValue) : undefined;
  }

  session(host: HostConfig): Session {
    const key = hostKey(host);
    let s = this.sessions.get(key);
    if (!s || s.host !== host) {
      if (s) this.closeSession(s);
      s = { host, key, nodes: [], abort: new AbortController(), loads: 0 };
      this.sessions.set(key, s);
    }
    return s;
  }

  peek(host: HostConfig): Session | undefined {
    return this.sessions.get(hostKey(host));
  }

  /** The host's runtime client (cached; connected on first use over the pooled SSH connection). */
  client(host: HostConfig): Promise<RuntimeClient> {
    const s = this.session(host);
    if (!s.client) {
      const p = (async () => {
        const conn = await this.pool().get(host, s.abort.signal);
        return connectRuntime(conn, {
          socket: withDefaults(host).socket,
          signal: s.abort.signal,
          log: (level, msg) => this.log[level](`${host.name}: ${msg}`),
        });
      })();
      s.client = p;
      p.catch(() => {
        if (s.client === p) s.client = undefined;
      });
    }
    return s.client;
  }

  private dropClient(s: Session): void {
    const p = s.client;
    s.client = undefined;
    p?.then((c) => c.close(), () => undefined);
  }

  /** Load the host if it never was (the first expansion waits for this). */
  ensureLoaded(host: HostConfig): Promise<Session> {
    const s = this.session(host);
    this.refresher.setExpanded(s.key, true);
    if (s.snapshot || s.error) return Promise.resolve(s);
    return this.load(s).then(() => s);
  }

  /** Reload one host now (Retry, after an action, Refresh). */
  async reload(host: HostConfig, opts: { reconnect?: boolean } = {}): Promise<void> {
    const s = this.session(host);
    if (opts.reconnect) this.dropClient(s);
    await this.load(s);
    this.changedHost.fire(s.host);
  }

  /** Forget what is loaded for these hosts; expanded ones reload in the background. */
  invalidate(hosts: readonly HostConfig[]): void {
    for (const h of hosts) {
      const s = this.sessions.get(hostKey(h));
      if (!s) continue;
      if (this.refresher.isActive(s.key)) void this.reload(h);
      else {
        s.snapshot = undefined;
        s.error = undefined;
        s.nodes = [];
      }
    }
  }

  private async reloadKey(key: string, reason: RefreshReason): Promise<void> {
    const s = this.sessions.get(key);
    if (!s) return;
    this.log.debug(`explorer: reloading ${s.host.name} (${reason})`);
    await this.reload(s.host, { reconnect: reason === 'stream-ended' });
  }

  private load(s: Session): Promise<void> {
    if (s.loading) return s.loading;
    const p = (async () => {
      s.loads++;
      const signal = AbortSignal.any([s.abort.signal, AbortSignal.timeout(LOAD_TIMEOUT_MS)]);
      try {
        let snap: HostSnapshot;
        const cached = !!s.client;
        try {
          snap = await (await this.client(s.host)).snapshot(signal);
        } catch (e) {
          // a cached client may sit on a connection that dropped since (or a restarted containerd): reconnect once
          if (!cached || signal.aborted || (e as { kind?: string }).kind === 'invalid') throw e;
          this.log.info(`${s.host.name}: reconnecting after: ${message(e)}`);
          this.dropClient(s);
          snap = await (await this.client(s.host)).snapshot(signal);
        }
        s.snapshot = snap;
        s.error = undefined;
        for (const w of snap.warnings) this.log.warn(`${s.host.name}: ${w}`);
      } catch (e) {
        if (s.abort.signal.aborted) return;
        const timedOut = signal.aborted;
        this.log.warn(`${s.host.name}: cannot list containers: ${message(e)}`);
        s.snapshot = undefined;
        s.error = {
          message: timedOut ? vscode.l10n.t('no answer within {0} s', LOAD_TIMEOUT_MS / 1000) : message(e),
          connection: isConnectionError(e) || timedOut,
        };
        this.dropClient(s);
      }
      this.build(s);
    })().finally(() => {
      s.loading = undefined;
    });
    s.loading = p;
    return p;
  }

  private async subscribe(key: string, onEvent: () => void, signal: AbortSignal): Promise<void> {
    const host = this.sessions.get(key)?.host ?? this.hosts.get(key);
    if (!host) return;
    const s = this.session(host);
    const client = await this.client(s.host);
    await client.subscribe((e) => {
      this.log.trace(`${s.host.name}: event ${e.namespace} ${e.topic}`);
      onEvent();
    }, signal);
  }

  /** New inventory (or a new SSH pool): every cached client is on a connection that is gone. */
  setHosts(hosts: readonly HostConfig[]): void {
    this.hosts.clear();
    for (const h of hosts) this.hosts.set(hostKey(h), h);
    for (const [key, s] of [...this.sessions]) {
      this.closeSession(s);
      this.sessions.delete(key);
    }
    for (const key of this.refresher.keys()) {
      if (this.hosts.has(key)) this.refresher.restart(key);
      else this.refresher.remove(key);
    }
  }

  /** A host item was collapsed / expanded in the view. */
  setExpanded(host: HostConfig, expanded: boolean): void {
    this.refresher.setExpanded(hostKey(host), expanded);
  }

  /** Hosts inside a collapsed group are not watched (they stay "expanded" for when it opens again). */
  setGroupCollapsed(hosts: readonly HostConfig[], collapsed: boolean): void {
    for (const h of hosts) this.refresher.setSuspended(hostKey(h), collapsed);
  }

  private closeSession(s: Session): void {
    s.abort.abort();
    this.dropClient(s);
  }

  /** For tests and the output channel: what is being watched, how often hosts were loaded. */
  stats(): ReturnType<Refresher['stats']> & { loads: Record<string, number>; clients: string[] } {
    const loads: Record<string, number> = {};
    for (const [k, s] of this.sessions) loads[k] = s.loads;
    return { ...this.refresher.stats(), loads, clients: [...this.sessions].filter(([, s]) => s.client).map(([k]) => k) };
  }

  dispose(): void {
    this.refresher.dispose();
    for (const s of this.sessions.values()) this.closeSession(s);
    this.sessions.clear();
    for (const d of this.disposables) d.dispose();
  }
}
