/**
 * The container explorer's tree, as plain data (no vscode import, so node:test drives it): a host's
 * runtime snapshot → namespaces → pods → containers, containers outside pods, images; the filter,
 * the grouping, labels, descriptions, icons and the `contextValue` menus match on.
 *
 * contextValue grammar (package.json `when` clauses match these with regexes):
 *   container.<created|running|exited|paused|unknown>.<cri|plain>
 *   pod.<ready|notready>
 *   image
 *   namespace[.cri]          (.cri: containerd's k8s.io namespace, where CRI pulls and runs)
 *   images[.cri]             (an "Images" folder; without .cri it may span several namespaces)
 *   group.<runtime|plain>    (grouping folders)
 */
import type { ContainerInfo, ContainerState, HostSnapshot, ImageInfo, NamespaceSnapshot, PodInfo, RuntimeInfo } from '../core/runtime/types';

export const CRI_NS = 'k8s.io';

export type GroupBy = 'namespace' | 'pod' | 'runtime';
export const GROUP_BY: readonly GroupBy[] = ['namespace', 'pod', 'runtime'];

export type NodeKind = 'namespace' | 'pod' | 'container' | 'images' | 'image' | 'group' | 'message';

export interface Icon {
  /** codicon id */
  id: string;
  /** theme color id */
  color?: string;
}

export interface NodeSpec {
  /** Stable within its host: the adapter prefixes the host, so expansion survives refreshes. */
  id: string;
  kind: NodeKind;
  label: string;
  /** [start, end) ranges of the label matching the filter */
  highlights?: [number, number][];
  description?: string;
  /** Markdown */
  tooltip?: string;
  icon: Icon;
  contextValue: string;
  collapsible: 'none' | 'collapsed' | 'expanded';
  children?: NodeSpec[];
  /** containerd namespace the node acts in (containers, pods, images, namespace and images folders) */
  namespace?: string;
  container?: ContainerInfo;
  pod?: PodInfo;
  image?: ImageInfo;
}

// ---- formatting ---------------------------------------------------------------------------------

/** kubectl-style age: 42s, 5m, 3h, 2d (clock skew gives 0s, never a negative). */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

