#!/usr/bin/env node
// Generates docs/taskserv-mapping.md from schemas/taskserv-containerd.schema.json (and nothing else):
// one table with every field of a Containerd taskserv and what it becomes on the host.
//
//   node scripts/gen-taskserv-docs.mjs [--schema FILE] [--out DIR]
//
// --schema defaults to <repo>/schemas/taskserv-containerd.schema.json, --out to <repo>/docs.
// Output is deterministic.

import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT_NAME = 'taskserv-mapping.md';

function parseArgs(argv) {
  const args = {
    schema: path.join(repoRoot, 'schemas', 'taskserv-containerd.schema.json'),
    out: path.join(repoRoot, 'docs'),
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const take = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`missing value for ${a}`);
      return v;
    };
    if (a === '--schema') args.schema = path.resolve(take());
    else if (a.startsWith('--schema=')) args.schema = path.resolve(a.slice(9));
    else if (a === '--out') args.out = path.resolve(take());
    else if (a.startsWith('--out=')) args.out = path.resolve(a.slice(6));
    else if (a === '-h' || a === '--help') {
      console.log('usage: node scripts/gen-taskserv-docs.mjs [--schema FILE] [--out DIR]');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

const TARGET_FILE = {
  'config.toml': '/etc/containerd/config.toml',
  'crictl.yaml': '/etc/crictl.yaml',
  systemd: 'containerd.service drop-in',
  install: '(installation)',
  none: '—',
};

/** Depth-first walk in schema order: every property and every map entry, with its dotted taskserv path. */
function* walk(node, where) {
  for (const [k, child] of Object.entries(node.properties ?? {})) {
    const w = where ? `${where}.${k}` : k;
    yield { node: child, where: w };
    yield* walk(child, w);
  }
  if (node.additionalProperties && typeof node.additionalProperties === 'object') {
    const w = `${where}.<${node['x-map'] ?? 'name'}>`;
    yield { node: node.additionalProperties, where: w };
    yield* walk(node.additionalProperties, w);
  }
}

function code(s) {
  const str = String(s);
  return str.includes('`') ? `\`\` ${str} \`\`` : `\`${str}\``;
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

function typeText(node) {
  if (node.type === 'object') {
    if (node['x-map']) return 'map of dict';
    if (node['x-free-form']) return 'dict (free-form)';
    return 'dict';
  }
  const types = Array.isArray(node.type) ? node.type : [node.type];
  const base = types
    .map((t) => {
      if (t === 'array') return `list of ${node.items?.type ?? 'any'}`;
      if (t === 'string' && node.format === 'duration') return 'duration';
      if (t === 'number') return 'float';
      return t ?? 'any';
    })
    .join(' or ');
  const extra = [];
  if (node.enum) extra.push(`one of ${node.enum.map((e) => JSON.stringify(e)).join(', ')}`);
  if (node.minimum !== undefined && node.maximum !== undefined) extra.push(`${node.minimum}…${node.maximum}`);
  else if (node.minimum !== undefined) extra.push(`≥ ${node.minimum}`);
  else if (node.maximum !== undefined) extra.push(`≤ ${node.maximum}`);
  if (node.format && node.format !== 'duration') extra.push(node.format);
  return extra.length ? `${base} (${extra.join('; ')})` : base;
}

function defaultText(node) {
  return node.default === undefined ? '' : code(JSON.stringify(node.default));
}

/** The first sentence of the description: the field's own words (the rest is the "rendered as" part). */
function firstSentence(text) {
  const m = /^(.*?[.!?])(\s|$)/s.exec(text ?? '');
  return m ? m[1] : text ?? '';
}

function notesText(node, x) {
  const parts = [];
  if (x.notContainerd) {
    parts.push(`**Not a containerd setting:** ${x.notContainerd.message}`);
    if (x.notContainerd.equivalent) parts.push(`**Instead:** ${x.notContainerd.equivalent}`);
  } else if (x.target === 'none' && node.type !== 'object') {
    parts.push(firstSentence(node.description));
  }
  if (x.note) parts.push(x.note);
  if (x.since) parts.push(`Needs containerd ${x.since}+.`);
  if (x.listOf) parts.push(`Known values: ${x.listOf.map(code).join(', ')} (any name is valid).`);
  if (x.target === 'install' && !x.note) parts.push(firstSentence(node.description));
  if (node.type === 'object' && !x.notContainerd && x.target !== 'install') parts.push(firstSentence(node.description));
  return parts.join(' ');
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const schema = JSON.parse(readFileSync(args.schema, 'utf8'));
  const lines = [
    '<!-- generated by `npm run gen`; do not edit (scripts/gen-taskserv-docs.mjs from schemas/taskserv-containerd.schema.json) -->',
    '',
    '# Containerd taskserv: field mapping',
    '',
    'Every field of the KCL value `containerd: Containerd = { ... }` and what it becomes on the host: a key of',
    '`/etc/containerd/config.toml`, a key of `/etc/crictl.yaml`, a `[Service]` directive of a systemd drop-in for',
    '`containerd.service`, an installation setting, or nothing at all (with the reason and the real equivalent).',
    '',
    'config.toml keys are given as their config-version-2 paths; for containerd 2.x the renderer writes the',
    'version 3 (2.0–2.2) or version 4 (2.3+) path the config schemas migrate them to (hover a field, or see',
    '[config-reference.md](config-reference.md)). `<name>` is a runtime name.',
    '',
    '| taskserv field | type | default | target file | key / directive | notes |',
    '|---|---|---|---|---|---|',
  ];
  let count = 0;
  for (const { node, where } of walk(schema, '')) {
    const x = node['x-taskserv'] ?? {};
    count++;
    const key = x.key ? code(x.target === 'systemd' ? `${x.key}=` : x.key) : '';
    lines.push(
      `| ${[code(where), typeText(node), defaultText(node), TARGET_FILE[x.target] ?? '', key, notesText(node, x)].map(cell).join(' | ')} |`,
    );
  }
  lines.push('');
  mkdirSync(args.out, { recursive: true });
  const file = path.join(args.out, OUT_NAME);
  writeFileSync(file, lines.join('\n'));
  console.log(`wrote ${path.relative(process.cwd(), file) || file} (${count} fields)`);
}

main();
