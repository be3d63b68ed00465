/**
 * The SSH core's contract (no vscode import): what the hosts view, the deploy pipeline, the
 * runtime explorer, the CLI and the tests use. Implemented in client/src/core/ssh/*.ts on ssh2.
 */

export type SudoMode = 'none' | 'nopasswd' | 'password';

/** One host as the user describes it (setting `containerd.hosts`, ~/.ssh/config, or CLI). */
export interface HostConfig {
  /** Display name and identity of the host in the view and in reports. */
  name: string;
  host: string;
  port?: number; // 22
  user?: string; // current user
  identityFile?: string;
  /** Jump host in ssh's `ProxyJump` syntax (`user@host:port`), resolved through the same pool. */
  proxyJump?: string;
  sudo?: SudoMode; // 'none' when user is root, else 'nopasswd'
  /** Group / infra name (matches the seed's `--infra <name>`). */
  group?: string;
  configPath?: string; // /etc/containerd/config.toml
  socket?: string; // /run/containerd/containerd.sock
  service?: string; // containerd
}

/** What the user is asked, or what the caller decides, when a host key is not (or no longer) known. */
export interface HostKeyPrompt {
  host: string;
  port: number;
  /** e.g. "ssh-ed25519" */
  keyType: string;
  /** OpenSSH-style "SHA256:base64" fingerprint. */
  fingerprint: string;
}

/** The only place secrets come from: VS Code SecretStorage + prompts in the editor; env/prompts in the CLI. */
export interface Credentials {
  /** Ask to trust an unknown host key (first use). Resolve true to accept and record it in known_hosts. */
  confirmHostKey(p: HostKeyPrompt): Promise<boolean>;
  /** Passphrase of an encrypted private key, or undefined to give up. */
  passphrase(host: HostConfig, keyFile: string): Promise<string | undefined>;
  /** Login password when keys and agent fail, or undefined to give up. */
  password(host: HostConfig): Promise<string | undefined>;
  /** sudo password for `sudo: password` hosts. */
  sudoPassword(host: HostConfig): Promise<string | undefined>;
  /** A secret turned out wrong: forget what was stored for it. */
  forget(host: HostConfig, kind: 'passphrase' | 'password' | 'sudo'): Promise<void>;
}

export interface ExecOptions {
  /** Run under sudo according to the host's sudo mode. */
  sudo?: boolean;
  /** Bytes written to the command's stdin. */
  stdin?: string | Buffer;
  /** Abort after this long (default 60 s); the remote process gets SIGTERM via channel close. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface SpawnOptions {
  sudo?: boolean;
  /** Allocate a pty (interactive shells); stderr then arrives merged in stdout. */
  pty?: { rows: number; cols: number; term?: string };
  signal?: AbortSignal;
  /** Limit for the channel to open (and, with a sudo password, for sudo to start the command). Default 30 s. */
  startTimeoutMs?: number;
}

/** A running remote command: its channel as streams. */
export interface RemoteProcess {
  /** The command's stdout (and stderr too with a pty). */
  readonly stdout: NodeJS.ReadableStream;
  readonly stderr: NodeJS.ReadableStream;
  readonly stdin: NodeJS.WritableStream;
  /** Resolves once the channel closed: exit code (null when killed by a signal) and signal name. */
  readonly exited: Promise<{ code: number | null; signal?: string }>;
  /** pty only: new window size. */
  resize(rows: number, cols: number): void;
  /** Ends the command (SIGTERM where the server honours it, then closes the channel). */
  kill(): void;
}

export interface ExecResult {
  code: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
}

/**
 * A remote command as an argument vector. Implementations quote every argument for the remote
 * shell (POSIX single quotes); nothing is ever pasted into a command line as text.
 */
export type Argv = readonly string[];

export interface HostConnection {
  readonly host: HostConfig;
  exec(argv: Argv, opts?: ExecOptions): Promise<ExecResult>;
  /** Upload bytes to a path over SFTP (as the login user) with a mode, atomically unless told otherwise. */
  writeFile(path: string, data: string | Buffer, opts?: { mode?: number; signal?: AbortSignal }): Promise<void>;
  readFile(path: string, opts?: { signal?: AbortSignal }): Promise<Buffer>;
  /** Forward a remote unix socket (streamlocal) to a local duplex stream. */
  openUnixSocket?(path: string): Promise<NodeJS.ReadWriteStream>;
  /**
   * Start a long-lived remote command and hand back its live channel (log follow, exec bridges
   * for sockets, interactive shells). Same argv quoting and sudo handling as `exec`; no timeout
   * once started (the caller ends it with `kill()` or its signal).
   */
  spawn(argv: Argv, opts?: SpawnOptions): Promise<RemoteProcess>;
  close(): void;
}

export interface SshPool {
  /** One live connection per host, shared by every feature; reconnects when it dropped. */
  get(host: HostConfig, signal?: AbortSignal): Promise<HostConnection>;
  closeAll(): void;
}

export class SshError extends Error {
  constructor(
    message: string,
    readonly kind: 'host-key-changed' | 'host-key-rejected' | 'auth' | 'unreachable' | 'timeout' | 'sudo' | 'closed' | 'cancelled' | 'other',
  ) {
    super(message);
    this.name = 'SshError';
  }
}
