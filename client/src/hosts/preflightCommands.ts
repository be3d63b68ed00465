/**
 * "containerd: Run Preflight Checks" on a host or group of the Hosts view (or from the palette):
 * runs client/src/core/preflight against the config in the active editor (a taskserv is
 * rendered by the language server) or, without one, each host's current config, and shows the
 * results as a markdown preview plus the "containerd Preflight" output channel.
 * The last report per host is kept in `preflightResults` (also fed by deploys) for the Hosts tree.
 * All remote work is in the core; this file only talks to VS Code.
 */
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import type { HostConfig, SshPool } from '../core/ssh/types';
import { groupHosts, hostKey } from '../core/hosts/inventory';
import { formatMarkdown, formatReport, runPreflight, summarize, type PreflightInput, type PreflightReport } from '../core/preflight';
import { RENDER_REQUEST, type RenderResult } from '../../../server/src/render/types';

export const PREFLIGHT_COMMAND = 'containerd.hosts.preflight';
/** Internal (not in the palette): show given reports, e.g. the deploy's "Show Details". */
export const SHOW_PREFLIGHT_COMMAND = 'containerd.hosts.showPreflightReport';
const REPORT_SCHEME = 'containerd-preflight';

/** The last preflight report of each host (by hostKey), from the command or from a deploy. */
export class PreflightResults {
  private readonly reports = new Map<string, PreflightReport>();
  private readonly changed = new vscode.EventEmitter<HostConfig[]>();
  /** Fires with the hosts whose report changed (the tree refreshes their items). */
  readonly onDidChange = this.changed.event;

  get(host: HostConfig): PreflightReport | undefined {
    return this.reports.get(hostKey(host));
  }

  record(host: HostConfig, report: PreflightReport): void {
    this.reports.set(hostKey(host), report);
    this.changed.fire([host]);
  }

  dispose(): void {
    this.changed.dispose();
  }
}

export const preflightResults = new PreflightResults();

/** What the tree can show for a host: a codicon, a short description and a tooltip (markdown). */
export function preflightBadge(report: PreflightReport | undefined): { icon: string; description: string; tooltip: string } | undefined {
  if (!report) return undefined;
  const icon = report.status === 'fail' ? 'error' : report.status === 'warn' ? 'warning' : 'pass';
  const bad = report.checks.filter((c) => c.status !== 'pass');
  return {
    icon,
    description: report.status === 'pass' ? vscode.l10n.t('preflight ok') : report.status === 'warn' ? vscode.l10n.t('preflight: {0} warning(s)', bad.length) : vscode.l10n.t('preflight failed'),
    tooltip: [`**${vscode.l10n.t('Preflight')}** (${summarize(report)}, ${new Date(report.at).toLocaleString()})`, '', ...bad.map((c) => `- ${c.status === 'fail' ? '✖' : '⚠'} ${c.title}: ${c.message}`)].join('\n'),
  };
}

export interface PreflightDeps {
  pool: () => SshPool;
  /** Every host of the view (for the palette's pick). */
  hosts: () => HostConfig[];
  /** The language client (renders a taskserv in the active editor). */
  client: () => LanguageClient | undefined;
  /** Refresh these hosts' tree items (optional). */
  refresh?: (hosts: HostConfig[]) => void;
}

type Target = { kind: 'host'; host: HostConfig } | { kind: 'group'; name: string; hosts: HostConfig[] };

class ReportProvider implements vscode.TextDocumentContentProvider {
  readonly texts = new Map<string, string>();
  readonly emitter = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.emitter.event;
  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.toString()) ?? '';
  }
}

/**
 * Register the command and the report view. Call once from activate():
 *   registerPreflight(context, { pool: getPool, hosts: () => view.allHosts(), client: languageClient, refresh: (h) => void view.refresh(h) });
 */
