/**
 * "Install containerd…" / "Upgrade containerd…" in VS Code: pick hosts (or take the Hosts view's
 * host/group), the source (package manager, release tarball fetched by the host or uploaded from
 * here, a local file), the version (default: the active taskserv's), confirm, then run the install
 * core per host with progress and cancellation. The active taskserv (if any) is rendered by the
 * language server and deployed with the binaries. All remote work is in client/src/core/install.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import type { HostConfig, SshPool } from '../core/ssh/types';
import { groupHosts, hostKey } from '../core/hosts/inventory';
import { installGroup, summarize } from '../core/install/group';
import { installSettingsFromText, planFromSettings, type PlanOverrides, type TaskservInstallSettings } from '../core/install/taskserv';
import type { InstallPlan, InstallReport } from '../core/install/types';
import type { DeployPlan } from '../core/deploy/pipeline';
import { RENDER_REQUEST, type RenderResult } from '../../../server/src/render/types';

export interface InstallDeps {
  pool: () => SshPool;
  /** Every host the Hosts view knows (for the command palette). */
  hosts: () => HostConfig[];
  log: vscode.LogOutputChannel;
  client: () => LanguageClient | undefined;
  /** Probe these hosts again once done. */
  refresh?: (hosts: HostConfig[]) => void;
}

/** What the Hosts view passes to its item commands. */
type TargetNode = { kind: 'host'; host: HostConfig } | { kind: 'group'; name: string; hosts: HostConfig[] } | { kind: string; host?: HostConfig };

type SourcePick = vscode.QuickPickItem & { overrides: PlanOverrides | 'file' };

export function registerInstall(context: vscode.ExtensionContext, deps: InstallDeps): void {
  context.subscriptions.push(
    vscode.commands.registerCommand('containerd.hosts.install', (n?: TargetNode) => run(deps, 'install', n)),
    vscode.commands.registerCommand('containerd.hosts.upgrade', (n?: TargetNode) => run(deps, 'upgrade', n)),
  );
}

async function pickHosts(deps: InstallDeps, op: 'install' | 'upgrade'): Promise<HostConfig[] | undefined> {
  const all = deps.hosts();
  if (!all.length) {
    void vscode.window.showInformationMessage(vscode.l10n.t('No hosts yet: add one in the containerd Hosts view.'));
    return undefined;
  }
  const items: (vscode.QuickPickItem & { hosts: HostConfig[] })[] = [];
  for (const [name, list] of groupHosts(all)) {
    if (list.length > 1) items.push({ label: `$(server-environment) ${name}`, description: vscode.l10n.t('group of {0} hosts', list.length), hosts: list });
    for (const host of list) items.push({ label: `$(server) ${host.name}`, description: hostKey(host), hosts: [host] });
  }
  const pick = await vscode.window.showQuickPick(items, { placeHolder: op === 'install' ? vscode.l10n.t('Install containerd on (host or group)') : vscode.l10n.t('Upgrade containerd on (host or group)') });
  return pick?.hosts;
}

/** The active taskserv: its install settings and rendered files (by the language server). */
async function activeTaskserv(deps: InstallDeps): Promise<{ settings?: TaskservInstallSettings; deploy?: DeployPlan; label?: string; dir?: string }> {
  const doc = vscode.window.activeTextEditor?.document;
  if (!doc || !(doc.languageId === 'KCL' || /\.k$/i.test(doc.fileName))) return {};
  const settings = installSettingsFromText(doc.getText());
  if (!settings) return {};
  const errors = vscode.languages.getDiagnostics(doc.uri).filter((d) => d.severity === vscode.DiagnosticSeverity.Error);
  if (errors.length) throw new Error(vscode.l10n.t('Fix the {0} error(s) in the taskserv before installing with it.', errors.length));
  const client = deps.client();
  const result = client ? await client.sendRequest<RenderResult | null>(RENDER_REQUEST, { uri: doc.uri.toString() }) : null;
  return {
    settings,
    deploy: result ? { files: result.files.map((f) => ({ path: f.path, content: f.content, kind: f.kind })) } : undefined,
    label: vscode.workspace.asRelativePath(doc.uri),
    dir: doc.uri.scheme === 'file' ? path.dirname(doc.uri.fsPath) : undefined,
  };
}

async function pickSource(settings: TaskservInstallSettings | undefined): Promise<PlanOverrides | undefined> {
  const items: SourcePick[] = [
    { label: `$(package) ${vscode.l10n.t('Distribution package')}`, detail: vscode.l10n.t('apt or dnf on the host, version pinned; verified by the package manager'), overrides: { source: 'package' } },
    { label: `$(cloud-download) ${vscode.l10n.t('Release tarball, downloaded by the host')}`, detail: vscode.l10n.t('containerd-X.Y.Z-linux-ARCH.tar.gz and its .sha256sum, with curl or wget on the host'), overrides: { source: 'tarball', fetch: 'host' } },
    { label: `$(cloud-upload) ${vscode.l10n.t('Release tarball, downloaded here and uploaded')}`, detail: vscode.l10n.t('for hosts without internet access: checked here and again on the host'), overrides: { source: 'tarball', fetch: 'local' } },
    { label: `$(file) ${vscode.l10n.t('Local file…')}`, detail: vscode.l10n.t('a .deb, .rpm or release .tar.gz from this machine, uploaded over SFTP'), overrides: 'file' },
  ];
  const preferred = settings?.source === 'package' ? 0 : settings?.source === 'file' ? 3 : settings ? 1 : -1;
  if (preferred >= 0) items[preferred].description = vscode.l10n.t('(the taskserv\'s install.source)');
  const qp = await vscode.window.showQuickPick(preferred > 0 ? [items[preferred], ...items.filter((_, i) => i !== preferred)] : items, { placeHolder: vscode.l10n.t('Where does containerd come from?') });
  if (!qp) return undefined;
  if (qp.overrides !== 'file') return qp.overrides;
  const files = await vscode.window.showOpenDialog({
    canSelectMany: false,
    openLabel: vscode.l10n.t('Upload'),
    filters: { [vscode.l10n.t('containerd packages and archives')]: ['deb', 'rpm', 'gz', 'tgz'] },
  });
  if (!files?.length) return undefined;
  return { source: 'file', file: files[0].fsPath };
}

