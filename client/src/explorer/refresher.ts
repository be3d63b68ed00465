/**
 * When the explorer reloads a host (no vscode import): containerd's event stream is open only for
 * hosts that are expanded while the view is visible; bursts of events are debounced into one reload
 * of that host; a slow fallback poll runs only for those same hosts; a hidden view or a collapsed
 * host costs nothing. A stream that ends by itself (dropped connection, restarted containerd) is
 * reopened a bounded number of times, with a reload each time so the tree shows the new state.
 * containerd does not say when a new subscription is registered, so a change made while the stream
 * opens could be missed: one more reload follows every opened stream after `settleMs`.
 */

export type RefreshReason = 'event' | 'poll' | 'resume' | 'stream-ended' | 'settle';

export interface RefresherDeps {
  /** Open the host's event stream and call onEvent per event; resolve when it ends (drop or signal). */
  subscribe(key: string, onEvent: () => void, signal: AbortSignal): Promise<void>;
  /** Reload one host (never called twice at once for the same host). */
  refresh(key: string, reason: RefreshReason): Promise<void> | void;
  /** The stream ended without being asked to (the caller drops its cached client). */
  onStreamEnded?(key: string, error: unknown): void;
  log?(level: 'debug' | 'info' | 'warn', message: string): void;
}

export interface RefresherOptions {
  /** quiet time after the last event before reloading (default 300 ms) */
  debounceMs?: number;
  /** reload at the latest this long after the first event of a burst (default 2 s) */
  maxWaitMs?: number;
  /** fallback poll while active; 0 = off (default 30 s) */
  pollMs?: number;
  /** waits before reopening a stream that ended; its length bounds the attempts (default 1 s, 5 s, 15 s) */
  resubscribeDelaysMs?: readonly number[];
  /** one reload this long after a stream opens, for what changed before it was registered; 0 = off (default 2 s) */
  settleMs?: number;
}

interface Watch {
  expanded: boolean;
  /** e.g. its group is collapsed */
  suspended: boolean;
  active: boolean;
  /** was active before and may have missed events */
  stale: boolean;
  stream?: AbortController;
  debounce?: ReturnType<typeof setTimeout>;
  burstStart?: number;
  poll?: ReturnType<typeof setInterval>;
  retry?: ReturnType<typeof setTimeout>;
  settle?: ReturnType<typeof setTimeout>;
  failures: number;
  refreshing?: Promise<void>;
  again?: RefreshReason;
  events: number;
  refreshes: number;
  subscriptions: number;
}

export interface RefresherStats {
  visible: boolean;
  /** hosts whose stream is open now */
  subscribed: string[];
  /** hosts with a poll timer now */
  polling: string[];
  /** per host: events seen, reloads done, streams opened (since the host was first seen) */
  counts: Record<string, { events: number; refreshes: number; subscriptions: number }>;
}

export class Refresher {
  private visible = false;
  private disposed = false;
  private readonly watches = new Map<string, Watch>();
  private readonly o: Required<RefresherOptions>;

  constructor(private readonly deps: RefresherDeps, opts: RefresherOptions = {}) {
    this.o = {
      debounceMs: opts.debounceMs ?? 300,
      maxWaitMs: opts.maxWaitMs ?? 2000,
      pollMs: opts.pollMs ?? 30_000,
      resubscribeDelaysMs: opts.resubscribeDelaysMs ?? [1000, 5000, 15_000],
      settleMs: opts.settleMs ?? 2000,
    };
  }

  private watch(key: string): Watch {
    let w = this.watches.get(key);
    if (!w) {
      w = { expanded: false, suspended: false, active: false, stale: false, failures: 0, events: 0, refreshes: 0, subscriptions: 0 };
      this.watches.set(key, w);
    }
    return w;
  }

  setVisible(visible: boolean): void {
    if (this.visible === visible) return;
    this.visible = visible;
    for (const key of this.watches.keys()) this.update(key);
  }

  setExpanded(key: string, expanded: boolean): void {
    const w = this.watch(key);
    if (w.expanded === expanded) return;
    w.expanded = expanded;
    this.update(key);
  }

  /** Pause a host without forgetting it is expanded (its group was collapsed). */
  setSuspended(key: string, suspended: boolean): void {
    const w = this.watch(key);
    if (w.suspended === suspended) return;
    w.suspended = suspended;
    this.update(key);
  }

  setPollInterval(ms: number): void {
    const v = Number.isFinite(ms) && ms > 0 ? ms : 0;
    if (v === this.o.pollMs) return;
    this.o.pollMs = v;
    for (const [key, w] of this.watches) {
      this.stopPoll(w);
      if (w.active) this.startPoll(key, w);
    }
  }

  isActive(key: string): boolean {
    return this.watches.get(key)?.active ?? false;
  }

  /** One event arrived for `key`: reload after the burst (debounced, bounded by maxWaitMs). */
  notify(key: string): void {
    const w = this.watches.get(key);
    if (!w || !w.active || this.disposed) return;
    w.events++;
    w.failures = 0;
    const now = Date.now();
    w.burstStart ??= now;
    if (w.debounce) clearTimeout(w.debounce);
    const wait = Math.max(0, Math.min(this.o.debounceMs, w.burstStart + this.o.maxWaitMs - now));
    w.debounce = setTimeout(() => {
      w.debounce = undefined;
      w.burstStart = undefined;
      this.runRefresh(key, 'event');
    }, wait);
  }

