/**
 * The container log viewer: a webview panel per container, like the Kubernetes extension's: follow,
 * tail N, since, timestamps on/off, stdout/stderr/both, an include/exclude filter that also applies
 * to lines arriving later, find (the webview find widget), "Open as Text" (an untitled document),
 * kept alive across tab switches. Clear states for empty logs, stopped containers, containers
 * without a log file (outside CRI) and lost connections.
 *
 * All reading is done by client/src/core/runtime/logs.ts over the host's SSH connection; this file
 * only talks to VS Code and the webview. The webview gets no remote resources (CSP: nonce-only
 * script and style, nothing else), and log text only ever reaches its DOM as text nodes.
 */
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import type { HostConfig, HostConnection } from '../core/ssh/types';
import type { ContainerInfo, PodInfo, RuntimeClient } from '../core/runtime/types';
import { MAX_LINES, logViewHtml, type FromWebview, type LogViewSettings, type StatusKind, type ToWebview, type WireLine } from './logViewHtml';
import { LogError, formatLogLine, makeLineFilter, parseSince, readContainerLogs, type LogLine, type ReadLogsResult } from '../core/runtime/logs';

export type { LogViewSettings } from './logViewHtml';

export interface LogViewOptions {
  context: vscode.ExtensionContext;
  host: HostConfig;
  /** the host's pooled connection */
  conn: HostConnection;
  container: ContainerInfo;
  pod?: PodInfo;
  log?: vscode.LogOutputChannel;
  /** a fresh connection when the one above dropped (e.g. `() => pool.get(host)`); else Reload reuses `conn` */
  connect?: () => Promise<HostConnection>;
  /**
   * the host's runtime client: refreshes the container's state on each (re)load and ends a follow
   * when the container exits. Without it the state is the one given, and a follow runs until stopped.
   */
  client?: () => Promise<RuntimeClient>;
}

/** Longest line shown (characters); longer ones are cut and marked. */
const MAX_LINE_CHARS = 64 * 1024;
/** Lines are posted to the webview in batches at most this often while following. */
const BATCH_MS = 100;

const panels = new Map<string, LogPanel>();

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * Open (or reveal) the log viewer of `container` on `host`. Resolves once the panel is shown; the
 * logs load in it (errors such as "no log file" are shown in the panel, not thrown).
 */
export async function openLogView(o: LogViewOptions): Promise<void> {
  const key = `${o.host.user ?? ''}@${o.host.host}:${o.host.port ?? 22}/${o.container.namespace}/${o.container.id}`;
  const existing = panels.get(key);
  if (existing) {
    existing.reveal();
    return;
  }
  const p = new LogPanel(o, () => panels.delete(key));
  panels.set(key, p);
}

const wire = (l: LogLine): WireLine => {
  const w: WireLine = { t: l.time, m: l.message };
  if (l.stream === 'stderr') w.e = 1;
  if (l.incomplete) w.p = 1;
  if (l.truncated) w.x = 1;
  return w;
};

function defaultSettings(c: ContainerInfo): LogViewSettings {
  return { follow: c.state === 'running' || c.state === 'created', tail: 1000, since: '', timestamps: false, stream: 'both' };
}

function validSettings(s: unknown, fallback: LogViewSettings): LogViewSettings {
  const x = (s ?? {}) as Partial<LogViewSettings>;
  const tail = Number.isInteger(x.tail) && (x.tail as number) >= 0 ? Math.min(x.tail as number, MAX_LINES) : fallback.tail;
  const stream = x.stream === 'stdout' || x.stream === 'stderr' || x.stream === 'both' ? x.stream : fallback.stream;
  const since = typeof x.since === 'string' ? x.since.trim().slice(0, 64) : fallback.since;
  return { follow: x.follow === true, tail, since, timestamps: x.timestamps === true, stream };
}

