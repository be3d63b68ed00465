/**
 * Zero false positives: every real-world config in the research corpus and every
 * `containerd config default` output gives no error. The few errors we do report are real
 * problems, listed here with the reason (and confirmed by containerd where it could run).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DiagnosticSeverity } from 'vscode-languageserver-types';
import { research } from '../helpers/paths';
import { diagnose } from '../helpers/lsdoc';

/** file -> the exact errors we expect ("line:code") and why they are real. */
const EXPECTED_ERRORS: Record<string, { errors: string[]; reason: string }> = {
  '03-kind-node-image-2019.toml': {
    errors: ['8:containerd/invalid-plugin-uri', '8:containerd/invalid-plugin-uri', '8:containerd/invalid-plugin-uri'],
    reason: 'short IDs in disabled_plugins of a version 2 file: containerd >= 1.5 refuses to start ("invalid disabled plugin URI"), reproduced on 1.6.20',
  },
  '15-aks-windows-v1-template.toml': {
    errors: ['43:containerd/syntax', '44:containerd/syntax', '50:containerd/syntax', '54:containerd/syntax', '55:containerd/syntax', '61:containerd/syntax'],
    reason: 'a Go template: {{...}} placeholders are not TOML until substituted',
  },
  '16-aks-windows-v3-template.toml': {
    errors: ['50:containerd/syntax', '51:containerd/syntax', '57:containerd/syntax', '61:containerd/syntax', '62:containerd/syntax', '68:containerd/syntax'],
    reason: 'a Go template: {{...}} placeholders are not TOML until substituted',
  },
  '29-kata-doc-mixed-naming.toml': {
    errors: ['6:containerd/undefined-runtime', '7:containerd/missing-version'],
    reason: 'no version line, so 1.x reads version 1 and ignores the full-URI table; the short-ID runtimes table replaces the default runc, so CRI fails to load (pitfalls P1, P4)',
  },
};

const corpusDir = research('containerd', 'corpus');
const manifest = JSON.parse(fs.readFileSync(path.join(corpusDir, 'MANIFEST.json'), 'utf8')) as { file: string; expectation: string }[];

for (const entry of manifest) {
  test(`corpus ${entry.file} (${entry.expectation})`, () => {
    const text = fs.readFileSync(path.join(corpusDir, entry.file), 'utf8');
    const ds = diagnose(text);
    const errors = ds.filter((d) => d.severity === DiagnosticSeverity.Error).map((d) => `${d.range.start.line + 1}:${String(d.code)}`).sort();
    const expected = EXPECTED_ERRORS[entry.file];
    assert.deepEqual(errors, expected ? [...expected.errors].sort() : [], ds.map((d) => `${d.range.start.line + 1}: ${d.message}`).join('\n'));
    for (const d of ds) {
      assert.ok(String(d.code).startsWith('containerd/'), `every diagnostic has a stable code: ${d.message}`);
      assert.equal(d.source, 'containerd');
    }
  });
}

test('the corpus has the files the manifest lists', () => {
  assert.ok(manifest.length >= 20, `manifest lists ${manifest.length} files`);
});

test('kind keeps its misspelled key for years: we flag it with the right suggestion', () => {
  const text = fs.readFileSync(path.join(corpusDir, '02-kind-node-image.toml'), 'utf8');
  const d = diagnose(text).find((x) => x.code === 'containerd/unknown-key');
  assert.ok(d, 'unknown key reported');
  assert.match(String(d.message), /tolerate_missing_hugepages_controller/);
  assert.deepEqual(d.data, { fix: 'rename', newKey: 'tolerate_missing_hugetlb_controller' });
});

const defaultsDir = research('containerd', 'defaults');
const DEFAULT_RELEASE: Record<string, string> = {
  'containerd-1.6.20-debian-config-default.toml': '1.6.20',
  'containerd-1.7-default.RECONSTRUCTED.toml': '1.7',
  'containerd-2.0-default.RECONSTRUCTED.toml': '2.0',
  'containerd-2.1-default.RECONSTRUCTED.toml': '2.1',
  'containerd-2.2-default.RECONSTRUCTED.toml': '2.2',
};

for (const [file, release] of Object.entries(DEFAULT_RELEASE)) {
  test(`default config ${file} is clean for containerd ${release}`, () => {
    const ds = diagnose(fs.readFileSync(path.join(defaultsDir, file), 'utf8'), release);
    // containerd's own default output: no error, no warning (deprecated keys it prints are at their defaults).
    const noisy = ds.filter((d) => d.severity === DiagnosticSeverity.Error || d.severity === DiagnosticSeverity.Warning);
    assert.deepEqual(noisy.map((d) => `${d.range.start.line + 1}:${String(d.code)} ${d.message}`), []);
  });
}
