/**
 * Deploy to many hosts: bounded concurrency, one report per host (in the order of `hosts`).
 * An unreachable host is reported and the others go on; with `stopOnFirstFailure` the first
 * failure cancels the rest — hosts not started yet are reported as skipped, and the running
 * ones stop at their next safe point (before their swap; after it they finish restart + health
 * or roll back, see pipeline.ts).
 */
import { setMaxListeners } from 'node:events';
import type { HostConfig, SshPool } from '../ssh/types';
import { deploy, type DeployOptions, type DeployPlan, type DeployReport, type Stage } from './pipeline';
import type { PreflightReport } from '../preflight';

export interface GroupOptions extends Omit<DeployOptions, 'onProgress' | 'confirm' | 'signal' | 'onPreflightFailed'> {
  /** A host's preflight failed (preflight 'run'): resolve true to deploy it anyway. Without it the host stops. */
  onPreflightFailed?: (host: HostConfig, report: PreflightReport) => Promise<boolean>;
  /** Hosts deployed at once (default 4). */
  concurrency?: number;
  stopOnFirstFailure?: boolean;
  signal?: AbortSignal;
  onHostProgress?: (host: HostConfig, stage: Stage, detail?: string) => void;
  /** Ask per host with its diff (e.g. the CLI without --yes); without it no one is asked. */
  confirm?: (host: HostConfig, diff: string) => Promise<boolean>;
  /** A report is final (for a live view). */
  onHostDone?: (host: HostConfig, report: DeployReport) => void;
}

export interface GroupReport extends DeployReport {
  /** Not attempted: stopped by an earlier failure or by the signal. */
  skipped?: boolean;
}

/** `plan` may depend on the host (e.g. its config path). */
export async function deployGroup(
  hosts: HostConfig[],
  pool: SshPool,
  plan: DeployPlan | ((host: HostConfig) => DeployPlan),
  opts: GroupOptions = {},
): Promise<GroupReport[]> {
  const concurrency = Math.max(1, Math.floor(opts.concurrency ?? 4));
  const stop = new AbortController();
  // every running host's operations listen on it (several at a time each): not a leak
  setMaxListeners(Math.max(10, concurrency * 16), stop.signal);
  const onOuterAbort = () => stop.abort(opts.signal?.reason);
  if (opts.signal?.aborted) stop.abort(opts.signal.reason);
  opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const reports: GroupReport[] = new Array(hosts.length);
  let next = 0;

  const one = async (host: HostConfig): Promise<GroupReport> => {
    if (stop.signal.aborted) {
      return { host: host.name, ok: false, skipped: true, stages: [], diff: '', error: opts.signal?.aborted ? 'cancelled' : 'not attempted: an earlier host failed (stop on first failure)' };
    }
    const t0 = performance.now();
    opts.onHostProgress?.(host, 'connect');
    let conn;
    try {
      conn = await pool.get(host, stop.signal);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      return {
        host: host.name,
        ok: false,
        stages: [{ stage: 'connect', ok: false, ms: Math.round(performance.now() - t0), detail: msg }],
        diff: '',
        error: `cannot connect: ${msg}`,
        cancelled: stop.signal.aborted || undefined,
      };
    }
    const connectMs = Math.round(performance.now() - t0);
    const r = await deploy(conn, typeof plan === 'function' ? plan(host) : plan, {
      ...opts,
      signal: stop.signal,
      onProgress: (stage, detail) => opts.onHostProgress?.(host, stage, detail),
      confirm: opts.confirm ? (diff) => opts.confirm!(host, diff) : undefined,
      onPreflightFailed: opts.onPreflightFailed ? (pf) => opts.onPreflightFailed!(host, pf) : undefined,
    });
    r.stages.unshift({ stage: 'connect', ok: true, ms: connectMs });
    return r;
  };

  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= hosts.length) return;
      let r: GroupReport;
      try {
        r = await one(hosts[i]);
      } catch (e) {
        r = { host: hosts[i].name, ok: false, stages: [], diff: '', error: e instanceof Error ? e.message : String(e) };
      }
      reports[i] = r;
      opts.onHostDone?.(hosts[i], r);
      if (!r.ok && !r.skipped && opts.stopOnFirstFailure && !stop.signal.aborted) stop.abort(new Error('stop on first failure'));
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, hosts.length) }, worker));
  } finally {
    opts.signal?.removeEventListener('abort', onOuterAbort);
  }
  return reports;
}
