#!/usr/bin/env node
// Generates docs/config-reference.md from the four committed JSON Schemas (never from keys.json).
//
//   node scripts/gen-docs.mjs [--schemas DIR] [--out DIR]
//
// --schemas defaults to <repo>/schemas, --out to <repo>/docs. Output is deterministic.

import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pathArgs } from './lib/args.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CONFIG_VERSIONS = [1, 2, 3, 4];
const SERIES = ['1.5', '1.6', '1.7', '2.0', '2.1', '2.2', '2.3'];

function parseArgs(argv) {
  return pathArgs('gen-docs.mjs', { schemas: path.join(repoRoot, 'schemas'), out: path.join(repoRoot, 'docs') }, argv);
}

function seg(name) {
  return /^[A-Za-z0-9_-]+$/.test(name) ? name : JSON.stringify(name);
}

/** Depth-first walk yielding every node that carries x-containerd, with its dotted TOML path. */
function* walk(node, where, group) {
  if (!node || typeof node !== 'object') return;
  if (node['x-containerd'] && where) yield { node, where, group };
  if (node.properties) {
    for (const k of Object.keys(node.properties).sort()) {
      const child = node.properties[k];
      const childWhere = where ? `${where}.${seg(k)}` : seg(k);
      let childGroup = group;
      if (!where) childGroup = seg(k); // top-level key or table
      else if (where === 'plugins' && !group.includes('.')) childGroup = `plugins.${seg(k)}`;
      yield* walk(child, childWhere, childGroup);
    }
  }
  if (node.items && typeof node.items === 'object') yield* walk(node.items, `${where}[]`, group);
  if (node.additionalProperties && typeof node.additionalProperties === 'object') {
    yield* walk(node.additionalProperties, `${where}.<${node['x-map'] ?? 'name'}>`, group);
  }
}

function typeOf(node) {
  if (node.type === 'object') {
    if (node['x-map']) {
      const ap = node.additionalProperties;
      return `map of ${ap && typeof ap === 'object' ? (ap.type === 'object' ? 'table' : typeOf(ap)) : 'any'}`;
    }
    if (node['x-free-form']) return 'table (free-form)';
    return 'table';
  }
  if (node.type === 'array') {
    const it = node.items ?? {};
    return `array of ${it.type === 'object' ? 'table' : typeOf(it)}`;
  }
  if (node.type === 'string' && node.format === 'duration') return 'duration';
  if (node.type === 'number') return 'float';
  return node.type ?? 'any';
}

function tomlValue(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(tomlValue).join(', ')}]`;
  const entries = Object.keys(v).map((k) => `${seg(k)} = ${tomlValue(v[k])}`);
  return entries.length ? `{ ${entries.join(', ')} }` : '{}';
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

function cell(s) {
  return escapeAngles(String(s ?? ''))
    .replace(/\|/g, '\\|')
    .replace(/\r?\n+/g, ' ')
    .trim();
}

function code(s) {
  const str = String(s);
  return str.includes('`') ? `\`\` ${str} \`\`` : `\`${str}\``;
}

function versionsText(versions) {
  if (!versions) return '';
  return SERIES.filter((s) => versions[s] !== undefined)
    .map((s) => {
      const v = versions[s];
      if (v === 'all') return s;
      if (v.endsWith('+')) return `${s} (from ${v.slice(0, -1)})`;
      return `${s} (${v.replace('-', '–')} only)`;
    })
    .join(', ');
}

function defaultText(node) {
  const xc = node['x-containerd'] ?? {};
  const parts = [];
  if (node.default !== undefined) parts.push(code(tomlValue(node.default)));
  else if (xc.defaultIllustrative !== undefined) parts.push(code(tomlValue(xc.defaultIllustrative)));
  if (xc.defaultWindows !== undefined) parts.push(`Windows: ${code(tomlValue(xc.defaultWindows))}`);
  if (xc.defaultNote) parts.push(xc.defaultNote);
  return parts.join('; ');
}

function deprecationText(node) {
  const xc = node['x-containerd'] ?? {};
  if (!node.deprecated) return xc.removedIn ? `removed in ${xc.removedIn}` : '';
  return node.deprecationMessage ?? 'deprecated';
}

