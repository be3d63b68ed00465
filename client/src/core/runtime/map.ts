/**
 * CRI and containerd records → the contract types. The input objects are what @grpc/proto-loader
 * decodes (camelCase fields, int64 as decimal strings, enums by name), which is also the shape of
 * `crictl -o json` (protojson), so the CLI fallback reuses these functions.
 */
import { Reader } from 'protobufjs';
import type { ContainerInfo, ContainerState, ImageInfo, PodInfo, RuntimeCondition } from './types';
import { CRI_NAMESPACE } from './types';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Rec = Record<string, any>;

/** containerd's CRI labels on its containers. */
export const CRI_KIND_LABEL = 'io.cri-containerd.kind';
export const CRI_SANDBOX_ID_LABEL = 'io.cri-containerd.sandbox-id';
/** Labels the CRI plugin sets on every container record (what Kubernetes also sees). */
export const K8S_CONTAINER_NAME = 'io.kubernetes.container.name';
export const K8S_POD_NAME = 'io.kubernetes.pod.name';

/** int64 nanoseconds (string or number) → ms since epoch; 0/absent → 0. */
export function nsToMs(v: unknown): number {
  if (v === undefined || v === null || v === '') return 0;
  try {
    return Number(BigInt(typeof v === 'number' ? Math.trunc(v) : String(v)) / 1_000_000n);
  } catch {
    return 0;
  }
}

/** google.protobuf.Timestamp (or an RFC 3339 string) → ms since epoch; absent / zero → undefined. */
export function tsToMs(ts: unknown): number | undefined {
  if (!ts) return undefined;
  if (typeof ts === 'string') {
    const t = Date.parse(ts);
    return Number.isFinite(t) && t > 0 ? t : undefined;
  }
  const r = ts as Rec;
  const ms = Number(r.seconds ?? 0) * 1000 + Math.floor(Number(r.nanos ?? 0) / 1e6);
  return ms > 0 ? ms : undefined;
}

/** io.containerd.runc.v2 → runc; io.containerd.runsc.v1 → runsc; anything else unchanged. */
export function shortRuntime(name: string | undefined): string | undefined {
  if (!name) return undefined;
  const m = /^io\.containerd\.([A-Za-z0-9_-]+)\.v\d+$/.exec(name);
  return m ? m[1] : name;
}

export function criContainerState(s: unknown): ContainerState {
  switch (s) {
    case 'CONTAINER_CREATED':
    case 0:
      return 'created';
    case 'CONTAINER_RUNNING':
    case 1:
      return 'running';
    case 'CONTAINER_EXITED':
    case 2:
      return 'exited';
    default:
      return 'unknown';
  }
}

/** containerd task status (or ctr's STATUS column) → contract state; no task → created. */
export function taskState(s: unknown): ContainerState {
  switch (typeof s === 'string' ? s.toUpperCase() : s) {
    case undefined:
    case 'CREATED':
    case 1:
      return 'created';
    case 'RUNNING':
    case 2:
      return 'running';
    case 'STOPPED':
    case 3:
      return 'exited';
    case 'PAUSED':
    case 'PAUSING':
    case 4:
    case 5:
      return 'paused';
    default:
      return 'unknown';
  }
}

const strMap = (m: unknown): Record<string, string> => {
  const out: Record<string, string> = {};
  if (m && typeof m === 'object') for (const [k, v] of Object.entries(m as Rec)) out[k] = String(v);
  return out;
};

export function mapPod(p: Rec): PodInfo {
  const md = (p.metadata ?? {}) as Rec;
  return {
    id: String(p.id),
    name: String(md.name ?? ''),
    podNamespace: String(md.namespace ?? ''),
    uid: String(md.uid ?? ''),
    attempt: Number(md.attempt ?? 0),
    state: p.state === 'SANDBOX_READY' || p.state === 0 ? 'ready' : 'notready',
    createdAt: nsToMs(p.createdAt),
    labels: strMap(p.labels),
    annotations: strMap(p.annotations),
    runtimeHandler: String(p.runtimeHandler ?? ''),
    namespace: CRI_NAMESPACE,
  };
}

/**
 * A CRI container: its list entry, optionally its ContainerStatus (log path, start/finish, exit
 * code), its containerd record (runtime name) and its task (pid), and its pod's runtime handler.
 */
export function mapCriContainer(c: Rec, extra: { status?: Rec; record?: Rec; task?: Rec; handler?: string } = {}): ContainerInfo {
  const st = extra.status;
  const md = (c.metadata ?? st?.metadata ?? {}) as Rec;
  const info: ContainerInfo = {
    id: String(c.id),
    name: String(md.name ?? ''),
    namespace: CRI_NAMESPACE,
    podId: c.podSandboxId ? String(c.podSandboxId) : undefined,
    image: String(c.image?.image ?? st?.image?.image ?? ''),
    imageRef: (c.imageRef || st?.imageRef || undefined) as string | undefined,
    state: criContainerState(st?.state ?? c.state),
    createdAt: nsToMs(c.createdAt ?? st?.createdAt),
    labels: strMap(c.labels ?? st?.labels),
    source: 'cri',
  };
  if (st) {
    const started = nsToMs(st.startedAt);
    const finished = nsToMs(st.finishedAt);
    if (started) info.startedAt = started;
    if (finished) {
      info.finishedAt = finished;
      info.exitCode = Number(st.exitCode ?? 0);
    }
    if (st.logPath) info.logPath = String(st.logPath);
  }
  const runtime = extra.handler || shortRuntime(extra.record?.runtime?.name);
  if (runtime) info.runtime = runtime;
  const pid = Number(extra.task?.pid ?? 0);
  if (pid && info.state === 'running') info.pid = pid;
  return info;
}