export function formatSize(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes <= 0) return '';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** `docker.io/library/busybox:latest` → `busybox:latest`; `docker.io/x/y` → `x/y`; digests shortened. */
export function shortImage(ref: string): string {
  let r = ref.replace(/^docker\.io\/library\//, '').replace(/^docker\.io\//, '');
  const at = r.indexOf('@sha256:');
  if (at >= 0) r = `${r.slice(0, at)}@${shortDigest(r.slice(at + 1))}`;
  else if (/^sha256:[0-9a-f]{12,}$/.test(r)) r = shortDigest(r);
  return r;
}

/** `sha256:0123456789abcdef…` → `sha256:0123456789ab` */
export function shortDigest(d: string): string {
  const m = /^(sha256:)?([0-9a-f]{12})[0-9a-f]*$/.exec(d);
  return m ? `${m[1] ?? ''}${m[2]}` : d;
}

export const shortId = (id: string): string => id.slice(0, 12);

/**
 * Runtime handler / containerd runtime name, short: `io.containerd.runc.v2` → `runc`,
 * `io.containerd.runsc.v1` → `runsc`, a CRI handler (`crun`, `youki`) as is, '' → `default`.
 */
export function shortRuntime(r: string | undefined): string {
  if (!r) return 'default';
  const m = /^io\.containerd\.([^.]+)\.v\d+$/.exec(r);
  return m ? m[1] : r;
}

/** A container's label: its name (CRI metadata name; containerd's id for plain containers). */
export function containerLabel(c: ContainerInfo): string {
  return c.name || shortId(c.id);
}

export function imageLabel(i: ImageInfo): string {
  return i.repoTags.length ? shortImage(i.repoTags[0]) : i.repoDigests.length ? shortImage(i.repoDigests[0]) : shortDigest(i.id);
}

export function containerState(c: ContainerInfo): string {
  return c.state === 'exited' && c.exitCode !== undefined ? `exited (${c.exitCode})` : c.state;
}

export function containerDescription(c: ContainerInfo, now: number, opts: { pod?: PodInfo; namespace?: boolean } = {}): string {
  const parts = [containerState(c), shortImage(c.image), formatAge(now - c.createdAt)];
  if (c.runtime !== undefined || c.source === 'cri') parts.push(shortRuntime(c.runtime));
  if (opts.pod) parts.push(`pod ${opts.pod.name}`);
  if (opts.namespace) parts.push(c.namespace);
  return parts.filter(Boolean).join(' · ');
}

export function podDescription(p: PodInfo, now: number, containers: number, opts: { namespace?: boolean } = {}): string {
  const parts = [p.state === 'ready' ? 'ready' : 'not ready', p.podNamespace, formatAge(now - p.createdAt), shortRuntime(p.runtimeHandler)];
  parts.push(containers === 1 ? '1 container' : `${containers} containers`);
  if (opts.namespace) parts.push(p.namespace);
  return parts.filter(Boolean).join(' · ');
}

export function imageDescription(i: ImageInfo, opts: { namespace?: boolean } = {}): string {
  const parts = [formatSize(i.size), shortDigest(i.id)];
  if (i.repoTags.length > 1) parts.push(`+${i.repoTags.length - 1} tags`);
  if (i.pinned) parts.push('pinned');
  if (opts.namespace) parts.push(i.namespace);
  return parts.filter(Boolean).join(' · ');
}

// ---- icons and contextValue ------------------------------------------------------------------------

export function containerIcon(c: ContainerInfo): Icon {
  switch (c.state) {
    case 'running':
      return { id: 'vm-running', color: 'charts.green' };
    case 'paused':
      return { id: 'debug-pause', color: 'charts.yellow' };
    case 'created':
      return { id: 'vm-outline', color: 'charts.blue' };
    case 'exited':
      return c.exitCode && c.exitCode !== 0 ? { id: 'vm', color: 'charts.red' } : { id: 'vm', color: 'disabledForeground' };
    default:
      return { id: 'vm', color: 'charts.orange' };
  }
}

export function podIcon(p: PodInfo): Icon {
  return p.state === 'ready' ? { id: 'layers-active', color: 'charts.green' } : { id: 'layers', color: 'disabledForeground' };
}

export function containerContext(c: ContainerInfo): string {
  const states: readonly ContainerState[] = ['created', 'running', 'exited', 'paused', 'unknown'];
  const state = states.includes(c.state) ? c.state : 'unknown';
  return `container.${state}.${c.source === 'cri' ? 'cri' : 'plain'}`;
}

export function podContext(p: PodInfo): string {
  return `pod.${p.state === 'ready' ? 'ready' : 'notready'}`;
}

// ---- filter ------------------------------------------------------------------------------------

export type FilterKey = 'state' | 'ns' | 'pod' | 'image' | 'runtime' | 'name' | 'id';
export interface FilterTerm {
  key?: FilterKey;
  value: string;
}
export interface Filter {
  text: string;
  terms: FilterTerm[];
}

const KEY_ALIASES: Record<string, FilterKey> = {
  state: 'state', status: 'state', is: 'state',
  ns: 'ns', namespace: 'ns',
  pod: 'pod',
  image: 'image', img: 'image',
  runtime: 'runtime', handler: 'runtime',
  name: 'name',
  id: 'id',
};

/**
 * `busybox state:running ns:k8s.io` → terms that must all match (case-insensitive substrings).
 * `key:value` narrows a term to one field; unknown keys are plain text. Blank → undefined.
 */
export function parseFilter(text: string | undefined): Filter | undefined {
  const t = (text ?? '').trim();
  if (!t) return undefined;
  const terms: FilterTerm[] = [];
  for (const raw of t.split(/\s+/)) {
    const m = /^([a-z]+):(.+)$/i.exec(raw);
    const key = m ? KEY_ALIASES[m[1].toLowerCase()] : undefined;
    terms.push(key ? { key, value: m![2].toLowerCase() } : { value: raw.toLowerCase() });
  }
  return { text: t, terms };
}

type Fields = Partial<Record<FilterKey, (string | undefined)[]>>;

function termMatches(term: FilterTerm, f: Fields): boolean {
  const has = (vals: (string | undefined)[] | undefined, exactPrefix = false) =>
    (vals ?? []).some((v) => v !== undefined && (exactPrefix ? v.toLowerCase().startsWith(term.value) : v.toLowerCase().includes(term.value)));
  if (term.key === 'id') return has(f.id, true);
  if (term.key) return has(f[term.key]);
  return has(f.name) || has(f.image) || has(f.pod) || has(f.state) || has(f.runtime) || has(f.ns) || has(f.id, true);
}

const matchesAll = (filter: Filter | undefined, f: Fields): boolean => !filter || filter.terms.every((t) => termMatches(t, f));

function podFields(p: PodInfo): Fields {
  return {
    name: [p.name, p.podNamespace],
    pod: [p.name],
    id: [p.id],
    state: [p.state === 'ready' ? 'ready' : 'notready'],
    runtime: [shortRuntime(p.runtimeHandler), p.runtimeHandler],
    ns: [p.namespace],
  };
}

function containerFields(c: ContainerInfo, pod?: PodInfo): Fields {
  return {
    name: [c.name],
    id: [c.id],
    image: [c.image, shortImage(c.image), c.imageRef],
    state: [c.state],
    runtime: [shortRuntime(c.runtime), c.runtime],
    ns: [c.namespace],
    pod: pod ? [pod.name] : [],
  };
}

function imageFields(i: ImageInfo): Fields {
  return {
    name: [...i.repoTags, ...i.repoTags.map(shortImage)],
    image: [...i.repoTags, ...i.repoDigests, ...i.repoTags.map(shortImage)],
    id: [i.id, i.id.replace(/^sha256:/, '')],
    ns: [i.namespace],
  };
}

export const containerMatches = (filter: Filter | undefined, c: ContainerInfo, pod?: PodInfo): boolean => matchesAll(filter, containerFields(c, pod));
export const podMatches = (filter: Filter | undefined, p: PodInfo): boolean => matchesAll(filter, podFields(p));
export const imageMatches = (filter: Filter | undefined, i: ImageInfo): boolean => matchesAll(filter, imageFields(i));

/** Where the filter's plain (key-less or name) terms occur in `label`, for TreeItemLabel highlights. */
export function highlightsFor(filter: Filter | undefined, label: string): [number, number][] | undefined {
  if (!filter) return undefined;
  const lower = label.toLowerCase();
  const out: [number, number][] = [];
  for (const t of filter.terms) {
    if (t.key && t.key !== 'name' && t.key !== 'image' && t.key !== 'pod') continue;
    const i = lower.indexOf(t.value);
    if (i >= 0) out.push([i, i + t.value.length]);
  }
  out.sort((a, b) => a[0] - b[0]);
  // merge overlaps (VS Code wants disjoint, ordered ranges)
  const merged: [number, number][] = [];
  for (const r of out) {
    const last = merged[merged.length - 1];
    if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else merged.push([r[0], r[1]]);
  }
  return merged.length ? merged : undefined;
}

// ---- building ----------------------------------------------------------------------------------

export interface BuildOptions {
  groupBy?: GroupBy;
  filter?: Filter;
  /** ms since epoch, for ages (default Date.now()) */
  now?: number;
}

/** Namespaces in a stable order: k8s.io, default, moby, then the rest alphabetically. */
export function sortNamespaces<T extends { name: string }>(list: readonly T[]): T[] {
  const rank = (n: string) => (n === CRI_NS ? 0 : n === 'default' ? 1 : n === 'moby' ? 2 : 3);
  return [...list].sort((a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name));
}

const byLabel = <T>(label: (x: T) => string, id: (x: T) => string) => (a: T, b: T) => label(a).localeCompare(label(b)) || id(a).localeCompare(id(b));
const sortContainers = (cs: readonly ContainerInfo[]) => [...cs].sort(byLabel(containerLabel, (c) => c.id));
const sortPods = (ps: readonly PodInfo[]) => [...ps].sort(byLabel((p: PodInfo) => `${p.name}\u0000${p.podNamespace}`, (p) => p.id));
const sortImages = (is: readonly ImageInfo[]) => [...is].sort(byLabel(imageLabel, (i) => i.id));

const md = (s: string): string => s.replace(/([\\`*_{}[\]()#+\-.!|<>])/g, '\\$1');
const when = (ms: number | undefined): string | undefined => (ms ? new Date(ms).toISOString().replace('.000Z', 'Z') : undefined);

function tooltip(title: string, rows: [string, string | number | undefined][]): string {
  const body = rows.filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => `${k}: \`${String(v).replace(/`/g, "'")}\``);
  return [`**${md(title)}**`, '', ...body.map((r) => `${r}  `)].join('\n');
}

