/** What the Hosts view shows for a host: reachable, containerd version, service state, config drift. */
import type { HostConfig, HostConnection } from '../ssh/types';
import { withDefaults } from './inventory';

export type ServiceState = 'active' | 'activating' | 'failed' | 'inactive' | 'unknown';
export type SyncState = 'in-sync' | 'drifted' | 'unknown';

export interface HostStatus {
  reachable: boolean;
  version?: string;
  service: ServiceState;
  sync: SyncState;
  error?: string;
  checkedAt: number;
}

export function unreachable(error: string): HostStatus {
  return { reachable: false, service: 'unknown', sync: 'unknown', error, checkedAt: Date.now() };
}

/** Normalise a config for comparison: line endings and trailing white space do not count as drift. */
export function normaliseConfig(text: string): string {
  return text.replace(/\r\n?/g, '\n').split('\n').map((l) => l.trimEnd()).join('\n').trim();
}

export async function probeHost(conn: HostConnection, host: HostConfig, expected?: string, signal?: AbortSignal): Promise<HostStatus> {
  const h = withDefaults(host);
  const [ver, active, cfg] = await Promise.all([
    conn.exec(['containerd', '--version'], { timeoutMs: 15_000, signal }),
    conn.exec(['systemctl', 'is-active', h.service], { timeoutMs: 15_000, signal }),
    expected === undefined ? Promise.resolve(undefined) : conn.exec(['cat', h.configPath], { sudo: true, timeoutMs: 15_000, signal }),
  ]);
  const version = ver.code === 0 ? /\bv?(\d+\.\d+\.\d+[^\s]*)/.exec(ver.stdout)?.[1] : undefined;
  const state = active.stdout.trim();
  const service: ServiceState = (['active', 'activating', 'failed', 'inactive'] as const).find((s) => s === state) ?? 'unknown';
  let sync: SyncState = 'unknown';
  if (cfg && expected !== undefined) sync = cfg.code === 0 && normaliseConfig(cfg.stdout) === normaliseConfig(expected) ? 'in-sync' : 'drifted';
  return { reachable: true, version, service, sync, checkedAt: Date.now() };
}

/** The tree item's description and contextValue for a status. */
export function describeStatus(s: HostStatus | undefined): { description: string; context: string } {
  if (!s) return { description: '', context: 'host.unknown' };
  if (!s.reachable) return { description: 'unreachable', context: 'host.unreachable' };
  const parts = [s.version ? `containerd ${s.version}` : 'containerd not installed', s.service];
  if (s.sync !== 'unknown') parts.push(s.sync === 'in-sync' ? 'in sync' : 'drifted');
  return { description: parts.join(' · '), context: `host.${s.service}` };
}