/**
 * A plain containerd container (any namespace; in k8s.io also the CRI sandboxes, flagged
 * `sandbox`), with its task when it has one and the image digests of its namespace.
 */
export function mapContainerdContainer(ns: string, c: Rec, task: Rec | undefined, imageDigests?: Map<string, string>): ContainerInfo {
  const labels = strMap(c.labels);
  const state = task ? taskState(task.status) : 'created';
  const info: ContainerInfo = {
    id: String(c.id),
    name: labels[K8S_CONTAINER_NAME] || labels[K8S_POD_NAME] || String(c.id),
    namespace: ns,
    image: String(c.image ?? ''),
    state,
    createdAt: tsToMs(c.createdAt) ?? 0,
    labels,
    source: 'containerd',
  };
  const digest = info.image && imageDigests?.get(info.image);
  if (digest) info.imageRef = digest;
  const runtime = shortRuntime(c.runtime?.name);
  if (runtime) info.runtime = runtime;
  if (task) {
    const pid = Number(task.pid ?? 0);
    if (pid && state !== 'exited') info.pid = pid;
    if (state === 'exited') {
      info.exitCode = Number(task.exitStatus ?? 0);
      const at = tsToMs(task.exitedAt);
      if (at) info.finishedAt = at;
    }
  }
  if (labels[CRI_KIND_LABEL] === 'sandbox') {
    info.sandbox = true;
    info.podId = info.id;
  } else if (labels[CRI_SANDBOX_ID_LABEL]) {
    info.podId = labels[CRI_SANDBOX_ID_LABEL];
  }
  return info;
}

export function mapCriImage(i: Rec): ImageInfo {
  const img: ImageInfo = {
    id: String(i.id),
    namespace: CRI_NAMESPACE,
    repoTags: (i.repoTags ?? []).map(String),
    repoDigests: (i.repoDigests ?? []).map(String),
    size: Number(i.size ?? i.size_ ?? 0),
  };
  if (i.pinned) img.pinned = true;
  return img;
}

/**
 * containerd image records of one namespace, grouped by target digest (one ImageInfo per distinct
 * image). Outside CRI `id` is the target (index/manifest) digest; `size` comes from `sizes` (by
 * target digest, read from the content store: see imageSize.ts), 0 when unknown.
 */
export function groupContainerdImages(ns: string, images: Rec[], sizes?: Map<string, number>): ImageInfo[] {
  const by = new Map<string, ImageInfo>();
  for (const i of images) {
    const digest = String(i.target?.digest ?? '');
    const name = String(i.name ?? '');
    const key = digest || name;
    let img = by.get(key);
    if (!img) {
      img = { id: digest || name, namespace: ns, repoTags: [], repoDigests: [], size: (digest && sizes?.get(digest)) || 0 };
      by.set(key, img);
    }
    if (name.includes('@')) img.repoDigests.push(name);
    else if (name && name !== digest && !isIdAlias(name)) img.repoTags.push(name);
  }
  return [...by.values()];
}

export function mapConditions(status: Rec | undefined): RuntimeCondition[] {
  const conds = (status?.conditions ?? []) as Rec[];
  return conds.map((c) => {
    const r: RuntimeCondition = { type: String(c.type), status: !!c.status };
    if (c.reason) r.reason = String(c.reason);
    if (c.message) r.message = String(c.message);
    return r;
  });
}

/** CRI verbose `info` maps: values are JSON where they are JSON. */
export function parseInfoMap(info: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(strMap(info))) {
    try {
      out[k] = JSON.parse(v);
    } catch {
      out[k] = v;
    }
  }
  return out;
}

/** A google.protobuf.Any holding JSON (OCI specs, CRI metadata extensions) → parsed; else type and size. */
export function decodeAny(a: Rec | undefined): unknown {
  if (!a || !a.value) return undefined;
  const buf = Buffer.isBuffer(a.value) ? a.value : Buffer.from(a.value);
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch {
    return { typeUrl: a.typeUrl, bytes: buf.length };
  }
}

/**
 * The subject of a containerd event payload without knowing its type: every event message of
 * containerd (ContainerCreate, TaskStart, TaskExit, ImageCreate, NamespaceCreate, SnapshotPrepare,
 * ContentDelete …) carries the container ID / name / key as its field 1, a string.
 */
export function eventSubject(any: Rec | undefined): string | undefined {
  const v = any?.value;
  if (!v || !v.length) return undefined;
  try {
    const r = Reader.create(Buffer.isBuffer(v) ? v : Buffer.from(v));
    for (let i = 0; i < 64 && r.pos < r.len; i++) {
      const tag = r.uint32();
      if (tag >>> 3 === 1 && (tag & 7) === 2) return r.string();
      r.skipType(tag & 7);
    }
  } catch {
    /* not a message we can walk */
  }
  return undefined;
}

/** Image names that are only an image ID alias (CRI adds `sha256:<config digest>` as a name). */
export const isIdAlias = (name: string): boolean => /^sha256:[0-9a-f]{64}$/.test(name);