interface Ctx {
  filter?: Filter;
  now: number;
}

export function containerNode(c: ContainerInfo, ctx: Ctx, opts: { pod?: PodInfo; showPod?: boolean; showNamespace?: boolean } = {}): NodeSpec {
  const label = containerLabel(c);
  return {
    id: `ns/${c.namespace}/c/${c.id}`,
    kind: 'container',
    label,
    highlights: highlightsFor(ctx.filter, label),
    description: containerDescription(c, ctx.now, { pod: opts.showPod ? opts.pod : undefined, namespace: opts.showNamespace }),
    tooltip: tooltip(label, [
      ['id', c.id],
      ['namespace', c.namespace],
      ['pod', opts.pod ? `${opts.pod.name} (${shortId(opts.pod.id)})` : undefined],
      ['state', containerState(c)],
      ['image', c.image],
      ['image id', c.imageRef],
      ['runtime', c.runtime],
      ['created', when(c.createdAt)],
      ['started', when(c.startedAt)],
      ['finished', when(c.finishedAt)],
      ['pid', c.pid],
      ['log', c.logPath],
      ['source', c.source === 'cri' ? 'CRI' : 'containerd (no CRI)'],
    ]),
    icon: containerIcon(c),
    contextValue: containerContext(c),
    collapsible: 'none',
    namespace: c.namespace,
    container: c,
    pod: opts.pod,
  };
}

