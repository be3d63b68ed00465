// The taskserv snippets (snippets/taskserv.json): each one, expanded with its defaults (first
// choice of every choice list) and with every other choice, parses with the KCL front end without
// a syntax error into a `containerd: Containerd` declaration, and carries every field and default
// value of the seed configuration it is named after.
// Bundled by esbuild to out/test/unit/taskserv-snippets.test.js and run with `node --test`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseKcl } from '../../server/src/parser/kcl';
import { toValue, type ObjectNode } from '../../server/src/tree/model';

const ROOT = process.env.CONTAINERD_TASKSERV_ROOT ?? path.resolve(__dirname, '../../..');
const SEED = path.resolve(ROOT, '../shared/seed/containerd-taskserv.md');

interface Snippet {
  prefix: string | string[];
  body: string | string[];
  description?: string;
  isFileTemplate?: boolean;
}

const snippets: Record<string, Snippet> = JSON.parse(readFileSync(path.join(ROOT, 'snippets/taskserv.json'), 'utf8'));

// \$ \} \\ (escapes) | ${1:default} | ${1|a,b|} | ${1} | $1
const TOKEN = /\\([$}\\,|])|\$\{(\d+):((?:[^{}\\]|\\.)*)\}|\$\{(\d+)\|((?:[^|\\]|\\.)*)\|\}|\$\{(\d+)\}|\$(\d+)/g;

function splitChoices(list: string): string[] {
  return list.split(/(?<!\\),/).map((c) => c.replace(/\\(.)/g, '$1'));
}

function choices(body: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const m of body.matchAll(TOKEN)) if (m[4]) out.set(m[4], splitChoices(m[5]));
  return out;
}

/** What accepting every default gives; `pick` overrides choice tab stops. Mirrors get their tab stop's value. */
function expand(body: string, pick: Map<string, string> = new Map()): string {
  const values = new Map<string, string>();
  for (const m of body.matchAll(TOKEN)) {
    if (m[2] && !values.has(m[2])) values.set(m[2], m[3].replace(/\\(.)/g, '$1'));
    if (m[4] && !values.has(m[4])) values.set(m[4], pick.get(m[4]) ?? splitChoices(m[5])[0]);
  }
  return body.replace(TOKEN, (_all, esc, n1, _d, n2, _c, n3, n4) => {
    if (esc) return esc;
    const n = n1 ?? n2 ?? n3 ?? n4;
    return n === '0' ? '' : values.get(n) ?? '';
  });
}

function variants(body: string): { label: string; text: string }[] {
  const out = [{ label: 'defaults', text: expand(body) }];
  for (const [stop, opts] of choices(body)) {
    for (const opt of opts.slice(1)) out.push({ label: `$${stop}=${opt}`, text: expand(body, new Map([[stop, opt]])) });
  }
  return out;
}

/** The seed's KCL blocks by configuration name. */
function seedBlocks(): Record<string, string> {
  const lines = readFileSync(SEED, 'utf8').split(/\r?\n/);
  const names = ['basic', 'production', 'multi-runtime', 'security', 'performance'];
  const out: Record<string, string> = {};
  let n = 0;
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== 'containerd: Containerd = {') continue;
    let j = i + 1;
    while (j < lines.length && lines[j] !== '}') j++;
    out[names[n++]] = lines.slice(i, j + 1).join('\n');
    i = j;
  }
  return out;
}

/** Every leaf path of a plain value, with its value. */
function leaves(v: unknown, base = ''): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length) {
    for (const [k, x] of Object.entries(v)) for (const [p, y] of leaves(x, base ? `${base}.${k}` : k)) out.set(p, y);
  } else out.set(base, v);
  return out;
}

const PREFIX_TO_SEED: Record<string, string> = {
  'taskserv-basic': 'basic',
  'taskserv-production': 'production',
  'taskserv-multi-runtime': 'multi-runtime',
  'taskserv-security': 'security',
  'taskserv-performance': 'performance',
};

test('expansion helper', () => {
  assert.equal(expand('a ${1:x} ${2|p,q|} ${1} $0\\$'), 'a x p x $');
  assert.equal(expand('${1|a\\,b,c|}'), 'a,b');
  assert.equal(expand('${1|p,q|}', new Map([['1', 'q']])), 'q');
});

test('the five snippets are there, well formed', () => {
  const prefixes = Object.values(snippets).flatMap((s) => (Array.isArray(s.prefix) ? s.prefix : [s.prefix]));
  assert.deepEqual(prefixes.sort(), Object.keys(PREFIX_TO_SEED).sort());
  for (const [name, s] of Object.entries(snippets)) {
    assert.ok(s.description, `${name}: description`);
    assert.ok(Array.isArray(s.body) && s.body.length, `${name}: body`);
    const body = (s.body as string[]).join('\n');
    assert.doesNotMatch(body.replace(TOKEN, ''), /\$/, `${name}: stray $ (escape it as \\$)`);
    assert.doesNotMatch(body, /\t/, `${name}: use spaces`);
    assert.match(body, /version: "\$\{1:1\.7\.18\}"/, `${name}: the version is the first tab stop`);
    assert.match(body, /runtime_default: "\$\{2\|runc,crun,youki\|\}"/, `${name}: the default runtime is a choice`);
    assert.match(body, /\$0$/, `${name}: ends with $0`);
  }
});

const seeds = seedBlocks();

for (const [name, s] of Object.entries(snippets)) {
  test(`snippet parses clean: ${name}`, () => {
    const prefix = Array.isArray(s.prefix) ? s.prefix[0] : s.prefix;
    const body = (s.body as string[]).join('\n');
    for (const v of variants(body)) {
      const doc = parseKcl(v.text);
      assert.deepEqual(doc.syntaxErrors.map((e) => `${v.text.slice(e.range.start, e.range.end)}: ${e.message}`), [], `${name} (${v.label}):\n${v.text}`);
      assert.deepEqual(doc.root.props.map((p) => p.key), ['containerd'], v.label);
      const obj = doc.root.props[0].value as ObjectNode;
      assert.equal(obj.kind, 'object');
      assert.equal(obj.typeName, 'Containerd', v.label);
    }
    // the defaults reproduce the seed configuration: same fields, same values
    const snippetLeaves = leaves(toValue(parseKcl(expand(body)).root));
    const seedDoc = parseKcl(seeds[PREFIX_TO_SEED[prefix]]);
    assert.deepEqual(seedDoc.syntaxErrors, []);
    for (const [p, want] of leaves(toValue(seedDoc.root))) {
      assert.ok(snippetLeaves.has(p), `${name}: the seed's ${p} is missing`);
      assert.deepEqual(snippetLeaves.get(p), want, `${name}: ${p}`);
    }
    const extra = [...snippetLeaves.keys()].filter((p) => !leaves(toValue(seedDoc.root)).has(p));
    assert.ok(extra.every((p) => ['containerd.runtime_default', 'containerd.runtimes'].includes(p)), `${name}: fields the seed does not have: ${extra}`);
  });
}