function descriptionText(node) {
  const xc = node['x-containerd'] ?? {};
  const parts = [node.description ?? ''];
  if (node.enum) parts.push(`Values: ${node.enum.map((v) => code(tomlValue(v))).join(', ')}.`);
  else if (node.examples) parts.push(`E.g. ${node.examples.map((v) => code(tomlValue(v))).join(', ')}.`);
  if (xc.allowedValuesNote) parts.push(xc.allowedValuesNote);
  if (xc.runtimeTypes) {
    parts.push(
      xc.runtimeTypes.includes('*')
        ? `Runtime types: any except ${(xc.runtimeTypesExcluded ?? []).map(code).join(', ')}.`
        : `Runtime types: ${xc.runtimeTypes.map(code).join(', ')}.`,
    );
  }
  if (xc.platforms) parts.push(`Platforms: ${xc.platforms.join(', ')}.`);
  if (node['x-key-matching']) parts.push(`Keys matched ${node['x-key-matching']}.`);
  if (xc.migration) {
    if ('v3Path' in xc.migration) parts.push(`Version 3: ${xc.migration.v3Path ? code(xc.migration.v3Path) : 'no equivalent'}.`);
    if ('v2Path' in xc.migration) parts.push(`Version 2: ${xc.migration.v2Path ? code(xc.migration.v2Path) : 'no equivalent'}.`);
  }
  if (xc.validation) parts.push(`Validation: ${xc.validation}`);
  return parts.filter(Boolean).join(' ');
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const lines = [];
  lines.push('<!-- GENERATED FILE: produced by `npm run gen` (scripts/gen-docs.mjs) from schemas/*.schema.json. Do not edit by hand. -->');
  lines.push('');
  lines.push('# containerd `config.toml` reference');
  lines.push('');
  lines.push('> **Generated by `npm run gen`; do not edit by hand.** Source of truth: the JSON Schemas in `schemas/`.');
  lines.push('');
  lines.push('Every key the containerd-taskserv language server knows, per config `version`, grouped by top-level table or plugin.');
  lines.push('"Valid in" lists the containerd minor series where the key exists (a patch range when it appeared or');
  lines.push('disappeared within a series). `<name>` is a user-chosen map key; `x[]` is an element of an array of tables.');
  lines.push('');
  lines.push('## Contents');
  lines.push('');
  const schemas = {};
  for (const cv of CONFIG_VERSIONS) {
    schemas[cv] = JSON.parse(readFileSync(path.join(args.schemas, `containerd-config-v${cv}.schema.json`), 'utf8'));
    lines.push(`- [Config version ${cv}](#config-version-${cv})`);
  }
  lines.push('');
  let total = 0;
  for (const cv of CONFIG_VERSIONS) {
    const schema = schemas[cv];
    const rows = [...walk(schema, '', '')];
    total += rows.length;
    lines.push(`## Config version ${cv}`);
    lines.push('');
    if (schema.description) lines.push(cell(schema.description));
    lines.push('');
    lines.push(`${rows.length} keys.`);
    lines.push('');
    const groups = new Map();
    for (const r of rows) {
      const g = r.group || r.where;
      if (!groups.has(g)) groups.set(g, []);
      groups.get(g).push(r);
    }
    // Top-level scalars first (grouped under "top level"), then tables in path order.
    const topLevel = [];
    const tables = [];
    for (const [g, rs] of groups) {
      if (rs.length === 1 && rs[0].where === g && rs[0].node.type !== 'object' && !(rs[0].node.type === 'array' && rs[0].node.items?.type === 'object')) topLevel.push(rs[0]);
      else tables.push([g, rs]);
    }
    const emit = (title, rs) => {
      lines.push(title);
      lines.push('');
      lines.push('| Key | Type | Default | Valid in containerd | Deprecation | Description |');
      lines.push('|---|---|---|---|---|---|');
      for (const { node, where } of rs) {
        const xc = node['x-containerd'];
        lines.push(
          `| ${cell(code(where))} | ${cell(typeOf(node))} | ${cell(defaultText(node))} | ${cell(versionsText(xc.versions))} | ${cell(deprecationText(node))} | ${cell(descriptionText(node))} |`,
        );
      }
      lines.push('');
    };
    if (topLevel.length) emit(`### Top-level keys (version ${cv})`, topLevel);
    for (const [g, rs] of tables) emit(`### \`${g}\` (version ${cv})`, rs);
  }
  mkdirSync(args.out, { recursive: true });
  const file = path.join(args.out, 'config-reference.md');
  writeFileSync(file, `${lines.join('\n').replace(/\n+$/, '')}\n`);
  console.log(`gen-docs: wrote ${path.relative(process.cwd(), file) || file} (${total} rows over ${CONFIG_VERSIONS.length} config versions)`);
}

main();
