/**
 * Diagnostics: walks the document tree against the schema of the file's config version
 * and reports what containerd would do with each key, at the key's or value's exact range.
 *
 * Severity follows containerd's behaviour (see ARCHITECTURE.md): what stops the daemon or
 * unloads the CRI plugin is an error; what containerd ignores is a warning; every
 * diagnostic has a stable `containerd/...` code.
 */
import { closest, distance } from 'fastest-levenshtein';
import { DiagnosticSeverity, DiagnosticTag, type Diagnostic } from 'vscode-languageserver-types';
import { findProp, getAt, type ObjectNode, type Property, type ValueNode, type Span } from '../tree/model';
import { formatPath, parsePath } from '../tree/keypath';
import {
  ALL_CONFIG_VERSIONS,
  childOf,
  elementOf,
  isArrayOfTables,
  isFreeForm,
  isTable,
  keyIndex,
  keysOf,
  pluginIds,
  resolve,
  schemaFor,
  typeOf,
  type SchemaNode,
} from '../schema/catalog';
import {
  availableIn,
  configVersionSupport,
  describeVersions,
  formatRelease,
  parseRelease,
  type ConfigVersion,
  type Release,
} from '../schema/releases';
import { toRange, type ServiceDocument } from './context';
import type { FixData } from './fixes';

export const SOURCE = 'containerd';

