/**
 * RuntimeClient over gRPC: CRI v1 (k8s.io) and containerd's own services on one grpc-js channel,
 * which dials the private local socket of a SocketProxy (proxy.ts) that tunnels every connection
 * through the host's pooled SSH connection. All calls carry a deadline and honour AbortSignals;
 * namespaced containerd calls carry the metadata `containerd-namespace`.
 *
 * Containers outside CRI: listing, inspecting, stopping (Tasks.Kill/Wait) and image removal use the
 * API. Starting a task and exec need IO FIFOs created on the host (containerd's client library does
 * that locally), and removing a container should also remove its snapshot (Snapshots API plus
 * leases), so those go through `ctr --namespace NS …` over SSH with sudo (argv only, IDs validated).
 */
import * as grpc from '@grpc/grpc-js';
import type * as protobuf from 'protobufjs';
import type { HostConnection } from '../ssh/types';
import { effectiveSudoMode } from '../ssh/pool';
import { CtrRunner, execId } from './ctr';
import {
  decodeAny,
  eventSubject,
  groupContainerdImages,
  mapConditions,
  mapContainerdContainer,
  mapCriContainer,
  mapCriImage,
  mapPod,
  nsToMs,
  parseInfoMap,
  tsToMs,
  CRI_KIND_LABEL,
  type Rec,
} from './map';
import { stubs, type ServiceCtor } from './proto';
import { imageSize, type Descriptor } from './imageSize';
import type { SocketProxy } from './proxy';
import {
  CRI_NAMESPACE,
  type ContainerInfo,
  type ContainerStats,
  type ExecSyncResult,
  type HostSnapshot,
  type ImageInfo,
  type NamespaceSnapshot,
  type PodInfo,
  type PullProgress,
  type RuntimeAccess,
  type RuntimeClient,
  type RuntimeEvent,
  type RuntimeInfo,
} from './types';
import {
  RuntimeError,
  checkCommand,
  checkHandler,
  checkId,
  checkImageRef,
  checkNamespace,
  checkShell,
  checkTimeoutS,
  type RuntimeErrorKind,
} from './validate';

type Log = (level: 'debug' | 'info' | 'warn', message: string) => void;

/** Default deadline of a unary call (lists, status, small actions). */
export const CALL_TIMEOUT_MS = 20_000;
const PULL_TIMEOUT_MS = 30 * 60_000;
/** ContainerStatus calls in flight at once during a snapshot (one HTTP/2 connection carries them all). */
const STATUS_FANOUT = 64;
/** image sizes: blobs read in parallel per round, the largest manifest or index accepted, cache bound */
const SIZE_FANOUT = 16;
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const MAX_CACHED_SIZES = 2000;
const UNSIZED_RETRY_MS = 5 * 60_000;

/** A private dir (root, 0700) with two empty files the shim appends an exec's stdout/stderr to. Constant script. */
const EXEC_DIR_SCRIPT = 'umask 077 && d=$(mktemp -d /run/cts-exec.XXXXXXXXXX) && : > "$d/out" && : > "$d/err" && echo "$d"';
const EXEC_DIR_RE = /^\/run\/cts-exec\.[A-Za-z0-9]{10}$/;
/** stdout file to stdout, stderr file to stderr, then remove the dir ($1). Constant script. */
const EXEC_READ_SCRIPT = 'cat -- "$1/out" && cat -- "$1/err" >&2; rc=$?; rm -rf -- "$1"; exit $rc';

const SIGTERM = 15;
const SIGKILL = 9;

interface CallOpts {
  ns?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
}

type Client = grpc.Client & Record<string, (...a: unknown[]) => grpc.ClientUnaryCall | grpc.ClientReadableStream<Rec>>;

function grpcKind(code: grpc.status): RuntimeErrorKind {
  switch (code) {
    case grpc.status.CANCELLED:
      return 'cancelled';
    case grpc.status.DEADLINE_EXCEEDED:
      return 'timeout';
    case grpc.status.NOT_FOUND:
      return 'not-found';
    case grpc.status.PERMISSION_DENIED:
    case grpc.status.UNAUTHENTICATED:
      return 'denied';
    case grpc.status.UNAVAILABLE:
      return 'unavailable';
    case grpc.status.UNIMPLEMENTED:
      return 'unsupported';
    default:
      return 'failed';
  }
}

/** The gRPC plumbing of one client: channel, service stubs, deadlines, error wording. */
export class Rpc {
  readonly channel: grpc.Channel;
  private readonly clients = new Map<ServiceCtor, Client>();
  private readonly active = new Set<grpc.Call>();
  closed = false;

  constructor(
    readonly proxy: SocketProxy,
    readonly label: string,
  ) {
    this.channel = new grpc.Channel(proxy.target, grpc.credentials.createInsecure(), {
      'grpc.default_authority': 'localhost',
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
      'grpc.enable_retries': 0,
      'grpc.initial_reconnect_backoff_ms': 250,
      'grpc.max_reconnect_backoff_ms': 3000,
      'grpc.service_config_disable_resolution': 1,
      // an idle client gives its SSH channel back after 5 min (sshd allows 10 sessions per connection)
      'grpc.client_idle_timeout_ms': 5 * 60_000,
    });
  }

  client(ctor: ServiceCtor): Client {
    let c = this.clients.get(ctor);
    if (!c) {
      c = new ctor(this.proxy.target, grpc.credentials.createInsecure(), { channelOverride: this.channel }) as unknown as Client;
      this.clients.set(ctor, c);
    }
    return c;
  }

  private meta(ns?: string): grpc.Metadata {
    const m = new grpc.Metadata();
    if (ns) m.set('containerd-namespace', ns);
    return m;
  }