/** A pod with its containers; undefined when neither the pod nor any container matches the filter. */
export function podNode(p: PodInfo, containers: readonly ContainerInfo[], ctx: Ctx, opts: { showNamespace?: boolean } = {}): NodeSpec | undefined {
  const podHit = podMatches(ctx.filter, p);
  const shown = podHit ? containers : containers.filter((c) => containerMatches(ctx.filter, c, p));
  if (!podHit && !shown.length) return undefined;
  const label = p.name || shortId(p.id);
  return {
    id: `ns/${p.namespace}/p/${p.id}`,
    kind: 'pod',
    label,
    highlights: highlightsFor(ctx.filter, label),
    description: podDescription(p, ctx.now, containers.length, { namespace: opts.showNamespace }),
    tooltip: tooltip(`pod ${label}`, [
      ['id', p.id],
      ['Kubernetes namespace', p.podNamespace],
      ['uid', p.uid],
      ['attempt', p.attempt],
      ['state', p.state === 'ready' ? 'ready' : 'not ready'],
      ['runtime handler', p.runtimeHandler || 'default'],
      ['created', when(p.createdAt)],
    ]),
    icon: podIcon(p),
    contextValue: podContext(p),
    // expanded while filtering, so the matches are visible at once
    collapsible: shown.length ? (ctx.filter ? 'expanded' : 'collapsed') : 'none',
    children: sortContainers(shown).map((c) => containerNode(c, ctx, { pod: p })),
    namespace: p.namespace,
    pod: p,
  };
}