export function registerPreflight(context: vscode.ExtensionContext, deps: PreflightDeps): PreflightResults {
  const channel = vscode.window.createOutputChannel(vscode.l10n.t('containerd Preflight'));
  const provider = new ReportProvider();
  let seq = 0;
  const show = async (reports: PreflightReport[], source?: string): Promise<void> => {
    channel.appendLine(`--- ${new Date().toLocaleString()}${source ? ` — ${source}` : ''}`);
    for (const r of reports) channel.appendLine(formatReport(r));
    const uri = vscode.Uri.from({ scheme: REPORT_SCHEME, path: `/preflight-${++seq}.md` });
    provider.texts.set(uri.toString(), formatMarkdown(reports));
    provider.emitter.fire(uri);
    try {
      await vscode.commands.executeCommand('markdown.showPreview', uri);
    } catch {
      const doc = await vscode.workspace.openTextDocument(uri);
      await vscode.window.showTextDocument(doc, { preview: true });
    }
  };
  context.subscriptions.push(
    vscode.commands.registerCommand(SHOW_PREFLIGHT_COMMAND, (reports: PreflightReport[]) => show(reports)),
    channel,
    provider.emitter,
    preflightResults,
    vscode.workspace.registerTextDocumentContentProvider(REPORT_SCHEME, provider),
    preflightResults.onDidChange((hosts) => deps.refresh?.(hosts)),
    vscode.commands.registerCommand(PREFLIGHT_COMMAND, async (n?: { kind?: string; name?: string; hosts?: HostConfig[]; host?: HostConfig }) => {
      if (!vscode.workspace.isTrusted) {
        void vscode.window.showWarningMessage(vscode.l10n.t('Remote actions are disabled in untrusted workspaces. Trust this workspace to run preflight checks on hosts.'));
        return undefined;
      }
      const target = targetOf(n) ?? (await pickTarget(deps.hosts()));
      if (!target) return undefined;
      const hosts = target.kind === 'host' ? [target.host] : target.hosts;
      const planned = await inputFromEditor(deps.client);
      if (planned === null) return undefined;
      const reports = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Preflight checks'), cancellable: true },
        async (progress, token) => {
          const abort = new AbortController();
          token.onCancellationRequested(() => abort.abort());
          const out: PreflightReport[] = new Array(hosts.length);
          let next = 0;
          const worker = async () => {
            for (let i = next++; i < hosts.length; i = next++) {
              const h = hosts[i];
              progress.report({ message: h.name });
              try {
                out[i] = await runPreflight(await deps.pool().get(h, abort.signal), planned ?? {}, { signal: abort.signal });
              } catch (e) {
                if (abort.signal.aborted) throw e;
                out[i] = {
                  host: h.name,
                  ok: false,
                  status: 'fail',
                  checks: [{ id: 'containerd', title: vscode.l10n.t('connect'), status: 'fail', message: e instanceof Error ? e.message : String(e), fix: vscode.l10n.t('check the host, the user and the key') }],
                  ms: 0,
                  at: new Date().toISOString(),
                };
              }
              preflightResults.record(h, out[i]);
            }
          };
          await Promise.all(Array.from({ length: Math.min(4, hosts.length) }, worker));
          return out;
        },
      ).then(undefined, () => undefined);
      if (!reports) return undefined;
      await show(reports, planned?.configSource);
      const failed = reports.filter((r) => r.status === 'fail').length;
      const warned = reports.filter((r) => r.status === 'warn').length;
      const showOutput = vscode.l10n.t('Show Output');
      const msg = failed
        ? vscode.window.showErrorMessage(vscode.l10n.t('Preflight failed on {0} of {1} host(s).', failed, reports.length), showOutput)
        : warned
          ? vscode.window.showWarningMessage(vscode.l10n.t('Preflight passed with warnings on {0} of {1} host(s).', warned, reports.length), showOutput)
          : vscode.window.showInformationMessage(vscode.l10n.t('Preflight passed on {0} host(s).', reports.length), showOutput);
      void msg.then((p) => p === showOutput && channel.show(true));
      return reports;
    }),
  );
  return preflightResults;
}

function targetOf(n?: { kind?: string; name?: string; hosts?: HostConfig[]; host?: HostConfig }): Target | undefined {
  if (n?.kind === 'group' && n.hosts) return { kind: 'group', name: n.name ?? '', hosts: n.hosts };
  if (n?.host) return { kind: 'host', host: n.host };
  return undefined;
}

async function pickTarget(all: HostConfig[]): Promise<Target | undefined> {
  if (!all.length) {
    void vscode.window.showInformationMessage(vscode.l10n.t('No hosts yet: add one in the containerd Hosts view.'));
    return undefined;
  }
  const items: (vscode.QuickPickItem & { target: Target })[] = [];
  for (const [name, list] of groupHosts(all)) {
    if (list.length > 1) items.push({ label: `$(server-environment) ${name}`, description: vscode.l10n.t('group of {0} hosts', list.length), target: { kind: 'group', name, hosts: list } });
    for (const host of list) items.push({ label: `$(server) ${host.name}`, description: hostKey(host), target: { kind: 'host', host } });
  }
  return (await vscode.window.showQuickPick(items, { placeHolder: vscode.l10n.t('Run the preflight checks on (host or group)') }))?.target;
}

/**
 * The config in the active editor: a containerd config.toml as is, a taskserv rendered by the
 * language server. undefined: nothing to deploy is open (check the hosts' current configs);
 * null: the user was told why not (e.g. no taskserv value).
 */
async function inputFromEditor(client: () => LanguageClient | undefined): Promise<PreflightInput | undefined | null> {
  const doc = vscode.window.activeTextEditor?.document;
  if (!doc) return undefined;
  const label = vscode.workspace.asRelativePath(doc.uri);
  if (doc.languageId === 'containerd-toml') return { config: doc.getText(), configSource: label };
  if (doc.languageId !== 'KCL') return undefined;
  const c = client();
  const r = c ? await c.sendRequest<RenderResult | null>(RENDER_REQUEST, { uri: doc.uri.toString() }).then(undefined, () => null) : null;
  if (!r) return undefined; // a KCL file that is no taskserv: the hosts' own configs
  const config = r.files.find((f) => f.kind === 'config.toml');
  const crictl = r.files.find((f) => f.kind === 'crictl.yaml');
  return { config: config?.content, configSource: `${label} (rendered)`, crictl: crictl?.content, taskservRelease: r.release || undefined };
}
