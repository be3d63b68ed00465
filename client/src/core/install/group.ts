/**
 * Install/upgrade on many hosts: bounded concurrency, one report per host (in the order of
 * `hosts`); an unreachable host is reported and the others go on. The signal stops hosts at their
 * next safe point (before their backup is complete; afterwards they finish or roll back).
 */
import { setMaxListeners } from 'node:events';
import type { HostConfig, SshPool } from '../ssh/types';
import { failedReport, installContainerd, upgradeContainerd } from './install';
import type { InstallOptions, InstallPlan, InstallReport, InstallStep } from './types';

export interface InstallGroupOptions extends Omit<InstallOptions, 'onStep'> {
  operation: 'install' | 'upgrade';
  /** Hosts worked on at once (default 2: installs download and unpack large files). */
  concurrency?: number;
  onHostStep?: (host: HostConfig, step: InstallStep, detail?: string) => void;
  onHostDone?: (host: HostConfig, report: InstallReport) => void;
}

export async function installGroup(
  hosts: HostConfig[],
  pool: SshPool,
  plan: InstallPlan | ((host: HostConfig) => InstallPlan),
  opts: InstallGroupOptions,
): Promise<InstallReport[]> {
  const concurrency = Math.max(1, Math.floor(opts.concurrency ?? 2));
  if (opts.signal) setMaxListeners(Math.max(10, concurrency * 16), opts.signal);
  const reports: InstallReport[] = new Array(hosts.length);
  let next = 0;
  const one = async (host: HostConfig): Promise<InstallReport> => {
    if (opts.signal?.aborted) return failedReport(host.name, opts.operation, 'cancelled', true);
    opts.onHostStep?.(host, 'connect');
    let conn;
    try {
      conn = await pool.get(host, opts.signal);
    } catch (e) {
      return failedReport(host.name, opts.operation, `cannot connect: ${e instanceof Error ? e.message : String(e)}`, !!opts.signal?.aborted);
    }
    const p = typeof plan === 'function' ? plan(host) : plan;
    const o: InstallOptions = { ...opts, onStep: (s, d) => opts.onHostStep?.(host, s, d) };
    return opts.operation === 'install' ? installContainerd(conn, p, o) : upgradeContainerd(conn, p, o);
  };
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= hosts.length) return;
      let r: InstallReport;
      try {
        r = await one(hosts[i]);
      } catch (e) {
        r = failedReport(hosts[i].name, opts.operation, e instanceof Error ? e.message : String(e));
      }
      reports[i] = r;
      opts.onHostDone?.(hosts[i], r);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, hosts.length) }, worker));
  return reports;
}

/** One line per host for terminals and logs. */
export function summarize(r: InstallReport): string {
  const what = r.operation === 'install' ? 'installed' : 'upgraded';
  const status = r.ok ? `${what}${r.version ? ` containerd ${r.version}` : ''}` : r.cancelled ? 'cancelled (host unchanged)' : 'FAILED';
  const tail = [
    r.error ? `— ${r.error.split('\n')[0]}` : '',
    r.rolledBack ? '(rolled back: the previous state is back)' : '',
    r.rollbackError ? `(rollback failed: ${r.rollbackError})` : '',
  ].filter(Boolean);
  return `${r.host}: ${status}${tail.length ? ` ${tail.join(' ')}` : ''}`;
}
