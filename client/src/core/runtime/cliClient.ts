/**
 * RuntimeClient for access `cli`: neither the SSH user may open containerd's socket nor can a sudo
 * bridge reach it, so everything goes through `ctr` (and `crictl -o json` when the host has it)
 * over SSH, as argument vectors under sudo. Fewer details than gRPC: without crictl there are no
 * pod names, no creation times and no CRI log paths (RuntimeInfo.accessNote says why).
 */
import type { HostConnection, RemoteProcess } from '../ssh/types';
import { effectiveSudoMode } from '../ssh/pool';
import { CtrRunner, execId, parseSize, parseTable, sshToRuntime } from './ctr';
import { CRI_KIND_LABEL, isIdAlias, mapCriContainer, mapCriImage, mapConditions, mapPod, parseInfoMap, shortRuntime, taskState, type Rec } from './map';
import {
  CRI_NAMESPACE,
  type ContainerInfo,
  type ExecSyncResult,
  type HostSnapshot,
  type ImageInfo,
  type NamespaceSnapshot,
  type PodInfo,
  type PullProgress,
  type RuntimeClient,
  type RuntimeEvent,
  type RuntimeInfo,
} from './types';
import { RuntimeError, checkCommand, checkHandler, checkId, checkImageRef, checkNamespace, checkShell, checkTimeoutS } from './validate';

type Log = (level: 'debug' | 'info' | 'warn', message: string) => void;

const SANDBOX_FILTER = `labels."${CRI_KIND_LABEL}"==sandbox`;

/** `2024-01-02 03:04:05.123456789 +0000 UTC` (Go's time.String) → ms. */
export function parseGoTime(s: string): number | undefined {
  const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(\.\d+)? ([+-]\d\d)(\d\d)/.exec(s);
  if (!m) return undefined;
  const frac = (m[3] ?? '').slice(0, 4); // .123
  const t = Date.parse(`${m[1]}T${m[2]}${frac}${m[4]}:${m[5]}`);
  return Number.isFinite(t) ? t : undefined;
}

/** $1 socket, $2 namespace, $3 exec ID, $4 container, then the command; prints the output after ctr returned. */
const CTR_EXEC_SCRIPT = [
  's=$1 n=$2 e=$3 c=$4; shift 4',
  'd=$(umask 077 && mktemp -d /run/cts-exec.XXXXXXXXXX) || exit 125',
  'ctr --address "$s" --namespace "$n" tasks exec --log-uri "file://$d/out" --exec-id "$e" "$c" "$@"',
  'rc=$?',
  'cat -- "$d/out" 2>/dev/null',
  'rm -rf -- "$d"',
  'exit $rc',
].join('\n');

