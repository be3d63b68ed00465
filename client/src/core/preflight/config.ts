/**
 * What the preflight checks need to know of a config.toml (and a crictl.yaml), read with the
 * language server's own TOML front end. Pure: no host, no vscode.
 *
 * Where containerd reads each fact, per config version:
 *   runtimes     v1 `plugins.cri.containerd.runtimes`, v2 `plugins."io.containerd.grpc.v1.cri".containerd.runtimes`,
 *                v3/v4 `plugins."io.containerd.cri.v1.runtime".containerd.runtimes`
 *                (none configured: containerd's built-in `runc`, runtime_type io.containerd.runc.v2)
 *   snapshotter  v1/v2 `…cri….containerd.snapshotter`, v3/v4 `plugins."io.containerd.cri.v1.images".snapshotter`,
 *                plus a runtime's own `snapshotter` (1.7+); default overlayfs
 *   socket       `[grpc] address/uid/gid` (v4 also `plugins."io.containerd.server.v1.grpc"`); ttrpc likewise
 *   root/state   top-level `root` / `state` (defaults /var/lib/containerd, /run/containerd)
 * Runtime option names are matched case-insensitively, as containerd's TOML decoding does.
 */
import { load as loadYaml } from 'js-yaml';
import { parseToml } from '../../../../server/src/parser/toml';
import { toValue } from '../../../../server/src/tree/model';
import type { ConfigVersion } from '../../../../server/src/schema/releases';

export const DEFAULT_ROOT = '/var/lib/containerd';
export const DEFAULT_STATE = '/run/containerd';
export const DEFAULT_ADDRESS = '/run/containerd/containerd.sock';
export const DEFAULT_SNAPSHOTTER = 'overlayfs';

export interface RuntimeFacts {
  name: string;
  /** runtime_type as written ('' when absent). */
  type: string;
  /** The shim binary containerd starts: runtime_path, or `containerd-shim-<name>-<vN>` from the type. */
  shim: string;
  /** A runc-compatible runtime (runtime_type io.containerd.runc.v1/v2). */
  runcLike: boolean;
  /** options.BinaryName when set. */
  binaryName?: string;
  /** options.SystemdCgroup (undefined: not set, containerd's default false). */
  systemdCgroup?: boolean;
  snapshotter?: string;
  /** Not written in the file: containerd's built-in default runtime. */
  implicit?: boolean;
}

