/**
 * Preflight checks: what a host must offer before a config is put on it. The contract between
 * the checks (client/src/core/preflight), the deploy pipeline, the CLI (`preflight`, `deploy`)
 * and the VS Code adapters (report, Hosts tree). No vscode import.
 */

export type PreflightStatus = 'pass' | 'warn' | 'fail';

/** Stable identifiers of the checks (one check may appear several times with different subjects). */
export type PreflightCheckId =
  | 'config' // the config parses
  | 'containerd' // installed, its version against the taskserv's
  | 'config-version' // the file's `version` against the host's release
  | 'runtime' // subject: runtime name
  | 'cgroup-driver'
  | 'socket' // grpc socket: path, directory, uid/gid, not taken by another program
  | 'disk' // subject: 'root' | 'state'
  | 'snapshotter' // subject: snapshotter name
  | 'crictl';

export interface PreflightCheck {
  id: PreflightCheckId;
  /** What the check is about when it repeats (runtime name, 'root', 'state', snapshotter). */
  subject?: string;
  /** Short label for lists and the tree, e.g. "runtime runc", "disk root". */
  title: string;
  status: PreflightStatus;
  /** One line: what was found. */
  message: string;
  /** One line: what to do about it (warn/fail; sometimes a hint on pass). */
  fix?: string;
  /** Evidence: command output, paths; may span lines. */
  detail?: string;
}

export interface PreflightReport {
  host: string;
  /** No check failed. */
  ok: boolean;
  /** The worst status. */
  status: PreflightStatus;
  checks: PreflightCheck[];
  /** The host's containerd version as `containerd --version` printed it (parsed), if installed. */
  containerdVersion?: string;
  /** The config version that was checked (1 when the file has none). */
  configVersion?: number;
  /** Where the config came from: the plan, or the host's current file. */
  configSource?: string;
  ms: number;
  /** ISO time the checks ran. */
  at: string;
}

/** What to check: the config that is about to be deployed (or, without one, the host's current config). */
export interface PreflightInput {
  /** config.toml text; undefined: read the host's config (HostConfig.configPath). */
  config?: string;
  /** Label of where `config` came from, for the report (e.g. a file name). */
  configSource?: string;
  /** Rendered crictl.yaml text; undefined: the host's /etc/crictl.yaml when present. */
  crictl?: string;
  /** The taskserv's containerd `version` (e.g. "1.7.18") when deploying a taskserv. */
  taskservRelease?: string;
}

export interface DiskThresholds {
  /** Below this many free MiB a check fails. */
  failMiB: number;
  /** Below this many free MiB a check warns. */
  warnMiB: number;
  /** At or above this percentage used a check warns. */
  warnPercent: number;
}

export interface PreflightOptions {
  signal?: AbortSignal;
  /** The whole probe's limit (default 60 s); every command inside it is also bounded (10 s). */
  timeoutMs?: number;
  /** Thresholds for containerd's `root` (default fail < 512 MiB, warn < 2048 MiB or ≥ 90 %). */
  rootDisk?: Partial<DiskThresholds>;
  /** Thresholds for containerd's `state` (default fail < 8 MiB, warn < 32 MiB or ≥ 95 %). */
  stateDisk?: Partial<DiskThresholds>;
  /** The containerd binary whose version counts (default `containerd` on root's PATH). */
  containerdBinary?: string;
}

export const STATUS_ICON: Record<PreflightStatus, string> = { pass: '✔', warn: '⚠', fail: '✖' };