  error(e: grpc.ServiceError | Error, what: string, timeoutMs?: number): RuntimeError {
    if (e instanceof RuntimeError) return e;
    const se = e as grpc.ServiceError;
    if (typeof se.code !== 'number') return new RuntimeError(`${what} on ${this.label}: ${e.message}`, 'failed');
    const kind = grpcKind(se.code);
    const details = se.details || e.message;
    switch (kind) {
      case 'timeout':
        return new RuntimeError(`${what} on ${this.label}: no answer within ${Math.round((timeoutMs ?? 0) / 1000)} s`, kind);
      case 'unavailable': {
        const why = this.proxy.lastError;
        return new RuntimeError(`${what}: containerd on ${this.label} is not reachable (${why ? why : details})`, kind);
      }
      case 'cancelled':
        return new RuntimeError(`${what} on ${this.label}: cancelled`, kind);
      default:
        return new RuntimeError(`${what} on ${this.label}: ${details}`, kind);
    }
  }

  /** Why a call must not start: the client is closed or the signal already fired. */
  private refusal(what: string, signal?: AbortSignal): RuntimeError | undefined {
    if (this.closed) return new RuntimeError(`${what} on ${this.label}: the runtime client is closed`, 'cancelled');
    if (signal?.aborted) return new RuntimeError(`${what} on ${this.label}: cancelled`, 'cancelled');
    return undefined;
  }

