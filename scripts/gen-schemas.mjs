#!/usr/bin/env node
// Generates schemas/containerd-config-v{1,2,3,4}.schema.json from the research catalogue (keys.json).
//
//   node scripts/gen-schemas.mjs [--keys PATH] [--out DIR]
//
// --keys defaults to ../shared/research/containerd/keys.json relative to the repository root;
// --out defaults to <repo>/schemas. The format is the contract described in schemas/README.md.
// Output is deterministic (properties sorted by key, fixed key order, 2-space JSON, trailing newline).
//
// Decisions taken where keys.json is silent or irregular (also listed in the summary output):
//  * Version 1 schema: entries whose config_versions contain 1 are placed at their path; entries whose
//    config_versions contain 2 are placed at their v1 path: `v1_path` when given, otherwise the path with
//    the plugin ID replaced by its short ID (from `plugin_ids.v1_short_ids` or from the `v1_path` of any
//    other entry of the same plugin). Plugins without a known short ID are left out of the v1 schema.
//    `x-containerd.path` stays the catalogue path (the entry's identity); `v1Path` holds the v1 form.
//  * A `containerd_versions` value that is not a per-series map (the timeouts' {"since": "1.6"}) is
//    normalised to {"1.6": "all", ... up to the last known series}.
//  * Plugin tables without an entry of their own get `versions` = union of their children: per series
//    "all" if any child has "all", otherwise the widest range (lowest start, highest/open end);
//    "X.0+" is written "all". addedIn/removedIn come from `plugin_ids`.
//  * `enum` is emitted only for closed value sets: not when a value is a placeholder ("<...>",
//    "/absolute/...") or carries an annotation ("aufs (1.x)"), nor when allowed_values_note says other
//    values are accepted. Open sets go to `examples`. When the default ("" for several keys) is not
//    among the allowed values it is added to the enum, since containerd accepts it.
//  * Keys that the catalogue does not mark deprecated but whose key name is *renamed* (not only moved to
//    another plugin/table) by the v2->v3 migration, and whose old name does not exist in v3, get a derived
//    deprecation record (its `source` says "derived"). Currently `sandbox_image` ->
//    `pinned_images.sandbox` and `runtimes.<name>.sandbox_mode` -> `sandboxer`.
//  * Runtime option keys get `runtimeTypes` from `applies_when`: runc options list io.containerd.runc.v2
//    (+ io.containerd.runc.v1 and io.containerd.runtime.v1.linux when the entry says runc.v1, i.e. 1.x);
//    runhcs options io.containerd.runhcs.v1; generic TypeUrl/ConfigPath ["*"] plus
//    `runtimeTypesExcluded` (the shims that decode into their own struct instead).

import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pathArgs } from './lib/args.mjs';
import { splitPath, unquote } from './lib/paths.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function parseArgs(argv) {
  return pathArgs('gen-schemas.mjs', { keys: path.resolve(repoRoot, '../shared/research/containerd/keys.json'), out: path.join(repoRoot, 'schemas') }, argv);
}

// ---------------------------------------------------------------------------------------------
// constants

const CONFIG_VERSIONS = [1, 2, 3, 4];
const SERIES = ['1.5', '1.6', '1.7', '2.0', '2.1', '2.2', '2.3'];

const VERSION_INFO = {
  1: 'config version 1 (and files without `version`): plugin tables use short plugin IDs such as `plugins.cri`; native on containerd 1.x, migrated in memory by 2.x',
  2: 'config version 2: full plugin URIs; containerd 1.5-1.7 (also accepted and migrated in memory by containerd 2.x)',
  3: 'config version 3: containerd 2.0-2.2 layout (CRI split into io.containerd.cri.v1.runtime / io.containerd.cri.v1.images)',
  4: 'config version 4: containerd 2.3 layout (server listeners as io.containerd.server.v1.* plugins)',
};

// Go time.ParseDuration syntax: optional sign, then "0" or one or more <decimal><unit> pairs.
const DURATION_PATTERN = '^[-+]?(0|(([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h))+)$';

