/**
 * The runtime-access core's contract (no vscode import): what the explorer tree, the log viewer,
 * the CLI (`ps`, `pods`, `images`, `logs`), the benchmarks and the tests use. Implemented in
 * client/src/core/runtime/*.ts: gRPC (CRI v1 + containerd's own API) tunnelled over the host's
 * pooled SSH connection, with a `ctr`/`crictl` CLI fallback.
 */
import type { HostConnection } from '../ssh/types';

/**
 * How we reach containerd on a host:
 * - `grpc-streamlocal`: gRPC over an SSH streamlocal forward of the socket (the login user may open it);
 * - `grpc-bridge`: gRPC over an exec channel running `sudo -n socat - UNIX-CONNECT:<socket>` (or what the host has);
 * - `cli`: neither works: `ctr` / `crictl -o json` over SSH, with fewer details (said in the tree).
 */
export type RuntimeAccess = 'grpc-streamlocal' | 'grpc-bridge' | 'cli';

/** containerd's namespace that CRI uses. */
export const CRI_NAMESPACE = 'k8s.io';

export interface RuntimeCondition {
  type: string;
  status: boolean;
  reason?: string;
  message?: string;
}

export interface RuntimeInfo {
  access: RuntimeAccess;
  /** Why the better access paths were not used (shown in the tree when access is not streamlocal). */
  accessNote?: string;
  /** containerd's version and revision (containerd Version service, or `ctr version`). */
  version: string;
  revision?: string;
  /** CRI Version: runtime name/version and CRI API version; undefined when CRI is off. */
  cri?: { runtimeName: string; runtimeVersion: string; runtimeApiVersion: string };
  /** CRI Status conditions (RuntimeReady, NetworkReady), as `crictl info` shows them. */
  conditions: RuntimeCondition[];
  /** CRI Status `info` map (verbose), parsed JSON where it is JSON. */
  criInfo?: Record<string, unknown>;
  socket: string;
  /** CRI ImageFsInfo: the image filesystem(s) (absent when CRI is off or in `cli` access). */
  imageFs?: { mountpoint: string; usedBytes: number; inodesUsed: number }[];
}

export type ContainerState = 'created' | 'running' | 'exited' | 'paused' | 'unknown';
export type PodState = 'ready' | 'notready';

export interface PodInfo {
  id: string;
  /** metadata.name / namespace (Kubernetes namespace, not containerd's) / uid / attempt */
  name: string;
  podNamespace: string;
  uid: string;
  attempt: number;
  state: PodState;
  /** ms since epoch */
  createdAt: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** CRI runtime handler ('' = default). */
  runtimeHandler: string;
  /** containerd namespace (always k8s.io for CRI). */
  namespace: string;
}

export interface ContainerInfo {
  id: string;
  name: string;
  /** containerd namespace */
  namespace: string;
  /** CRI containers: their sandbox; plain containerd containers: undefined. */
  podId?: string;
  /** image reference as the user gave it (e.g. docker.io/library/busybox:latest) */
  image: string;
  /** resolved image id / digest where known */
  imageRef?: string;
  state: ContainerState;
  /** ms since epoch */
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  exitCode?: number;
  labels: Record<string, string>;
  /** runtime: CRI handler, or containerd's runtime name (io.containerd.runc.v2 …); short form for the tree. */
  runtime?: string;
  /** CRI log file on the host (absent for containers outside CRI: they have none). */
  logPath?: string;
  /** task pid where running */
  pid?: number;
  source: 'cri' | 'containerd';
  /** A pod's sandbox (pause) container: CRI shows it as the pod, containerd as a container (podId = its own id). */
  sandbox?: boolean;
}

export interface ImageInfo {
  /** image id (config digest) */
  id: string;
  namespace: string;
  repoTags: string[];
  repoDigests: string[];
  size: number;
  pinned?: boolean;
}

export interface NamespaceSnapshot {
  name: string;
  pods: PodInfo[];
  /** every container of the namespace; those of pods carry podId */
  containers: ContainerInfo[];
  images: ImageInfo[];
}

export interface HostSnapshot {
  info: RuntimeInfo;
  namespaces: NamespaceSnapshot[];
  /** partial failures (one namespace, one service) that did not stop the rest */
  warnings: string[];
  /** ms since epoch when taken */
  takenAt: number;
}

