/**
 * The install/upgrade core's contract (no vscode import): what the CLI, the editor and the tests
 * hand to installContainerd / upgradeContainerd, and what they get back.
 */
import type { DeployPlan } from '../deploy/pipeline';

/** Where the new containerd comes from. */
export type InstallSource =
  /** The distribution's package manager on the host (apt-get or dnf/yum, detected there). */
  | {
      kind: 'package';
      /** Package name (default `containerd`; Docker's repositories call it `containerd.io`). */
      packageName?: string;
      /** Exact distribution version to pin (`1.6.20~ds1-1+deb12u3`); else the newest one matching the plan's `version`. */
      packageVersion?: string;
      /** Run `apt-get update` / `dnf makecache` first (default true). */
      refresh?: boolean;
    }
  /** An official release archive `containerd-X.Y.Z-linux-ARCH.tar.gz` (+ its `.sha256sum`). */
  | {
      kind: 'tarball';
      /** Archive URL; default the official one for the plan's version and the host's arch. */
      url?: string;
      /** Expected sha256 (64 hex); default: read from `<url>.sha256sum`. */
      sha256?: string;
      /** `host`: the host downloads it (curl/wget); `local`: this machine downloads and uploads it (air-gapped hosts). */
      fetch?: 'host' | 'local';
    }
  /** A file on this machine (.deb, .rpm or release .tar.gz), uploaded over SFTP. */
  | {
      kind: 'file';
      path: string;
      /** Expected sha256; when given, the local file must match it too. */
      sha256?: string;
    };

/** How one runtime binary (runc, crun, youki, …) gets onto the host. */
export interface RuntimeInstall {
  /** Runtime name as in the taskserv's `runtimes` (also the package name for `package`). */
  name: string;
  /** Where the binary goes: the runtime's BinaryName (default `<prefix>/bin/<name>`; runc: on PATH). */
  path?: string;
  /**
   * `package`: the distribution package of that name; `file`: a local binary or .tar.gz uploaded;
   * `url`: a binary or .tar.gz downloaded (sha256 required); `auto` (default): nothing when the
   * binary is already there, else the package when the plan installs containerd from packages.
   */
  source?: 'auto' | 'package' | 'file' | 'url';
  file?: string;
  url?: string;
  sha256?: string;
  fetch?: 'host' | 'local';
}

export interface InstallPlan {
  /** containerd release wanted (X.Y.Z); required for `tarball` without url, else taken from the artifact. */
  version?: string;
  source: InstallSource;
  /** Install prefix of tarballs and runtime binaries (default /usr/local). */
  prefix?: string;
  /** Archive architecture (default: the host's). */
  arch?: 'amd64' | 'arm64';
  runtimes?: RuntimeInstall[];
  /** The rendered taskserv (config.toml, crictl.yaml, drop-in) deployed once the binaries are in place. */
  deploy?: DeployPlan;
  /**
   * A downgrade across a config-version boundary is refused unless the plan brings a config the
   * target release reads (`deploy`). This skips that check (the caller migrated the config itself).
   */
  allowConfigVersionDowngrade?: boolean;
}

export type InstallStep =
  | 'connect'
  | 'probe'
  | 'check'
  | 'fetch'
  | 'verify'
  | 'lock'
  | 'backup'
  | 'runtimes'
  | 'install'
  | 'unit'
  | 'deploy'
  | 'restart'
  | 'health'
  | 'rollback'
  | 'cleanup';

export interface InstallStepResult {
  step: InstallStep;
  ok: boolean;
  ms: number;
  detail?: string;
}

export interface InstallOptions {
  signal?: AbortSignal;
  /** Progress: a step starts (detail undefined) or reports something on the way. */
  onStep?: (step: InstallStep, detail?: string) => void;
  /** How long containerd may take to become healthy (default 60 s). */
  healthTimeoutMs?: number;
  /** Keep the backup of the previous binaries after a successful upgrade (default: removed). */
  keepBackup?: boolean;
  /** Largest artifact accepted (default 1 GiB). */
  maxBytes?: number;
  /** fetch() used for `fetch: 'local'` downloads (default: the global one). */
  fetch?: typeof fetch;
}

/** What the host had before, as the probe saw it. */
export interface HostInstallState {
  arch?: string;
  os?: string;
  packageManager?: 'apt' | 'dnf' | 'yum';
  /** How containerd is installed now. */
  method: 'none' | 'deb' | 'rpm' | 'binary';
  /** containerd release (X.Y.Z) of the binary the service runs / on PATH. */
  version?: string;
  /** Version of the distribution package, when installed from one. */
  packageVersion?: string;
  /** Path of the containerd binary. */
  binary?: string;
  /** `version` of the deployed config.toml (1 when the file has none; undefined when absent). */
  configVersion?: number;
  unit: { load: string; active: string; enabled: string; fragment?: string };
  tools: string[];
}

export interface InstallReport {
  host: string;
  ok: boolean;
  operation: 'install' | 'upgrade';
  steps: InstallStepResult[];
  error?: string;
  before?: HostInstallState;
  /** containerd release running at the end (when healthy). */
  version?: string;
  /** The failure was undone: the previous binaries/config are back (and healthy, when there were any). */
  rolledBack?: boolean;
  rollbackError?: string;
  /** Stopped before anything was changed (signal, or the user declined). */
  cancelled?: boolean;
  /** Things the user should know (e.g. the package database still names the failed version). */
  notes: string[];
  /** The host's backup of the previous files (kept on failure, or with keepBackup). */
  backup?: string;
}

export class InstallError extends Error {
  constructor(message: string, readonly step: InstallStep) {
    super(message);
    this.name = 'InstallError';
  }
}
