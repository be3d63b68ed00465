/**
 * Diagnostics for taskserv files (KCL `containerd: Containerd = {...}`): the taskserv schema
 * (types, ranges, formats, unknown fields), cross-field rules, fields that are not containerd
 * settings at all, and finally the rendered config.toml checked by the config.toml validator,
 * so a taskserv that renders into a config containerd would reject is flagged at its source.
 */
import { closest, distance } from 'fastest-levenshtein';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { DiagnosticSeverity, DiagnosticTag, type Diagnostic } from 'vscode-languageserver-types';
import { findProp, getAt, type ObjectNode, type Property, type Span, type ValueNode, type ParsedDocument } from '../tree/model';
import { parsePath } from '../tree/keypath';
import { childOf, elementOf, isTable, keysOf, resolve, schemaFor, taskservSchema, typeOf, type SchemaNode } from '../schema/catalog';
import { availableIn, configVersionSupport, describeVersions, formatRelease, nativeConfigVersion, parseRelease, type Release } from '../schema/releases';
import { toRange, type DocContext, type ServiceDocument } from './context';
import { SOURCE, validate as validateConfig } from './diagnostics';
import { parseToml } from '../parser/toml';
import { detectContext } from './context';
import { renderTaskserv } from '../render/render';
import type { FixData } from './fixes';

export interface TaskservOptions {
  /** The official KCL extension reports syntax errors itself: do not repeat them. */
  suppressSyntax?: boolean;
}

/** The Containerd value of a taskserv document: the first `x: Containerd = {...}`, else `containerd = {...}`. */
export function containerdDeclaration(doc: ParsedDocument): Property | undefined {
  const typed = doc.root.props.find((p) => p.value.kind === 'object' && p.value.typeName === 'Containerd');
  if (typed) return typed;
  return doc.root.props.find((p) => p.key === 'containerd' && p.value.kind === 'object');
}

/** The containerd release a taskserv declares (its `version`), or the schema default. */
export function taskservRelease(decl: Property | undefined): Release {
  const v = decl && decl.value.kind === 'object' ? findProp(decl.value, 'version') : undefined;
  const fromDoc = v && v.value.kind === 'string' ? parseRelease(v.value.value as string) : undefined;
  const dflt = taskservSchema().properties?.version?.default;
  return fromDoc ?? parseRelease(typeof dflt === 'string' ? dflt : '1.7') ?? { major: 1, minor: 7 };
}

/** Context of a taskserv document: the release it installs and the config version it renders. */
export function taskservContext(doc: ParsedDocument): DocContext {
  const decl = containerdDeclaration(doc);
  const release = taskservRelease(decl);
  const cv = decl && decl.value.kind === 'object' ? getAt(decl.value, ['config', 'version']) : undefined;
  const n = cv && cv.kind === 'integer' ? (cv.value as number) : undefined;
  const configVersion = n !== undefined && n >= 1 && n <= 4 ? (n as 1 | 2 | 3 | 4) : nativeConfigVersion(release);
  return { configVersion, versionExplicit: n !== undefined, release, releaseSource: 'taskserv' };
}

