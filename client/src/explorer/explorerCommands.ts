/**
 * The container explorer's commands: inspect (JSON in a read-only editor), logs (the log viewer),
 * a shell (terminal over an SSH pty), start / stop / remove containers, stop / remove pods, pull /
 * remove / prune images, copy IDs, run a pod from JSON configs in the workspace, runtime info, the
 * filter and the grouping. Remote work goes through the runtime core (client/src/core/runtime);
 * destructive actions ask first (modal); nothing runs in an untrusted workspace.
 */
import * as vscode from 'vscode';
import type { HostConfig, SshPool } from '../core/ssh/types';
import { hostKey } from '../core/hosts/inventory';
import { checkId, checkNamespace, CRI_NAMESPACE, type ContainerInfo, type ImageInfo, type PodInfo, type RuntimeClient } from '../core/runtime';
import type { HostsView, Node } from '../hosts/hostsView';
import type { ContainerExplorer } from './explorer';
import { containerLabel, GROUP_BY, imageLabel, isImageRef, runtimeHandlers, shortId, type GroupBy } from './model';
import { openShellTerminal } from './execTerminal';
import { openLogView } from './logView';

export const INSPECT_SCHEME = 'containerd-inspect';
const MAX_DOCS = 50;

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export class ExplorerCommands implements vscode.TextDocumentContentProvider {
  private readonly docs = new Map<string, string>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly view: HostsView,
    private readonly explorer: ContainerExplorer,
    private readonly pool: () => SshPool,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  register(): void {
    const c = this.context;
    const reg = (id: string, fn: (...a: never[]) => unknown) => c.subscriptions.push(vscode.commands.registerCommand(id, fn as (...a: unknown[]) => unknown));
    c.subscriptions.push(vscode.workspace.registerTextDocumentContentProvider(INSPECT_SCHEME, this), this.changed);
    reg('containerd.explorer.filter', () => this.filter());
    reg('containerd.explorer.clearFilter', () => this.explorer.setFilter(undefined));
    reg('containerd.explorer.groupBy', (g?: GroupBy) => this.groupBy(g));
    reg('containerd.explorer.refresh', (n?: Node) => this.refresh(n));
    reg('containerd.explorer.retry', (n?: Node) => this.refresh(n));
    reg('containerd.explorer.inspect', (n?: Node) => this.inspect(n));
    reg('containerd.explorer.logs', (n?: Node) => this.logs(n));
    reg('containerd.explorer.exec', (n?: Node) => this.exec(n));
    reg('containerd.explorer.start', (n?: Node) => this.containerAction(n, 'start'));
    reg('containerd.explorer.stop', (n?: Node) => this.containerAction(n, 'stop'));
    reg('containerd.explorer.remove', (n?: Node) => this.containerAction(n, 'remove'));
    reg('containerd.explorer.stopPod', (n?: Node) => this.podAction(n, 'stop'));
    reg('containerd.explorer.removePod', (n?: Node) => this.podAction(n, 'remove'));
    reg('containerd.explorer.pullImage', (n?: Node, ref?: string) => this.pullImage(n, ref));
    reg('containerd.explorer.removeImage', (n?: Node) => this.removeImage(n));
    reg('containerd.explorer.pruneImages', (n?: Node) => this.pruneImages(n));
    reg('containerd.explorer.copyId', (n?: Node) => this.copyId(n));
    reg('containerd.explorer.runPod', (n?: Node) => this.runPod(n));
    reg('containerd.explorer.runtimeInfo', (n?: Node) => this.runtimeInfo(n));
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.docs.get(uri.toString()) ?? '';
  }

  // ---- helpers ---------------------------------------------------------------------------------

  private trusted(): boolean {
    if (vscode.workspace.isTrusted) return true;
    void vscode.window.showWarningMessage(vscode.l10n.t('Container actions are disabled in untrusted workspaces. Trust this workspace to act on hosts.'));
    return false;
  }

  private async pickHost(placeHolder: string): Promise<HostConfig | undefined> {
    const hosts = this.view.allHosts();
    if (hosts.length <= 1) {
      if (!hosts.length) void vscode.window.showInformationMessage(vscode.l10n.t('No hosts yet: add one in the containerd Hosts view.'));
      return hosts[0];
    }
    const pick = await vscode.window.showQuickPick(
      hosts.map((host) => ({ label: `$(server) ${host.name}`, description: hostKey(host), host })),
      { placeHolder },
    );
    return pick?.host;
  }

  private async hostOf(n: Node | undefined, placeHolder: string): Promise<HostConfig | undefined> {
    if (n && 'host' in n && n.host) return n.host;
    return this.pickHost(placeHolder);
  }

  private client(host: HostConfig): Promise<RuntimeClient> {
    return this.explorer.client(host);
  }

  /** Run `fn` with a notification (cancellable), report a failure, reload the host either way. */
  private async act<T>(host: HostConfig, title: string, fn: (signal: AbortSignal, progress: vscode.Progress<{ message?: string }>) => Promise<T>): Promise<T | undefined> {
    try {
      return await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, async (progress, token) => {
        const abort = new AbortController();
        const sub = token.onCancellationRequested(() => abort.abort());
        try {
          return await fn(abort.signal, progress);
        } finally {
          sub.dispose();
        }
      });
    } catch (e) {
      this.log.error(`${host.name}: ${title}: ${messageOf(e)}`);
      void vscode.window.showErrorMessage(`${title}: ${messageOf(e)}`);
      return undefined;
    } finally {
      void this.explorer.reload(host);
    }
  }

  private async confirm(message: string, detail: string, action: string): Promise<boolean> {
    return (await vscode.window.showWarningMessage(message, { modal: true, detail }, action)) === action;
  }

  private async showJson(host: HostConfig, kind: string, name: string, value: unknown): Promise<void> {
    const safe = name.replace(/[^\w.:@-]+/g, '_').slice(0, 80);
    const uri = vscode.Uri.from({ scheme: INSPECT_SCHEME, path: `/${host.name.replace(/[/\\]/g, '_')}/${kind}/${safe}.json`, query: hostKey(host) });
    this.docs.delete(uri.toString());
    this.docs.set(uri.toString(), JSON.stringify(value, null, 2) + '\n');
    while (this.docs.size > MAX_DOCS) this.docs.delete(this.docs.keys().next().value as string);
    this.changed.fire(uri);
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.languages.setTextDocumentLanguage(doc, 'json').then(undefined, () => undefined);
    await vscode.window.showTextDocument(doc, { preview: true });
  }

  // ---- view ------------------------------------------------------------------------------------

  private async filter(): Promise<void> {
    const value = await vscode.window.showInputBox({
      title: vscode.l10n.t('Filter containers, pods and images (every host)'),
      value: this.explorer.filter?.text ?? '',
      prompt: vscode.l10n.t('Words match names, images, states, runtimes, namespaces, IDs; narrow with state:, ns:, pod:, image:, runtime:, id:. Empty clears the filter.'),
      placeHolder: 'busybox state:running ns:k8s.io',
    });
    if (value === undefined) return;
    await this.explorer.setFilter(value);
  }

  private async groupBy(g?: GroupBy): Promise<void> {
    if (g && !GROUP_BY.includes(g)) g = undefined;
    if (!g) {
      const labels: Record<GroupBy, string> = {
        namespace: vscode.l10n.t('Namespace → pod → container'),
        pod: vscode.l10n.t('Pod (all namespaces)'),
        runtime: vscode.l10n.t('Runtime handler (runc, crun, youki, …)'),
      };
      const pick = await vscode.window.showQuickPick(
        GROUP_BY.map((value) => ({ label: labels[value], description: value === this.explorer.groupBy ? vscode.l10n.t('current') : undefined, value })),
        { placeHolder: vscode.l10n.t('Group the containers of each host by') },
      );
      g = pick?.value;
    }
    if (g) await this.explorer.setGroupBy(g);
  }

  private async refresh(n?: Node): Promise<void> {
    if (!this.trusted()) return;
    const host = await this.hostOf(n, vscode.l10n.t('Reload the containers of which host?'));
    if (host) await this.explorer.reload(host, { reconnect: n?.kind === 'explorerError' });
  }

  // ---- inspect, logs, shell ----------------------------------------------------------------------

  private async inspect(n?: Node): Promise<void> {
    if (!this.trusted() || n?.kind !== 'explorer') return;
    const { host, spec } = n;
    try {
      const client = await this.client(host);
      if (spec.container) {
        checkId(spec.container.id, 'container ID');
        await this.showJson(host, 'containers', containerLabel(spec.container), await client.inspectContainer(spec.container.namespace, spec.container.id));
      } else if (spec.pod) {
        checkId(spec.pod.id, 'pod ID');
        await this.showJson(host, 'pods', spec.pod.name || spec.pod.id, await client.inspectPod(spec.pod.id));
      } else if (spec.image) {
        await this.showJson(host, 'images', imageLabel(spec.image), await client.inspectImage(spec.image.namespace, imageRef(spec.image)));
      }
    } catch (e) {
      void vscode.window.showErrorMessage(vscode.l10n.t('Cannot inspect {0}: {1}', spec.label, messageOf(e)));
    }
  }

  private async logs(n?: Node): Promise<void> {
    if (!this.trusted() || n?.kind !== 'explorer' || !n.spec.container) return;
    const c = n.spec.container;
    try {
      const conn = await this.pool().get(n.host);
      const host = n.host;
      await openLogView({
        context: this.context, host, conn, container: c, pod: n.spec.pod, log: this.log,
        connect: () => this.pool().get(host),
        client: () => this.client(host),
      });
    } catch (e) {
      void vscode.window.showErrorMessage(vscode.l10n.t('Cannot show the logs of {0}: {1}', containerLabel(c), messageOf(e)));
    }
  }

  private async exec(n?: Node): Promise<void> {
    if (!this.trusted() || n?.kind !== 'explorer' || !n.spec.container) return;
    const c = n.spec.container;
    try {
      checkId(c.id, 'container ID');
      const client = await this.client(n.host);
      const { argv, sudo } = await client.shellArgv(c.namespace, c.id);
      const conn = await this.pool().get(n.host);
      openShellTerminal({ conn, argv, sudo, title: `${containerLabel(c)} @ ${n.host.name}` });
    } catch (e) {
      void vscode.window.showErrorMessage(vscode.l10n.t('Cannot open a shell in {0}: {1}', containerLabel(c), messageOf(e)));
    }
  }

  // ---- containers and pods -------------------------------------------------------------------------

  private async containerAction(n: Node | undefined, action: 'start' | 'stop' | 'remove'): Promise<void> {
    if (!this.trusted() || n?.kind !== 'explorer' || !n.spec.container) return;
    const { host } = n;
    const c: ContainerInfo = n.spec.container;
    const name = containerLabel(c);
    checkId(c.id, 'container ID');
    checkNamespace(c.namespace);
    if (action === 'remove') {
      const ok = await this.confirm(
        vscode.l10n.t('Remove container {0} on {1}?', name, host.name),
        vscode.l10n.t('{0} in namespace {1}, {2}. Its writable layer is deleted.', shortId(c.id), c.namespace, c.state),
        vscode.l10n.t('Remove'),
      );
      if (!ok) return;
    }
    const titles = {
      start: vscode.l10n.t('Starting {0} on {1}', name, host.name),
      stop: vscode.l10n.t('Stopping {0} on {1}', name, host.name),
      remove: vscode.l10n.t('Removing {0} on {1}', name, host.name),
    };
    await this.act(host, titles[action], async (signal) => {
      const client = await this.client(host);
      if (action === 'start') await client.startContainer(c.namespace, c.id, signal);
      else if (action === 'stop') await client.stopContainer(c.namespace, c.id, 10, signal);
      else await client.removeContainer(c.namespace, c.id, signal);
    });
  }

  private async podAction(n: Node | undefined, action: 'stop' | 'remove'): Promise<void> {
    if (!this.trusted() || n?.kind !== 'explorer' || !n.spec.pod || n.spec.kind !== 'pod') return;
    const { host } = n;
    const p: PodInfo = n.spec.pod;
    checkId(p.id, 'pod ID');
    const count = n.spec.children?.length ?? 0;
    const ok = await this.confirm(
      action === 'stop' ? vscode.l10n.t('Stop pod {0} on {1}?', p.name, host.name) : vscode.l10n.t('Remove pod {0} on {1}?', p.name, host.name),
      action === 'stop'
        ? vscode.l10n.t('Its {0} container(s) are stopped and its network is torn down.', count)
        : vscode.l10n.t('Its {0} container(s) are stopped and removed with it.', count),
      action === 'stop' ? vscode.l10n.t('Stop Pod') : vscode.l10n.t('Remove Pod'),
    );
    if (!ok) return;
    await this.act(host, action === 'stop' ? vscode.l10n.t('Stopping pod {0}', p.name) : vscode.l10n.t('Removing pod {0}', p.name), async (signal) => {
      const client = await this.client(host);
      if (action === 'stop') await client.stopPod(p.id, signal);
      else await client.removePod(p.id, signal);
    });
  }

  private copyId(n?: Node): void {
    if (n?.kind !== 'explorer') return;
    const id = n.spec.container?.id ?? n.spec.pod?.id ?? n.spec.image?.id;
    if (id) void vscode.env.clipboard.writeText(id).then(() => vscode.window.setStatusBarMessage(vscode.l10n.t('Copied {0}', shortId(id)), 3000));
  }

  // ---- images --------------------------------------------------------------------------------------

  private async pullImage(n?: Node, given?: string): Promise<string | undefined> {
    if (!this.trusted()) return undefined;
    const host = await this.hostOf(n, vscode.l10n.t('Pull the image on which host?'));
    if (!host) return undefined;
    const ref = given ?? (await vscode.window.showInputBox({
      title: vscode.l10n.t('Pull an image on {0} (CRI, namespace k8s.io)', host.name),
      prompt: vscode.l10n.t('The host pulls it itself, through its own registry configuration (mirrors, certs.d).'),
      placeHolder: 'docker.io/library/busybox:latest',
      validateInput: (v) => (isImageRef(v.trim()) ? undefined : vscode.l10n.t('Not an image reference (registry/name:tag or @sha256:digest, lower case)')),
    }))?.trim();
    if (!ref) return undefined;
    if (!isImageRef(ref)) {
      void vscode.window.showErrorMessage(vscode.l10n.t('Not an image reference: {0}', ref));
      return undefined;
    }
    return this.act(host, vscode.l10n.t('Pulling {0} on {1}', ref, host.name), async (signal, progress) => {
      const client = await this.client(host);
      const id = await client.pullImage(ref, { signal, onProgress: (p) => progress.report({ message: p.message }) });
      void vscode.window.showInformationMessage(vscode.l10n.t('Pulled {0} on {1} ({2}).', ref, host.name, shortId(id.replace(/^sha256:/, ''))));
      return id;
    });
  }

  private async removeImage(n?: Node): Promise<void> {
    if (!this.trusted() || n?.kind !== 'explorer' || !n.spec.image) return;
    const { host } = n;
    const img: ImageInfo = n.spec.image;
    checkNamespace(img.namespace);
    const ok = await this.confirm(
      vscode.l10n.t('Remove image {0} from {1}?', imageLabel(img), host.name),
      [vscode.l10n.t('Namespace {0}, {1}.', img.namespace, img.id), img.repoTags.length > 1 ? vscode.l10n.t('Every tag of it goes: {0}', img.repoTags.join(', ')) : '']
        .filter(Boolean)
        .join('\n'),
      vscode.l10n.t('Remove'),
    );
    if (!ok) return;
    await this.act(host, vscode.l10n.t('Removing {0}', imageLabel(img)), async (signal) => {
      const client = await this.client(host);
      for (const name of imageNames(img)) await client.removeImage(img.namespace, name, signal);
    });
  }

  private async pruneImages(n?: Node): Promise<void> {
    if (!this.trusted()) return;
    const host = await this.hostOf(n, vscode.l10n.t('Prune the images of which host?'));
    if (!host) return;
    let namespace = n?.kind === 'explorer' ? n.spec.namespace : undefined;
    if (!namespace) {
      const loaded = this.explorer.peek(host)?.snapshot?.namespaces.map((x) => x.name);
      const names = loaded ?? (await (await this.client(host)).namespaces().catch(() => [CRI_NAMESPACE]));
      namespace = names.length === 1 ? names[0] : (await vscode.window.showQuickPick(names, { placeHolder: vscode.l10n.t('Prune unused images in which namespace?') }));
      if (!namespace) return;
    }
    checkNamespace(namespace);
    const ok = await this.confirm(
      vscode.l10n.t('Remove every image in namespace {0} on {1} that no container uses?', namespace, host.name),
      vscode.l10n.t('Like `crictl rmi --prune`. Images are pulled again when something needs them.'),
      vscode.l10n.t('Prune'),
    );
    if (!ok) return;
    const removed = await this.act(host, vscode.l10n.t('Pruning images in {0} on {1}', namespace, host.name), async (signal) =>
      (await this.client(host)).pruneImages(namespace!, signal),
    );
    if (removed) {
      for (const r of removed) this.log.info(`${host.name}: pruned ${r}`);
      void vscode.window.showInformationMessage(
        removed.length ? vscode.l10n.t('Removed {0} unused image(s) from {1}.', removed.length, host.name) : vscode.l10n.t('No unused images in {0} on {1}.', namespace, host.name),
      );
    }
  }

  // ---- run from configs, runtime info ------------------------------------------------------------------

  private async pickJson(kind: 'pod' | 'container', many: boolean): Promise<{ uri: vscode.Uri; value: unknown }[] | undefined> {
    const files = await vscode.workspace.findFiles('**/*.json', '{**/node_modules/**,**/.git/**}', 500);
    const re = kind === 'pod' ? /(pod|sandbox)[^/]*\.json$/i : /container[^/]*\.json$/i;
    const candidates = files.filter((f) => re.test(f.path)).sort((a, b) => a.path.localeCompare(b.path));
    type Item = vscode.QuickPickItem & { uri?: vscode.Uri };
    const items: Item[] = candidates.map((uri) => ({ label: `$(json) ${vscode.workspace.asRelativePath(uri)}`, uri }));
    const browse: Item = { label: `$(folder-opened) ${vscode.l10n.t('Browse…')}` };
    const placeHolder = kind === 'pod'
      ? vscode.l10n.t('Pod sandbox config (CRI PodSandboxConfig as JSON, like crictl runp takes)')
      : vscode.l10n.t('Container configs to create and start in the pod (CRI ContainerConfig as JSON); none for an empty pod');
    let uris: vscode.Uri[] = [];
    if (many) {
      const picks = await vscode.window.showQuickPick(items, { placeHolder, canPickMany: true });
      if (!picks) return undefined;
      uris = picks.map((p) => p.uri!).filter(Boolean);
    } else {
      const pick = await vscode.window.showQuickPick([...items, browse], { placeHolder });
      if (!pick) return undefined;
      if (pick.uri) uris = [pick.uri];
      else {
        const chosen = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { JSON: ['json'] }, openLabel: vscode.l10n.t('Use') });
        if (!chosen?.length) return undefined;
        uris = chosen;
      }
    }
    const out: { uri: vscode.Uri; value: unknown }[] = [];
    for (const uri of uris) {
      const text = new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (e) {
        throw new Error(vscode.l10n.t('{0} is not valid JSON: {1}', vscode.workspace.asRelativePath(uri), messageOf(e)));
      }
      const name = (value as { metadata?: { name?: unknown } } | null)?.metadata?.name;
      if (!value || typeof value !== 'object' || typeof name !== 'string' || !name) {
        throw new Error(vscode.l10n.t('{0} has no metadata.name: not a CRI {1} config', vscode.workspace.asRelativePath(uri), kind));
      }
      out.push({ uri, value });
    }
    return out;
  }

  private async runPod(n?: Node): Promise<void> {
    if (!this.trusted()) return;
    const host = await this.hostOf(n, vscode.l10n.t('Run the pod on which host?'));
    if (!host) return;
    try {
      const pod = (await this.pickJson('pod', false))?.[0];
      if (!pod) return;
      const containers = await this.pickJson('container', true);
      if (!containers) return;
      const client = await this.client(host);
      const handlers = runtimeHandlers((await client.info().catch(() => undefined))?.criInfo);
      let handler: string | undefined;
      if (handlers.length > 1) {
        const pick = await vscode.window.showQuickPick(
          handlers.map((h, i) => ({ label: h, description: i === 0 ? vscode.l10n.t('default') : undefined })),
          { placeHolder: vscode.l10n.t('Runtime handler for the pod') },
        );
        if (!pick) return;
        handler = pick.description ? undefined : pick.label;
      }
      const podName = (pod.value as { metadata: { name: string } }).metadata.name;
      await this.act(host, vscode.l10n.t('Running pod {0} on {1}', podName, host.name), async (signal, progress) => {
        progress.report({ message: vscode.l10n.t('creating the pod sandbox') });
        const podId = await client.runPod(pod.value, handler, signal);
        for (const c of containers) {
          const cname = (c.value as { metadata: { name: string } }).metadata.name;
          progress.report({ message: vscode.l10n.t('creating {0}', cname) });
          const id = await client.createContainer(podId, c.value, pod.value, signal);
          progress.report({ message: vscode.l10n.t('starting {0}', cname) });
          await client.startContainer(CRI_NAMESPACE, id, signal);
        }
        void vscode.window.showInformationMessage(vscode.l10n.t('Pod {0} runs on {1} ({2}) with {3} container(s).', podName, host.name, shortId(podId), containers.length));
      });
    } catch (e) {
      void vscode.window.showErrorMessage(messageOf(e));
    }
  }

  private async runtimeInfo(n?: Node): Promise<void> {
    if (!this.trusted()) return;
    const host = await this.hostOf(n, vscode.l10n.t('Show the runtime of which host?'));
    if (!host) return;
    try {
      const info = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: vscode.l10n.t('Reading the runtime info of {0}', host.name) }, async () =>
        (await this.client(host)).info(),
      );
      await this.showJson(host, 'runtime', 'info', info);
    } catch (e) {
      void vscode.window.showErrorMessage(vscode.l10n.t('Cannot read the runtime info of {0}: {1}', host.name, messageOf(e)));
    }
  }
}

/**
 * The names to act on an image by: in k8s.io its id (CRI resolves it, and removing it removes every
 * tag); elsewhere containerd keeps one record per name, so each tag / digest name.
 */
function imageNames(i: ImageInfo): string[] {
  if (i.namespace === CRI_NAMESPACE) return [i.id];
  const names = [...i.repoTags, ...i.repoDigests];
  return names.length ? names : [i.id];
}

const imageRef = (i: ImageInfo): string => imageNames(i)[0];