/** One containerd event (Events.Subscribe envelope), payload not decoded. */
export interface RuntimeEvent {
  topic: string; // e.g. /tasks/start, /containers/create, /images/update
  namespace: string;
  timestamp: number;
  /**
   * What the event is about, when its payload names it: the container ID for /containers/* and
   * /tasks/*, the image name for /images/*, the namespace for /namespaces/*, the key for /snapshot/*.
   */
  subject?: string;
}

export interface PullProgress {
  /** human-readable line (e.g. "resolving", "pulled sha256:… 1.2 MB") */
  message: string;
}

export interface ExecSyncResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** CRI ContainerStats (numbers absent when the runtime does not report them). */
export interface ContainerStats {
  /** ms since epoch */
  timestamp: number;
  cpuNanoCores?: number;
  cpuCoreNanoSeconds?: number;
  memoryWorkingSetBytes?: number;
  memoryUsageBytes?: number;
  writableLayerBytes?: number;
}

export interface RuntimeClient {
  readonly access: RuntimeAccess;
  readonly conn: HostConnection;
  info(signal?: AbortSignal): Promise<RuntimeInfo>;
  /** Everything the tree shows, in as few round trips as possible. */
  snapshot(signal?: AbortSignal): Promise<HostSnapshot>;
  namespaces(signal?: AbortSignal): Promise<string[]>;
  listPods(signal?: AbortSignal): Promise<PodInfo[]>;
  listContainers(namespace: string, signal?: AbortSignal): Promise<ContainerInfo[]>;
  listImages(namespace: string, signal?: AbortSignal): Promise<ImageInfo[]>;

  /** verbose status as JSON-able objects (PodSandboxStatus / ContainerStatus / ImageStatus, or containerd's records) */
  inspectPod(id: string, signal?: AbortSignal): Promise<unknown>;
  inspectContainer(namespace: string, id: string, signal?: AbortSignal): Promise<unknown>;
  inspectImage(namespace: string, ref: string, signal?: AbortSignal): Promise<unknown>;

  startContainer(namespace: string, id: string, signal?: AbortSignal): Promise<void>;
  /** SIGTERM, then SIGKILL after timeoutS (default 10). */
  stopContainer(namespace: string, id: string, timeoutS?: number, signal?: AbortSignal): Promise<void>;
  removeContainer(namespace: string, id: string, signal?: AbortSignal): Promise<void>;
  stopPod(id: string, signal?: AbortSignal): Promise<void>;
  removePod(id: string, signal?: AbortSignal): Promise<void>;

  /** CRI PullImage (k8s.io) with the host's registry config; progress is coarse (CRI has no stream). */
  pullImage(ref: string, opts?: { onProgress?: (p: PullProgress) => void; signal?: AbortSignal }): Promise<string>;
  removeImage(namespace: string, ref: string, signal?: AbortSignal): Promise<void>;
  /** Remove the images no container uses (like `crictl rmi --prune`); returns the removed refs. */
  pruneImages(namespace: string, signal?: AbortSignal): Promise<string[]>;

  /** `crictl runp` / `create` / `start` from the JSON configs (CRI PodSandboxConfig / ContainerConfig shape). */
  runPod(podConfig: unknown, runtimeHandler?: string, signal?: AbortSignal): Promise<string>;
  createContainer(podId: string, containerConfig: unknown, podConfig: unknown, signal?: AbortSignal): Promise<string>;
  /** CRI ExecSync (k8s.io), or `ctr tasks exec` for plain containers. */
  execSync(namespace: string, id: string, cmd: readonly string[], timeoutS?: number, signal?: AbortSignal): Promise<ExecSyncResult>;
  /** argv that opens an interactive shell in the container (for a pty on the SSH connection). */
  shellArgv(namespace: string, id: string, shell?: string): Promise<{ argv: string[]; sudo: boolean }>;

  /** CRI ContainerStats of a CRI container (optional: absent in `cli` access). */
  containerStats?(id: string, signal?: AbortSignal): Promise<ContainerStats>;

  /** containerd's event stream (all namespaces); resolves when it ends (signal, drop). */
  subscribe(onEvent: (e: RuntimeEvent) => void, signal: AbortSignal): Promise<void>;
  close(): void;
}

export interface ConnectOptions {
  /** containerd socket on the host (default /run/containerd/containerd.sock, or host.socket). */
  socket?: string;
  /** force one access path (tests, benchmarks); default: streamlocal → bridge → cli. */
  access?: RuntimeAccess;
  log?: (level: 'debug' | 'info' | 'warn', message: string) => void;
  signal?: AbortSignal;
}

/** Safe IDs/names as containerd and CRI accept them; anything else is refused before it reaches a command line. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