export interface ConfigFacts {
  version: ConfigVersion | number;
  versionExplicit: boolean;
  /** Syntax errors (first few), with 1-based lines. */
  syntaxErrors: string[];
  root: string;
  state: string;
  address: string;
  ttrpcAddress: string;
  uid: number;
  gid: number;
  runtimes: RuntimeFacts[];
  /** v1/v2 `systemd_cgroup` of the CRI plugin (the legacy runc.v1 switch). */
  legacySystemdCgroup?: boolean;
  /** The CRI plugin's default snapshotter. */
  snapshotter: string;
  /** Every snapshotter the CRI plugin may use (default + per runtime). */
  snapshotters: string[];
  /** proxy_plugins of type snapshot: name → socket address. */
  proxySnapshotters: Record<string, string>;
  /** devmapper's pool_name when configured. */
  devmapperPool?: string;
  /** The CRI plugin is disabled (`disabled_plugins`). */
  criDisabled: boolean;
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Case-insensitive key lookup (exact match first). */
export function pick(o: unknown, key: string): unknown {
  if (!isObj(o)) return undefined;
  if (key in o) return o[key];
  const lower = key.toLowerCase();
  for (const k of Object.keys(o)) if (k.toLowerCase() === lower) return o[k];
  return undefined;
}

function at(o: unknown, path: readonly string[]): unknown {
  let cur: unknown = o;
  for (const k of path) {
    cur = pick(cur, k);
    if (cur === undefined) return undefined;
  }
  return cur;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const bool = (v: unknown): boolean | undefined => (typeof v === 'boolean' ? v : undefined);

/** `io.containerd.runc.v2` → `containerd-shim-runc-v2` (containerd's shim naming); an absolute path is itself. */
export function shimBinary(runtimeType: string): string {
  if (runtimeType.startsWith('/')) return runtimeType;
  const t = runtimeType.replace(/^io\.containerd\./, '');
  const m = /^(.+)\.(v\d+)$/.exec(t);
  return m ? `containerd-shim-${m[1].replace(/\./g, '-')}-${m[2]}` : `containerd-shim-${t.replace(/\./g, '-')}`;
}

const RUNC_TYPES = new Set(['io.containerd.runc.v2', 'io.containerd.runc.v1', 'io.containerd.runtime.v1.linux']);

function runtimesPath(version: number): string[] {
  if (version >= 3) return ['plugins', 'io.containerd.cri.v1.runtime', 'containerd'];
  if (version === 2) return ['plugins', 'io.containerd.grpc.v1.cri', 'containerd'];
  return ['plugins', 'cri', 'containerd'];
}

export function configFacts(text: string): ConfigFacts {
  const parsed = parseToml(text);
  const syntaxErrors = parsed.syntaxErrors.slice(0, 3).map((e) => {
    const line = text.slice(0, e.range.start).split('\n').length;
    return `line ${line}: ${e.message}`;
  });
  const doc = toValue(parsed.root) as Obj;
  const vRaw = pick(doc, 'version');
  const versionExplicit = typeof vRaw === 'number';
  const version = versionExplicit ? (vRaw as number) : 1;

  const v = version >= 1 && version <= 4 ? version : 2;
  const criContainerd = at(doc, runtimesPath(v));
  const runtimesObj = pick(criContainerd, 'runtimes');
  const runtimes: RuntimeFacts[] = [];
  if (isObj(runtimesObj)) {
    for (const [name, r] of Object.entries(runtimesObj)) {
      if (!isObj(r)) continue;
      const type = str(pick(r, 'runtime_type')) ?? '';
      const runtimePath = str(pick(r, 'runtime_path'));
      const options = pick(r, 'options');
      const effectiveType = type || 'io.containerd.runc.v2';
      // the 1.x v1 runtime (io.containerd.runtime.v1.linux) runs the old `containerd-shim`
      const shim = runtimePath || (effectiveType === 'io.containerd.runtime.v1.linux' ? 'containerd-shim' : shimBinary(effectiveType));
      runtimes.push({
        name,
        type,
        shim,
        runcLike: RUNC_TYPES.has(effectiveType),
        binaryName: str(pick(options, 'BinaryName')) || undefined,
        systemdCgroup: bool(pick(options, 'SystemdCgroup')),
        snapshotter: str(pick(r, 'snapshotter')) || undefined,
      });
    }
  }
  if (!runtimes.length) {
    runtimes.push({ name: 'runc', type: 'io.containerd.runc.v2', shim: shimBinary('io.containerd.runc.v2'), runcLike: true, implicit: true });
  }

  const legacySystemdCgroup = v <= 2 ? bool(at(doc, [...runtimesPath(v).slice(0, 2), 'systemd_cgroup'])) : undefined;
  const snapshotter =
    str(v >= 3 ? at(doc, ['plugins', 'io.containerd.cri.v1.images', 'snapshotter']) : pick(criContainerd, 'snapshotter')) || DEFAULT_SNAPSHOTTER;
  const snapshotters = [...new Set([snapshotter, ...runtimes.map((r) => r.snapshotter).filter((s): s is string => !!s)])];

  const proxySnapshotters: Record<string, string> = {};
  const proxies = pick(doc, 'proxy_plugins');
  if (isObj(proxies)) {
    for (const [name, p] of Object.entries(proxies)) {
      if (isObj(p) && str(pick(p, 'type')) === 'snapshot') proxySnapshotters[name] = str(pick(p, 'address')) ?? '';
    }
  }
  const devmapperPool = str(at(doc, ['plugins', v >= 2 ? 'io.containerd.snapshotter.v1.devmapper' : 'devmapper', 'pool_name'])) || undefined;

  const server = (table: 'grpc' | 'ttrpc', key: string): unknown =>
    (v >= 4 ? at(doc, ['plugins', `io.containerd.server.v1.${table}`, key]) : undefined) ?? at(doc, [table, key]);
  const address = str(server('grpc', 'address')) || DEFAULT_ADDRESS;
  const ttrpcAddress = str(server('ttrpc', 'address')) || `${address}.ttrpc`;

  const disabled = pick(doc, 'disabled_plugins');
  const criDisabled = Array.isArray(disabled) && disabled.some((d) => d === 'cri' || d === 'io.containerd.grpc.v1.cri');

  return {
    version,
    versionExplicit,
    syntaxErrors,
    root: str(pick(doc, 'root')) || DEFAULT_ROOT,
    state: str(pick(doc, 'state')) || DEFAULT_STATE,
    address,
    ttrpcAddress,
    uid: num(server('grpc', 'uid')) ?? 0,
    gid: num(server('grpc', 'gid')) ?? 0,
    runtimes,
    legacySystemdCgroup,
    snapshotter,
    snapshotters,
    proxySnapshotters,
    devmapperPool,
    criDisabled,
  };
}

export interface CrictlFacts {
  runtimeEndpoint?: string;
  imageEndpoint?: string;
  /** The YAML did not parse. */
  error?: string;
}

export function crictlFacts(text: string): CrictlFacts {
  try {
    const doc = loadYaml(text, { json: true });
    if (doc === undefined || doc === null) return {};
    if (!isObj(doc)) return { error: 'not a YAML mapping' };
    const s = (k: string) => {
      const val = doc[k];
      return typeof val === 'string' && val.trim() ? val.trim() : undefined;
    };
    return { runtimeEndpoint: s('runtime-endpoint'), imageEndpoint: s('image-endpoint') };
  } catch (e) {
    return { error: e instanceof Error ? e.message.split('\n')[0] : String(e) };
  }
}

/** kubelet's KubeletConfiguration `cgroupDriver` (the kubelet's default is cgroupfs). */
export function kubeletCgroupDriver(text: string): { driver: string; explicit: boolean } | { error: string } {
  try {
    const doc = loadYaml(text, { json: true });
    const d = isObj(doc) ? doc.cgroupDriver : undefined;
    return typeof d === 'string' && d ? { driver: d, explicit: true } : { driver: 'cgroupfs', explicit: false };
  } catch (e) {
    return { error: e instanceof Error ? e.message.split('\n')[0] : String(e) };
  }
}