async function run(deps: InstallDeps, op: 'install' | 'upgrade', node?: TargetNode): Promise<InstallReport[] | undefined> {
  if (!vscode.workspace.isTrusted) {
    void vscode.window.showWarningMessage(vscode.l10n.t('Remote actions are disabled in untrusted workspaces. Trust this workspace to deploy or act on hosts.'));
    return undefined;
  }
  const hosts = node?.kind === 'group' && 'hosts' in node ? node.hosts : node?.kind === 'host' && node.host ? [node.host] : await pickHosts(deps, op);
  if (!hosts?.length) return undefined;
  let plan: InstallPlan;
  let label: string | undefined;
  try {
    const ts = await activeTaskserv(deps);
    label = ts.label;
    const overrides = await pickSource(ts.settings);
    if (!overrides) return undefined;
    if (overrides.source !== 'file') {
      const version = await vscode.window.showInputBox({
        prompt: vscode.l10n.t('containerd release to {0} (X.Y.Z)', op),
        value: ts.settings?.version ?? '',
        placeHolder: overrides.source === 'package' ? vscode.l10n.t('empty: the newest the host\'s package sources offer') : '2.0.4',
        validateInput: (v) => (v === '' && overrides.source === 'package') || /^\d+\.\d+\.\d+$/.test(v.trim()) ? undefined : vscode.l10n.t('A release such as 1.7.18'),
      });
      if (version === undefined) return undefined;
      overrides.version = version.trim() || undefined;
    }
    plan = planFromSettings(ts.settings, ts.deploy, overrides, (p) => (ts.dir ? path.resolve(ts.dir, p) : p));
    if (overrides.source === 'package' && !overrides.version) plan.version = undefined;
  } catch (e) {
    void vscode.window.showErrorMessage(e instanceof Error ? e.message : String(e));
    return undefined;
  }
  const what = plan.source.kind === 'file' ? path.basename(plan.source.path) : vscode.l10n.t('containerd {0}', plan.version ?? vscode.l10n.t('(newest)'));
  const names = hosts.length <= 3 ? hosts.map((h) => h.name).join(', ') : vscode.l10n.t('{0} hosts', hosts.length);
  const go = op === 'install' ? vscode.l10n.t('Install') : vscode.l10n.t('Upgrade');
  const pick = await vscode.window.showWarningMessage(
    op === 'install' ? vscode.l10n.t('Install {0} on {1}?', what, names) : vscode.l10n.t('Upgrade {1} to {0}?', what, names),
    {
      modal: true,
      detail:
        (op === 'install'
          ? vscode.l10n.t('Checksums are checked on the host before anything is unpacked. containerd is installed, enabled and started as a systemd service and health-checked.')
          : vscode.l10n.t('The previous binaries and config are backed up first and put back (containerd restarted on them) if the new version fails its health check.')) +
        (label && plan.deploy ? `\n${vscode.l10n.t('Then {0} is rendered and deployed.', label)}` : ''),
    },
    go,
  );
  if (pick !== go) return undefined;
  const reports = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: op === 'install' ? vscode.l10n.t('Installing containerd') : vscode.l10n.t('Upgrading containerd'), cancellable: true },
    async (progress, token) => {
      const abort = new AbortController();
      token.onCancellationRequested(() => {
        deps.log.warn('cancel requested: hosts stop at their next safe point (after it they finish or roll back)');
        abort.abort();
      });
      return installGroup(hosts, deps.pool(), plan, {
        operation: op,
        signal: abort.signal,
        onHostStep: (h, step, detail) => {
          progress.report({ message: `${h.name}: ${step}${detail && step !== 'deploy' ? ` — ${detail.slice(0, 80)}` : ''}` });
          deps.log.info(`${h.name}: ${step}${detail ? ` — ${detail}` : ''}`);
        },
        onHostDone: (_h, r) => {
          const line = summarize(r);
          if (r.ok) deps.log.info(line);
          else deps.log.error(line);
          for (const n of r.notes) deps.log.warn(`${r.host}: ${n}`);
          if (r.backup) deps.log.info(`${r.host}: previous files kept in ${r.backup}`);
        },
      });
    },
  );
  deps.refresh?.(hosts);
  const failed = reports.filter((r) => !r.ok);
  const show = vscode.l10n.t('Show Details');
  if (!failed.length) {
    void vscode.window.showInformationMessage(op === 'install' ? vscode.l10n.t('containerd installed on {0} host(s).', reports.length) : vscode.l10n.t('containerd upgraded on {0} host(s).', reports.length));
  } else {
    const rolled = failed.filter((r) => r.rolledBack).length;
    void vscode.window
      .showErrorMessage(
        vscode.l10n.t('{0} failed on {1} of {2} host(s){3}.', go, failed.length, reports.length, rolled ? vscode.l10n.t(' ({0} rolled back)', rolled) : ''),
        show,
      )
      .then((p) => p === show && deps.log.show());
  }
  return reports;
}
