// The snippets in snippets/containerd-toml.json, expanded with their default values (and each
// choice of every choice placeholder), must lint clean: no error and no unknown key.
// Bundled by esbuild to out/test/unit/snippets.test.js and run with `node --test`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { lintText } from '../../cli/src/lint';

const ROOT = process.env.CONTAINERD_TASKSERV_ROOT ?? path.resolve(__dirname, '../../..');

interface Snippet {
  prefix: string | string[];
  body: string | string[];
  description?: string;
  isFileTemplate?: boolean;
}

const snippets: Record<string, Snippet> = JSON.parse(readFileSync(path.join(ROOT, 'snippets/containerd-toml.json'), 'utf8'));

// ${1:default} | ${1|a,b|} | ${1} | $1 | \$ \} \\ (snippet escapes)
const TOKEN = /\\([$}\\])|\$\{(\d+):((?:[^{}\\]|\\.)*)\}|\$\{(\d+)\|((?:[^|\\]|\\.)*)\|\}|\$\{(\d+)\}|\$(\d+)/g;

/** Every choice placeholder of a body: tab stop → its choices. */
function choices(body: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const m of body.matchAll(TOKEN)) if (m[4]) out.set(m[4], m[5].split(','));
  return out;
}

/** Expands a snippet body the way accepting every default does; `pick` overrides choice tab stops. */
function expand(body: string, pick: Map<string, string> = new Map()): string {
  const values = new Map<string, string>();
  for (const m of body.matchAll(TOKEN)) {
    if (m[2] && !values.has(m[2])) values.set(m[2], m[3].replace(/\\(.)/g, '$1'));
    if (m[4] && !values.has(m[4])) values.set(m[4], pick.get(m[4]) ?? m[5].split(',')[0]);
  }
  return body.replace(TOKEN, (_all, esc, n1, _d, n2, _c, n3, n4) => {
    if (esc) return esc;
    const n = n1 ?? n2 ?? n3 ?? n4;
    return n === '0' ? '' : values.get(n) ?? '';
  });
}

/** A fragment (no `version` line) is linted inside a file of the config version its plugin IDs belong to. */
function inContext(text: string): string {
  if (/^\s*version\s*=/m.test(text)) return text;
  if (/io\.containerd\.cri\.v1\./.test(text)) return `version = 3\n${text}`;
  if (/io\.containerd\./.test(text)) return `version = 2\n${text}`;
  return text;
}

/** The texts to lint for one snippet: defaults, then each other choice of each choice placeholder. */
function variants(body: string): { label: string; text: string }[] {
  const out = [{ label: 'defaults', text: expand(body) }];
  for (const [stop, opts] of choices(body)) {
    for (const opt of opts.slice(1)) out.push({ label: `$${stop}=${opt}`, text: expand(body, new Map([[stop, opt]])) });
  }
  return out;
}

test('snippet expansion helper', () => {
  assert.equal(expand('a ${1:x} ${2|p,q|} ${1} $0\\$'), 'a x p x $');
  assert.equal(expand('${1|p,q|}', new Map([['1', 'q']])), 'q');
  assert.equal(expand('[${1:a}]$2'), '[a]');
});

test('snippets file is well formed', () => {
  const names = Object.keys(snippets);
  assert.ok(names.length >= 5, 'expected the v2, v3, two registry and the pin snippets');
  for (const [name, s] of Object.entries(snippets)) {
    assert.ok(s.prefix && s.prefix.length, `${name}: prefix`);
    assert.ok(Array.isArray(s.body) && s.body.length, `${name}: body`);
    assert.ok(s.description, `${name}: description`);
    const body = (s.body as string[]).join('\n');
    assert.doesNotMatch(body.replace(TOKEN, ''), /\$/, `${name}: stray $ (escape it as \\$)`);
    assert.doesNotMatch(body, /\t/, `${name}: use spaces`);
  }
});

test('the pin snippet offers every supported release', () => {
  const pin = Object.values(snippets).find((s) => /^# containerd: \$\{1\|[^}]*\}\n?\$0$/.test((s.body as string[]).join('\n')));
  assert.ok(pin);
  assert.deepEqual([...choices((pin.body as string[]).join('\n')).values()][0], ['1.6', '1.7', '2.0', '2.1', '2.2', '2.3']);
});

test('skeletons carry the keys they promise', () => {
  const all = Object.values(snippets).map((s) => expand((s.body as string[]).join('\n'))).join('\n');
  for (const needle of [
    'version = 2', 'version = 3', 'SystemdCgroup = true', 'sandbox_image =', 'sandbox =',
    '[plugins."io.containerd.cri.v1.images".pinned_images]', '[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]',
    '[plugins."io.containerd.grpc.v1.cri".registry]', '[plugins."io.containerd.cri.v1.images".registry]', 'config_path =',
  ]) assert.ok(all.includes(needle), needle);
});

for (const [name, s] of Object.entries(snippets)) {
  test(`snippet lints clean: ${name}`, () => {
    for (const v of variants((s.body as string[]).join('\n'))) {
      const text = inContext(v.text);
      const { problems } = lintText('snippet.toml', text);
      const bad = problems.filter((p) => p.severity === 'error' || p.code === 'containerd/unknown-key' || p.code === 'containerd/unknown-plugin');
      assert.deepEqual(
        bad.map((p) => `${p.line}:${p.column} ${p.severity} ${p.code} ${p.message}`),
        [],
        `${name} (${v.label}):\n${text}`,
      );
    }
  });
}
