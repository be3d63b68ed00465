/*
 * The published artifact: `npm run package` produces dist/containerd-taskserv.vsix, under 5 MB,
 * holding what the extension needs at run time (bundled client + server, schemas, grammars,
 * snippets, icon, LICENSE, README, CHANGELOG, package.nls.json) and nothing else: no TypeScript
 * sources, tests, benchmarks, node_modules, source maps, .e2e, docs/images.
 *
 *   npm run build && node --test out/test/e2e/package.test.js
 *
 * The file list is read from the zip's central directory (a few lines of node), and cross-checked
 * with `unzip -l` where Debian's unzip is installed. Needs no code-server or browser.
 */
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT, packageExtension } from './codeserver';

const MAX_BYTES = 5 * 1024 * 1024;

/** Names in a zip file, from its central directory (no zip64, no multi-disk: a .vsix is neither). */
export function zipEntries(file: string): string[] {
  const buf = fs.readFileSync(file);
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 0xffff); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
  }
  assert.ok(eocd >= 0, `${file}: no end-of-central-directory record`);
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    assert.equal(buf.readUInt32LE(p), 0x02014b50, `${file}: bad central directory entry ${i}`);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    names.push(buf.toString('utf8', p + 46, p + 46 + nameLen));
    p += 46 + nameLen + extraLen + commentLen;
  }
  return names;
}

/** `unzip -l` file names, or undefined when unzip is not installed. */
function unzipList(file: string): string[] | undefined {
  const r = spawnSync('unzip', ['-Z1', file], { encoding: 'utf8', timeout: 30_000 });
  if (r.error || r.status !== 0) return undefined;
  return r.stdout.split('\n').map((l) => l.trim()).filter(Boolean);
}

describe('package: the .vsix', () => {
  let vsix = '';
  let files: string[] = [];
  const manifest = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
    icon: string;
    contributes: { grammars: { path: string }[]; snippets: { path: string }[]; languages: { configuration?: string }[] };
  };
  const inVsix = (rel: string) => `extension/${path.posix.normalize(rel).replace(/^\.\//, '')}`;

  before(() => {
    const r = packageExtension({ logName: 'package-test-npm-run-package.log' });
    vsix = r.vsix;
    console.log(`# npm run package took ${r.ms} ms`);
    files = zipEntries(vsix);
    console.log(`# ${path.relative(REPO_ROOT, vsix)}: ${fs.statSync(vsix).size} bytes, ${files.length} files:\n${files.map((f) => `#   ${f}`).join('\n')}`);
  }, { timeout: 6 * 60_000 });

  test('is under 5 MB', () => {
    const size = fs.statSync(vsix).size;
    assert.ok(size < MAX_BYTES, `${vsix} is ${size} bytes (limit ${MAX_BYTES})`);
  });

  test('the central directory agrees with unzip -l (where unzip is installed)', (t) => {
    const listed = unzipList(vsix);
    if (!listed) return t.skip('unzip is not installed');
    assert.deepEqual([...listed].sort(), [...files].sort());
  });

  test('contains the run-time files', () => {
    const required = [
      'extension/package.json',
      'extension/package.nls.json',
      'extension/dist/client.js',
      'extension/dist/lsp.js',
      'extension/dist/hosts.js',
      'extension/dist/server.js',
      inVsix(manifest.icon),
      ...manifest.contributes.grammars.map((g) => inVsix(g.path)),
      ...manifest.contributes.snippets.map((s) => inVsix(s.path)),
      ...manifest.contributes.languages.flatMap((l) => (l.configuration ? [inVsix(l.configuration)] : [])),
      // every JSON schema of the repo (config versions 1-4 and the taskserv schema)
      ...fs.readdirSync(path.join(REPO_ROOT, 'schemas')).filter((f) => f.endsWith('.schema.json')).map((f) => `extension/schemas/${f}`),
    ];
    const missing = [...new Set(required)].filter((f) => !files.includes(f));
    assert.deepEqual(missing, [], 'missing from the .vsix');
    // vsce renames these (readme.md, changelog.md, LICENSE.txt): match case-insensitively
    for (const re of [/^extension\/readme\.md$/i, /^extension\/changelog\.md$/i, /^extension\/license(\.txt|\.md)?$/i]) {
      assert.ok(files.some((f) => re.test(f)), `no file matching ${re}`);
    }
    assert.ok(files.some((f) => /^extension\/schemas\/containerd-config-v[1-4]\.schema\.json$/.test(f)), 'no config schema');
    assert.ok(files.includes('extension.vsixmanifest'));
  });

  test('contains no sources, tests, benchmarks, node_modules, source maps, .e2e or docs/images', () => {
    const forbidden: [string, RegExp][] = [
      ['TypeScript sources', /\.(ts|tsx|mts|cts)$/],
      ['source maps', /\.map$/],
      ['node_modules', /(^|\/)node_modules\//],
      ['tests', /^extension\/(test|out)\//],
      ['test files', /\.test\.[cm]?js$/],
      ['benchmarks', /^extension\/bench\//],
      ['the e2e set-up', /(^|\/)\.e2e\//],
      ['docs/images', /^extension\/docs\/images\//],
      ['source folders', /^extension\/(client|server|cli|scripts)\//],
      ['nested packages', /\.vsix$/],
      ['test results', /^extension\/test-results\//],
    ];
    const bad = forbidden.flatMap(([what, re]) => files.filter((f) => re.test(f)).map((f) => `${what}: ${f}`));
    assert.deepEqual(bad, [], 'files that must not be in the .vsix');
  });
});