/** Keys whose string value is a filesystem path containerd needs absolute. */
const PATH_KEYS = new Set(['root', 'state', 'temp', 'plugin_dir', 'conf_dir', 'bin_dir', 'root_path', 'conf_template', 'config_path']);
const SOCKET_TABLES = new Set(['grpc', 'ttrpc', 'debug']);
const RUNC_TYPES = ['io.containerd.runc.v2', 'io.containerd.runc.v1', 'io.containerd.runtime.v1.linux'];
const RUNHCS_TYPES = ['io.containerd.runhcs.v1'];
const GO_DURATION = /^[-+]?((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+$|^0$/;

export function validate(sd: ServiceDocument): Diagnostic[] {
  const v = new Validator(sd);
  v.run();
  return v.out;
}

function cmpRelease(a: Release, b: Release): number {
  return a.major - b.major || a.minor - b.minor || (a.patch ?? 999) - (b.patch ?? 0);
}

class Validator {
  readonly out: Diagnostic[] = [];
  private readonly schema: SchemaNode;
  private readonly release: Release;
  private readonly v: ConfigVersion;
  private readonly rel: string;

  constructor(private readonly sd: ServiceDocument) {
    this.v = sd.ctx.configVersion;
    this.schema = schemaFor(this.v);
    this.release = sd.ctx.release;
    this.rel = formatRelease(this.release);
  }

  private get is1x(): boolean {
    return this.release.major < 2;
  }

  private report(span: Span, severity: DiagnosticSeverity, code: string, message: string, extra: Partial<Diagnostic> = {}): void {
    this.out.push({ range: toRange(this.sd.text, span), severity, code, source: SOURCE, message, ...extra });
  }

  run(): void {
    for (const e of this.sd.parsed.syntaxErrors) this.report(e.range, DiagnosticSeverity.Error, e.code, e.message);
    this.checkVersion();
    this.walkTable(this.sd.parsed.root, this.schema, [], []);
    this.crossChecks();
  }

  // ---------------------------------------------------------------- version

  private checkVersion(): void {
    const root = this.sd.parsed.root;
    const vp = findProp(root, 'version');
    const plugins = findProp(root, 'plugins');
    const pluginProps = plugins && plugins.value.kind === 'object' ? plugins.value.props : [];
    if (!vp) {
      const fullUri = pluginProps.find((p) => p.key.includes('.'));
      if (fullUri && this.is1x) {
        this.report(fullUri.keyRange, DiagnosticSeverity.Error, 'containerd/missing-version',
          `This file has no \`version\`, so containerd ${this.rel} reads it as version 1, where plugin tables use short IDs: ` +
          `every \`plugins."io.containerd…"\` table here is silently ignored. Add \`version = 2\` at the top.`);
      } else if (pluginProps.length) {
        const first = pluginProps[0];
        this.report(first.keyRange, DiagnosticSeverity.Warning, 'containerd/deprecated-version',
          `This file has no \`version\` and is read as config version 1, which is deprecated` +
          (this.is1x ? '' : `; containerd ${this.rel} migrates it at every start`) +
          `. Use \`version = 2\` with full plugin IDs${this.is1x ? '' : ' (or `version = 3`)'}.`);
      }
      return;
    }
    const val = vp.value;
    if (val.kind !== 'integer') {
      this.report(val.range, DiagnosticSeverity.Error, 'containerd/invalid-version',
        `\`version\` must be an integer (1, 2, 3 or 4), not ${describeKind(val)}: containerd refuses to start.`);
      return;
    }
    const n = val.value as number;
    if (n < 1 || n > 4) {
      this.report(val.range, DiagnosticSeverity.Error, 'containerd/invalid-version',
        `Config version ${n} does not exist: containerd knows versions 1 to 4 and refuses to start.`);
      return;
    }
    const support = configVersionSupport(this.release);
    if (n > support.max) {
      if (support.lenientAbove) {
        this.report(val.range, DiagnosticSeverity.Warning, 'containerd/unsupported-version',
          `containerd ${this.rel} does not know config version ${n} and silently reads this file as version ${support.max}: ` +
          `the version ${n} plugin tables are ignored (later 1.6/1.7 patches refuse to start).`);
      } else {
        this.report(val.range, DiagnosticSeverity.Error, 'containerd/unsupported-version',
          `containerd ${this.rel} refuses to start with config version ${n}: the highest it reads is ${support.max}` +
          (n === 3 ? ' (version 3 needs containerd 2.0 or later).' : n === 4 ? ' (version 4 needs containerd 2.3 or later).' : '.'));
      }
    }
    if (n === 1) {
      this.report(val.range, DiagnosticSeverity.Warning, 'containerd/deprecated-version',
        'Config version 1 is deprecated. Use `version = 2` with full plugin IDs (containerd 1.x) or `version = 3` (containerd 2.x).',
        { tags: [DiagnosticTag.Deprecated] });
    }
  }

  // ---------------------------------------------------------------- tree walk

  private walkTable(obj: ObjectNode, schema: SchemaNode, path: string[], schemaPath: string[]): void {
    const table = elementOf(schema);
    // Runtime `options` are free-form for containerd, but for runc/runhcs shims we know their keys.
    const isOptions = table['x-key-matching'] === 'case-insensitive';
    if (!isOptions && isFreeForm(table)) return;
    const runtimeType = isOptions ? this.runtimeTypeFor(path) : undefined;
    if (isOptions && runtimeType && !RUNC_TYPES.includes(runtimeType) && !RUNHCS_TYPES.includes(runtimeType)) {
      return; // other shims get the whole options table as a TOML blob: every key is legal
    }
    for (const prop of obj.props) {
      if (path.length === 0 && prop.key === 'version') continue;
      const full = [...path, prop.key];
      let child = childOf(table, prop.key) ?? this.caseVariant(table, prop.key);
      let childSchema = child?.node;
      if (!child) {
        childSchema = this.fromNewerLayout(full);
        if (!childSchema) {
          this.unknown(prop, path, schemaPath, table, isOptions);
          continue;
        }
        child = { node: childSchema, canonical: prop.key, mapEntry: false, caseInsensitive: false };
      }
      const node = child.node;
      if (child.caseInsensitive) {
        this.report(prop.keyRange, DiagnosticSeverity.Information, 'containerd/key-case',
          `containerd matches \`${prop.key}\` to \`${child.canonical}\` (it ignores case here), but the canonical spelling is \`${child.canonical}\`.`,
          { data: { fix: 'rename', newKey: child.canonical } satisfies FixData });
      }
      if (isOptions && runtimeType) {
        const types = node['x-containerd']?.runtimeTypes;
        if (types && types.length && !types.includes(runtimeType)) {
          this.report(prop.keyRange, DiagnosticSeverity.Hint, 'containerd/option-not-applicable',
            `\`${child.canonical}\` is not an option of runtime_type \`${runtimeType}\` (it applies to ${types.join(', ')}); the shim ignores it.`,
            { tags: [DiagnosticTag.Unnecessary] });
          continue;
        }
      }
      const nextSchemaPath = [...schemaPath, child.mapEntry ? '<name>' : child.canonical];
      if (!this.checkAvailability(prop, node, isOptions, full, nextSchemaPath)) continue;
      this.checkDeprecated(prop, node, full, nextSchemaPath);
      this.checkValue(prop, node, full, isOptions, nextSchemaPath);
    }
  }

  /**
   * containerd's TOML decoders match struct keys loosely: 1.x (go-toml v1) also accepts the
   * all-upper-case spelling, 2.x (go-toml v2) any casing.
   */
  private caseVariant(table: SchemaNode, key: string): ReturnType<typeof childOf> {
    const props = table.properties;
    if (!props) return undefined;
    for (const k of Object.keys(props)) {
      if (k.toLowerCase() !== key.toLowerCase()) continue;
      if (!this.is1x || key === k.toUpperCase()) return { node: props[k], canonical: k, mapEntry: false, caseInsensitive: true };
    }
    return undefined;
  }

  /** A version-2 file read by containerd 2.x honours the 2.x plugin tables too. */
  private fromNewerLayout(full: string[]): SchemaNode | undefined {
    if (this.v !== 2 || this.is1x) return undefined;
    return resolve(schemaFor(3), full)?.node;
  }

  private runtimeTypeFor(optionsPath: string[]): string | undefined {
    const runtime = getAt(this.sd.parsed.root, optionsPath.slice(0, -1));
    if (!runtime || runtime.kind !== 'object') return undefined;
    const rt = findProp(runtime, 'runtime_type');
    if (rt && rt.value.kind === 'string') return rt.value.value as string;
    return 'io.containerd.runc.v2';
  }

  private checkAvailability(prop: Property, node: SchemaNode, isOption: boolean, full: string[], schemaPath: string[]): boolean {
    const xc = node['x-containerd'];
    if (!xc?.versions || availableIn(xc.versions, this.release)) return true;
    if (this.v === 2 && !this.is1x) {
      // containerd 2.x migrates a version 2 file in memory: what counts is the key's version 3 home.
      if (isTable(elementOf(node))) return true;
      const mig = xc.migration?.v3Path;
      const target = mig ? fillNames(parsePath(mig), full, schemaPath) : undefined;
      const v3 = target ? resolve(schemaFor(3), target)?.node : undefined;
      if (v3 && availableIn(v3['x-containerd']?.versions, this.release)) return true;
      if (isDefaultValue(prop.value, node)) return false; // dropping a default changes nothing
      this.report(prop.keyRange, isOption ? DiagnosticSeverity.Information : DiagnosticSeverity.Warning,
        'containerd/unavailable-in-release',
        `containerd ${this.rel} migrates this version 2 file to version 3 at every start, and \`${prop.key}\` has no version 3 equivalent there: it is dropped.` + this.releaseHint(),
        { tags: [DiagnosticTag.Unnecessary] });
      return false;
    }
    const removed = xc.removedIn ? parseRelease(xc.removedIn) : undefined;
    const gone = removed && cmpRelease(this.release, removed) >= 0;
    const what = gone
      ? `was removed in containerd ${xc.removedIn}`
      : `is not read by containerd ${this.rel} (valid in ${describeVersions(xc.versions)})`;
    this.report(prop.keyRange, isOption ? DiagnosticSeverity.Information : DiagnosticSeverity.Warning,
      'containerd/unavailable-in-release', `\`${prop.key}\` ${what}; containerd ${this.rel} ignores it.` + this.releaseHint(),
      { tags: [DiagnosticTag.Unnecessary] });
    return false;
  }

  private releaseHint(): string {
    return this.sd.ctx.releaseSource === 'inferred'
      ? ` (Target release ${this.rel} is assumed from \`version\`; pin it with a \`# containerd: X.Y\` comment.)`
      : '';
  }

  private checkDeprecated(prop: Property, node: SchemaNode, full: string[], schemaPath: string[]): void {
    // containerd only warns about deprecated settings that are actually used: `config default`
    // prints many of them with empty values.
    if (!node.deprecated || isDefaultValue(prop.value, node)) return;
    const dep = node['x-containerd']?.deprecated;
    const since = dep?.since ? parseRelease(dep.since) : undefined;
    if (since && cmpRelease(this.release, since) < 0) return; // not yet deprecated in the target release
    let data: FixData | undefined;
    if (dep?.replacement) {
      const target = fillNames(parsePath(dep.replacement), full, schemaPath);
      if (target && this.isValidTarget(target)) data = { fix: 'move', toPath: target };
    }
    const removal = dep?.removedIn ?? dep?.removalTarget;
    const msg = (node.deprecationMessage ?? `\`${prop.key}\` is deprecated.`) +
      (removal && !(node.deprecationMessage ?? '').includes(removal) ? ` Removal: containerd ${removal}.` : '');
    this.report(prop.keyRange, DiagnosticSeverity.Warning, 'containerd/deprecated', msg,
      { tags: [DiagnosticTag.Deprecated], ...(data ? { data } : {}) });
  }

  /** Deprecated in the target release (a key deprecated only from a later release is not). */
  private deprecatedHere(node: SchemaNode): boolean {
    if (!node.deprecated) return false;
    const since = node['x-containerd']?.deprecated?.since;
    const r = since ? parseRelease(since) : undefined;
    return !r || cmpRelease(this.release, r) >= 0;
  }

  private isValidTarget(path: string[]): boolean {
    return !!resolve(this.schema, path) || (this.v === 2 && !this.is1x && !!resolve(schemaFor(3), path));
  }

  private checkValue(prop: Property, node: SchemaNode, full: string[], inOptions: boolean, schemaPath: string[]): void {
    const val = prop.value;
    const type = typeOf(node);
    const fatal = inOptions
      ? 'pods using this runtime fail to start (the options are decoded when a pod is created).'
      : 'containerd refuses to start (type errors are fatal).';
    if (isArrayOfTables(node)) {
      if (val.kind === 'array' && val.items.every((i) => i.kind === 'object')) {
        for (const item of val.items) this.walkTable(item as ObjectNode, node, full, schemaPath);
      } else {
        this.typeError(prop, 'an array of tables', fatal);
      }
      return;
    }
    if (isTable(node)) {
      if (val.kind === 'object') this.walkTable(val, node, full, schemaPath);
      else this.typeError(prop, 'a table', fatal);
      return;
    }
    switch (type) {
      case 'string':
        if (val.kind !== 'string') {
          if (node.format === 'duration' && val.kind === 'integer' && val.value === 0) return; // 0 decodes as a duration
          this.typeError(prop, node.format === 'duration' ? 'a duration string such as "10s"' : 'a string', fatal);
          return;
        }
        this.checkString(prop, val, node, full);
        return;
      case 'boolean':
        if (val.kind !== 'boolean') this.typeError(prop, 'a boolean (true or false)', fatal);
        return;
      case 'integer':
        if (val.kind !== 'integer') this.typeError(prop, 'an integer', fatal);
        else this.checkEnum(prop, val, node);
        return;
      case 'number':
        if (val.kind !== 'integer' && val.kind !== 'float') this.typeError(prop, 'a number', fatal);
        return;
      case 'array': {
        if (val.kind !== 'array' || val.ofTables) {
          this.typeError(prop, 'an array', fatal);
          return;
        }
        const itemType = node.items ? typeOf(node.items) : undefined;
        for (const item of val.items) {
          if (itemType === 'string' && item.kind !== 'string') {
            this.report(item.range, DiagnosticSeverity.Error, 'containerd/type-mismatch',
              `Items of \`${prop.key}\` must be strings, not ${describeKind(item)}: ${fatal}`);
          } else if (itemType === 'string' && item.kind === 'string' && PATH_KEYS.has(prop.key)) {
            this.checkPath(prop, item);
          }
        }
        return;
      }
      default:
        return;
    }
  }

  private checkString(prop: Property, val: ValueNode, node: SchemaNode, full: string[]): void {
    const s = val.kind === 'string' ? (val.value as string) : '';
    if (node.format === 'duration' && s !== '' && !GO_DURATION.test(s)) {
      const atLoad = full[0] === 'plugins';
      this.report(val.range, atLoad ? DiagnosticSeverity.Error : DiagnosticSeverity.Warning, 'containerd/invalid-duration',
        `"${s}" is not a Go duration (use a number with a unit, such as "10s", "5m" or "1h30m")` +
          (atLoad ? ': containerd fails to decode it.' : ': containerd cannot use it.'));
      return;
    }
    this.checkEnum(prop, val, node);
    const parent = full[full.length - 2];
    if (PATH_KEYS.has(prop.key) || (prop.key === 'address' && full.length === 2 && SOCKET_TABLES.has(parent))) {
      this.checkPath(prop, val);
    }
  }

  private checkPath(prop: Property, val: ValueNode): void {
    if (val.kind !== 'string') return;
    const s = val.value as string;
    if (!s || s.startsWith('/') || s.startsWith('\\\\') || /^[A-Za-z]:[\\/]/.test(s) || s.includes('${') || s.includes('{{')) return;
    const parts = prop.key === 'config_path' ? s.split(':') : [s];
    if (parts.every((p) => p === '' || p.startsWith('/'))) return;
    this.report(val.range, DiagnosticSeverity.Warning, 'containerd/relative-path',
      `\`${prop.key}\` should be an absolute path; "${s}" is resolved against containerd's working directory (/ under systemd).`);
  }

  private checkEnum(prop: Property, val: ValueNode, node: SchemaNode): void {
    if (!node.enum || val.kind === 'object' || val.kind === 'array') return;
    if (node.enum.includes(val.value) || val.value === '' || isTemplated(val)) return;
    const validation = node['x-containerd']?.validation ?? '';
    const fatal = /fail|fatal|error|refuse|reject/i.test(validation);
    const choices = node.enum.map((e) => JSON.stringify(e)).join(', ');
    const suggestion = typeof val.value === 'string' ? closestWithin(val.value, node.enum.filter((e): e is string => typeof e === 'string')) : undefined;
    this.report(val.range, fatal ? DiagnosticSeverity.Error : DiagnosticSeverity.Warning, 'containerd/invalid-value',
      `${JSON.stringify(val.value)} is not a value \`${prop.key}\` accepts (${choices}).` +
        (suggestion ? ` Did you mean "${suggestion}"?` : '') + (validation ? ` ${validation}` : ''));
  }

  private typeError(prop: Property, expected: string, consequence: string): void {
    this.report(prop.value.range, DiagnosticSeverity.Error, 'containerd/type-mismatch',
      `\`${prop.key}\` must be ${expected}, not ${describeKind(prop.value)}: ${consequence}`);
  }

  // ---------------------------------------------------------------- unknown keys

  private unknown(prop: Property, path: string[], schemaPath: string[], table: SchemaNode, isOptions: boolean): void {
    const full = [...path, prop.key];
    if (path.length === 1 && path[0] === 'plugins') {
      this.unknownPlugin(prop);
      return;
    }
    // The key belongs to another config version's layout at this very place.
    for (const other of ALL_CONFIG_VERSIONS) {
      if (other === this.v || (other === 1) !== (this.v === 1)) continue;
      const r = resolve(schemaFor(other), full);
      if (!r) continue;
      if (other > this.v) {
        this.report(prop.keyRange, DiagnosticSeverity.Warning, 'containerd/unavailable-in-release',
          `\`${prop.key}\` here is read only by containerd 2.x; containerd ${this.rel} ignores it.` + this.releaseHint(),
          { tags: [DiagnosticTag.Unnecessary] });
      } else if (prop.value.kind === 'object') {
        this.wrongLayoutTable(prop.value, full, other);
      } else {
        const mig = r.node['x-containerd']?.migration?.v3Path;
        const target = mig ? fillNames(parsePath(mig), full, r.schemaPath) : undefined;
        const valid = target && resolve(this.schema, target) ? target : undefined;
        this.report(prop.keyRange, DiagnosticSeverity.Warning, 'containerd/wrong-layout',
          `\`${formatPath(full)}\` is config version ${other} layout; in a version ${this.v} file containerd ignores it` +
            (valid ? ` and its setting belongs at \`${formatPath(valid)}\`.` : '.'),
          valid ? { data: { fix: 'move', toPath: valid } satisfies FixData } : {});
      }
      return;
    }
    if (!isOptions && table['x-closed'] !== true) return;
    // Valid elsewhere: a misplaced key.
    const places = (keyIndex(this.schema).get(prop.key.toLowerCase()) ?? []).filter((loc) =>
      !isTable(elementOf(loc.node)) &&
      ((this.v === 2 && !this.is1x) || availableIn(loc.node['x-containerd']?.versions, this.release)));
    // Point at current settings, not at deprecated copies of the same key.
    const current = places.filter((loc) => !this.deprecatedHere(loc.node) && !loc.table.some((seg) => /^(default_runtime|untrusted_workload_runtime)$/.test(seg)));
    const candidatesForMove = current.length ? current : places;
    if (candidatesForMove.length) {
      const scored = candidatesForMove.map((loc) => ({ loc, score: commonPrefix(loc.table, full) }));
      const best = Math.max(...scored.map((s) => s.score));
      const top = scored.filter((s) => s.score === best);
      const sameTable = top.length === 1 && top[0].loc.table.length === path.length && commonPrefix(top[0].loc.table, path) === path.length;
      if (top.length === 1 && !sameTable) {
        const { loc } = top[0];
        const target = fillNames([...loc.table, loc.key], full, [...schemaPath, prop.key]);
        const tableText = target ? formatPath(target.slice(0, -1)) : loc.table.map((seg) => (seg === '<name>' ? seg : formatPath([seg]))).join('.');
        this.report(prop.keyRange, DiagnosticSeverity.Warning, 'containerd/misplaced-key',
          `\`${prop.key}\` does not belong in [${formatPath(path)}]; containerd ignores it here. It belongs in [${tableText}].`,
          target ? { data: { fix: 'move', toPath: target } satisfies FixData } : {});
        return;
      }
    }
    // Never suggest a deprecated key: `SystemdCgroup` → `systemd_cgroup` would unload CRI.
    const candidates = keysOf(table).filter((k) => !this.deprecatedHere(table.properties?.[k] ?? {}));
    const suggestion = closestWithin(prop.key, candidates);
    const where = path.length ? `[${formatPath(path)}]` : 'the top level';
    const how = isOptions
      ? 'containerd passes runtime options to the shim by name and silently drops unknown ones'
      : this.is1x ? `containerd ${this.rel} silently ignores it` : `containerd ${this.rel} ignores it with an "Ignoring unknown key" warning`;
    this.report(prop.keyRange, DiagnosticSeverity.Warning, 'containerd/unknown-key',
      `Unknown key \`${prop.key}\` in ${where}: ${how}.` + (suggestion ? ` Did you mean \`${suggestion}\`?` : ''),
      suggestion ? { data: { fix: 'rename', newKey: suggestion } satisfies FixData } : {});
  }

  /** A whole table in another version's layout: report each leaf, with its own migration target. */
  private wrongLayoutTable(obj: ObjectNode, base: string[], other: ConfigVersion): void {
    for (const p of obj.props) {
      const full = [...base, p.key];
      if (p.value.kind === 'object') {
        this.wrongLayoutTable(p.value, full, other);
        continue;
      }
      const r = resolve(schemaFor(other), full);
      const mig = r?.node['x-containerd']?.migration?.v3Path;
      const target = r && mig ? fillNames(parsePath(mig), full, r.schemaPath) : undefined;
      const valid = target && resolve(this.schema, target) ? target : undefined;
      this.report(p.keyRange, DiagnosticSeverity.Warning, 'containerd/wrong-layout',
        `\`${formatPath(full)}\` is config version ${other} layout; in a version ${this.v} file containerd ignores it` +
          (valid ? ` and its setting belongs at \`${formatPath(valid)}\`.` : '.'),
        valid ? { data: { fix: 'move', toPath: valid } satisfies FixData } : {});
    }
  }

  private unknownPlugin(prop: Property): void {
    const id = prop.key;
    if (this.v >= 2 && this.is1x) {
      const parts = id.split('.');
      const strictPrefix = this.release.minor >= 7;
      if (parts.length < 4 || (strictPrefix && !id.startsWith('io.containerd.'))) {
        const short = schemaFor(1).properties?.plugins?.properties?.[id];
        const full = short?.['x-containerd']?.path?.match(/"([^"]+)"/)?.[1];
        this.report(prop.keyRange, DiagnosticSeverity.Error, 'containerd/invalid-plugin-uri',
          `"${id}" is not a full plugin ID: in a version ${this.v} file containerd ${this.rel} refuses to start ` +
            `("invalid plugin key URI"). ` + (full ? `Use "${full}".` : 'Plugin IDs look like io.containerd.<type>.<version>.<name>.'),
          full ? { data: { fix: 'rename', newKey: full } satisfies FixData } : {});
        return;
      }
    }
    for (const other of ALL_CONFIG_VERSIONS) {
      if (other === this.v) continue;
      const node = schemaFor(other).properties?.plugins?.properties?.[id];
      if (!node) continue;
      if (other === 1 || this.v === 1) {
        this.report(prop.keyRange, DiagnosticSeverity.Warning, 'containerd/wrong-layout',
          this.v === 1
            ? `A version 1 file names plugins by short ID; containerd ignores "${id}" here. Add \`version = 2\` to use full plugin IDs.`
            : `"${id}" is a version 1 short plugin ID; in a version ${this.v} file use its full ID.`);
        return;
      }
      const versions = node['x-containerd']?.versions;
      if (versions && !availableIn(versions, this.release)) {
        this.report(prop.keyRange, DiagnosticSeverity.Warning, 'containerd/unavailable-in-release',
          `containerd ${this.rel} has no plugin "${id}" (it exists in ${describeVersions(versions)}); this table is ignored.` + this.releaseHint(),
          { tags: [DiagnosticTag.Unnecessary] });
        return;
      }
      const renamed = RENAMED_PLUGINS[id];
      this.report(prop.keyRange, DiagnosticSeverity.Warning, 'containerd/wrong-layout',
        `"${id}" belongs to the config version ${other} layout; in a version ${this.v} file containerd ignores this table.` +
          (renamed ? ` Its new ID is "${renamed}".` : ''),
        renamed ? { data: { fix: 'rename', newKey: renamed } satisfies FixData } : {});
      return;
    }
    const suggestion = closestWithin(id, pluginIds(this.schema));
    this.report(prop.keyRange, DiagnosticSeverity.Warning, 'containerd/unknown-plugin',
      `containerd has no built-in plugin "${id}": it silently ignores this table (a third-party build may add it).` +
        (suggestion ? ` Did you mean "${suggestion}"?` : ''),
      suggestion ? { data: { fix: 'rename', newKey: suggestion } satisfies FixData } : {});
  }

  // ---------------------------------------------------------------- cross-key checks

  private crossChecks(): void {
    const root = this.sd.parsed.root;
    this.checkPluginLists(root);
    this.checkProxyPlugins(root);
    const criIds = this.v >= 3 ? ['io.containerd.cri.v1.runtime'] : this.v === 2 ? ['io.containerd.grpc.v1.cri', ...(this.is1x ? [] : ['io.containerd.cri.v1.runtime'])] : ['cri'];
    for (const id of criIds) {
      const cri = getAt(root, ['plugins', id]);
      if (cri && cri.kind === 'object') this.checkRuntimes(cri, id);
    }
    const registryOwners = this.v >= 3 ? ['io.containerd.cri.v1.images'] : this.v === 2 ? ['io.containerd.grpc.v1.cri'] : ['cri'];
    for (const id of registryOwners) {
      const reg = getAt(root, ['plugins', id, 'registry']);
      if (reg && reg.kind === 'object') this.checkRegistry(reg);
    }
    if (this.is1x && this.v <= 2) {
      const cri = getAt(root, ['plugins', this.v === 2 ? 'io.containerd.grpc.v1.cri' : 'cri']);
      if (cri && cri.kind === 'object') {
        const sc = findProp(cri, 'systemd_cgroup');
        if (sc && sc.value.kind === 'boolean' && sc.value.value === true && this.defaultRuntimeType(cri) !== 'io.containerd.runtime.v1.linux') {
          this.report(sc.range, DiagnosticSeverity.Error, 'containerd/cri-plugin-fails',
            '`systemd_cgroup = true` only works with the legacy io.containerd.runtime.v1.linux runtime: containerd starts but the CRI plugin fails to load ' +
              '("systemd_cgroup only works for runtime io.containerd.runtime.v1.linux"). Set `SystemdCgroup = true` in the runtime\'s options instead.');
        }
      }
    }
  }

  /** runtime_type of the CRI default runtime as this file defines it (1.x). */
  private defaultRuntimeType(cri: ObjectNode): string | undefined {
    const name = getAt(cri, ['containerd', 'default_runtime_name']);
    const runtime = name && name.kind === 'string' ? (name.value as string) : 'runc';
    const rt = getAt(cri, ['containerd', 'runtimes', runtime, 'runtime_type']) ?? getAt(cri, ['containerd', 'default_runtime', 'runtime_type']);
    return rt && rt.kind === 'string' ? (rt.value as string) : 'io.containerd.runc.v2';
  }

  /** containerd 1.x panics ("plugin: no type") on a proxy plugin without a type it supports. */
  private checkProxyPlugins(root: ObjectNode): void {
    if (!this.is1x) return;
    const pp = findProp(root, 'proxy_plugins');
    if (!pp || pp.value.kind !== 'object') return;
    const ok = ['snapshot', 'content', 'io.containerd.snapshotter.v1', 'io.containerd.content.v1'];
    for (const p of pp.value.props) {
      if (p.value.kind !== 'object') continue;
      const t = findProp(p.value, 'type');
      const tv = t && t.value.kind === 'string' ? (t.value.value as string) : undefined;
      if (tv !== undefined && ok.includes(tv)) continue;
      this.report(t ? t.value.range : p.keyRange, DiagnosticSeverity.Error, 'containerd/invalid-value',
        (tv === undefined ? `Proxy plugin "${p.key}" has no \`type\`` : `Proxy plugin type "${tv}" is not supported by containerd ${this.rel}`) +
          `: containerd crashes at start ("plugin: no type"). Use "snapshot" or "content".`);
    }
  }

  private checkPluginLists(root: ObjectNode): void {
    if (this.v < 2 || !this.is1x) return;
    for (const key of ['disabled_plugins', 'required_plugins']) {
      const p = findProp(root, key);
      if (!p || p.value.kind !== 'array') continue;
      for (const item of p.value.items) {
        if (item.kind !== 'string') continue;
        const id = item.value as string;
        const parts = id.split('.');
        if (parts.length < 4 || (this.release.minor >= 7 && !id.startsWith('io.containerd.'))) {
          this.report(item.range, DiagnosticSeverity.Error, 'containerd/invalid-plugin-uri',
            `"${id}" is not a full plugin ID: in a version ${this.v} file containerd ${this.rel} refuses to start ("invalid ${key === 'disabled_plugins' ? 'disabled' : 'required'} plugin URI").`);
        }
      }
    }
  }

  private checkRuntimes(cri: ObjectNode, pluginId: string): void {
    const containerd = findProp(cri, 'containerd');
    if (!containerd || containerd.value.kind !== 'object') return;
    const runtimesProp = findProp(containerd.value, 'runtimes');
    const defined = new Set<string>();
    if (runtimesProp && runtimesProp.value.kind === 'object') {
      for (const r of runtimesProp.value.props) {
        defined.add(r.key);
        if (this.is1x && r.value.kind === 'object' && !findProp(r.value, 'runtime_type')) {
          this.report(r.keyRange, DiagnosticSeverity.Warning, 'containerd/partial-map',
            `containerd ${this.rel} replaces the built-in runtimes with the ones defined here, so runtime "${r.key}" has an empty runtime_type ` +
              `and pods using it fail ("container.Runtime.Name must be set"). Add \`runtime_type = "io.containerd.runc.v2"\`.`);
        }
      }
    }
    const builtIn = !runtimesProp || !this.is1x;
    const dflt = findProp(containerd.value, 'default_runtime_name');
    const name = dflt && dflt.value.kind === 'string' ? (dflt.value.value as string) : 'runc';
    if (defined.has(name) || (builtIn && name === 'runc') || isTemplated(dflt?.value)) return;
    // The legacy `default_runtime` table (1.x) defines the default runtime by itself.
    const legacy = getAt(containerd.value, ['default_runtime', 'runtime_type']);
    if (this.is1x && legacy && legacy.kind === 'string' && legacy.value !== '') return;
    const where = `[${formatPath(['plugins', pluginId, 'containerd', 'runtimes'])}]`;
    const consequence = `containerd starts, but the CRI plugin (${pluginId}) fails to load and kubelet then reports "unknown service runtime.v1.RuntimeService".`;
    if (dflt) {
      const suggestion = closestWithin(name, [...defined]);
      this.report(dflt.value.range, DiagnosticSeverity.Error, 'containerd/undefined-runtime',
        `default_runtime_name is "${name}" but no runtime "${name}" is defined in ${where}: ${consequence}` +
          (suggestion ? ` Did you mean "${suggestion}"?` : ''));
    } else if (runtimesProp) {
      this.report(runtimesProp.keyRange, DiagnosticSeverity.Error, 'containerd/undefined-runtime',
        `containerd ${this.rel} replaces the built-in runtimes with the ones defined here, and none is named "runc", the default_runtime_name: ${consequence}`);
    }
  }

  private checkRegistry(reg: ObjectNode): void {
    const cp = findProp(reg, 'config_path');
    const mirrors = findProp(reg, 'mirrors');
    if (!cp || cp.value.kind !== 'string' || cp.value.value === '' || !mirrors) return;
    this.report(mirrors.keyRange, DiagnosticSeverity.Error, 'containerd/registry-conflict',
      '`registry.mirrors` cannot be combined with `registry.config_path`: the CRI plugin fails to load ' +
        '("mirrors cannot be set when config_path is provided"). Move the mirrors into hosts.toml files under config_path.');
  }
}

/** Replace `<name>` placeholders of `target` with the entry names of `concrete`, in order. */
export function fillNames(target: string[], concrete: string[], concreteSchemaPath: string[]): string[] | undefined {
  const names: string[] = [];
  concreteSchemaPath.forEach((s, i) => {
    if (s === '<name>' && concrete[i] !== undefined) names.push(concrete[i]);
  });
  let k = 0;
  const out: string[] = [];
  for (const seg of target) {
    if (seg === '<name>') {
      if (k >= names.length) return undefined;
      out.push(names[k++]);
    } else out.push(seg);
  }
  return out;
}

/** Template placeholders (`${VAR}`, `{{ .X }}`) are filled in later: their value is unknown. */
function isTemplated(v: ValueNode | undefined): boolean {
  return !!v && v.kind === 'string' && /\$\{|\{\{/.test(v.value as string);
}

/** Is the value what containerd uses anyway (the schema default, or empty)? */
function isDefaultValue(v: ValueNode, node: SchemaNode): boolean {
  switch (v.kind) {
    case 'object':
      return v.props.every((p) => isDefaultValue(p.value, childOf(elementOf(node), p.key)?.node ?? {}));
    case 'array':
      return v.items.length === 0;
    case 'string':
      return v.value === '' || v.value === node.default;
    case 'boolean':
      return v.value === false || v.value === node.default;
    case 'integer':
    case 'float':
      return v.value === 0 || v.value === node.default;
    default:
      return false;
  }
}

function commonPrefix(schemaTable: string[], concrete: string[]): number {
  let n = 0;
  while (n < schemaTable.length && n < concrete.length && (schemaTable[n] === '<name>' || schemaTable[n] === concrete[n])) n++;
  return n;
}

function closestWithin(word: string, candidates: string[]): string | undefined {
  if (!candidates.length) return undefined;
  const lower = word.toLowerCase().replace(/_/g, '');
  for (const c of candidates) if (c.toLowerCase().replace(/_/g, '') === lower && c !== word) return c;
  const best = closest(word, candidates);
  const d = distance(word, best);
  return d > 0 && d <= Math.max(2, Math.floor(word.length / 4)) ? best : undefined;
}

function describeKind(v: ValueNode): string {
  switch (v.kind) {
    case 'string':
      return `a string (${JSON.stringify(v.value)})`;
    case 'integer':
      return `an integer (${v.raw})`;
    case 'float':
      return `a float (${v.raw})`;
    case 'boolean':
      return `a boolean (${v.raw})`;
    case 'datetime':
      return 'a date-time';
    case 'array':
      return v.ofTables ? 'an array of tables' : 'an array';
    case 'object':
      return 'a table';
    default:
      return 'a value';
  }
}

const RENAMED_PLUGINS: Record<string, string> = {
  'io.containerd.monitor.v1.cgroups': 'io.containerd.monitor.task.v1.cgroups',
  'io.containerd.internal.v1.restart': 'io.containerd.monitor.container.v1.restart',
};
