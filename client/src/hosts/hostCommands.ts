/**
 * Commands of the Hosts view and the deploy flow in VS Code: pick what to deploy and where,
 * show the diff, run the deploy core with progress and cancellation, report per host.
 * All remote work is done by client/src/core; this file only talks to VS Code.
 */
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import type { HostConfig, SshPool } from '../core/ssh/types';
import { groupHosts, hostKey, withDefaults } from '../core/hosts/inventory';
import { deployGroup } from '../core/deploy/group';
import { journal, readRemoteConfig, rollbackTo, serviceAction } from '../core/deploy/operations';
import type { DeployPlan, DeployReport } from '../core/deploy/pipeline';
import { RENDER_REQUEST, type RenderResult } from '../../../server/src/render/types';
import type { HostsView, Node } from './hostsView';
import { formatChecks, type PreflightReport } from '../core/preflight';
import { SHOW_PREFLIGHT_COMMAND, preflightResults } from './preflightCommands';

export const REMOTE_SCHEME = 'containerd-remote';
const PLANNED_SCHEME = 'containerd-planned';

type Target = { kind: 'host'; host: HostConfig } | { kind: 'group'; name: string; hosts: HostConfig[] };

export class HostCommands implements vscode.TextDocumentContentProvider {
  private readonly contents = new Map<string, string>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private target: Target | undefined;
  /** The file the last deploy/diff was planned from: used while the active editor is one of our diff sides. */
  private lastSource: vscode.Uri | undefined;
  private readonly targetItem: vscode.StatusBarItem;
  private readonly journals = new Map<string, { channel: vscode.LogOutputChannel; abort: AbortController }>();

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly view: HostsView,
    private readonly pool: () => SshPool,
    private readonly client: () => LanguageClient | undefined,
    private readonly deployLog: vscode.LogOutputChannel,
  ) {
    this.targetItem = vscode.window.createStatusBarItem('containerd.deployTarget', vscode.StatusBarAlignment.Left, 10);
    this.targetItem.name = vscode.l10n.t('containerd deploy target');
    this.targetItem.command = 'containerd.hosts.selectTarget';
    this.updateTargetItem();
  }

  register(): void {
    const c = this.context;
    const reg = (id: string, fn: (...a: never[]) => unknown) => c.subscriptions.push(vscode.commands.registerCommand(id, fn as (...a: unknown[]) => unknown));
    c.subscriptions.push(vscode.workspace.registerTextDocumentContentProvider(REMOTE_SCHEME, this), vscode.workspace.registerTextDocumentContentProvider(PLANNED_SCHEME, this), this.targetItem, this.changed);
    reg('containerd.hosts.refresh', () => this.view.refresh());
    reg('containerd.hosts.selectTarget', () => this.selectTarget());
    reg('containerd.deploy', (n?: Node) => this.deploy(n));
    reg('containerd.hosts.showRemoteConfig', (n?: Node) => this.showRemoteConfig(n));
    reg('containerd.hosts.diffWithHost', (n?: Node) => this.diffWithHost(n));
    reg('containerd.hosts.rollback', (n?: Node) => this.rollback(n));
    reg('containerd.hosts.serviceStatus', (n?: Node) => this.service(n, 'status'));
    reg('containerd.hosts.serviceStart', (n?: Node) => this.service(n, 'start'));
    reg('containerd.hosts.serviceStop', (n?: Node) => this.service(n, 'stop'));
    reg('containerd.hosts.serviceRestart', (n?: Node) => this.service(n, 'restart'));
    reg('containerd.hosts.journal', (n?: Node) => this.journal(n));
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.contents.get(uri.toString()) ?? '';
  }

  private trusted(): boolean {
    if (vscode.workspace.isTrusted) return true;
    void vscode.window.showWarningMessage(vscode.l10n.t('Remote actions are disabled in untrusted workspaces. Trust this workspace to deploy or act on hosts.'));
    return false;
  }

  private updateTargetItem(): void {
    const t = this.target;
    this.targetItem.text = t ? `$(server) ${t.kind === 'host' ? t.host.name : `${t.name} (${t.hosts.length})`}` : `$(server) ${vscode.l10n.t('no deploy target')}`;
    this.targetItem.tooltip = vscode.l10n.t('Where containerd: Deploy… sends the config. Click to change.');
    this.targetItem.show();
  }

  private async selectTarget(): Promise<Target | undefined> {
    const hosts = this.view.allHosts();
    if (!hosts.length) {
      void vscode.window.showInformationMessage(vscode.l10n.t('No hosts yet: add one in the containerd Hosts view.'));
      return undefined;
    }
    const items: (vscode.QuickPickItem & { target: Target })[] = [];
    for (const [name, list] of groupHosts(hosts)) {
      if (list.length > 1) items.push({ label: `$(server-environment) ${name}`, description: vscode.l10n.t('group of {0} hosts', list.length), target: { kind: 'group', name, hosts: list } });
      for (const host of list) items.push({ label: `$(server) ${host.name}`, description: hostKey(host), target: { kind: 'host', host } });
    }
    const pick = await vscode.window.showQuickPick(items, { placeHolder: vscode.l10n.t('Deploy target (host or group)') });
    if (!pick) return undefined;
    this.target = pick.target;
    this.updateTargetItem();
    return pick.target;
  }

  private targetOf(n?: Node): Target | undefined {
    if (n?.kind === 'group') return { kind: 'group', name: n.name, hosts: n.hosts };
    if (n && 'host' in n) return { kind: 'host', host: n.host };
    return undefined;
  }

  private hostOf(n?: Node): HostConfig | undefined {
    return n && 'host' in n ? n.host : this.target?.kind === 'host' ? this.target.host : undefined;
  }

  /** What to deploy: the active taskserv (rendered by the language server) or config.toml. */
  private async plan(): Promise<{ plan: DeployPlan; label: string } | undefined> {
    let doc = vscode.window.activeTextEditor?.document;
    // After a cancelled confirmation the diff (host's config ↔ planned config.toml) is the active
    // editor: deploy what that diff was planned from, never the diff's own (virtual) sides.
    if (doc && (doc.uri.scheme === REMOTE_SCHEME || doc.uri.scheme === PLANNED_SCHEME)) {
      doc = this.lastSource ? await vscode.workspace.openTextDocument(this.lastSource).then((d) => d, () => undefined) : undefined;
    }
    if (!doc || (doc.languageId !== 'KCL' && doc.languageId !== 'containerd-toml')) {
      void vscode.window.showInformationMessage(vscode.l10n.t('Open the taskserv (.k) or config.toml to deploy, then run Deploy again.'));
      return undefined;
    }
    this.lastSource = doc.uri;
    if (doc.languageId === 'containerd-toml') {
      return { plan: { files: [{ path: '/etc/containerd/config.toml', content: doc.getText(), kind: 'config.toml' }] }, label: vscode.workspace.asRelativePath(doc.uri) };
    }
    const client = this.client();
    const result = client ? await client.sendRequest<RenderResult | null>(RENDER_REQUEST, { uri: doc.uri.toString() }) : null;
    if (!result) {
      void vscode.window.showErrorMessage(vscode.l10n.t('This file has no Containerd taskserv value to render.'));
      return undefined;
    }
    const errors = vscode.languages.getDiagnostics(doc.uri).filter((d) => d.severity === vscode.DiagnosticSeverity.Error);
    if (errors.length) {
      void vscode.window.showErrorMessage(vscode.l10n.t('Fix the {0} error(s) in the taskserv before deploying.', errors.length));
      return undefined;
    }
    return { plan: { files: result.files.map((f) => ({ path: f.path, content: f.content, kind: f.kind })), taskservRelease: result.release || undefined }, label: vscode.workspace.asRelativePath(doc.uri) };
  }

  async deploy(n?: Node): Promise<DeployReport[] | undefined> {
    if (!this.trusted()) return undefined;
    const target = this.targetOf(n) ?? this.target ?? (await this.selectTarget());
    if (!target) return undefined;
    const planned = await this.plan();
    if (!planned) return undefined;
    const hosts = target.kind === 'host' ? [target.host] : target.hosts;
    const cfg = vscode.workspace.getConfiguration('containerd.deploy');
    if (cfg.get<boolean>('confirm', true)) {
      const ok = await this.confirm(hosts, planned.plan, planned.label);
      if (!ok) return undefined;
    }
    const reports = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Deploying {0}', planned.label), cancellable: true },
      async (progress, token) => {
        const abort = new AbortController();
        token.onCancellationRequested(() => abort.abort());
        return deployGroup(hosts, this.pool(), planned.plan, {
          concurrency: cfg.get<number>('concurrency', 4),
          stopOnFirstFailure: cfg.get<boolean>('stopOnFirstFailure', false),
          keepBackups: cfg.get<number>('keepBackups', 5),
          // a failed preflight stops the host unless the user overrides it knowingly (a modal per host)
          preflight: 'run',
          onPreflightFailed: (host: HostConfig, pf: PreflightReport) => this.askPreflightOverride(host, pf),
          signal: abort.signal,
          onHostProgress: (host: HostConfig, stage: string, detail?: string) => {
            progress.report({ message: `${host.name}: ${stage}` });
            this.deployLog.info(`${host.name}: ${stage}${detail ? ` — ${detail}` : ''}`);
          },
        } as Parameters<typeof deployGroup>[3]);
      },
    );
    reports.forEach((r, i) => r.preflight && preflightResults.record(hosts[i], r.preflight));
    this.reportResults(reports);
    void this.view.refresh(hosts);
    return reports;
  }

  /** One modal at a time (group deploys run hosts in parallel). */
  private preflightQueue: Promise<unknown> = Promise.resolve();

  private askPreflightOverride(host: HostConfig, pf: PreflightReport): Promise<boolean> {
    preflightResults.record(host, pf);
    const ask = async (): Promise<boolean> => {
      const anyway = vscode.l10n.t('Deploy Anyway');
      const details = vscode.l10n.t('Show Details');
      const fails = formatChecks(pf.checks, { only: ['fail'] });
      const pick = await vscode.window.showWarningMessage(
        vscode.l10n.t('Preflight checks failed on {0}. Deploy anyway?', host.name),
        { modal: true, detail: `${fails.join('\n')}\n\n${vscode.l10n.t('Nothing has been uploaded yet. Deploying anyway may leave containerd unable to start (the deploy then rolls back).')}` },
        anyway,
        details,
      );
      if (pick === details) void vscode.commands.executeCommand(SHOW_PREFLIGHT_COMMAND, [pf]);
      if (pick === anyway) this.deployLog.warn(`${host.name}: preflight failed, deploying anyway (overridden by the user)`);
      return pick === anyway;
    };
    const p = this.preflightQueue.then(ask, ask);
    this.preflightQueue = p.catch(() => undefined);
    return p;
  }

  private reportResults(reports: DeployReport[]): void {
    const failed = reports.filter((r) => !r.ok);
    for (const r of reports) {
      const name = typeof r.host === 'string' ? r.host : (r.host as HostConfig).name;
      if (r.preflight && r.preflight.status !== 'pass') {
        const lines = formatChecks(r.preflight.checks, { only: ['fail', 'warn'] });
        this.deployLog.warn(`${name}: preflight${r.preflightOverridden ? ' (failures overridden)' : ''}\n  ${lines.join('\n  ')}`);
      }
      if (r.ok) this.deployLog.info(`${name}: deployed${r.backup ? ` (backup ${r.backup})` : ''}`);
      else this.deployLog.error(`${name}: ${r.error ?? 'failed'}${r.rolledBack ? ' — rolled back to the previous config' : ''}${r.rollbackError ? ` — rollback failed: ${r.rollbackError}` : ''}`);
    }
    if (!failed.length) void vscode.window.showInformationMessage(vscode.l10n.t('Deployed to {0} host(s).', reports.length));
    else {
      const show = vscode.l10n.t('Show Details');
      void vscode.window.showErrorMessage(vscode.l10n.t('Deploy failed on {0} of {1} host(s).', failed.length, reports.length), show).then((p) => p === show && this.deployLog.show());
    }
  }

  private async confirm(hosts: HostConfig[], plan: DeployPlan, label: string): Promise<boolean> {
    const first = hosts[0];
    const config = plan.files.find((f) => f.kind === 'config.toml');
    if (config) {
      let current = '';
      try {
        current = (await readRemoteConfig(await this.pool().get(first), withDefaults(first).configPath)) ?? '';
      } catch (e) {
        current = `# could not read the current config: ${e instanceof Error ? e.message : String(e)}\n`;
      }
      const left = vscode.Uri.from({ scheme: REMOTE_SCHEME, path: withDefaults(first).configPath, query: hostKey(first) });
      const right = vscode.Uri.from({ scheme: PLANNED_SCHEME, path: withDefaults(first).configPath, query: hostKey(first) });
      this.contents.set(left.toString(), current);
      this.contents.set(right.toString(), config.content);
      this.changed.fire(left);
      this.changed.fire(right);
      await vscode.commands.executeCommand('vscode.diff', left, right, vscode.l10n.t('{0}: current ↔ {1}', first.name, label), { preview: true });
    }
    const deploy = vscode.l10n.t('Deploy');
    const pick = await vscode.window.showWarningMessage(
      hosts.length === 1 ? vscode.l10n.t('Deploy {0} to {1}?', label, first.name) : vscode.l10n.t('Deploy {0} to {1} hosts?', label, hosts.length),
      { modal: true, detail: vscode.l10n.t('The host validates the new config with its own containerd first, keeps a backup, restarts containerd and rolls back if the health check fails.') },
      deploy,
    );
    return pick === deploy;
  }

  private async showRemoteConfig(n?: Node): Promise<void> {
    const host = this.hostOf(n);
    if (!host || !this.trusted()) return;
    const path = withDefaults(host).configPath;
    const text = await readRemoteConfig(await this.pool().get(host), path);
    const uri = vscode.Uri.from({ scheme: REMOTE_SCHEME, path, query: hostKey(host) });
    this.contents.set(uri.toString(), text ?? '');
    this.changed.fire(uri);
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.languages.setTextDocumentLanguage(doc, 'containerd-toml').then(undefined, () => undefined);
    await vscode.window.showTextDocument(doc, { preview: true });
  }

  private async diffWithHost(n?: Node): Promise<void> {
    const host = this.hostOf(n) ?? (await this.selectTarget().then((t) => (t?.kind === 'host' ? t.host : undefined)));
    if (!host || !this.trusted()) return;
    const planned = await this.plan();
    if (!planned) return;
    const config = planned.plan.files.find((f) => f.kind === 'config.toml');
    if (!config) return;
    const path = withDefaults(host).configPath;
    const left = vscode.Uri.from({ scheme: REMOTE_SCHEME, path, query: hostKey(host) });
    const right = vscode.Uri.from({ scheme: PLANNED_SCHEME, path, query: hostKey(host) });
    this.contents.set(left.toString(), (await readRemoteConfig(await this.pool().get(host), path)) ?? '');
    this.contents.set(right.toString(), config.content);
    this.changed.fire(left);
    this.changed.fire(right);
    await vscode.commands.executeCommand('vscode.diff', left, right, vscode.l10n.t('{0} ↔ {1}', host.name, planned.label));
  }

  private async rollback(n?: Node): Promise<void> {
    if (!n || n.kind !== 'backup' || !this.trusted()) return;
    const ok = vscode.l10n.t('Roll Back');
    const pick = await vscode.window.showWarningMessage(vscode.l10n.t('Restore {0} on {1} and restart containerd?', n.path, n.host.name), { modal: true }, ok);
    if (pick !== ok) return;
    const report = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Rolling back {0}', n.host.name), cancellable: true }, async (_p, token) => {
      const abort = new AbortController();
      token.onCancellationRequested(() => abort.abort());
      // a rollback restores a config that ran before: its preflight is reported, never in the way
      return rollbackTo(await this.pool().get(n.host), n.path, { signal: abort.signal, preflight: 'override' } as never);
    });
    this.reportResults([report as DeployReport]);
    void this.view.refresh([n.host]);
  }

  private async service(n: Node | undefined, action: 'status' | 'start' | 'stop' | 'restart'): Promise<void> {
    const host = this.hostOf(n);
    if (!host || !this.trusted()) return;
    if (action === 'stop') {
      const ok = vscode.l10n.t('Stop');
      if ((await vscode.window.showWarningMessage(vscode.l10n.t('Stop containerd on {0}? Running containers keep running, but nothing can be started or managed.', host.name), { modal: true }, ok)) !== ok) return;
    }
    const result = await serviceAction(await this.pool().get(host), action);
    const text = typeof result === 'string' ? result : JSON.stringify(result, null, 2);
    if (action === 'status') {
      const doc = await vscode.workspace.openTextDocument({ content: text, language: 'log' });
      await vscode.window.showTextDocument(doc, { preview: true });
    } else {
      this.deployLog.info(`${host.name}: systemctl ${action}: ${text}`);
    }
    void this.view.refresh([host]);
  }

  private async journal(n?: Node): Promise<void> {
    const host = this.hostOf(n);
    if (!host || !this.trusted()) return;
    const key = hostKey(host);
    const running = this.journals.get(key);
    if (running) {
      running.channel.show(true);
      return;
    }
    const channel = vscode.window.createOutputChannel(vscode.l10n.t('containerd journal: {0}', host.name), { log: true });
    const abort = new AbortController();
    this.journals.set(key, { channel, abort });
    this.context.subscriptions.push({ dispose: () => abort.abort() }, channel);
    channel.show(true);
    const write = (line: string): void => {
      if (/level=(error|fatal)|failed to load plugin/i.test(line)) channel.error(line);
      else if (/level=warn|Ignoring unknown key|deprecat/i.test(line)) channel.warn(line);
      else channel.info(line);
    };
    try {
      await journal(await this.pool().get(host), { lines: 200, follow: true, signal: abort.signal, onLine: write } as never);
    } catch (e) {
      if (!abort.signal.aborted) channel.error(e instanceof Error ? e.message : String(e));
    } finally {
      this.journals.delete(key);
    }
  }
}