  unary<T = Rec>(ctor: ServiceCtor, method: string, req: object, o: CallOpts = {}): Promise<T> {
    const what = `${method}${o.ns ? ` (${o.ns})` : ''}`;
    const refused = this.refusal(what, o.signal);
    if (refused) return Promise.reject(refused);
    const timeoutMs = o.timeoutMs ?? CALL_TIMEOUT_MS;
    const c = this.client(ctor);
    return new Promise<T>((resolve, reject) => {
      let call: grpc.ClientUnaryCall | undefined;
      const onAbort = () => call?.cancel();
      const fn = c[method] as unknown as (
        req: object,
        meta: grpc.Metadata,
        opts: grpc.CallOptions,
        cb: (err: grpc.ServiceError | null, res?: T) => void,
      ) => grpc.ClientUnaryCall;
      call = fn.call(c, req, this.meta(o.ns), { deadline: Date.now() + timeoutMs }, (err, res) => {
        o.signal?.removeEventListener('abort', onAbort);
        if (call) this.active.delete(call);
        if (err) reject(this.error(err, what, timeoutMs));
        else resolve(res as T);
      });
      this.active.add(call);
      o.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  stream(ctor: ServiceCtor, method: string, req: object, o: CallOpts = {}): grpc.ClientReadableStream<Rec> {
    const c = this.client(ctor);
    const fn = c[method] as unknown as (req: object, meta: grpc.Metadata, opts: grpc.CallOptions) => grpc.ClientReadableStream<Rec>;
    const call = fn.call(c, req, this.meta(o.ns), {});
    this.active.add(call);
    call.on('close', () => this.active.delete(call));
    call.on('status', () => this.active.delete(call));
    return call;
  }

  /** A server stream read to its end (bounded by a deadline, a byte budget and the signal). */
  collect(ctor: ServiceCtor, method: string, req: object, o: CallOpts & { maxBytes: number; bytes: (m: Rec) => number }): Promise<Rec[]> {
    const what = `${method}${o.ns ? ` (${o.ns})` : ''}`;
    const refused = this.refusal(what, o.signal);
    if (refused) return Promise.reject(refused);
    const timeoutMs = o.timeoutMs ?? CALL_TIMEOUT_MS;
    const c = this.client(ctor);
    const fn = c[method] as unknown as (req: object, meta: grpc.Metadata, opts: grpc.CallOptions) => grpc.ClientReadableStream<Rec>;
    const call = fn.call(c, req, this.meta(o.ns), { deadline: Date.now() + timeoutMs });
    this.active.add(call);
    return new Promise<Rec[]>((resolve, reject) => {
      const out: Rec[] = [];
      let total = 0;
      let done = false;
      const finish = (err?: RuntimeError) => {
        if (done) return;
        done = true;
        this.active.delete(call);
        o.signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(out);
      };
      const onAbort = () => {
        call.cancel();
        finish(new RuntimeError(`${what} on ${this.label}: cancelled`, 'cancelled'));
      };
      o.signal?.addEventListener('abort', onAbort, { once: true });
      call.on('data', (m: Rec) => {
        total += o.bytes(m);
        if (total > o.maxBytes) {
          call.cancel();
          finish(new RuntimeError(`${what} on ${this.label}: more than ${o.maxBytes} bytes`, 'failed'));
          return;
        }
        out.push(m);
      });
      call.on('error', (e: grpc.ServiceError) => finish(this.error(e, what, timeoutMs)));
      call.on('end', () => finish());
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.active) c.cancel();
    this.active.clear();
    for (const c of this.clients.values()) c.close();
    this.channel.close();
  }
}

/** Normalise a user's CRI config (snake_case as crictl's JSON, or camelCase) against the message type; unknown keys are refused. */
export function normalizeConfig(type: protobuf.Type, value: unknown, path: string): Rec {
  if (!value || typeof value !== 'object' || Array.isArray(value))
    throw new RuntimeError(`${path} must be an object (the CRI ${type.name} shape)`, 'invalid');
  const out: Rec = {};
  const camel = (k: string) => k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
  for (const [k, v] of Object.entries(value as Rec)) {
    if (v === undefined || v === null) continue;
    const field = type.fields[k] ?? type.fields[camel(k)];
    if (!field) throw new RuntimeError(`${path}.${k}: not a field of CRI ${type.name} (or not supported by this client)`, 'invalid');
    field.resolve();
    const sub = field.resolvedType;
    const conv = (x: unknown, p: string): unknown =>
      sub && 'fields' in sub ? normalizeConfig(sub as protobuf.Type, x, p) : x;
    if (field.map) {
      if (typeof v !== 'object' || Array.isArray(v)) throw new RuntimeError(`${path}.${k} must be an object`, 'invalid');
      const m: Rec = {};
      for (const [mk, mv] of Object.entries(v as Rec)) m[mk] = sub && 'fields' in sub ? conv(mv, `${path}.${k}.${mk}`) : String(mv);
      out[field.name] = m;
    } else if (field.repeated) {
      if (!Array.isArray(v)) throw new RuntimeError(`${path}.${k} must be a list`, 'invalid');
      out[field.name] = v.map((x, i) => conv(x, `${path}.${k}[${i}]`));
    } else {
      out[field.name] = conv(v, `${path}.${k}`);
    }
  }
  return out;
}

export interface GrpcClientOptions {
  access: Exclude<RuntimeAccess, 'cli'>;
  accessNote?: string;
  socket: string;
  log: Log;
}

export class GrpcRuntimeClient implements RuntimeClient {
  readonly access: RuntimeAccess;
  accessNote: string | undefined;
  private readonly socket: string;
  private readonly s = stubs();
  readonly rpc: Rpc;
  private readonly ctr: CtrRunner;
  private readonly log: Log;
  private crictlPresent: Promise<boolean> | undefined;
  /** image sizes outside CRI by namespace + target digest (content is immutable) */
  private readonly imageSizes = new Map<string, number>();
  /** when an image's size could not be read (missing content, an error): not retried before UNSIZED_RETRY_MS */
  private readonly unsized = new Map<string, number>();

  constructor(
    readonly conn: HostConnection,
    proxy: SocketProxy,
    o: GrpcClientOptions,
  ) {
    this.access = o.access;
    this.accessNote = o.accessNote;
    this.socket = o.socket;
    this.log = o.log;
    this.rpc = new Rpc(proxy, conn.host.name);
    this.ctr = new CtrRunner(conn, o.socket);
  }

  get closed(): boolean {
    return this.rpc.closed;
  }

  /** The cheapest call that proves the whole path works (used by connectRuntime's probe). */
  async probe(signal?: AbortSignal, timeoutMs = 12_000): Promise<void> {
    await this.rpc.unary(this.s.version, 'Version', {}, { signal, timeoutMs });
  }

  // ---- info ------------------------------------------------------------------------------------

  async info(signal?: AbortSignal): Promise<RuntimeInfo> {
    const s = this.s;
    const soft = <T>(p: Promise<T>): Promise<T | RuntimeError> => p.catch((e: RuntimeError) => e);
    const [ver, criVer, status, fs] = await Promise.all([
      this.rpc.unary(s.version, 'Version', {}, { signal }),
      soft(this.rpc.unary(s.criRuntime, 'Version', { version: 'v1' }, { signal })),
      soft(this.rpc.unary(s.criRuntime, 'Status', { verbose: true }, { signal })),
      soft(this.rpc.unary(s.criImages, 'ImageFsInfo', {}, { signal })),
    ]);
    for (const r of [criVer, status, fs]) if (r instanceof RuntimeError && r.kind === 'cancelled') throw r;
    const info: RuntimeInfo = {
      access: this.access,
      version: String(ver.version ?? ''),
      revision: ver.revision ? String(ver.revision) : undefined,
      conditions: [],
      socket: this.socket,
    };
    if (this.accessNote) info.accessNote = this.accessNote;
    if (!(criVer instanceof RuntimeError))
      info.cri = { runtimeName: String(criVer.runtimeName), runtimeVersion: String(criVer.runtimeVersion), runtimeApiVersion: String(criVer.runtimeApiVersion) };
    if (!(status instanceof RuntimeError)) {
      info.conditions = mapConditions(status.status);
      if (status.info && Object.keys(status.info).length) info.criInfo = parseInfoMap(status.info);
    }
    if (!(fs instanceof RuntimeError))
      info.imageFs = ((fs.imageFilesystems ?? []) as Rec[]).map((f) => ({
        mountpoint: String(f.fsId?.mountpoint ?? ''),
        usedBytes: Number(f.usedBytes?.value ?? 0),
        inodesUsed: Number(f.inodesUsed?.value ?? 0),
      }));
    return info;
  }

  // ---- lists -----------------------------------------------------------------------------------

  async namespaces(signal?: AbortSignal): Promise<string[]> {
    const r = await this.rpc.unary(this.s.namespaces, 'List', {}, { signal });
    return ((r.namespaces ?? []) as Rec[]).map((n) => String(n.name)).sort();
  }

  private async criPodsRaw(signal?: AbortSignal): Promise<Rec[]> {
    const r = await this.rpc.unary(this.s.criRuntime, 'ListPodSandbox', {}, { signal });
    return (r.items ?? []) as Rec[];
  }

  async listPods(signal?: AbortSignal): Promise<PodInfo[]> {
    return (await this.criPodsRaw(signal)).map(mapPod);
  }

  /** containerd's records of one namespace: containers, tasks, images (three calls in parallel). */
  private async nsRaw(ns: string, signal?: AbortSignal): Promise<{ containers: Rec[]; tasks: Map<string, Rec>; images: Rec[] }> {
    const [c, t, i] = await Promise.all([
      this.rpc.unary(this.s.containers, 'List', {}, { ns, signal }),
      this.rpc.unary(this.s.tasks, 'List', {}, { ns, signal }),
      this.rpc.unary(this.s.images, 'List', {}, { ns, signal }),
    ]);
    const tasks = new Map<string, Rec>();
    // Tasks.List returns the init processes only; containerd fills `id` (the container's) and maybe containerId
    for (const task of (t.tasks ?? []) as Rec[]) tasks.set(String(task.containerId || task.id), task);
    return { containers: (c.containers ?? []) as Rec[], tasks, images: (i.images ?? []) as Rec[] };
  }

  /** CRI containers with their ContainerStatus (log path, start/finish, exit code), fanned out on the channel. */
  private async criContainersRaw(signal?: AbortSignal): Promise<{ list: Rec[]; status: Map<string, Rec> }> {
    const r = await this.rpc.unary(this.s.criRuntime, 'ListContainers', {}, { signal });
    const list = (r.containers ?? []) as Rec[];
    const status = new Map<string, Rec>();
    for (let i = 0; i < list.length; i += STATUS_FANOUT) {
      await Promise.all(
        list.slice(i, i + STATUS_FANOUT).map((c) =>
          this.rpc.unary(this.s.criRuntime, 'ContainerStatus', { containerId: c.id, verbose: false }, { signal }).then(
            (st) => st.status && status.set(String(c.id), st.status as Rec),
            (e: RuntimeError) => {
              if (e.kind === 'cancelled') throw e; // gone in between (not-found) is fine: the list entry stays
            },
          ),
        ),
      );
    }
    return { list, status };
  }

  private assembleNamespace(
    ns: string,
    raw: { containers: Rec[]; tasks: Map<string, Rec>; images: Rec[] },
    cri?: { pods: Rec[]; containers: { list: Rec[]; status: Map<string, Rec> }; images?: Rec[] },
    sizes?: Map<string, number>,
  ): NamespaceSnapshot {
    const digests = new Map<string, string>();
    for (const im of raw.images) if (im.target?.digest) digests.set(String(im.name), String(im.target.digest));
    const containers: ContainerInfo[] = [];
    const pods = cri ? cri.pods.map(mapPod) : [];
    if (cri) {
      const podById = new Map(pods.map((p) => [p.id, p]));
      const criById = new Map(cri.containers.list.map((c) => [String(c.id), c]));
      const seen = new Set<string>();
      for (const rec of raw.containers) {
        const id = String(rec.id);
        seen.add(id);
        const c = criById.get(id);
        if (c) {
          const pod = podById.get(String(c.podSandboxId));
          containers.push(mapCriContainer(c, { status: cri.containers.status.get(id), record: rec, task: raw.tasks.get(id), handler: pod?.runtimeHandler }));
        } else {
          const info = mapContainerdContainer(ns, rec, raw.tasks.get(id), digests);
          const pod = info.sandbox ? podById.get(id) : undefined;
          if (pod) {
            info.name = pod.name;
            if (pod.runtimeHandler) info.runtime = pod.runtimeHandler;
          }
          containers.push(info);
        }
      }
      // listed by CRI but not (yet / any more) by containerd: keep what CRI says
      for (const c of cri.containers.list) {
        if (seen.has(String(c.id))) continue;
        const pod = podById.get(String(c.podSandboxId));
        containers.push(mapCriContainer(c, { status: cri.containers.status.get(String(c.id)), handler: pod?.runtimeHandler }));
      }
    } else {
      for (const rec of raw.containers) containers.push(mapContainerdContainer(ns, rec, raw.tasks.get(String(rec.id)), digests));
    }
    const images: ImageInfo[] = cri?.images ? cri.images.map(mapCriImage) : groupContainerdImages(ns, raw.images, sizes);
    containers.sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
    return { name: ns, pods, containers, images };
  }

  /** A manifest or index blob of namespace `ns` from the content store; undefined when it is not there. */
  private async readBlob(ns: string, digest: string, signal?: AbortSignal): Promise<Buffer | undefined> {
    try {
      const parts = await this.rpc.collect(this.s.content, 'Read', { digest }, {
        ns,
        signal,
        maxBytes: MAX_MANIFEST_BYTES,
        bytes: (m) => (m.data as Buffer | undefined)?.length ?? 0,
      });
      return Buffer.concat(parts.map((m) => (m.data as Buffer | undefined) ?? Buffer.alloc(0)));
    } catch (e) {
      const k = (e as RuntimeError).kind;
      if (k === 'cancelled' || k === 'unavailable') throw e;
      return undefined; // not found, too big, or not readable: the size stays unknown
    }
  }

  /**
   * Sizes of containerd images outside CRI, by target digest (what `ctr images ls` shows in SIZE):
   * read from the content store once per image and cached; an image that could not be sized is not
   * read again on every refresh, only after UNSIZED_RETRY_MS.
   */
  private async sizeImages(ns: string, images: Rec[], signal?: AbortSignal): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const todo = new Map<string, Rec>();
    for (const im of images) {
      const t = im.target as Rec | undefined;
      const digest = String(t?.digest ?? '');
      if (!digest) continue;
      const key = `${ns}\0${digest}`;
      const hit = this.imageSizes.get(key);
      if (hit !== undefined) out.set(digest, hit);
      else if (Date.now() - (this.unsized.get(key) ?? -Infinity) >= UNSIZED_RETRY_MS) todo.set(digest, t!);
    }
    const list = [...todo];
    for (let i = 0; i < list.length; i += SIZE_FANOUT) {
      await Promise.all(
        list.slice(i, i + SIZE_FANOUT).map(async ([digest, t]) => {
          const key = `${ns}\0${digest}`;
          const size = await imageSize(t as Descriptor, (d) => this.readBlob(ns, d, signal));
          if (this.imageSizes.size + this.unsized.size >= MAX_CACHED_SIZES) {
            this.imageSizes.clear();
            this.unsized.clear();
          }
          if (size === undefined) {
            this.unsized.set(key, Date.now());
            return;
          }
          this.unsized.delete(key);
          this.imageSizes.set(key, size);
          out.set(digest, size);
        }),
      );
    }
    return out;
  }

  /** The CRI side for k8s.io (pods, containers + statuses, images), or undefined when CRI is off. */
  private async criRaw(signal?: AbortSignal, warnings?: string[]) {
    const settle = async <T>(p: Promise<T>, what: string): Promise<T | undefined> => {
      try {
        return await p;
      } catch (e) {
        const re = e as RuntimeError;
        if (re.kind === 'cancelled') throw re;
        if (re.kind !== 'unsupported') warnings?.push(`CRI ${what}: ${re.message}`);
        return undefined;
      }
    };
    const [pods, containers, images] = await Promise.all([
      settle(this.criPodsRaw(signal), 'pods'),
      settle(this.criContainersRaw(signal), 'containers'),
      settle(this.rpc.unary(this.s.criImages, 'ListImages', {}, { signal }).then((r) => (r.images ?? []) as Rec[]), 'images'),
    ]);
    if (!pods || !containers) return undefined;
    return { pods, containers, images };
  }

  async listContainers(namespace: string, signal?: AbortSignal): Promise<ContainerInfo[]> {
    const ns = checkNamespace(namespace);
    const [raw, cri] = await Promise.all([this.nsRaw(ns, signal), ns === CRI_NAMESPACE ? this.criRaw(signal) : undefined]);
    return this.assembleNamespace(ns, raw, cri).containers;
  }

  async listImages(namespace: string, signal?: AbortSignal): Promise<ImageInfo[]> {
    const ns = checkNamespace(namespace);
    if (ns === CRI_NAMESPACE) {
      try {
        const r = await this.rpc.unary(this.s.criImages, 'ListImages', {}, { signal });
        return ((r.images ?? []) as Rec[]).map(mapCriImage);
      } catch (e) {
        if ((e as RuntimeError).kind !== 'unsupported') throw e;
      }
    }
    const r = await this.rpc.unary(this.s.images, 'List', {}, { ns, signal });
    const images = (r.images ?? []) as Rec[];
    return groupContainerdImages(ns, images, await this.sizeImages(ns, images, signal));
  }

  /**
   * Everything at once: containerd's version, CRI version/status/image fs, every namespace's
   * containers/tasks/images and CRI's pods/containers(+statuses)/images, all issued in parallel on
   * the one channel (about two round trips). A failing namespace or CRI call becomes a warning.
   */
  async snapshot(signal?: AbortSignal): Promise<HostSnapshot> {
    const warnings: string[] = [];
    const infoP = this.info(signal);
    const nsP = this.namespaces(signal);
    const criP = this.criRaw(signal, warnings);
    const rawP = nsP.then((names) =>
      Promise.all(
        names.map((ns) =>
          this.nsRaw(ns, signal).catch((e: RuntimeError) => {
            if (e.kind === 'cancelled' || e.kind === 'unavailable') throw e;
            warnings.push(`namespace ${ns}: ${e.message}`);
            return undefined;
          }),
        ),
      ),
    );
    // a rejection of a promise not awaited yet must not surface as unhandled
    for (const p of [infoP, nsP, criP, rawP]) p.catch(() => undefined);
    const [info, names, cri, raws] = await Promise.all([infoP, nsP, criP, rawP]);
    // images outside CRI: sizes from the content store (cached, so only new images cost a read)
    const sizes = await Promise.all(
      names.map((ns, i) => {
        const raw = raws[i];
        if (!raw || (ns === CRI_NAMESPACE && cri?.images)) return undefined;
        return this.sizeImages(ns, raw.images, signal);
      }),
    );
    const namespaces: NamespaceSnapshot[] = [];
    names.forEach((ns, i) => {
      const raw = raws[i];
      if (!raw) return;
      namespaces.push(this.assembleNamespace(ns, raw, ns === CRI_NAMESPACE ? cri : undefined, sizes[i]));
    });
    if (cri && cri.pods.length && !names.includes(CRI_NAMESPACE))
      namespaces.push(this.assembleNamespace(CRI_NAMESPACE, { containers: [], tasks: new Map(), images: [] }, cri));
    return { info, namespaces, warnings, takenAt: Date.now() };
  }

  // ---- inspect ---------------------------------------------------------------------------------

  async inspectPod(id: string, signal?: AbortSignal): Promise<unknown> {
    checkId(id, 'pod ID');
    const r = await this.rpc.unary(this.s.criRuntime, 'PodSandboxStatus', { podSandboxId: id, verbose: true }, { signal });
    return { status: r.status, info: parseInfoMap(r.info) };
  }

  /** Is `id` a CRI container (k8s.io only)? One ContainerStatus call. */
  private async criStatus(ns: string, id: string, verbose: boolean, signal?: AbortSignal): Promise<Rec | undefined> {
    if (ns !== CRI_NAMESPACE) return undefined;
    try {
      return await this.rpc.unary(this.s.criRuntime, 'ContainerStatus', { containerId: id, verbose }, { signal });
    } catch (e) {
      const k = (e as RuntimeError).kind;
      if (k === 'not-found' || k === 'unsupported') return undefined;
      throw e;
    }
  }

  async inspectContainer(namespace: string, id: string, signal?: AbortSignal): Promise<unknown> {
    const ns = checkNamespace(namespace);
    checkId(id, 'container ID');
    const cri = await this.criStatus(ns, id, true, signal);
    if (cri) return { status: cri.status, info: parseInfoMap(cri.info) };
    const [c, t] = await Promise.all([
      this.rpc.unary(this.s.containers, 'Get', { id }, { ns, signal }),
      this.rpc.unary(this.s.tasks, 'Get', { containerId: id }, { ns, signal }).catch((e: RuntimeError) => {
        if (e.kind === 'not-found') return undefined;
        throw e;
      }),
    ]);
    const rec = (c.container ?? {}) as Rec;
    const extensions: Rec = {};
    for (const [k, v] of Object.entries((rec.extensions ?? {}) as Rec)) extensions[k] = decodeAny(v as Rec);
    return {
      container: {
        id: rec.id,
        labels: rec.labels,
        image: rec.image,
        runtime: { name: rec.runtime?.name, options: rec.runtime?.options?.typeUrl || undefined },
        snapshotter: rec.snapshotter,
        snapshotKey: rec.snapshotKey,
        createdAt: tsToMs(rec.createdAt),
        updatedAt: tsToMs(rec.updatedAt),
        spec: decodeAny(rec.spec),
        extensions,
      },
      task: t?.process
        ? { pid: t.process.pid, status: t.process.status, exitStatus: t.process.exitStatus, exitedAt: tsToMs(t.process.exitedAt) }
        : undefined,
    };
  }

  async inspectImage(namespace: string, ref: string, signal?: AbortSignal): Promise<unknown> {
    const ns = checkNamespace(namespace);
    checkImageRef(ref);
    if (ns === CRI_NAMESPACE) {
      try {
        const r = await this.rpc.unary(this.s.criImages, 'ImageStatus', { image: { image: ref }, verbose: true }, { signal });
        if (!r.image) throw new RuntimeError(`image ${ref} not found on ${this.conn.host.name}`, 'not-found');
        return { image: r.image, info: parseInfoMap(r.info) };
      } catch (e) {
        if ((e as RuntimeError).kind !== 'unsupported') throw e;
      }
    }
    const r = await this.rpc.unary(this.s.images, 'Get', { name: ref }, { ns, signal });
    const im = (r.image ?? {}) as Rec;
    return { image: { name: im.name, labels: im.labels, target: im.target, createdAt: tsToMs(im.createdAt), updatedAt: tsToMs(im.updatedAt) } };
  }

  async containerStats(id: string, signal?: AbortSignal): Promise<ContainerStats> {
    checkId(id, 'container ID');
    const r = await this.rpc.unary(this.s.criRuntime, 'ContainerStats', { containerId: id }, { signal });
    const st = (r.stats ?? {}) as Rec;
    const n = (v: Rec | undefined) => (v && v.value !== undefined ? Number(v.value) : undefined);
    return {
      timestamp: nsToMs(st.cpu?.timestamp ?? st.memory?.timestamp) || Date.now(),
      cpuNanoCores: n(st.cpu?.usageNanoCores),
      cpuCoreNanoSeconds: n(st.cpu?.usageCoreNanoSeconds),
      memoryWorkingSetBytes: n(st.memory?.workingSetBytes),
      memoryUsageBytes: n(st.memory?.usageBytes),
      writableLayerBytes: n(st.writableLayer?.usedBytes),
    };
  }

  // ---- actions ---------------------------------------------------------------------------------

  /** Refuse to act on a CRI sandbox container through ctr (that would confuse CRI). */
  private async refuseSandbox(ns: string, id: string, signal?: AbortSignal): Promise<void> {
    if (ns !== CRI_NAMESPACE) return;
    const r = await this.rpc.unary(this.s.containers, 'Get', { id }, { ns, signal });
    if (r.container?.labels?.[CRI_KIND_LABEL] === 'sandbox')
      throw new RuntimeError(`${id} is the sandbox of a CRI pod: stop or remove the pod instead`, 'invalid');
  }

  private async task(ns: string, id: string, signal?: AbortSignal): Promise<Rec | undefined> {
    try {
      const r = await this.rpc.unary(this.s.tasks, 'Get', { containerId: id }, { ns, signal });
      return r.process as Rec | undefined;
    } catch (e) {
      if ((e as RuntimeError).kind === 'not-found') return undefined;
      throw e;
    }
  }

  async startContainer(namespace: string, id: string, signal?: AbortSignal): Promise<void> {
    const ns = checkNamespace(namespace);
    checkId(id, 'container ID');
    if (await this.criStatus(ns, id, false, signal)) {
      await this.rpc.unary(this.s.criRuntime, 'StartContainer', { containerId: id }, { signal, timeoutMs: 120_000 });
      return;
    }
    await this.refuseSandbox(ns, id, signal);
    const t = await this.task(ns, id, signal);
    switch (t?.status) {
      case 'RUNNING':
        return;
      case 'CREATED':
        await this.rpc.unary(this.s.tasks, 'Start', { containerId: id }, { ns, signal, timeoutMs: 60_000 });
        return;
      case 'PAUSED':
      case 'PAUSING':
        await this.rpc.unary(this.s.tasks, 'Resume', { containerId: id }, { ns, signal });
        return;
      case 'STOPPED':
      case 'UNKNOWN':
        await this.rpc.unary(this.s.tasks, 'Delete', { containerId: id }, { ns, signal });
        break;
      default:
        break;
    }
    // A new task needs its rootfs mounts and IO set up on the host: ctr does that (output to /dev/null).
    await this.ctr.ctr(ns, ['tasks', 'start', '--detach', '--null-io', id], { signal, timeoutMs: 60_000 });
  }

  async stopContainer(namespace: string, id: string, timeoutS?: number, signal?: AbortSignal): Promise<void> {
    const ns = checkNamespace(namespace);
    checkId(id, 'container ID');
    const grace = checkTimeoutS(timeoutS, 10);
    if (await this.criStatus(ns, id, false, signal)) {
      await this.rpc.unary(this.s.criRuntime, 'StopContainer', { containerId: id, timeout: grace }, { signal, timeoutMs: grace * 1000 + 30_000 });
      return;
    }
    await this.refuseSandbox(ns, id, signal);
    const t = await this.task(ns, id, signal);
    if (!t || t.status === 'STOPPED') return;
    // SIGTERM, wait up to `grace` s, then SIGKILL (Tasks.Wait returns once the task exited)
    const waitFor = (ms: number) =>
      this.rpc.unary(this.s.tasks, 'Wait', { containerId: id }, { ns, signal, timeoutMs: ms }).then(
        () => true,
        (e: RuntimeError) => {
          if (e.kind === 'timeout') return false;
          throw e;
        },
      );
    if (grace > 0) {
      const w = waitFor(grace * 1000);
      w.catch(() => undefined);
      await this.rpc.unary(this.s.tasks, 'Kill', { containerId: id, signal: SIGTERM, all: false }, { ns, signal });
      if (await w) return;
    }
    await this.rpc.unary(this.s.tasks, 'Kill', { containerId: id, signal: SIGKILL, all: true }, { ns, signal });
    if (!(await waitFor(15_000))) throw new RuntimeError(`${id} on ${this.conn.host.name} did not exit after SIGKILL`, 'timeout');
  }

  async removeContainer(namespace: string, id: string, signal?: AbortSignal): Promise<void> {
    const ns = checkNamespace(namespace);
    checkId(id, 'container ID');
    if (await this.criStatus(ns, id, false, signal)) {
      await this.rpc.unary(this.s.criRuntime, 'RemoveContainer', { containerId: id }, { signal, timeoutMs: 60_000 });
      return;
    }
    await this.refuseSandbox(ns, id, signal);
    const t = await this.task(ns, id, signal);
    if (t && t.status !== 'STOPPED' && t.status !== 'CREATED')
      throw new RuntimeError(`${id} on ${this.conn.host.name} is ${String(t.status).toLowerCase()}: stop it first`, 'invalid');
    // ctr deletes the stopped task, the container and its snapshot (the API alone would leak the snapshot)
    await this.ctr.ctr(ns, ['containers', 'rm', id], { signal, timeoutMs: 60_000 });
  }

  async stopPod(id: string, signal?: AbortSignal): Promise<void> {
    checkId(id, 'pod ID');
    await this.rpc.unary(this.s.criRuntime, 'StopPodSandbox', { podSandboxId: id }, { signal, timeoutMs: 120_000 });
  }

  async removePod(id: string, signal?: AbortSignal): Promise<void> {
    checkId(id, 'pod ID');
    await this.rpc.unary(this.s.criRuntime, 'RemovePodSandbox', { podSandboxId: id }, { signal, timeoutMs: 120_000 });
  }

  async pullImage(ref: string, opts: { onProgress?: (p: PullProgress) => void; signal?: AbortSignal } = {}): Promise<string> {
    checkImageRef(ref);
    opts.onProgress?.({ message: `pulling ${ref} (CRI, with ${this.conn.host.name}'s registry configuration)` });
    const r = await this.rpc.unary(this.s.criImages, 'PullImage', { image: { image: ref } }, { signal: opts.signal, timeoutMs: PULL_TIMEOUT_MS });
    const imageRef = String(r.imageRef ?? '');
    opts.onProgress?.({ message: `pulled ${ref}: ${imageRef}` });
    return imageRef;
  }

  async removeImage(namespace: string, ref: string, signal?: AbortSignal): Promise<void> {
    const ns = checkNamespace(namespace);
    checkImageRef(ref);
    if (ns === CRI_NAMESPACE) {
      try {
        await this.rpc.unary(this.s.criImages, 'RemoveImage', { image: { image: ref } }, { signal, timeoutMs: 60_000 });
        return;
      } catch (e) {
        if ((e as RuntimeError).kind !== 'unsupported') throw e;
      }
    }
    await this.rpc.unary(this.s.images, 'Delete', { name: ref, sync: true }, { ns, signal, timeoutMs: 60_000 });
  }

  async pruneImages(namespace: string, signal?: AbortSignal): Promise<string[]> {
    const ns = checkNamespace(namespace);
    const [images, raw, criCtrs] = await Promise.all([
      this.listImages(ns, signal),
      this.rpc.unary(this.s.containers, 'List', {}, { ns, signal }),
      ns === CRI_NAMESPACE
        ? this.rpc.unary(this.s.criRuntime, 'ListContainers', {}, { signal }).catch((e: RuntimeError) => {
            if (e.kind === 'unsupported') return { containers: [] };
            throw e;
          })
        : Promise.resolve({ containers: [] }),
    ]);
    const used = new Set<string>();
    for (const c of (raw.containers ?? []) as Rec[]) if (c.image) used.add(String(c.image));
    for (const c of (criCtrs.containers ?? []) as Rec[]) {
      if (c.imageRef) used.add(String(c.imageRef));
      if (c.image?.image) used.add(String(c.image.image));
    }
    const removed: string[] = [];
    for (const im of images) {
      const names = [im.id, ...im.repoTags, ...im.repoDigests];
      if (names.some((n) => used.has(n))) continue;
      if (ns === CRI_NAMESPACE) {
        await this.removeImage(ns, im.id, signal);
        removed.push(im.repoTags[0] ?? im.id);
      } else {
        for (const n of [...im.repoTags, ...im.repoDigests]) {
          await this.removeImage(ns, n, signal);
          removed.push(n);
        }
      }
    }
    return removed;
  }

  async runPod(podConfig: unknown, runtimeHandler?: string, signal?: AbortSignal): Promise<string> {
    const handler = checkHandler(runtimeHandler);
    const config = normalizeConfig(this.s.root.lookupType('runtime.v1.PodSandboxConfig'), podConfig, 'podConfig');
    const r = await this.rpc.unary(this.s.criRuntime, 'RunPodSandbox', { config, runtimeHandler: handler }, { signal, timeoutMs: 300_000 });
    return checkId(String(r.podSandboxId), 'pod ID');
  }

  async createContainer(podId: string, containerConfig: unknown, podConfig: unknown, signal?: AbortSignal): Promise<string> {
    checkId(podId, 'pod ID');
    const config = normalizeConfig(this.s.root.lookupType('runtime.v1.ContainerConfig'), containerConfig, 'containerConfig');
    const sandboxConfig = normalizeConfig(this.s.root.lookupType('runtime.v1.PodSandboxConfig'), podConfig, 'podConfig');
    if (config.image?.image !== undefined) checkImageRef(config.image.image);
    const r = await this.rpc.unary(this.s.criRuntime, 'CreateContainer', { podSandboxId: podId, config, sandboxConfig }, { signal, timeoutMs: 300_000 });
    return checkId(String(r.containerId), 'container ID');
  }

  async execSync(namespace: string, id: string, cmd: readonly string[], timeoutS?: number, signal?: AbortSignal): Promise<ExecSyncResult> {
    const ns = checkNamespace(namespace);
    checkId(id, 'container ID');
    const argv = checkCommand(cmd);
    const t = checkTimeoutS(timeoutS, 30);
    if (await this.criStatus(ns, id, false, signal)) {
      const r = await this.rpc.unary(this.s.criRuntime, 'ExecSync', { containerId: id, cmd: argv, timeout: t }, { signal, timeoutMs: (t || 3600) * 1000 + 15_000 });
      const text = (b: unknown) => (Buffer.isBuffer(b) ? b.toString('utf8') : String(b ?? ''));
      return { stdout: text(r.stdout), stderr: text(r.stderr), exitCode: Number(r.exitCode ?? 0) };
    }
    await this.refuseSandbox(ns, id, signal);
    return this.execPlain(ns, id, argv, t, signal);
  }

  /**
   * Exec in a plain containerd container through the Tasks API. `ctr tasks exec` (1.6 … 2.1) may
   * lose the output of short commands (it cancels its FIFO readers before they drained), so the
   * shim writes stdout and stderr into two regular files of a private root-owned dir under /run
   * instead (/run, not /tmp: containerd's unit may have a private /tmp); DeleteProcess returns once
   * the shim copied everything; one more command reads and removes them.
   */
  private async execPlain(ns: string, id: string, argv: string[], timeoutS: number, signal?: AbortSignal): Promise<ExecSyncResult> {
    const label = this.conn.host.name;
    const [dirOut, got] = await Promise.all([
      this.ctr.run(['sh', '-c', EXEC_DIR_SCRIPT], { signal, timeoutMs: 30_000 }),
      this.rpc.unary(this.s.containers, 'Get', { id }, { ns, signal }),
    ]);
    const dir = dirOut.trim();
    if (!EXEC_DIR_RE.test(dir)) throw new RuntimeError(`exec in ${id} on ${label}: unexpected temp dir ${JSON.stringify(dir)}`, 'failed');
    let cleaned = false;
    try {
      const spec = decodeAny(got.container?.spec) as Rec | undefined;
      if (!spec?.process) throw new RuntimeError(`exec in ${id} on ${label}: the container has no OCI process spec`, 'failed');
      const process: Rec = { ...spec.process, args: argv, terminal: false };
      delete process.consoleSize;
      const eid = execId();
      const spec6 = { typeUrl: 'types.containerd.io/opencontainers/runtime-spec/1/Process', value: Buffer.from(JSON.stringify(process)) };
      await this.rpc.unary(this.s.tasks, 'Exec', { containerId: id, execId: eid, stdout: `${dir}/out`, stderr: `${dir}/err`, terminal: false, spec: spec6 }, { ns, signal });
      let exitCode: number;
      try {
        const waitMs = (timeoutS || 24 * 3600) * 1000;
        const waited = this.rpc.unary(this.s.tasks, 'Wait', { containerId: id, execId: eid }, { ns, signal, timeoutMs: waitMs });
        waited.catch(() => undefined);
        await this.rpc.unary(this.s.tasks, 'Start', { containerId: id, execId: eid }, { ns, signal, timeoutMs: 60_000 });
        try {
          exitCode = Number((await waited).exitStatus ?? 0);
        } catch (e) {
          if ((e as RuntimeError).kind !== 'timeout') throw e;
          await this.rpc.unary(this.s.tasks, 'Kill', { containerId: id, execId: eid, signal: SIGKILL }, { ns }).catch(() => undefined);
          await this.rpc.unary(this.s.tasks, 'Wait', { containerId: id, execId: eid }, { ns, timeoutMs: 15_000 }).catch(() => undefined);
          throw new RuntimeError(`exec in ${id} on ${label}: still running after ${timeoutS} s (killed)`, 'timeout');
        }
      } finally {
        await this.rpc.unary(this.s.tasks, 'DeleteProcess', { containerId: id, execId: eid }, { ns, timeoutMs: 60_000 }).catch((e: RuntimeError) => {
          this.log('warn', `exec in ${id} on ${label}: DeleteProcess: ${e.message}`);
        });
      }
      const r = await this.ctr.raw(['sh', '-c', EXEC_READ_SCRIPT, 'sh', dir], { signal, timeoutMs: 60_000 });
      cleaned = true;
      if (r.code !== 0) throw new RuntimeError(`exec in ${id} on ${label}: reading its output failed: ${r.stderr.trim()}`, 'failed');
      return { stdout: r.stdout, stderr: r.stderr, exitCode };
    } finally {
      if (!cleaned) await this.ctr.raw(['rm', '-rf', '--', dir], { timeoutMs: 30_000 }).catch(() => undefined);
    }
  }

  private hasCrictl(signal?: AbortSignal): Promise<boolean> {
    this.crictlPresent ??= this.ctr.tools(signal).then(
      (t) => t.has('crictl'),
      () => false,
    );
    return this.crictlPresent;
  }

  async shellArgv(namespace: string, id: string, shell = 'sh'): Promise<{ argv: string[]; sudo: boolean }> {
    const ns = checkNamespace(namespace);
    checkId(id, 'container ID');
    const sh = checkShell(shell);
    const sudo = effectiveSudoMode(this.conn.host) !== 'none';
    if ((await this.criStatus(ns, id, false)) && (await this.hasCrictl()))
      return { argv: this.ctr.crictlArgv(['exec', '-it', id, sh]), sudo };
    return { argv: this.ctr.ctrArgv(ns, ['tasks', 'exec', '--tty', '--exec-id', execId('shell'), id, sh]), sudo };
  }

  // ---- events ----------------------------------------------------------------------------------

  subscribe(onEvent: (e: RuntimeEvent) => void, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      if (signal.aborted || this.rpc.closed) return resolve();
      const call = this.rpc.stream(this.s.events, 'Subscribe', { filters: [] });
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => call.cancel();
      signal.addEventListener('abort', onAbort, { once: true });
      call.on('data', (env: Rec) => {
        try {
          const ev: RuntimeEvent = { topic: String(env.topic ?? ''), namespace: String(env.namespace ?? ''), timestamp: tsToMs(env.timestamp) ?? Date.now() };
          const subject = eventSubject(env.event);
          if (subject) ev.subject = subject;
          onEvent(ev);
        } catch (e) {
          this.log('warn', `runtime events on ${this.conn.host.name}: listener failed: ${(e as Error).message}`);
        }
      });
      call.on('error', (e: grpc.ServiceError) => {
        if (e.code !== grpc.status.CANCELLED) this.log('warn', this.rpc.error(e, 'event stream').message);
        finish();
      });
      call.on('end', finish);
      call.on('close', finish);
    });
  }

  close(): void {
    this.rpc.close();
    this.rpc.proxy.close();
  }
}
