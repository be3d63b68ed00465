/**
 * The host inventory: hosts from the `containerd.hosts` setting and from ~/.ssh/config, merged
 * and grouped by infra (the seed's `--infra <name>`). No vscode import.
 */
import type { HostConfig, SudoMode } from '../ssh/types';

export const UNGROUPED = '(no group)';

export interface SettingsHost {
  name?: string;
  host?: string;
  port?: number;
  user?: string;
  identityFile?: string;
  sudo?: SudoMode;
  group?: string;
  infra?: string;
  configPath?: string;
  socket?: string;
  service?: string;
  proxyJump?: string;
}

export function hostKey(h: Pick<HostConfig, 'host' | 'port' | 'user'>): string {
  return `${h.user ?? ''}@${h.host}:${h.port ?? 22}`;
}

/** Defaults every feature relies on. */
export function withDefaults(h: HostConfig): Required<Omit<HostConfig, 'identityFile' | 'proxyJump' | 'group'>> & HostConfig {
  const user = h.user ?? 'root';
  return {
    ...h,
    port: h.port ?? 22,
    user,
    sudo: h.sudo ?? (user === 'root' ? 'none' : 'nopasswd'),
    configPath: h.configPath ?? '/etc/containerd/config.toml',
    socket: h.socket ?? '/run/containerd/containerd.sock',
    service: h.service ?? 'containerd',
  };
}

export interface InventoryProblem {
  index: number;
  message: string;
}

/** Hosts from settings (validated) followed by ssh-config hosts not already listed. */
export function mergeInventory(settings: readonly SettingsHost[], fromSshConfig: readonly HostConfig[]): { hosts: HostConfig[]; problems: InventoryProblem[] } {
  const hosts: HostConfig[] = [];
  const problems: InventoryProblem[] = [];
  const names = new Set<string>();
  settings.forEach((s, index) => {
    if (!s || typeof s !== 'object' || !s.host || typeof s.host !== 'string') {
      problems.push({ index, message: `containerd.hosts[${index}] has no "host"` });
      return;
    }
    if (s.port !== undefined && (!Number.isInteger(s.port) || s.port < 1 || s.port > 65535)) {
      problems.push({ index, message: `containerd.hosts[${index}] has an invalid port ${String(s.port)}` });
      return;
    }
    const name = s.name || s.host;
    if (names.has(name)) {
      problems.push({ index, message: `containerd.hosts[${index}]: the name "${name}" is used twice` });
      return;
    }
    names.add(name);
    hosts.push(withDefaults({
      name, host: s.host, port: s.port, user: s.user, identityFile: s.identityFile, sudo: s.sudo,
      group: s.group ?? s.infra, configPath: s.configPath, socket: s.socket, service: s.service, proxyJump: s.proxyJump,
    }));
  });
  for (const h of fromSshConfig) {
    if (names.has(h.name)) continue;
    names.add(h.name);
    hosts.push(withDefaults({ ...h, group: h.group ?? 'ssh config' }));
  }
  return { hosts, problems };
}

export function groupHosts(hosts: readonly HostConfig[]): Map<string, HostConfig[]> {
  const groups = new Map<string, HostConfig[]>();
  for (const h of hosts) {
    const g = h.group || UNGROUPED;
    const list = groups.get(g) ?? [];
    list.push(h);
    groups.set(g, list);
  }
  return groups;
}

/** Parse `user@host:port` / `host` (the CLI's --host). */
export function parseHostSpec(spec: string): HostConfig | undefined {
  const m = /^(?:([^@\s]+)@)?(\[[^\]]+\]|[^:@\s]+)(?::(\d{1,5}))?$/.exec(spec.trim());
  if (!m) return undefined;
  const host = m[2].replace(/^\[|\]$/g, '');
  const port = m[3] ? Number(m[3]) : undefined;
  if (port !== undefined && (port < 1 || port > 65535)) return undefined;
  return withDefaults({ name: spec.trim(), host, port, user: m[1] });
}
