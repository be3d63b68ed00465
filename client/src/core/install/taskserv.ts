/**
 * The install settings of a Containerd taskserv (`version`, `runtimes`, `runtime_configs.*.options.BinaryName`
 * and the `install` block of the taskserv schema) → an InstallPlan. Pure: works on the parsed tree
 * (server/src/parser/kcl.ts); the rendered files come from the renderer (CLI) or the language server (editor).
 */
import { parseKcl } from '../../../../server/src/parser/kcl';
import { findProp, getAt, type ObjectNode, type ParsedDocument, type ValueNode } from '../../../../server/src/tree/model';
import type { DeployPlan } from '../deploy/pipeline';
import type { InstallPlan, InstallSource, RuntimeInstall } from './types';
import { DEFAULT_PREFIX } from './versions';

export interface TaskservInstallSettings {
  version?: string;
  source?: 'release-tarball' | 'package' | 'file';
  url?: string;
  sha256?: string;
  prefix?: string;
  arch?: 'amd64' | 'arm64';
  packageVersion?: string;
  file?: string;
  /** Runtimes named in `runtimes`, with their BinaryName and `install.runtimes.<name>` settings. */
  runtimes: { name: string; binaryName?: string; version?: string; url?: string; sha256?: string }[];
}

function str(node: ValueNode | undefined): string | undefined {
  return node && node.kind === 'string' && typeof node.value === 'string' && node.value !== '' ? node.value : undefined;
}

/** The taskserv declaration: the first root value of type Containerd, else `containerd`. */
function declaration(doc: ParsedDocument): ObjectNode | undefined {
  const typed = doc.root.props.find((p) => p.value.kind === 'object' && p.value.typeName === 'Containerd');
  const p = typed ?? doc.root.props.find((x) => x.key === 'containerd' && x.value.kind === 'object');
  return p && p.value.kind === 'object' ? p.value : undefined;
}

export function installSettings(doc: ParsedDocument): TaskservInstallSettings | undefined {
  const root = declaration(doc);
  if (!root) return undefined;
  const inst = getAt(root, ['install']);
  const at = (k: string) => (inst && inst.kind === 'object' ? str(getAt(inst, [k])) : undefined);
  const names: string[] = [];
  const rtNode = getAt(root, ['runtimes']);
  const list = rtNode && rtNode.kind === 'string' ? String(rtNode.value).split(',') : rtNode && rtNode.kind === 'array' ? rtNode.items.map((i) => (i.kind === 'string' ? String(i.value) : '')) : [];
  for (const n of list.map((x) => x.trim())) if (n && !names.includes(n)) names.push(n);
  const configs = getAt(root, ['runtime_configs']);
  if (configs && configs.kind === 'object') for (const p of configs.props) if (!names.includes(p.key) && list.length === 0) names.push(p.key);
  const runtimes = names.map((name) => {
    const opts = configs && configs.kind === 'object' ? getAt(configs, [name, 'options']) : undefined;
    const bin = opts && opts.kind === 'object' ? opts.props.find((p) => p.key.toLowerCase() === 'binaryname') : undefined;
    const ri = inst && inst.kind === 'object' ? getAt(inst, ['runtimes', name]) : undefined;
    const rs = (k: string) => (ri && ri.kind === 'object' ? str(findProp(ri, k)?.value) : undefined);
    return { name, binaryName: bin ? str(bin.value) : undefined, version: rs('version'), url: rs('url'), sha256: rs('sha256') };
  });
  const source = at('source');
  const arch = at('arch');
  return {
    version: str(getAt(root, ['version'])),
    source: source === 'release-tarball' || source === 'package' || source === 'file' ? source : undefined,
    url: at('url'),
    sha256: at('sha256'),
    prefix: at('prefix'),
    arch: arch === 'amd64' || arch === 'arm64' ? arch : undefined,
    packageVersion: at('package_version'),
    file: at('file'),
    runtimes,
  };
}

export function installSettingsFromText(text: string): TaskservInstallSettings | undefined {
  return installSettings(parseKcl(text));
}

export interface PlanOverrides {
  /** `apt`/`dnf`/`package`: the package manager; `tarball`; `file` (with `file`). */
  source?: 'package' | 'tarball' | 'file';
  file?: string;
  version?: string;
  url?: string;
  sha256?: string;
  fetch?: 'host' | 'local';
  packageName?: string;
  packageVersion?: string;
}

/**
 * An InstallPlan from a taskserv's settings (optional), the files it renders to (optional) and
 * explicit choices (CLI flags, a QuickPick), which win. A relative `install.file` is resolved by
 * `resolveFile` (the taskserv's folder).
 */
export function planFromSettings(
  settings: TaskservInstallSettings | undefined,
  deployPlan: DeployPlan | undefined,
  o: PlanOverrides = {},
  resolveFile: (p: string) => string = (p) => p,
): InstallPlan {
  const s = settings ?? { runtimes: [] };
  const prefix = s.prefix ?? DEFAULT_PREFIX;
  const kind = o.source ?? (o.file ? 'file' : s.source === 'package' ? 'package' : s.source === 'file' ? 'file' : 'tarball');
  let source: InstallSource;
  if (kind === 'package') source = { kind: 'package', packageName: o.packageName, packageVersion: o.packageVersion ?? s.packageVersion };
  else if (kind === 'file') {
    const f = o.file ?? s.file;
    if (!f) throw new Error('source "file" needs a file (--file PATH or install.file)');
    source = { kind: 'file', path: resolveFile(f), sha256: o.sha256 ?? s.sha256 };
  } else source = { kind: 'tarball', url: o.url ?? s.url, sha256: o.sha256 ?? s.sha256, fetch: o.fetch };
  const runtimes: RuntimeInstall[] = s.runtimes.map((r) => ({
    name: r.name,
    path: r.binaryName ?? (r.name === 'runc' ? undefined : `${prefix}/bin/${r.name}`),
    source: r.url ? 'url' : 'auto',
    url: r.url,
    sha256: r.sha256,
    fetch: o.fetch,
  }));
  return { version: o.version ?? s.version, source, prefix, arch: s.arch, runtimes, deploy: deployPlan };
}