const RUNC_TYPES_2X = ['io.containerd.runc.v2'];
const RUNC_TYPES_1X = ['io.containerd.runc.v2', 'io.containerd.runc.v1', 'io.containerd.runtime.v1.linux'];
const RUNHCS_TYPES = ['io.containerd.runhcs.v1'];
const DEDICATED_OPTION_TYPES = ['io.containerd.runc.v2', 'io.containerd.runc.v1', 'io.containerd.runtime.v1.linux', 'io.containerd.runhcs.v1'];

// Order of keys inside every emitted schema node and inside x-containerd.
const NODE_KEY_ORDER = [
  '$schema', '$id', 'title', 'type', 'format', 'pattern', 'description', 'markdownDescription', 'default', 'enum', 'examples',
  'deprecated', 'deprecationMessage', 'x-config-version', 'x-closed', 'x-map', 'x-free-form', 'x-key-matching', 'x-containerd',
  'items', 'properties', 'additionalProperties',
];
const XC_KEY_ORDER = [
  'path', 'v1Path', 'plugin', 'type', 'configVersions', 'versions', 'addedIn', 'removedIn', 'deprecated',
  'migration', 'validation', 'appliesWhen', 'runtimeTypes', 'runtimeTypesExcluded', 'keyMatching', 'platforms',
  'defaultIllustrative', 'defaultNote', 'defaultWindows', 'defaultHistory', 'allowedValues', 'allowedValuesNote', 'note',
  'derived', 'sources',
];

// ---------------------------------------------------------------------------------------------
// path handling


/** Segments -> steps: {kind:'prop', name} | {kind:'map'} | {kind:'items'}. */
function toSteps(p) {
  const steps = [];
  for (const raw of splitPath(p)) {
    if (raw === '<name>' || /^<[^>]+>$/.test(raw)) {
      steps.push({ kind: 'map', placeholder: raw.slice(1, -1) });
      continue;
    }
    if (raw.endsWith('[]')) {
      steps.push({ kind: 'prop', name: unquote(raw.slice(0, -2)) });
      steps.push({ kind: 'items' });
      continue;
    }
    steps.push({ kind: 'prop', name: unquote(raw) });
  }
  return steps;
}

// ---------------------------------------------------------------------------------------------
// versions helpers

function cmpVer(a, b) {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return d;
  }
  return 0;
}

function normaliseVersions(cv, entryPath, notes) {
  const keys = Object.keys(cv);
  if (keys.every((k) => SERIES.includes(k))) return { ...cv };
  if (keys.length === 1 && keys[0] === 'since' && SERIES.includes(cv.since)) {
    const out = {};
    for (const s of SERIES) if (cmpVer(s, cv.since) >= 0) out[s] = 'all';
    notes.push(`normalised containerd_versions ${JSON.stringify(cv)} of ${entryPath}`);
    return out;
  }
  throw new Error(`cannot interpret containerd_versions ${JSON.stringify(cv)} of ${entryPath}`);
}

function parseRange(series, v) {
  if (v === 'all') return { from: `${series}.0`, to: null, all: true };
  let m = /^(\d+\.\d+\.\d+)\+$/.exec(v);
  if (m) return { from: m[1], to: null };
  m = /^(\d+\.\d+\.\d+)-(\d+\.\d+\.\d+)$/.exec(v);
  if (m) return { from: m[1], to: m[2] };
  throw new Error(`bad version range ${series}: ${v}`);
}

function unionVersions(list) {
  const out = {};
  for (const s of SERIES) {
    const vals = list.map((v) => v[s]).filter((v) => v !== undefined);
    if (!vals.length) continue;
    if (vals.includes('all')) {
      out[s] = 'all';
      continue;
    }
    const ranges = vals.map((v) => parseRange(s, v));
    let from = ranges[0].from;
    let to = ranges[0].to;
    for (const r of ranges.slice(1)) {
      if (cmpVer(r.from, from) < 0) from = r.from;
      if (to !== null && (r.to === null || cmpVer(r.to, to) > 0)) to = r.to;
    }
    out[s] = to === null ? (from === `${s}.0` ? 'all' : `${from}+`) : `${from}-${to}`;
  }
  return out;
}