export function imageNode(i: ImageInfo, ctx: Ctx, opts: { showNamespace?: boolean } = {}): NodeSpec {
  const label = imageLabel(i);
  return {
    id: `ns/${i.namespace}/i/${i.id}`,
    kind: 'image',
    label,
    highlights: highlightsFor(ctx.filter, label),
    description: imageDescription(i, { namespace: opts.showNamespace }),
    tooltip: tooltip(label, [
      ['id', i.id],
      ['namespace', i.namespace],
      ['tags', i.repoTags.join(', ')],
      ['digests', i.repoDigests.join(', ')],
      ['size', formatSize(i.size)],
      ['pinned', i.pinned ? 'yes' : undefined],
    ]),
    icon: { id: 'package' },
    contextValue: 'image',
    collapsible: 'none',
    namespace: i.namespace,
    image: i,
  };
}

function imagesFolder(id: string, images: readonly ImageInfo[], ctx: Ctx, namespace: string | undefined): NodeSpec | undefined {
  const shown = sortImages(images.filter((i) => imageMatches(ctx.filter, i)));
  if (!shown.length && (ctx.filter || !images.length)) return undefined;
  return {
    id,
    kind: 'images',
    label: 'Images',
    description: ctx.filter && shown.length !== images.length ? `${shown.length} of ${images.length}` : String(images.length),
    icon: { id: 'library' },
    contextValue: namespace === CRI_NS ? 'images.cri' : 'images',
    collapsible: shown.length ? (ctx.filter ? 'expanded' : 'collapsed') : 'none',
    children: shown.map((i) => imageNode(i, ctx, { showNamespace: namespace === undefined })),
    namespace,
  };
}

/** Pods (with their containers) and the containers of no (known) pod of one namespace. */
function splitByPod(ns: NamespaceSnapshot): { pods: { pod: PodInfo; containers: ContainerInfo[] }[]; loose: ContainerInfo[] } {
  const byPod = new Map<string, ContainerInfo[]>();
  for (const p of ns.pods) byPod.set(p.id, []);
  const loose: ContainerInfo[] = [];
  for (const c of ns.containers) {
    // a pod's sandbox (pause) container is the pod itself: the pod item stands for it
    if (c.sandbox && byPod.has(c.id)) continue;
    const list = c.podId !== undefined ? byPod.get(c.podId) : undefined;
    if (list) list.push(c);
    else loose.push(c);
  }
  return { pods: sortPods(ns.pods).map((pod) => ({ pod, containers: byPod.get(pod.id) ?? [] })), loose };
}