  keys(): string[] {
    return [...this.watches.keys()];
  }

  /** Close and reopen the host's stream (its connection was replaced); reloads when active. */
  restart(key: string): void {
    const w = this.watches.get(key);
    if (!w || !w.active) return;
    this.deactivate(w);
    w.stale = true;
    this.update(key);
  }

  /** The host is gone (removed from the inventory): stop everything for it. */
  remove(key: string): void {
    const w = this.watches.get(key);
    if (!w) return;
    this.deactivate(w);
    this.watches.delete(key);
  }

  dispose(): void {
    this.disposed = true;
    for (const key of [...this.watches.keys()]) this.remove(key);
  }

  stats(): RefresherStats {
    const counts: RefresherStats['counts'] = {};
    for (const [k, w] of this.watches) counts[k] = { events: w.events, refreshes: w.refreshes, subscriptions: w.subscriptions };
    return {
      visible: this.visible,
      subscribed: [...this.watches].filter(([, w]) => w.stream).map(([k]) => k),
      polling: [...this.watches].filter(([, w]) => w.poll).map(([k]) => k),
      counts,
    };
  }

  private update(key: string): void {
    const w = this.watch(key);
    const active = !this.disposed && this.visible && w.expanded && !w.suspended;
    if (active === w.active) return;
    w.active = active;
    if (active) {
      this.deps.log?.('debug', `explorer: watching ${key}`);
      this.subscribe(key, w);
      this.startPoll(key, w);
      if (w.stale) {
        w.stale = false;
        this.runRefresh(key, 'resume');
      }
    } else {
      this.deps.log?.('debug', `explorer: not watching ${key}`);
      this.deactivate(w);
      w.stale = true;
    }
  }

  private deactivate(w: Watch): void {
    w.active = false;
    w.stream?.abort();
    w.stream = undefined;
    this.stopPoll(w);
    if (w.debounce) clearTimeout(w.debounce);
    if (w.retry) clearTimeout(w.retry);
    if (w.settle) clearTimeout(w.settle);
    w.debounce = w.retry = w.settle = w.burstStart = undefined;
    w.failures = 0;
  }

  private subscribe(key: string, w: Watch): void {
    if (w.stream || !w.active) return;
    const ctrl = new AbortController();
    w.stream = ctrl;
    w.subscriptions++;
    let ended: unknown;
    let p: Promise<void>;
    try {
      p = Promise.resolve(this.deps.subscribe(key, () => this.notify(key), ctrl.signal));
    } catch (e) {
      p = Promise.reject(e);
    }
    if (this.o.settleMs > 0) {
      if (w.settle) clearTimeout(w.settle);
      w.settle = setTimeout(() => {
        w.settle = undefined;
        if (w.active && w.stream === ctrl) this.runRefresh(key, 'settle');
      }, this.o.settleMs);
    }
    p.catch((e: unknown) => {
      ended = e ?? new Error('event stream failed');
    }).finally(() => {
      if (ctrl.signal.aborted || w.stream !== ctrl) return; // we closed it
      w.stream = undefined;
      this.deps.log?.('info', `explorer: event stream of ${key} ended${ended ? `: ${ended instanceof Error ? ended.message : String(ended)}` : ''}`);
      this.deps.onStreamEnded?.(key, ended);
      if (!w.active) return;
      // the state may have changed meanwhile (or the host went down): show it
      this.runRefresh(key, 'stream-ended');
      const delay = this.o.resubscribeDelaysMs[w.failures];
      w.failures++;
      if (delay === undefined) {
        this.deps.log?.('warn', `explorer: giving up on the event stream of ${key}; ${this.o.pollMs ? `polling every ${Math.round(this.o.pollMs / 1000)} s` : 'refresh by hand'}`);
        return;
      }
      w.retry = setTimeout(() => {
        w.retry = undefined;
        this.subscribe(key, w);
      }, delay);
    });
  }

  private startPoll(key: string, w: Watch): void {
    if (w.poll || !this.o.pollMs) return;
    w.poll = setInterval(() => this.runRefresh(key, 'poll'), this.o.pollMs);
    (w.poll as { unref?: () => void }).unref?.();
  }

  private stopPoll(w: Watch): void {
    if (w.poll) clearInterval(w.poll);
    w.poll = undefined;
  }

  /** One reload at a time per host; requests during a reload coalesce into one more. */
  private runRefresh(key: string, reason: RefreshReason): void {
    const w = this.watches.get(key);
    if (!w || this.disposed) return;
    if (w.refreshing) {
      w.again = reason;
      return;
    }
    w.refreshes++;
    w.refreshing = (async () => {
      try {
        await this.deps.refresh(key, reason);
      } catch (e) {
        this.deps.log?.('warn', `explorer: reloading ${key} failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    })().finally(() => {
      w.refreshing = undefined;
      const again = w.again;
      w.again = undefined;
      if (again && w.active) this.runRefresh(key, again);
    });
  }
}