const IMAGE_REF = /^(?:(?:[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*(?::[0-9]+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)(?::[\w][\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$/;
const GO_DURATION = /^[-+]?((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+$|^0$/;

interface XTaskserv {
  target?: 'config.toml' | 'crictl.yaml' | 'systemd' | 'install' | 'none';
  key?: string;
  note?: string;
  notContainerd?: { message: string; equivalent?: string };
  listOf?: string[];
  since?: string;
}

function xt(node: SchemaNode): XTaskserv {
  return ((node as Record<string, unknown>)['x-taskserv'] ?? {}) as XTaskserv;
}

export function validateTaskserv(sd: ServiceDocument, opts: TaskservOptions = {}): Diagnostic[] {
  const out: Diagnostic[] = [];
  const report = (span: Span, severity: DiagnosticSeverity, code: string, message: string, extra: Partial<Diagnostic> = {}): void => {
    out.push({ range: toRange(sd.text, span), severity, code, source: SOURCE, message, ...extra });
  };
  if (!opts.suppressSyntax) for (const e of sd.parsed.syntaxErrors) report(e.range, DiagnosticSeverity.Error, e.code, e.message);
  const decl = containerdDeclaration(sd.parsed);
  if (!decl || decl.value.kind !== 'object') return out;
  const release = taskservRelease(decl);
  const rel = formatRelease(release);
  const root = decl.value;
  const schema = taskservSchema();

  // ---- schema walk
  const walk = (obj: ObjectNode, node: SchemaNode, path: string[]): void => {
    const table = elementOf(node);
    const caseInsensitive = table['x-key-matching'] === 'case-insensitive';
    for (const prop of obj.props) {
      const child = childOf(table, prop.key);
      const full = [...path, prop.key];
      if (!child) {
        if (caseInsensitive && table['x-closed'] !== true) continue;
        if (table['x-closed'] !== true && !caseInsensitive) continue;
        const suggestion = closestWithin(prop.key, keysOf(table));
        report(prop.keyRange, DiagnosticSeverity.Warning, 'containerd/unknown-field',
          `\`${prop.key}\` is not a field of ${path.length ? `\`${path.join('.')}\`` : 'the Containerd schema'}: it is not rendered anywhere.` +
            (suggestion ? ` Did you mean \`${suggestion}\`?` : ''),
          suggestion ? { data: { fix: 'rename', newKey: suggestion } satisfies FixData } : {});
        continue;
      }
      const n = child.node;
      const x = xt(n);
      if (x.notContainerd) {
        report(prop.keyRange, DiagnosticSeverity.Information, 'containerd/not-containerd-setting',
          `${x.notContainerd.message}` + (x.notContainerd.equivalent ? ` Instead: ${x.notContainerd.equivalent}` : '') + ' It is not rendered.',
          { tags: [DiagnosticTag.Unnecessary] });
        continue;
      }
      checkValue(prop, n, full);
      if (prop.value.kind === 'object' && isTable(elementOf(n))) walk(prop.value, n, full);
      if (x.target === 'config.toml' && x.key) checkConfigKey(prop, x.key, full);
    }
  };

  const checkValue = (prop: Property, node: SchemaNode, full: string[]): void => {
    const v = prop.value;
    const type = typeOf(node);
    const want = (ok: boolean, what: string): boolean => {
      if (!ok) report(v.range, DiagnosticSeverity.Error, 'containerd/type-mismatch',
        `\`${full.join('.')}\` must be ${what}, not ${kindName(v)}: the Containerd schema rejects it.`);
      return ok;
    };
    if (isTable(elementOf(node))) {
      want(v.kind === 'object', 'a dict');
      return;
    }
    switch (type) {
      case 'string':
        if (!want(v.kind === 'string', 'a string')) return;
        break;
      case 'boolean':
        want(v.kind === 'boolean', 'True or False');
        return;
      case 'integer':
        if (!want(v.kind === 'integer', 'an integer')) return;
        break;
      case 'number':
        if (!want(v.kind === 'integer' || v.kind === 'float', 'a number')) return;
        break;
      case 'array':
        want(v.kind === 'array', 'a list');
        return;
      default:
        if (Array.isArray(node.type)) {
          const kinds = node.type.map((t) => (t === 'number' ? ['integer', 'float'] : [t])).flat();
          want(kinds.includes(v.kind === 'float' || v.kind === 'integer' ? (v.kind === 'float' ? 'float' : 'integer') : v.kind) ||
            (kinds.includes('integer') && v.kind === 'integer') || (kinds.includes('float') && v.kind === 'float'), node.type.join(' or '));
        }
        return;
    }
    const s = v.kind === 'string' ? (v.value as string) : undefined;
    const num = v.kind === 'integer' || v.kind === 'float' ? (v.value as number) : undefined;
    const schemaAny = node as SchemaNode & { minimum?: number; maximum?: number };
    if (num !== undefined && schemaAny.minimum !== undefined && num < schemaAny.minimum) {
      report(v.range, DiagnosticSeverity.Error, 'containerd/out-of-range', `\`${full.join('.')}\` must be at least ${schemaAny.minimum}.`);
    }
    if (num !== undefined && schemaAny.maximum !== undefined && num > schemaAny.maximum) {
      report(v.range, DiagnosticSeverity.Error, 'containerd/out-of-range', `\`${full.join('.')}\` must be at most ${schemaAny.maximum}.`);
    }
    if (node.enum && v.kind !== 'object' && !node.enum.includes((v as { value: unknown }).value) && s !== '') {
      report(v.range, DiagnosticSeverity.Error, 'containerd/invalid-value',
        `${JSON.stringify((v as { value: unknown }).value)} is not one of ${node.enum.map((e) => JSON.stringify(e)).join(', ')}.`);
    }
    if (s === undefined || s === '') return;
    if (node.pattern && !new RegExp(node.pattern).test(s)) {
      report(v.range, DiagnosticSeverity.Error, 'containerd/invalid-value',
        `"${s}" is not a valid \`${full[full.length - 1]}\`` + (full[full.length - 1] === 'version' ? ' (a containerd release such as "1.7.18").' : '.'));
    }
    if (node.format === 'absolute-path' && !s.startsWith('/')) {
      report(v.range, DiagnosticSeverity.Warning, 'containerd/relative-path', `\`${full.join('.')}\` must be an absolute path.`);
    }
    if (node.format === 'image-reference' && !IMAGE_REF.test(s)) {
      report(v.range, DiagnosticSeverity.Error, 'containerd/invalid-image-reference', `"${s}" is not a valid image reference (e.g. "registry.k8s.io/pause:3.9").`);
    }
    if (node.format === 'duration' && !GO_DURATION.test(s)) {
      report(v.range, DiagnosticSeverity.Error, 'containerd/invalid-duration', `"${s}" is not a Go duration (such as "4h", "10s" or "1h30m").`);
    }
  };

  /** The config.toml key a field renders to: is it read by the release, and is it deprecated there? */
  const checkConfigKey = (prop: Property, key: string, full: string[]): void => {
    const path = parsePath(key);
    const v2 = resolve(schemaFor(2), path);
    if (!v2) return;
    const xc = v2.node['x-containerd'];
    let versions = xc?.versions;
    if (release.major >= 2 && xc?.migration?.v3Path) {
      versions = resolve(schemaFor(3), parsePath(xc.migration.v3Path))?.node['x-containerd']?.versions ?? versions;
    }
    if (versions && !availableIn(versions, release)) {
      report(prop.keyRange, DiagnosticSeverity.Warning, 'containerd/unavailable-in-release',
        `\`${full.join('.')}\` renders \`${key}\`, which containerd ${rel} does not read (valid in ${describeVersions(versions)}): it is left out of config.toml.`,
        { tags: [DiagnosticTag.Unnecessary] });
      return;
    }
    const dep = xc?.deprecated;
    const since = dep?.since ? parseRelease(dep.since) : undefined;
    const val = prop.value;
    const unset = (val.kind === 'string' && val.value === '') || (val.kind !== 'object' && val.kind !== 'array' && val.value === v2.node.default);
    if (v2.node.deprecated && since && !unset && (release.major > since.major || (release.major === since.major && release.minor >= since.minor))) {
      report(prop.keyRange, DiagnosticSeverity.Warning, 'containerd/deprecated',
        `\`${full.join('.')}\` renders a setting deprecated in containerd ${dep?.since}` + (dep?.replacement ? `; use \`${dep.replacement}\`.` : '.'),
        { tags: [DiagnosticTag.Deprecated] });
    }
  };

  walk(root, schema, []);

  // ---- cross-field rules
  const str = (path: string[]): { value: string; node: ValueNode } | undefined => {
    const n = getAt(root, path);
    return n && n.kind === 'string' ? { value: n.value as string, node: n } : undefined;
  };
  const runtimesNode = str(['runtimes']);
  const runtimes = (runtimesNode?.value ?? String(schema.properties?.runtimes?.default ?? 'runc'))
    .split(',').map((r) => r.trim()).filter(Boolean);
  if (runtimesNode) {
    const seen = new Set<string>();
    let offset = runtimesNode.node.range.start + 1;
    for (const part of runtimesNode.value.split(',')) {
      const name = part.trim();
      const start = offset + part.indexOf(name);
      if (name && seen.has(name)) {
        report({ start, end: start + name.length }, DiagnosticSeverity.Warning, 'containerd/duplicate-runtime', `Runtime "${name}" is listed twice.`);
      }
      if (!name || !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) {
        report(runtimesNode.node.range, DiagnosticSeverity.Error, 'containerd/invalid-value',
          `\`runtimes\` must be a comma-separated list of runtime names such as "runc,crun,youki".`);
        break;
      }
      seen.add(name);
      offset += part.length + 1;
    }
  }
  const dflt = str(['runtime_default']);
  if (dflt && !runtimes.includes(dflt.value)) {
    const suggestion = closestWithin(dflt.value, runtimes);
    report(dflt.node.range, DiagnosticSeverity.Error, 'containerd/runtime-default-not-listed',
      `runtime_default "${dflt.value}" is not in runtimes (${runtimes.join(', ')}): the rendered default_runtime_name names no runtime, so containerd's CRI plugin fails to load.` +
        (suggestion ? ` Did you mean "${suggestion}"?` : ''),
      suggestion ? { data: { fix: 'replace-value', value: JSON.stringify(suggestion) } } : {});
  }
  const configs = getAt(root, ['runtime_configs']);
  const configured = new Set<string>();
  if (configs && configs.kind === 'object') {
    for (const p of configs.props) {
      configured.add(p.key);
      if (!runtimes.includes(p.key)) {
        report(p.keyRange, DiagnosticSeverity.Warning, 'containerd/runtime-config-unused',
          `runtime_configs defines "${p.key}", which is not in runtimes (${runtimes.join(', ')}): it is not rendered. Add it to runtimes or remove it.`);
      }
    }
  }
  const known = new Set(['runc', 'crun', 'youki']);
  for (const r of runtimes) {
    if (!configured.has(r) && !known.has(r) && runtimesNode) {
      report(runtimesNode.node.range, DiagnosticSeverity.Warning, 'containerd/runtime-config-missing',
        `Runtime "${r}" has no runtime_configs entry, so it is rendered as a runc-compatible runtime (runtime_type io.containerd.runc.v2, BinaryName <prefix>/bin/${r}). ` +
          `Add runtime_configs.${r} with its runtime_type (e.g. io.containerd.kata.v2) if it is not.`);
    }
  }
  // config.version against the release
  const cv = getAt(root, ['config', 'version']);
  if (cv && cv.kind === 'integer') {
    const n = cv.value as number;
    const support = configVersionSupport(release);
    if (n > support.max) {
      report(cv.range, DiagnosticSeverity.Error, 'containerd/unsupported-version',
        `config.version ${n} needs containerd ${n === 3 ? '2.0' : '2.3'} or later, but this taskserv installs ${rel}: containerd ${support.lenientAbove ? 'would silently read it as version 2' : 'refuses to start'}.`);
    } else if (n < 2) {
      report(cv.range, DiagnosticSeverity.Error, 'containerd/unsupported-version', 'config.version must be 2 or later: the taskserv renders full plugin IDs.');
    } else if (n < nativeConfigVersion(release)) {
      report(cv.range, DiagnosticSeverity.Information, 'containerd/old-config-version',
        `containerd ${rel} migrates a version ${n} file at every start; version ${nativeConfigVersion(release)} is its native format (remove config.version to render it).`);
    }
  }
  // crictl endpoints against the grpc socket
  const address = str(['config', 'grpc', 'address'])?.value ?? '/run/containerd/containerd.sock';
  for (const key of ['runtime_endpoint', 'image_endpoint']) {
    const ep = str(['crictl', key]);
    if (ep && ep.value.replace(/^unix:\/\//, '') !== address) {
      report(ep.node.range, DiagnosticSeverity.Warning, 'containerd/crictl-endpoint-mismatch',
        `crictl.${key} "${ep.value}" does not point at containerd's socket (config.grpc.address "${address}"): crictl would talk to another runtime or fail.`);
    }
  }
  // the cgroup driver
  const sdc = getAt(root, ['plugins', 'cri', 'systemd_cgroup']);
  if (sdc && sdc.kind === 'boolean' && configs && configs.kind === 'object') {
    for (const p of configs.props) {
      if (p.value.kind !== 'object') continue;
      const opt = getAt(p.value, ['options', 'SystemdCgroup']);
      if (opt && opt.kind === 'boolean' && opt.value !== sdc.value) {
        report(opt.range, DiagnosticSeverity.Warning, 'containerd/cgroup-driver-mismatch',
          `runtime_configs.${p.key}.options.SystemdCgroup is ${opt.raw} but plugins.cri.systemd_cgroup is ${sdc.raw}: runtimes on one node should share the kubelet's cgroup driver.`);
      }
    }
  }

  // ---- the rendered config.toml must pass our own config.toml validation
  const rendered = safeRender(sd.parsed);
  const toml = rendered?.files.find((f) => f.kind === 'config.toml');
  if (toml) {
    const text = `# containerd: ${rel}\n` + toml.content;
    const parsed = parseToml(text);
    const td = TextDocument.create('taskserv-render:config.toml', 'containerd-toml', 1, text);
    const problems = validateConfig({ text: td, parsed, ctx: detectContext(parsed) })
      .filter((d) => d.severity === DiagnosticSeverity.Error);
    for (const p of problems) {
      const line = p.range.start.line - 1; // the pin comment shifted every line by one
      const origin = toml.sourceMap.find((m) => m.line === line)?.source ?? decl.keyRange;
      report(origin, DiagnosticSeverity.Error, 'containerd/render-invalid',
        `The rendered config.toml would be rejected: ${typeof p.message === 'string' ? p.message : p.message.value}`);
    }
  }
  return out;
}

function safeRender(doc: ParsedDocument): ReturnType<typeof renderTaskserv> {
  try {
    return renderTaskserv(doc);
  } catch {
    return undefined;
  }
}

function closestWithin(word: string, candidates: string[]): string | undefined {
  if (!candidates.length) return undefined;
  const best = closest(word, candidates);
  const d = distance(word, best);
  return d > 0 && d <= Math.max(2, Math.floor(word.length / 4)) ? best : undefined;
}

function kindName(v: ValueNode): string {
  switch (v.kind) {
    case 'object':
      return 'a dict';
    case 'array':
      return 'a list';
    case 'null':
      return 'None';
    case 'boolean':
      return v.value ? 'True' : 'False';
    case 'string':
      return `a string (${JSON.stringify(v.value)})`;
    default:
      return `${v.kind === 'integer' ? 'an integer' : 'a number'} (${v.raw})`;
  }
}