function versionsText(versions) {
  return SERIES.filter((s) => versions[s] !== undefined)
    .map((s) => {
      const v = versions[s];
      if (v === 'all') return s;
      const r = parseRange(s, v);
      return r.to === null ? `${s} (from ${r.from})` : `${s} (${r.from}–${r.to} only)`;
    })
    .join(', ');
}

// ---------------------------------------------------------------------------------------------
// value rendering for markdown

function tomlValue(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(tomlValue).join(', ')}]`;
  const entries = Object.keys(v).map((k) => `${/^[A-Za-z0-9_-]+$/.test(k) ? k : JSON.stringify(k)} = ${tomlValue(v[k])}`);
  return entries.length ? `{ ${entries.join(', ')} }` : '{}';
}

function code(s) {
  const str = String(s);
  return str.includes('`') ? `\`\` ${str} \`\`` : `\`${str}\``;
}

function isPathLike(s) {
  return /^[A-Za-z0-9_.\-"<>[\]]+$/.test(s);
}

/** Escape `<`/`>` outside code spans so placeholders such as <name> survive markdown rendering. */
function escapeAngles(md) {
  let out = '';
  let last = 0;
  for (const m of md.matchAll(/(`+)[\s\S]*?\1/g)) {
    out += md.slice(last, m.index).replace(/</g, '&lt;').replace(/>/g, '&gt;') + m[0];
    last = m.index + m[0].length;
  }
  return out + md.slice(last).replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

// ---------------------------------------------------------------------------------------------
// catalogue interpretation

function cleanAllowed(v) {
  if (typeof v !== 'string') return v;
  return v.replace(/\s*\([^)]*\)\s*$/, '');
}

function isOpenSet(e) {
  const vals = e.allowed_values ?? [];
  const note = e.allowed_values_note ?? '';
  if (vals.some((v) => typeof v === 'string' && (/[<>]/.test(v) || v.startsWith('/') || /\s\([^)]*\)$/.test(v)))) return true;
  if (/\b(unknown|other|any)\b[^.;]*\b(accepted|allowed|warning|ignored|work)/i.test(note)) return true;
  return false;
}

function runtimeTypesFor(e) {
  const aw = e.applies_when;
  if (!aw) return undefined;
  if (/anything other than/.test(aw)) return { types: ['*'], excluded: [...DEDICATED_OPTION_TYPES] };
  if (/runhcs/.test(aw)) return { types: [...RUNHCS_TYPES] };
  if (/runc\.v1/.test(aw)) return { types: [...RUNC_TYPES_1X] };
  if (/runc\.v2/.test(aw)) return { types: [...RUNC_TYPES_2X] };
  throw new Error(`cannot interpret applies_when ${JSON.stringify(aw)} of ${e.path}`);
}

function deprecationFor(e, byPath) {
  if (e.deprecated) return { ...e.deprecated };
  // Derived: a v2 key that the v2->v3 migration renames (its key path inside the plugin changes).
  const v3 = e.migration?.v3_path;
  if (!v3 || !e.config_versions.includes(2) || e.config_versions.includes(3)) return undefined;
  if (!e.path.startsWith('plugins.') || !v3.startsWith('plugins.')) return undefined;
  const oldName = splitPath(e.path).at(-1);
  const v3Segs = splitPath(v3);
  if (v3Segs.at(-1) === oldName) return undefined; // only moved to another plugin/table, not renamed
  if (byPath.has([...v3Segs.slice(0, -1), oldName].join('.'))) return undefined; // old name still exists in v3
  if (!byPath.has(v3)) return undefined;
  return {
    since: '2.0.0 (config version 3)',
    replacement: v3,
    note: `Renamed in config version 3 (containerd 2.x); 2.x still reads this key from version-2 files and migrates it in memory. Not flagged as deprecated by containerd 1.x.`,
    source: 'derived from keys.json migration.v3_path',
  };
}

function deprecationMessage(dep) {
  let msg = 'Deprecated';
  if (dep.since && dep.since !== '-') msg += ` since ${dep.since}`;
  if (dep.removed_in ?? dep.removedIn) msg += `, removed in ${dep.removed_in ?? dep.removedIn}`;
  else if (dep.removal_target ?? dep.removalTarget) msg += `, removal planned for ${dep.removal_target ?? dep.removalTarget}`;
  if (dep.replacement) {
    msg += isPathLike(dep.replacement) ? `; use \`${dep.replacement}\`.` : `; replacement: ${dep.replacement}.`;
  } else msg += '.';
  if (dep.note) msg += ` ${dep.note}`;
  return msg;
}

function buildXContainerd(e, ctx) {
  const xc = {
    path: e.path,
    v1Path: ctx.v1Path,
    plugin: e.plugin,
    type: e.format ? `${e.type} (${e.format})` : e.type,
    configVersions: [...e.config_versions],
    versions: ctx.versions,
    addedIn: e.added_in ?? ctx.addedIn,
    removedIn: e.removed_in ?? ctx.removedIn,
  };
  if (ctx.dep) {
    const d = ctx.dep;
    xc.deprecated = {
      since: d.since,
      removalTarget: d.removal_target,
      removedIn: d.removed_in,
      replacement: d.replacement,
      note: d.note,
      source: d.source,
    };
  }
  if (e.migration) {
    xc.migration = {};
    if ('v3_path' in e.migration) xc.migration.v3Path = e.migration.v3_path;
    if ('v2_path' in e.migration) xc.migration.v2Path = e.migration.v2_path;
    if (e.migration.note !== undefined) xc.migration.note = e.migration.note;
  }
  xc.validation = e.validation;
  xc.appliesWhen = e.applies_when;
  const rt = runtimeTypesFor(e);
  if (rt) {
    xc.runtimeTypes = rt.types;
    if (rt.excluded) xc.runtimeTypesExcluded = rt.excluded;
  }
  xc.keyMatching = e.key_matching;
  xc.platforms = e.platforms;
  xc.defaultNote = e.default_note;
  xc.defaultWindows = e.default_windows;
  xc.defaultHistory = e.default_history;
  xc.allowedValues = e.allowed_values;
  xc.allowedValuesNote = e.allowed_values_note;
  xc.note = e.note;
  xc.sources = [...e.sources];
  return order(xc, XC_KEY_ORDER);
}

function markdownFor(e, ctx, node) {
  const parts = [e.description];
  if (e.default !== undefined) {
    let s = `**Default:** ${code(tomlValue(e.default))}`;
    if (e.default_note) s += ` — ${e.default_note}`;
    parts.push(s);
  } else if (e.default_note) parts.push(`**Default:** ${e.default_note}`);
  if (e.default_windows !== undefined) parts.push(`**Default on Windows:** ${code(tomlValue(e.default_windows))}`);
  if (e.default_history) {
    parts.push(`**Default history:** ${e.default_history.map((h) => `${h.versions}: ${code(tomlValue(h.value))}`).join('; ')}`);
  }
  if (e.allowed_values) {
    let s = `**Allowed values:** ${e.allowed_values.map((v) => code(typeof v === 'string' ? v : tomlValue(v))).join(', ')}`;
    if (node.examples) s += ' (not exhaustive)';
    if (e.allowed_values_note) s += ` — ${e.allowed_values_note}`;
    parts.push(s);
  } else if (e.allowed_values_note) parts.push(`**Values:** ${e.allowed_values_note}`);
  if (e.format === 'duration') parts.push('**Format:** Go duration string, e.g. `10s`, `1h30m`, `300ms`.');
  if (e.applies_when) parts.push(`**Applies when:** ${e.applies_when}`);
  if (e.key_matching) parts.push(`**Key matching:** ${e.key_matching}`);
  if (e.platforms) parts.push(`**Platforms:** ${e.platforms.join(', ')}`);
  const vt = versionsText(ctx.versions);
  const removed = e.removed_in ?? ctx.removedIn;
  parts.push(`**Valid in containerd:** ${vt || 'none'}${removed ? ` (removed in ${removed})` : ''}`);
  if (ctx.dep) parts.push(deprecationMessage(ctx.dep).replace(/^Deprecated/, '**Deprecated**'));
  if (e.migration) {
    const m = e.migration;
    if ('v3_path' in m) parts.push(`**Config version 3:** ${m.v3_path ? `${code(m.v3_path)}` : 'no equivalent'}${m.note ? ` — ${m.note}` : ''}`);
    if ('v2_path' in m) parts.push(`**Config version 2:** ${m.v2_path ? `${code(m.v2_path)}` : 'no equivalent'}${m.note ? ` — ${m.note}` : ''}`);
  }
  if (e.validation) parts.push(`**Validation:** ${e.validation}`);
  if (e.note) parts.push(`**Note:** ${e.note}`);
  return escapeAngles(parts.join('\n\n'));
}

// ---------------------------------------------------------------------------------------------
// schema building

function order(obj, keyOrder) {
  const out = {};
  for (const k of keyOrder) if (obj[k] !== undefined) out[k] = obj[k];
  for (const k of Object.keys(obj).sort()) if (!(k in out) && obj[k] !== undefined) out[k] = obj[k];
  return out;
}

function baseForType(e) {
  switch (e.type) {
    case 'string':
      return e.format === 'duration' ? { type: 'string', format: 'duration', pattern: DURATION_PATTERN } : { type: 'string' };
    case 'boolean':
      return { type: 'boolean' };
    case 'integer':
      return { type: 'integer' };
    case 'float':
      return { type: 'number' };
    case 'array of string':
      return { type: 'array', items: { type: 'string' } };
    case 'table':
      return { type: 'object', 'x-closed': true };
    case 'table (free-form)':
      return { type: 'object', 'x-free-form': true };
    case 'map of string':
      return { type: 'object', 'x-map': 'name', additionalProperties: { type: 'string' } };
    case 'map of array of string':
      return { type: 'object', 'x-map': 'name', additionalProperties: { type: 'array', items: { type: 'string' } } };
    case 'map of table':
      return { type: 'object', 'x-map': 'name', additionalProperties: { type: 'object', 'x-closed': true } };
    case 'array of table':
      return { type: 'array', items: { type: 'object', 'x-closed': true } };
    default:
      throw new Error(`unknown type ${JSON.stringify(e.type)} of ${e.path}`);
  }
}

function isOptionsTable(e) {
  return e.type === 'table (free-form)' && splitPath(e.path).at(-1) === 'options';
}

function ensureChild(node, step) {
  if (step.kind === 'map') {
    node['x-map'] = node['x-map'] ?? step.placeholder;
    if (!node.additionalProperties || node.additionalProperties === true) node.additionalProperties = {};
    return node.additionalProperties;
  }
  if (step.kind === 'items') {
    node.type = node.type ?? 'array';
    if (!node.items) node.items = {};
    return node.items;
  }
  node.properties = node.properties ?? {};
  if (!Object.prototype.hasOwnProperty.call(node.properties, step.name)) node.properties[step.name] = {};
  return node.properties[step.name];
}

function applyEntry(node, e, ctx) {
  const base = baseForType(e);
  // Merge: keep children already built (items/properties/additionalProperties from child entries).
  for (const [k, v] of Object.entries(base)) {
    if (k === 'items' || k === 'additionalProperties') {
      if (node[k] && typeof node[k] === 'object') {
        for (const [k2, v2] of Object.entries(v)) if (node[k][k2] === undefined) node[k][k2] = v2;
      } else node[k] = structuredClone(v);
    } else node[k] = v;
  }
  if (base.type === 'object' && !node['x-map'] && !node.properties) node.properties = {};
  if (base.type === 'array' && node.items?.type === 'object' && !node.items.properties) node.items.properties = {};
  if (isOptionsTable(e)) {
    node['x-closed'] = false;
    node['x-key-matching'] = 'case-insensitive';
  }
  node.description = e.description;
  if (e.default !== undefined) node.default = structuredClone(e.default);
  if (e.allowed_values) {
    if (isOpenSet(e)) {
      const ex = [];
      for (const v of e.allowed_values) {
        if (typeof v === 'string' && (/[<>]/.test(v) || v.startsWith('/'))) continue;
        if (ctx.configVersion >= 3 && typeof v === 'string' && /\(1\.x\b[^)]*\)$/.test(v)) continue;
        const c = cleanAllowed(v);
        if (!ex.includes(c)) ex.push(c);
      }
      node.examples = ex;
    } else {
      const en = [...e.allowed_values];
      if (e.default !== undefined && !en.some((v) => JSON.stringify(v) === JSON.stringify(e.default))) en.unshift(e.default);
      node.enum = en;
    }
  }
  if (ctx.dep) {
    node.deprecated = true;
    node.deprecationMessage = deprecationMessage(ctx.dep);
  }
  node.markdownDescription = markdownFor(e, ctx, node);
  node['x-containerd'] = buildXContainerd(e, ctx);
}

/** Structural check of a value against an emitted schema node (enough for our own nodes). */
function conforms(value, node) {
  if (!node || typeof node !== 'object') return true;
  if (node.enum && !node.enum.some((v) => JSON.stringify(v) === JSON.stringify(value))) return false;
  switch (node.type) {
    case 'string':
      return typeof value === 'string' && (!node.pattern || new RegExp(node.pattern, 'u').test(value));
    case 'boolean':
      return typeof value === 'boolean';
    case 'integer':
      return Number.isInteger(value);
    case 'number':
      return typeof value === 'number';
    case 'array':
      return Array.isArray(value) && value.every((v) => conforms(v, node.items));
    case 'object':
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
      return Object.entries(value).every(([k, v]) =>
        node.properties && Object.prototype.hasOwnProperty.call(node.properties, k)
          ? conforms(v, node.properties[k])
          : node.additionalProperties && typeof node.additionalProperties === 'object'
            ? conforms(v, node.additionalProperties)
            : true,
      );
    default:
      return true;
  }
}

/** Recursively fill synthesised nodes, sort properties and fix key order. */
function finalise(node, where, stats) {
  if (!node.type) {
    // A node created only as a container for children (no entry of its own).
    node.type = 'object';
    stats.synthesised.push(where);
    if (!node['x-map']) node['x-closed'] = true;
    node.description = node.description ?? `Table ${where}.`;
  }
  if (node.type === 'object' && node.additionalProperties && typeof node.additionalProperties === 'object' && !node.additionalProperties.description) {
    node.additionalProperties.description = `One user-named entry of ${where}.`;
  }
  if (node.type === 'array' && node.items && node.items.type === 'object' && !node.items.description) {
    node.items.description = `One [[${where}]] element.`;
  }
  if (node.properties) {
    const sorted = {};
    for (const k of Object.keys(node.properties).sort()) {
      const seg = /^[A-Za-z0-9_-]+$/.test(k) ? k : JSON.stringify(k);
      sorted[k] = finalise(node.properties[k], where ? `${where}.${seg}` : seg, stats);
    }
    node.properties = sorted;
  }
  if (node.items && typeof node.items === 'object') node.items = finalise(node.items, `${where}[]`, stats);
  if (node.additionalProperties && typeof node.additionalProperties === 'object') {
    node.additionalProperties = finalise(node.additionalProperties, `${where}.<${node['x-map'] ?? 'name'}>`, stats);
  }
  if (node.default !== undefined && !conforms(node.default, node)) {
    // keys.json sometimes describes a default informally (e.g. options = "runc defaults"); such a value
    // is not a valid instance, so it stays in the markdown and x-containerd only.
    stats.illustrativeDefaults.push(where);
    if (node['x-containerd']) node['x-containerd'] = order({ ...node['x-containerd'], defaultIllustrative: node.default }, XC_KEY_ORDER);
    delete node.default;
  }
  return order(node, NODE_KEY_ORDER);
}

function buildPluginIdInfo(catalogue) {
  const pid = catalogue.plugin_ids ?? {};
  const added = new Map();
  for (const id of pid['added_in_2.0'] ?? []) added.set(id, '2.0.0');
  for (const [rawKey, rawVal] of Object.entries(pid.added_later ?? {})) {
    const ver = /(\d+\.\d+\.\d+)/.exec(String(rawVal))?.[1];
    if (!ver) continue;
    for (const part of rawKey.split(/\s*(?:\/|,)\s*(?![^{]*\})/)) {
      const p = part.replace(/\s+config$/, '').trim();
      const brace = /^(.*)\{([^}]*)\}(.*)$/.exec(p);
      if (brace) for (const alt of brace[2].split(',')) added.set(`${brace[1]}${alt.trim()}${brace[3]}`, ver);
      else if (p) added.set(p, ver);
    }
  }
  const removed = new Map();
  for (const id of pid['removed_in_2.0'] ?? []) removed.set(id, '2.0.0');
  const shortIds = new Map();
  for (const [k, v] of Object.entries(pid.v1_short_ids ?? {})) if (k !== 'note' && typeof v === 'string') shortIds.set(v, k);
  return { added, removed, shortIds };
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const catalogue = JSON.parse(readFileSync(args.keys, 'utf8'));
  const entries = catalogue.keys;
  if (!Array.isArray(entries)) throw new Error('keys.json has no .keys array');
  const notes = [];
  const byPath = new Map(entries.map((e) => [e.path, e]));
  if (byPath.size !== entries.length) throw new Error('duplicate paths in keys.json');
  const info = buildPluginIdInfo(catalogue);

  // Short IDs also learned from v1_path of the catalogue (e.g. nri, local).
  for (const e of entries) {
    if (!e.v1_path || !e.path.startsWith('plugins.')) continue;
    const full = unquote(splitPath(e.path)[1]);
    const short = unquote(splitPath(e.v1_path)[1]);
    if (!info.shortIds.has(full)) info.shortIds.set(full, short);
  }

  // The v1 form of every entry valid in config version 2 (catalogue v1_path, else derived short ID).
  const v1Where = new Map();
  for (const e of entries) {
    if (e.v1_path) v1Where.set(e.path, e.v1_path);
    else if (e.config_versions.includes(2) && e.path.startsWith('plugins.')) {
      const segs = splitPath(e.path);
      const short = info.shortIds.get(unquote(segs[1]));
      if (short) v1Where.set(e.path, ['plugins', /^[A-Za-z0-9_-]+$/.test(short) ? short : JSON.stringify(short), ...segs.slice(2)].join('.'));
    }
  }

  const derivedDeps = [];
  const placed = new Map(); // path -> Set of config versions it was placed in
  const schemas = {};
  const summary = {};

  for (const cv of CONFIG_VERSIONS) {
    const root = {
      $schema: 'http://json-schema.org/draft-07/schema#',
      $id: `urn:containerd-taskserv:config-v${cv}`,
      title: `containerd config.toml (version ${cv})`,
      description: `containerd ${VERSION_INFO[cv]}. Generated by npm run gen from the containerd-taskserv key catalogue; do not edit by hand.`,
      type: 'object',
      'x-closed': true,
      'x-config-version': cv,
      properties: {},
    };
    const members = [];
    for (const e of entries) {
      let where = null;
      if (e.config_versions.includes(cv)) where = e.path;
      else if (cv === 1 && e.config_versions.includes(2)) where = v1Where.get(e.path) ?? null;
      if (where) members.push({ e, where, v1Path: v1Where.get(e.path) });
    }
    // Sort by placed path so that parents come first and output does not depend on catalogue order.
    members.sort((a, b) => (a.where < b.where ? -1 : a.where > b.where ? 1 : 0));

    const nodesByWhere = new Map();
    for (const m of members) {
      let node = root;
      for (const step of toSteps(m.where)) node = ensureChild(node, step);
      if (nodesByWhere.has(m.where)) throw new Error(`v${cv}: two entries placed at ${m.where}`);
      nodesByWhere.set(m.where, node);
      const dep = deprecationFor(m.e, byPath);
      if (dep && !m.e.deprecated && cv === 2) derivedDeps.push(m.e.path);
      const ctx = {
        configVersion: cv,
        v1Path: m.v1Path,
        versions: normaliseVersions(m.e.containerd_versions, m.e.path, notes),
        dep,
      };
      if (m.e.path.startsWith('plugins.') && splitPath(m.e.path).length === 2) {
        const id = unquote(splitPath(m.e.path)[1]);
        ctx.addedIn = info.added.get(id);
        ctx.removedIn = info.removed.get(id);
      }
      applyEntry(node, m.e, ctx);
      if (!placed.has(m.e.path)) placed.set(m.e.path, new Set());
      placed.get(m.e.path).add(cv);
    }

    // Plugin tables without an entry of their own.
    const pluginsNode = root.properties.plugins;
    if (pluginsNode?.properties) {
      for (const [id, pnode] of Object.entries(pluginsNode.properties)) {
        if (pnode['x-containerd']) continue;
        const prefix = `plugins.${/^[A-Za-z0-9_-]+$/.test(id) ? id : JSON.stringify(id)}`;
        const children = members.filter((m) => m.where.startsWith(`${prefix}.`));
        const fullId = cv === 1 ? [...info.shortIds].find(([, s]) => s === id)?.[0] ?? id : id;
        const versions = unionVersions(children.map((m) => normaliseVersions(m.e.containerd_versions, m.e.path, [])));
        const cvs = [...new Set(children.flatMap((m) => m.e.config_versions))].sort();
        pnode.type = 'object';
        pnode['x-closed'] = true;
        pnode.description = pnode.description ?? `Settings of the ${fullId} plugin.`;
        pnode['x-containerd'] = order(
          {
            path: `plugins.${JSON.stringify(fullId)}`,
            v1Path: cv === 1 ? prefix : undefined,
            plugin: fullId,
            type: 'table',
            configVersions: cvs,
            versions,
            addedIn: info.added.get(fullId),
            removedIn: info.removed.get(fullId),
            derived: 'versions = union of the keys of this plugin',
          },
          XC_KEY_ORDER,
        );
        pnode.markdownDescription = escapeAngles(`${pnode.description}\n\n**Valid in containerd:** ${versionsText(versions)}`);
        notes.push(`v${cv}: synthesised plugin table ${prefix}`);
      }
      pluginsNode['x-closed'] = true;
    }

    const stats = { synthesised: [], illustrativeDefaults: [] };
    const out = finalise(root, '', stats);
    for (const s of stats.synthesised) notes.push(`v${cv}: synthesised intermediate table ${s}`);
    for (const s of stats.illustrativeDefaults) notes.push(`v${cv}: default of ${s} is informal in keys.json; kept as x-containerd.defaultIllustrative`);
    schemas[cv] = out;
    summary[cv] = members.length;
  }

  const missing = entries.filter((e) => !placed.has(e.path)).map((e) => e.path);
  const notInOwn = entries.filter((e) => e.config_versions.some((v) => !placed.get(e.path)?.has(v))).map((e) => e.path);

  mkdirSync(args.out, { recursive: true });
  for (const cv of CONFIG_VERSIONS) {
    const file = path.join(args.out, `containerd-config-v${cv}.schema.json`);
    writeFileSync(file, `${JSON.stringify(schemas[cv], null, 2)}\n`);
  }

  console.log(`gen-schemas: ${entries.length} catalogue entries from ${path.relative(process.cwd(), args.keys) || args.keys}`);
  for (const cv of CONFIG_VERSIONS) console.log(`  containerd-config-v${cv}.schema.json: ${summary[cv]} keys`);
  if (derivedDeps.length) console.log(`  derived deprecations (renamed by the v2->v3 migration): ${derivedDeps.join(', ')}`);
  for (const n of [...new Set(notes)]) console.log(`  note: ${n}`);
  if (missing.length || notInOwn.length) {
    for (const p of missing) console.error(`ERROR: entry not placed in any schema: ${p}`);
    for (const p of notInOwn) if (!missing.includes(p)) console.error(`ERROR: entry missing from one of its config versions: ${p}`);
    process.exit(1);
  }
  console.log(`  all ${entries.length} entries placed`);
}

main();