/** The namespace's containers without the sandboxes of its pods (the tree shows those as pods). */
export function visibleContainers(ns: Pick<NamespaceSnapshot, 'pods' | 'containers'>): ContainerInfo[] {
  const pods = new Set(ns.pods.map((p) => p.id));
  return ns.containers.filter((c) => !(c.sandbox && pods.has(c.id)));
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

export function namespaceNode(ns: NamespaceSnapshot, ctx: Ctx): NodeSpec | undefined {
  const { pods, loose } = splitByPod(ns);
  const children: NodeSpec[] = [];
  for (const { pod, containers } of pods) {
    const n = podNode(pod, containers, ctx);
    if (n) children.push(n);
  }
  for (const c of sortContainers(loose)) if (containerMatches(ctx.filter, c)) children.push(containerNode(c, ctx));
  const images = imagesFolder(`ns/${ns.name}/images`, ns.images, ctx, ns.name);
  if (images) children.push(images);
  // a filter hides namespaces without matches (a namespace term alone matches everything in it)
  if (ctx.filter && !children.length) return undefined;
  const parts = [];
  if (ns.pods.length) parts.push(plural(ns.pods.length, 'pod', 'pods'));
  parts.push(plural(visibleContainers(ns).length, 'container', 'containers'));
  parts.push(plural(ns.images.length, 'image', 'images'));
  return {
    id: `ns/${ns.name}`,
    kind: 'namespace',
    label: ns.name,
    description: parts.join(' · '),
    tooltip: `**containerd namespace ${md(ns.name)}**${ns.name === CRI_NS ? '\n\nwhere CRI (Kubernetes) keeps its pods, containers and images' : ''}`,
    icon: { id: 'symbol-namespace' },
    contextValue: ns.name === CRI_NS ? 'namespace.cri' : 'namespace',
    collapsible: children.length ? (ctx.filter || ns.name === CRI_NS ? 'expanded' : 'collapsed') : 'none',
    children,
    namespace: ns.name,
  };
}

function group(id: string, label: string, description: string, icon: Icon, contextValue: string, children: NodeSpec[], ctx: Ctx): NodeSpec {
  return { id, kind: 'group', label, description, icon, contextValue, collapsible: children.length ? (ctx.filter ? 'expanded' : 'collapsed') : 'none', children };
}

/** The explorer part of a host's children for a snapshot (after the host's Service/Backups items). */
export function buildHostNodes(snapshot: Pick<HostSnapshot, 'namespaces'>, opts: BuildOptions = {}): NodeSpec[] {
  const ctx: Ctx = { filter: opts.filter, now: opts.now ?? Date.now() };
  const namespaces = sortNamespaces(snapshot.namespaces);
  const nsFilter = opts.filter?.terms.filter((t) => t.key === 'ns') ?? [];
  const inNs = (name: string) => !nsFilter.length || matchesAll({ text: '', terms: nsFilter }, { ns: [name] });
  switch (opts.groupBy ?? 'namespace') {
    case 'namespace': {
      const out: NodeSpec[] = [];
      for (const ns of namespaces) {
        const n = namespaceNode(ns, ctx);
        if (n) out.push(n);
      }
      return out;
    }
    case 'pod': {
      const pods: NodeSpec[] = [];
      const loose: NodeSpec[] = [];
      const images: ImageInfo[] = [];
      for (const ns of namespaces.filter((n) => inNs(n.name))) {
        const split = splitByPod(ns);
        for (const { pod, containers } of split.pods) {
          const n = podNode(pod, containers, ctx, { showNamespace: ns.name !== CRI_NS });
          if (n) pods.push(n);
        }
        for (const c of sortContainers(split.loose)) if (containerMatches(ctx.filter, c)) loose.push(containerNode(c, ctx, { showNamespace: true }));
        images.push(...ns.images);
      }
      const out = [...pods];
      if (loose.length || !ctx.filter) {
        out.push(group('g/plain', 'Containers not in a pod', String(loose.length), { id: 'vm' }, 'group.plain', loose, ctx));
      }
      const imgs = imagesFolder('g/images', images, ctx, undefined);
      if (imgs) out.push(imgs);
      return out;
    }
    case 'runtime': {
      const groups = new Map<string, NodeSpec[]>();
      const images: ImageInfo[] = [];
      const add = (runtime: string, n: NodeSpec) => {
        const list = groups.get(runtime) ?? [];
        list.push(n);
        groups.set(runtime, list);
      };
      for (const ns of namespaces.filter((n) => inNs(n.name))) {
        const split = splitByPod(ns);
        for (const { pod, containers } of split.pods) {
          const n = podNode(pod, containers, ctx, { showNamespace: ns.name !== CRI_NS });
          if (n) add(shortRuntime(pod.runtimeHandler), n);
        }
        for (const c of sortContainers(split.loose)) {
          if (containerMatches(ctx.filter, c)) add(shortRuntime(c.runtime), containerNode(c, ctx, { showNamespace: true }));
        }
        images.push(...ns.images);
      }
      const out = [...groups.keys()]
        .sort((a, b) => (a === 'default' ? -1 : b === 'default' ? 1 : a.localeCompare(b)))
        .map((rt) => {
          const children = groups.get(rt)!;
          const pods = children.filter((c) => c.kind === 'pod').length;
          const desc = [pods ? plural(pods, 'pod', 'pods') : '', plural(children.length - pods, 'container', 'containers')].filter(Boolean).join(' · ');
          return group(`g/rt/${rt}`, rt, desc, { id: 'server-process' }, 'group.runtime', children, ctx);
        });
      const imgs = imagesFolder('g/images', images, ctx, undefined);
      if (imgs) out.push(imgs);
      return out;
    }
  }
}

/** How many containers, pods and images of the snapshot the filter lets through. */
export function countMatches(snapshot: Pick<HostSnapshot, 'namespaces'>, filter: Filter | undefined): { containers: number; pods: number; images: number } {
  let containers = 0;
  let pods = 0;
  let images = 0;
  for (const ns of snapshot.namespaces) {
    const podById = new Map(ns.pods.map((p) => [p.id, p]));
    for (const p of ns.pods) if (podMatches(filter, p)) pods++;
    for (const c of visibleContainers(ns)) if (containerMatches(filter, c, c.podId ? podById.get(c.podId) : undefined)) containers++;
    for (const i of ns.images) if (imageMatches(filter, i)) images++;
  }
  return { containers, pods, images };
}

/** Every node of a built tree, depth first (tests, lookups by id). */
export function* walk(nodes: readonly NodeSpec[]): Generator<NodeSpec> {
  for (const n of nodes) {
    yield n;
    if (n.children) yield* walk(n.children);
  }
}

// ---- the Service item's rows ---------------------------------------------------------------------

export interface InfoRow {
  id: string;
  label: string;
  description?: string;
  tooltip?: string;
  icon: Icon;
}

export const ACCESS_LABEL: Record<RuntimeInfo['access'], string> = {
  'grpc-streamlocal': 'gRPC over an SSH socket forward',
  'grpc-bridge': 'gRPC over an SSH exec bridge (socat)',
  cli: 'ctr / crictl over SSH',
};

/** Version, CRI, the CRI conditions (like `crictl info`), the access path and the socket. */
export function serviceRows(info: RuntimeInfo): InfoRow[] {
  const rows: InfoRow[] = [];
  rows.push({
    id: 'version',
    label: `containerd ${info.version}`,
    description: info.revision ? shortId(info.revision) : undefined,
    tooltip: info.revision ? `revision ${info.revision}` : undefined,
    icon: { id: 'versions' },
  });
  if (info.cri) {
    rows.push({
      id: 'cri',
      label: `CRI ${info.cri.runtimeApiVersion}`,
      description: `${info.cri.runtimeName} ${info.cri.runtimeVersion}`,
      icon: { id: 'plug' },
    });
  } else {
    rows.push({ id: 'cri', label: 'CRI', description: 'not available (plugin disabled or not loaded)', icon: { id: 'plug', color: 'list.warningForeground' } });
  }
  for (const c of info.conditions) {
    const detail = [c.reason, c.message].filter(Boolean).join(': ');
    rows.push({
      id: `cond/${c.type}`,
      label: c.type,
      description: c.status ? 'true' : `false${detail ? ` · ${detail}` : ''}`,
      tooltip: detail || undefined,
      icon: c.status ? { id: 'pass', color: 'testing.iconPassed' } : { id: 'error', color: 'errorForeground' },
    });
  }
  rows.push({
    id: 'access',
    label: ACCESS_LABEL[info.access] ?? info.access,
    description: info.accessNote,
    tooltip: info.accessNote,
    icon: info.access === 'cli' ? { id: 'terminal', color: 'list.warningForeground' } : { id: 'remote' },
  });
  rows.push({ id: 'socket', label: info.socket, description: 'socket', icon: { id: 'plug' } });
  return rows;
}

// ---- input checks --------------------------------------------------------------------------------

/**
 * An image reference as `ctr`/CRI accept it: [registry[:port]/]path[:tag][@sha256:digest], lower-case
 * path components. Anything else (spaces, shell characters, upper case) is refused before it is sent.
 */
export function isImageRef(ref: string): boolean {
  if (!ref || ref.length > 512) return false;
  const m = /^((?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::\d{1,5})?\/)?([a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)(?::([\w][\w.-]{0,127}))?(?:@(sha256:[0-9a-f]{64}))?$/.exec(ref);
  return !!m;
}

/** The CRI runtime handlers the host's containerd knows (from the verbose CRI status `config`), default first. */
export function runtimeHandlers(criInfo: Record<string, unknown> | undefined): string[] {
  const config = criInfo?.config as { containerd?: { runtimes?: Record<string, unknown>; defaultRuntimeName?: string } } | undefined;
  const names = Object.keys(config?.containerd?.runtimes ?? {}).sort();
  const def = config?.containerd?.defaultRuntimeName;
  return def && names.includes(def) ? [def, ...names.filter((n) => n !== def)] : names;
}