class LogPanel {
  private readonly panel: vscode.WebviewPanel;
  private container: ContainerInfo;
  private conn: HostConnection;
  private settings: LogViewSettings;
  private filter = { include: '', exclude: '' };
  private lines: LogLine[] = [];
  private abort: AbortController | undefined;
  private generation = 0;
  private pending: WireLine[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private ready = false;
  private disposed = false;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(
    private readonly o: LogViewOptions,
    private readonly onDispose: () => void,
  ) {
    this.container = o.container;
    this.conn = o.conn;
    this.settings = defaultSettings(o.container);
    this.panel = vscode.window.createWebviewPanel(
      'containerd.logs',
      vscode.l10n.t('Logs: {0} @ {1}', this.label(), o.host.name),
      { viewColumn: vscode.ViewColumn.Active, preserveFocus: false },
      { enableScripts: true, enableFindWidget: true, retainContextWhenHidden: true, localResourceRoots: [] },
    );
    const nonce = randomBytes(18).toString('base64');
    this.panel.webview.html = logViewHtml(nonce, this.panel.webview.cspSource);
    this.subscriptions.push(
      this.panel.webview.onDidReceiveMessage((m: FromWebview) => this.onMessage(m)),
      this.panel.onDidDispose(() => this.dispose()),
    );
  }

  reveal(): void {
    this.panel.reveal();
  }

  private label(): string {
    return this.container.name || this.container.id.slice(0, 12);
  }

  private post(m: ToWebview): void {
    if (this.disposed) return;
    void this.panel.webview.postMessage(m);
  }

  private status(kind: StatusKind, text: string): void {
    this.post({ type: 'status', kind, text, canFollow: this.canFollow() });
  }

  private canFollow(): boolean {
    const s = this.container.state;
    return this.container.source === 'cri' && !!this.container.logPath && (s === 'running' || s === 'created' || s === 'unknown');
  }

  private onMessage(m: FromWebview): void {
    switch (m?.type) {
      case 'ready':
        this.ready = true;
        this.post({
          type: 'init',
          settings: this.settings,
          canFollow: this.canFollow(),
          title: this.label(),
          subtitle: `${this.o.host.name} · ${this.container.namespace}${this.o.pod ? ` · ${this.o.pod.name}` : ''} · ${this.container.id.slice(0, 12)}`,
          strings: webviewStrings(),
        });
        void this.load();
        return;
      case 'settings': {
        const next = validSettings(m.settings, this.settings);
        const reload = next.follow !== this.settings.follow || next.tail !== this.settings.tail || next.since !== this.settings.since || next.stream !== this.settings.stream;
        this.settings = next;
        if (reload) void this.load();
        return;
      }
      case 'filter':
        this.filter = { include: String(m.include ?? '').slice(0, 1000), exclude: String(m.exclude ?? '').slice(0, 1000) };
        return;
      case 'openText':
        void this.openText();
        return;
      case 'reload':
        void this.load(true);
        return;
    }
  }

  /** Refresh the container's state (and log path) from the runtime, when there is a client. */
  private async refreshContainer(): Promise<RuntimeClient | undefined> {
    if (!this.o.client) return undefined;
    try {
      const client = await this.o.client();
      const now = (await client.listContainers(this.container.namespace)).find((c) => c.id === this.container.id);
      if (now) this.container = now;
      else this.container = { ...this.container, state: 'unknown' };
      return client;
    } catch (e) {
      this.o.log?.warn(`logs ${this.label()}: cannot refresh the container's state: ${messageOf(e)}`);
      return undefined;
    }
  }

  /** (Re)start reading with the current settings. */
  private async load(reconnect = false): Promise<void> {
    if (!this.ready || this.disposed) return;
    this.abort?.abort();
    const ac = new AbortController();
    this.abort = ac;
    const gen = ++this.generation;
    this.lines = [];
    this.pending = [];
    this.post({ type: 'reset' });
    this.status('loading', vscode.l10n.t('Loading…'));
    if (reconnect && this.o.connect) {
      try {
        this.conn = await this.o.connect();
      } catch (e) {
        if (gen === this.generation) this.status('closed', vscode.l10n.t('Cannot connect to {0}: {1}', this.o.host.name, messageOf(e)));
        return;
      }
    }
    const client = await this.refreshContainer();
    if (gen !== this.generation) return;
    let since: Date | undefined;
    if (this.settings.since) {
      try {
        since = parseSince(this.settings.since);
      } catch (e) {
        this.status('error', vscode.l10n.t('Since: {0}', messageOf(e)));
        return;
      }
    }
    const c = this.container;
    const follow = this.settings.follow && this.canFollow();
    let history = 0;
    const onLines = (ls: LogLine[], phase: 'history' | 'live') => {
      if (gen !== this.generation) return;
      this.keep(ls);
      if (phase === 'history') {
        history = ls.length;
        this.flush();
        if (follow) this.status(ls.length ? 'following' : 'waiting', ls.length ? this.followingText() : vscode.l10n.t('No log lines yet: waiting for the container to write some…'));
      } else {
        if (history === 0) this.status('following', this.followingText());
        history += ls.length;
        this.scheduleFlush();
      }
    };
    let r: ReadLogsResult;
    try {
      r = await readContainerLogs(this.conn, c, {
        tail: this.settings.tail || MAX_LINES,
        since,
        stream: this.settings.stream,
        follow,
        signal: ac.signal,
        limit: MAX_LINES,
        maxLineChars: MAX_LINE_CHARS,
        onLines,
        until: client
          ? async () => {
              const now = (await client.listContainers(c.namespace, ac.signal)).find((x) => x.id === c.id);
              if (now) this.container = now;
              return !now || now.state === 'exited';
            }
          : undefined,
      });
    } catch (e) {
      if (gen !== this.generation || ac.signal.aborted) return;
      this.flush();
      if (e instanceof LogError && (e.kind === 'not-cri' || e.kind === 'no-file')) this.status('nolog', e.message);
      else if ((e as { kind?: string }).kind === 'closed' || (e as { kind?: string }).kind === 'unreachable')
        this.status('closed', vscode.l10n.t('The connection to {0} was lost: {1}. Reload to reconnect.', this.o.host.name, messageOf(e)));
      else this.status('error', vscode.l10n.t('Cannot read the logs: {0}', messageOf(e)));
      this.o.log?.warn(`logs ${this.label()} on ${this.o.host.name}: ${messageOf(e)}`);
      return;
    }
    if (gen !== this.generation) return;
    this.flush();
    if (r.ended === 'signal') return; // replaced by a newer load, or the panel closed
    if (r.ended === 'closed') {
      this.status('closed', vscode.l10n.t('Following stopped: {0}. Reload to try again.', r.detail ?? vscode.l10n.t('connection closed')));
      return;
    }
    const total = this.lines.length;
    if (r.ended === 'until' || !this.canFollow()) {
      const st = this.container;
      const how =
        st.state === 'exited'
          ? st.exitCode !== undefined
            ? vscode.l10n.t('The container exited with code {0}.', st.exitCode)
            : vscode.l10n.t('The container exited.')
          : vscode.l10n.t('The container is {0}.', st.state);
      this.status('stopped', total ? `${how} ${this.countText(total, r.limited)}` : `${how} ${vscode.l10n.t('It wrote no log lines.')}`);
      return;
    }
    if (!total) this.status('empty', since ? vscode.l10n.t('No log lines since {0}.', since.toLocaleString()) : vscode.l10n.t('No log lines.'));
    else this.status('done', this.countText(total, r.limited));
  }

  private followingText(): string {
    return vscode.l10n.t('Following new lines.');
  }

  private countText(n: number, limited: boolean): string {
    return limited ? vscode.l10n.t('Showing the last {0} lines.', n) : vscode.l10n.t('{0} lines.', n);
  }

  private keep(ls: LogLine[]): void {
    for (const l of ls) {
      this.lines.push(l);
      this.pending.push(wire(l));
    }
    if (this.lines.length > MAX_LINES + 1000) this.lines = this.lines.slice(-MAX_LINES);
    if (this.pending.length > MAX_LINES) this.pending = this.pending.slice(-MAX_LINES);
  }

  private scheduleFlush(): void {
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      this.flush();
    }, BATCH_MS);
  }

  private flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (!this.pending.length) return;
    const batch = this.pending;
    this.pending = [];
    for (let i = 0; i < batch.length; i += 5000) this.post({ type: 'lines', lines: batch.slice(i, i + 5000) });
  }

  private async openText(): Promise<void> {
    const keep = makeLineFilter(this.filter);
    const text = this.lines
      .filter((l) => keep(l.message))
      .map((l) => formatLogLine(l, { timestamps: this.settings.timestamps }))
      .join('\n');
    const doc = await vscode.workspace.openTextDocument({ content: text + (text ? '\n' : ''), language: 'log' });
    await vscode.window.showTextDocument(doc, { preview: false });
  }

  private dispose(): void {
    this.disposed = true;
    this.generation++;
    this.abort?.abort();
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.lines = [];
    for (const d of this.subscriptions.splice(0)) d.dispose();
    this.onDispose();
  }
}

function webviewStrings(): Record<string, string> {
  const t = vscode.l10n.t;
  return {
    follow: t('Follow'),
    tail: t('Tail'),
    all: t('All'),
    since: t('Since'),
    sinceAll: t('the start'),
    sinceCustom: t('custom…'),
    sinceCustomPlaceholder: t('e.g. 2h30m or 2025-01-02T03:04:05Z'),
    timestamps: t('Timestamps'),
    stream: t('Stream'),
    both: t('stdout + stderr'),
    include: t('Include'),
    exclude: t('Exclude'),
    filterPlaceholder: t('text or /regex/'),
    openText: t('Open as Text'),
    reload: t('Reload'),
    clear: t('Clear'),
    newLines: t('↓ New lines'),
    hidden: t('{0} of {1} lines match the filter'),
    incomplete: t('(line not finished)'),
    truncated: t('(cut: line too long)'),
    noFollow: t('The container is not running: nothing to follow.'),
  };
}