/** `ctr events` prints the payload as JSON: its id / container_id / name / key is the subject. */
function payloadSubject(json: string): string | undefined {
  try {
    const p = JSON.parse(json) as Rec;
    const v = p.container_id ?? p.id ?? p.name ?? p.key ?? p.digest;
    return typeof v === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

export class CliRuntimeClient implements RuntimeClient {
  readonly access = 'cli' as const;
  private readonly ctr: CtrRunner;
  private readonly procs = new Set<RemoteProcess>();
  private closedFlag = false;

  constructor(
    readonly conn: HostConnection,
    private readonly socket: string,
    private readonly tools: Set<string>,
    readonly accessNote: string | undefined,
    private readonly log: Log,
  ) {
    this.ctr = new CtrRunner(conn, socket);
  }

  private get crictl(): boolean {
    return this.tools.has('crictl');
  }
  private get label(): string {
    return this.conn.host.name;
  }
  private guard(): void {
    if (this.closedFlag) throw new RuntimeError(`the runtime client of ${this.label} is closed`, 'cancelled');
  }

  /** `ctr version` must work, else there is no way to containerd at all. */
  async probe(signal?: AbortSignal): Promise<void> {
    await this.ctr.ctr(undefined, ['version'], { signal, timeoutMs: 15_000 });
  }

  async info(signal?: AbortSignal): Promise<RuntimeInfo> {
    this.guard();
    const [ver, cri] = await Promise.all([
      this.ctr.ctr(undefined, ['version'], { signal }),
      this.crictl ? this.ctr.crictlJson<Rec>(['info', '-o', 'json'], { signal }).catch(() => undefined) : undefined,
    ]);
    const server = ver.slice(ver.indexOf('Server:'));
    const info: RuntimeInfo = {
      access: 'cli',
      version: /Version:\s*(\S+)/.exec(server)?.[1] ?? '',
      revision: /Revision:\s*(\S+)/.exec(server)?.[1],
      conditions: cri ? mapConditions(cri.status) : [],
      socket: this.socket,
    };
    if (this.accessNote) info.accessNote = this.accessNote;
    if (cri) {
      const rest = { ...cri };
      delete rest.status;
      info.criInfo = rest;
    }
    return info;
  }

  async namespaces(signal?: AbortSignal): Promise<string[]> {
    this.guard();
    const out = await this.ctr.ctr(undefined, ['namespaces', 'ls', '-q'], { signal });
    return out
      .split('\n')
      .map((s) => s.trim())
      .filter((s) => s)
      .filter((s) => {
        try {
          return !!checkNamespace(s);
        } catch {
          this.log('warn', `${this.label}: ignoring namespace with an unexpected name ${JSON.stringify(s)}`);
          return false;
        }
      })
      .sort();
  }

  private async tasks(ns: string, signal?: AbortSignal): Promise<Map<string, Record<string, string>>> {
    const rows = parseTable(await this.ctr.ctr(ns, ['tasks', 'ls'], { signal }));
    return new Map(rows.map((r) => [r.TASK, r]));
  }

  async listPods(signal?: AbortSignal): Promise<PodInfo[]> {
    this.guard();
    if (this.crictl) {
      const r = await this.ctr.crictlJson<Rec>(['pods', '-o', 'json'], { signal });
      return ((r.items ?? []) as Rec[]).map(mapPod);
    }
    const [rows, tasks] = await Promise.all([
      this.ctr.ctr(CRI_NAMESPACE, ['containers', 'ls', SANDBOX_FILTER], { signal }).then(parseTable),
      this.tasks(CRI_NAMESPACE, signal),
    ]);
    return rows.map((r) => ({
      id: r.CONTAINER,
      name: r.CONTAINER,
      podNamespace: '',
      uid: '',
      attempt: 0,
      state: tasks.get(r.CONTAINER)?.STATUS === 'RUNNING' ? 'ready' : 'notready',
      createdAt: 0,
      labels: {},
      annotations: {},
      runtimeHandler: '',
      namespace: CRI_NAMESPACE,
    }));
  }

  async listContainers(namespace: string, signal?: AbortSignal): Promise<ContainerInfo[]> {
    this.guard();
    const ns = checkNamespace(namespace);
    const k8s = ns === CRI_NAMESPACE;
    const [rows, tasks, sandboxes, cri] = await Promise.all([
      this.ctr.ctr(ns, ['containers', 'ls'], { signal }).then(parseTable),
      this.tasks(ns, signal),
      k8s ? this.ctr.ctr(ns, ['containers', 'ls', '-q', SANDBOX_FILTER], { signal }).then((o) => new Set(o.split('\n').map((s) => s.trim()))) : undefined,
      k8s && this.crictl ? this.ctr.crictlJson<Rec>(['ps', '-a', '-o', 'json'], { signal }).then((r) => (r.containers ?? []) as Rec[]) : undefined,
    ]);
    const criById = new Map((cri ?? []).map((c) => [String(c.id), c]));
    return rows.map((r) => {
      const t = tasks.get(r.CONTAINER);
      const c = criById.get(r.CONTAINER);
      if (c) {
        const info = mapCriContainer(c, {});
        info.runtime = shortRuntime(r.RUNTIME);
        if (t?.PID && info.state === 'running') info.pid = Number(t.PID);
        return info;
      }
      const info: ContainerInfo = {
        id: r.CONTAINER,
        name: r.CONTAINER,
        namespace: ns,
        image: r.IMAGE,
        state: t ? taskState(t.STATUS) : 'created',
        createdAt: 0,
        labels: {},
        source: 'containerd',
      };
      const runtime = shortRuntime(r.RUNTIME);
      if (runtime) info.runtime = runtime;
      if (t && Number(t.PID) && info.state !== 'exited') info.pid = Number(t.PID);
      if (sandboxes?.has(r.CONTAINER)) {
        info.sandbox = true;
        info.podId = r.CONTAINER;
      }
      return info;
    });
  }

  async listImages(namespace: string, signal?: AbortSignal): Promise<ImageInfo[]> {
    this.guard();
    const ns = checkNamespace(namespace);
    if (ns === CRI_NAMESPACE && this.crictl) {
      const r = await this.ctr.crictlJson<Rec>(['images', '-o', 'json'], { signal });
      return ((r.images ?? []) as Rec[]).map(mapCriImage);
    }
    const rows = parseTable(await this.ctr.ctr(ns, ['images', 'ls'], { signal }));
    const by = new Map<string, ImageInfo>();
    for (const r of rows) {
      let img = by.get(r.DIGEST);
      if (!img) by.set(r.DIGEST, (img = { id: r.DIGEST, namespace: ns, repoTags: [], repoDigests: [], size: parseSize(r.SIZE) }));
      if (r.REF.includes('@')) img.repoDigests.push(r.REF);
      else if (r.REF !== r.DIGEST && !isIdAlias(r.REF)) img.repoTags.push(r.REF);
    }
    return [...by.values()];
  }

  async snapshot(signal?: AbortSignal): Promise<HostSnapshot> {
    this.guard();
    const warnings: string[] = [];
    const [info, names] = await Promise.all([this.info(signal), this.namespaces(signal)]);
    const namespaces = await Promise.all(
      names.map(async (ns): Promise<NamespaceSnapshot | undefined> => {
        try {
          const [pods, containers, images] = await Promise.all([
            ns === CRI_NAMESPACE ? this.listPods(signal) : Promise.resolve([]),
            this.listContainers(ns, signal),
            this.listImages(ns, signal),
          ]);
          if (ns === CRI_NAMESPACE) {
            const pod = new Map(pods.map((p) => [p.id, p]));
            for (const c of containers) if (c.sandbox && pod.get(c.id)?.name) c.name = pod.get(c.id)!.name;
          }
          return { name: ns, pods, containers, images };
        } catch (e) {
          if ((e as RuntimeError).kind === 'cancelled') throw e;
          warnings.push(`namespace ${ns}: ${(e as Error).message}`);
          return undefined;
        }
      }),
    );
    return { info, namespaces: namespaces.filter((n): n is NamespaceSnapshot => !!n), warnings, takenAt: Date.now() };
  }

  private needCrictl(what: string): void {
    if (!this.crictl) throw new RuntimeError(`${what} needs gRPC access or crictl on ${this.label} (access is cli without crictl)`, 'unsupported');
  }

  async inspectPod(id: string, signal?: AbortSignal): Promise<unknown> {
    this.guard();
    checkId(id, 'pod ID');
    this.needCrictl('inspecting a pod');
    return this.ctr.crictlJson(['inspectp', '-o', 'json', id], { signal });
  }

  async inspectContainer(namespace: string, id: string, signal?: AbortSignal): Promise<unknown> {
    this.guard();
    const ns = checkNamespace(namespace);
    checkId(id, 'container ID');
    if (ns === CRI_NAMESPACE && this.crictl) {
      const r = await this.ctr.crictlJson<Rec>(['inspect', '-o', 'json', id], { signal }).catch(() => undefined);
      if (r) return { status: r.status, info: parseInfoMap(r.info) };
    }
    const out = await this.ctr.ctr(ns, ['containers', 'info', id], { signal });
    return { container: JSON.parse(out) as unknown };
  }

  async inspectImage(namespace: string, ref: string, signal?: AbortSignal): Promise<unknown> {
    this.guard();
    const ns = checkNamespace(namespace);
    checkImageRef(ref);
    if (ns === CRI_NAMESPACE && this.crictl) return this.ctr.crictlJson(['inspecti', '-o', 'json', ref], { signal });
    const rows = parseTable(await this.ctr.ctr(ns, ['images', 'ls', `name==${ref}`], { signal }));
    if (!rows.length) throw new RuntimeError(`image ${ref} not found in ${ns} on ${this.label}`, 'not-found');
    return { image: rows[0] };
  }

  private useCrictl(ns: string): boolean {
    return ns === CRI_NAMESPACE && this.crictl;
  }

  async startContainer(namespace: string, id: string, signal?: AbortSignal): Promise<void> {
    this.guard();
    const ns = checkNamespace(namespace);
    checkId(id, 'container ID');
    if (this.useCrictl(ns)) {
      await this.ctr.crictl(['start', id], { signal, timeoutMs: 120_000 });
      return;
    }
    const t = (await this.tasks(ns, signal)).get(id);
    if (t?.STATUS === 'RUNNING') return;
    if (t?.STATUS === 'PAUSED') {
      await this.ctr.ctr(ns, ['tasks', 'resume', id], { signal });
      return;
    }
    if (t) await this.ctr.ctr(ns, ['tasks', 'delete', id], { signal });
    await this.ctr.ctr(ns, ['tasks', 'start', '--detach', '--null-io', id], { signal, timeoutMs: 60_000 });
  }

  private async waitStopped(ns: string, id: string, ms: number, signal?: AbortSignal): Promise<boolean> {
    const end = Date.now() + ms;
    for (let i = 0; i < 10_000; i++) {
      const t = (await this.tasks(ns, signal)).get(id);
      if (!t || t.STATUS === 'STOPPED') return true;
      if (Date.now() >= end) return false;
      await new Promise((r) => setTimeout(r, 300));
    }
    return false;
  }

  async stopContainer(namespace: string, id: string, timeoutS?: number, signal?: AbortSignal): Promise<void> {
    this.guard();
    const ns = checkNamespace(namespace);
    checkId(id, 'container ID');
    const grace = checkTimeoutS(timeoutS, 10);
    if (this.useCrictl(ns)) {
      await this.ctr.crictl(['stop', '--timeout', String(grace), id], { signal, timeoutMs: grace * 1000 + 30_000 });
      return;
    }
    const t = (await this.tasks(ns, signal)).get(id);
    if (!t || t.STATUS === 'STOPPED') return;
    if (grace > 0) {
      await this.ctr.ctr(ns, ['tasks', 'kill', '--signal', 'SIGTERM', id], { signal });
      if (await this.waitStopped(ns, id, grace * 1000, signal)) return;
    }
    await this.ctr.ctr(ns, ['tasks', 'kill', '--all', '--signal', 'SIGKILL', id], { signal });
    if (!(await this.waitStopped(ns, id, 15_000, signal))) throw new RuntimeError(`${id} on ${this.label} did not exit after SIGKILL`, 'timeout');
  }

  async removeContainer(namespace: string, id: string, signal?: AbortSignal): Promise<void> {
    this.guard();
    const ns = checkNamespace(namespace);
    checkId(id, 'container ID');
    if (this.useCrictl(ns)) await this.ctr.crictl(['rm', id], { signal, timeoutMs: 60_000 });
    else await this.ctr.ctr(ns, ['containers', 'rm', id], { signal, timeoutMs: 60_000 });
  }

  async stopPod(id: string, signal?: AbortSignal): Promise<void> {
    this.guard();
    checkId(id, 'pod ID');
    this.needCrictl('stopping a pod');
    await this.ctr.crictl(['stopp', id], { signal, timeoutMs: 120_000 });
  }

  async removePod(id: string, signal?: AbortSignal): Promise<void> {
    this.guard();
    checkId(id, 'pod ID');
    this.needCrictl('removing a pod');
    await this.ctr.crictl(['rmp', id], { signal, timeoutMs: 120_000 });
  }

  async pullImage(ref: string, opts: { onProgress?: (p: PullProgress) => void; signal?: AbortSignal } = {}): Promise<string> {
    this.guard();
    checkImageRef(ref);
    // `ctr images pull` would ignore CRI's registry configuration (mirrors, auth): crictl only
    this.needCrictl('pulling with the CRI registry configuration');
    opts.onProgress?.({ message: `pulling ${ref} (crictl)` });
    const out = await this.ctr.crictl(['pull', ref], { signal: opts.signal, timeoutMs: 30 * 60_000 });
    const id = /Image is up to date for (\S+)/.exec(out)?.[1] ?? out.trim();
    opts.onProgress?.({ message: `pulled ${ref}: ${id}` });
    return id;
  }

  async removeImage(namespace: string, ref: string, signal?: AbortSignal): Promise<void> {
    this.guard();
    const ns = checkNamespace(namespace);
    checkImageRef(ref);
    if (this.useCrictl(ns)) await this.ctr.crictl(['rmi', ref], { signal, timeoutMs: 60_000 });
    else await this.ctr.ctr(ns, ['images', 'rm', '--sync', ref], { signal, timeoutMs: 60_000 });
  }

  async pruneImages(namespace: string, signal?: AbortSignal): Promise<string[]> {
    this.guard();
    const ns = checkNamespace(namespace);
    const [images, containers] = await Promise.all([this.listImages(ns, signal), this.listContainers(ns, signal)]);
    const used = new Set<string>();
    for (const c of containers) {
      used.add(c.image);
      if (c.imageRef) used.add(c.imageRef);
    }
    const removed: string[] = [];
    for (const im of images) {
      if ([im.id, ...im.repoTags, ...im.repoDigests].some((n) => used.has(n))) continue;
      for (const n of this.useCrictl(ns) ? [im.id] : [...im.repoTags, ...im.repoDigests]) {
        await this.removeImage(ns, n, signal);
        removed.push(n);
      }
    }
    return removed;
  }

  /** crictl reads configs from files: a private temp dir (mktemp -d, the login user's), removed afterwards. */
  private async withConfigFiles<T>(files: Record<string, unknown>, f: (paths: Record<string, string>) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const r = await this.conn.exec(['mktemp', '-d'], { signal, timeoutMs: 15_000 }).catch((e) => {
      throw sshToRuntime(e, `mktemp on ${this.label}`);
    });
    const dir = r.stdout.trim();
    if (r.code !== 0 || !/^\/[A-Za-z0-9_./-]+$/.test(dir)) throw new RuntimeError(`mktemp -d on ${this.label} failed: ${r.stderr.trim()}`, 'failed');
    try {
      const paths: Record<string, string> = {};
      for (const [name, value] of Object.entries(files)) {
        paths[name] = `${dir}/${name}.json`;
        await this.conn.writeFile(paths[name], JSON.stringify(value), { mode: 0o600, signal });
      }
      return await f(paths);
    } finally {
      await this.conn.exec(['rm', '-rf', '--', dir], { timeoutMs: 15_000 }).catch(() => undefined);
    }
  }

  async runPod(podConfig: unknown, runtimeHandler?: string, signal?: AbortSignal): Promise<string> {
    this.guard();
    const handler = checkHandler(runtimeHandler);
    this.needCrictl('creating a pod');
    const out = await this.withConfigFiles(
      { pod: podConfig },
      (p) => this.ctr.crictl(['runp', ...(handler ? ['--runtime', handler] : []), p.pod], { signal, timeoutMs: 300_000 }),
      signal,
    );
    return checkId(out.trim(), 'pod ID');
  }

  async createContainer(podId: string, containerConfig: unknown, podConfig: unknown, signal?: AbortSignal): Promise<string> {
    this.guard();
    checkId(podId, 'pod ID');
    this.needCrictl('creating a CRI container');
    const out = await this.withConfigFiles(
      { container: containerConfig, pod: podConfig },
      (p) => this.ctr.crictl(['create', podId, p.container, p.pod], { signal, timeoutMs: 300_000 }),
      signal,
    );
    return checkId(out.trim(), 'container ID');
  }

  async execSync(namespace: string, id: string, cmd: readonly string[], timeoutS?: number, signal?: AbortSignal): Promise<ExecSyncResult> {
    this.guard();
    const ns = checkNamespace(namespace);
    checkId(id, 'container ID');
    const argv = checkCommand(cmd);
    const t = checkTimeoutS(timeoutS, 30);
    // ctr tasks exec (1.6 … 2.1) may lose the output of short commands (it stops reading its FIFOs
    // too early): the shim writes it to a file instead (--log-uri; stdout and stderr then arrive
    // merged, as stdout), which a constant script prints once ctr returned
    const full = this.useCrictl(ns)
      ? this.ctr.crictlArgv(['exec', '--sync', '--timeout', String(t), id, ...argv])
      : ['sh', '-c', CTR_EXEC_SCRIPT, 'sh', this.socket, ns, execId(), id, ...argv];
    const r = await this.ctr.raw(full, { signal, timeoutMs: (t || 3600) * 1000 + 15_000 });
    if (r.code !== 0 && /^(ctr|crictl): |level=fatal/m.test(r.stderr))
      throw new RuntimeError(`exec in ${id} on ${this.label} failed: ${r.stderr.trim()}`, /not found/i.test(r.stderr) ? 'not-found' : 'failed');
    return { stdout: r.stdout, stderr: r.stderr, exitCode: r.code ?? -1 };
  }

  async shellArgv(namespace: string, id: string, shell = 'sh'): Promise<{ argv: string[]; sudo: boolean }> {
    const ns = checkNamespace(namespace);
    checkId(id, 'container ID');
    const sh = checkShell(shell);
    const sudo = effectiveSudoMode(this.conn.host) !== 'none';
    if (this.useCrictl(ns)) {
      const sandbox = await this.ctr.ctr(ns, ['containers', 'ls', '-q', SANDBOX_FILTER]).catch(() => '');
      if (!sandbox.split('\n').includes(id)) return { argv: this.ctr.crictlArgv(['exec', '-it', id, sh]), sudo };
    }
    return { argv: this.ctr.ctrArgv(ns, ['tasks', 'exec', '--tty', '--exec-id', execId('shell'), id, sh]), sudo };
  }

  /** `ctr events` as a long-lived remote process: one line per event (time, namespace, topic, payload). */
  async subscribe(onEvent: (e: RuntimeEvent) => void, signal: AbortSignal): Promise<void> {
    if (signal.aborted || this.closedFlag) return;
    let p: RemoteProcess;
    try {
      p = await this.conn.spawn(this.ctr.ctrArgv(undefined, ['events']), { sudo: true, signal });
    } catch (e) {
      if (signal.aborted) return;
      throw sshToRuntime(e, `ctr events on ${this.label}`);
    }
    this.procs.add(p);
    const onAbort = () => p.kill();
    signal.addEventListener('abort', onAbort, { once: true });
    let buf = '';
    p.stdout.on('data', (b: Buffer | string) => {
      buf += b.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const m = /^(\S+ \S+ \S+ \S+) (\S+) (\/\S+) ?(.*)$/.exec(line);
        if (!m) continue;
        try {
          const ev: RuntimeEvent = { topic: m[3], namespace: m[2], timestamp: parseGoTime(m[1]) ?? Date.now() };
          const subject = payloadSubject(m[4]);
          if (subject) ev.subject = subject;
          onEvent(ev);
        } catch (e) {
          this.log('warn', `runtime events on ${this.label}: listener failed: ${(e as Error).message}`);
        }
      }
      if (buf.length > 1 << 20) buf = '';
    });
    await p.exited;
    signal.removeEventListener('abort', onAbort);
    this.procs.delete(p);
  }

  close(): void {
    this.closedFlag = true;
    for (const p of this.procs) p.kill();
    this.procs.clear();
  }
}
