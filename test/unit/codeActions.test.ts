// Code actions: the rename / move quick fixes carried by diagnostics' `data`, and the
// "migrate file to version 3" refactoring. Diagnostics are built by hand here (with the
// `data` contract of server/src/services/fixes.ts), so these tests do not depend on the
// diagnostics service.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { DiagnosticSeverity, type CodeAction, type Diagnostic } from 'vscode-languageserver-types';
import { parseToml } from '../../server/src/parser/toml';
import { detectContext, type ServiceDocument } from '../../server/src/services/context';
import { codeActions, MIGRATE_TITLE } from '../../server/src/services/codeActions';
import type { FixData } from '../../server/src/services/fixes';
import { getAt, toValue, walkProps, type ParsedDocument } from '../../server/src/tree/model';

const URI = 'file:///x/config.toml';
const CRI = 'io.containerd.grpc.v1.cri';
const RUNC = ['plugins', CRI, 'containerd', 'runtimes', 'runc'];

function prepare(text: string): ServiceDocument {
  const parsed = parseToml(text);
  return { text: TextDocument.create(URI, 'toml', 1, text), parsed, ctx: detectContext(parsed) };
}

/** A diagnostic on the `nth` occurrence of `key` as a key (start of line after indentation or after a dot). */
function diagOn(sd: ServiceDocument, path: string[], data: FixData, code = 'containerd/misplaced-key'): Diagnostic {
  let span: { start: number; end: number } | undefined;
  walkProps(sd.parsed.root, (p, pp) => {
    if (!span && pp.length === path.length && pp.every((k, i) => k === path[i])) span = p.keyRange;
  });
  assert.ok(span, `no key ${path.join('.')}`);
  return {
    range: { start: sd.text.positionAt(span.start), end: sd.text.positionAt(span.end) },
    message: 'test',
    severity: DiagnosticSeverity.Warning,
    source: 'containerd',
    code,
    data,
  };
}

function apply(sd: ServiceDocument, action: CodeAction): string {
  const edits = action.edit?.changes?.[URI];
  assert.ok(edits && edits.length, 'action has edits for the document');
  return TextDocument.applyEdits(sd.text, edits);
}

function allPaths(doc: ParsedDocument): string[] {
  const out: string[] = [];
  walkProps(doc.root, (p, path) => {
    if (p.value.kind !== 'object') out.push(JSON.stringify(path));
  });
  return out.sort();
}

function leafCount(doc: ParsedDocument, key: string): number {
  let n = 0;
  walkProps(doc.root, (p) => {
    if (p.key === key && p.value.kind !== 'object') n++;
  });
  return n;
}

function fullRange() {
  return { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
}

/** Check that `after` is `before` with the leaf at `from` moved to `to` and nothing else changed. */
function assertMoved(before: string, after: string, from: string[], to: string[]): void {
  const a = parseToml(before);
  const b = parseToml(after);
  assert.deepEqual(b.syntaxErrors, [], `syntax errors in:\n${after}`);
  const value = toValue(getAt(a.root, from)!);
  assert.deepEqual(toValue(getAt(b.root, to)!), value, `value at ${to.join('.')}`);
  assert.equal(getAt(b.root, from), undefined, `still at ${from.join('.')}:\n${after}`);
  const expected = allPaths(a)
    .filter((p) => p !== JSON.stringify(from))
    .concat(JSON.stringify(to))
    .sort();
  assert.deepEqual(allPaths(b), expected);
  // Every other value is unchanged.
  walkProps(a.root, (p, path) => {
    if (p.value.kind === 'object' || JSON.stringify(path) === JSON.stringify(from)) return;
    assert.deepEqual(toValue(getAt(b.root, path)!), toValue(p.value), `changed: ${path.join('.')}`);
  });
}

test('move: SystemdCgroup directly under runtimes.runc goes into the existing options table', () => {
  const text = [
    'version = 2',
    '',
    `[plugins."${CRI}".containerd.runtimes.runc]`,
    '  runtime_type = "io.containerd.runc.v2"',
    '  SystemdCgroup = true',
    '',
    `[plugins."${CRI}".containerd.runtimes.runc.options]`,
    '  BinaryName = "/usr/bin/runc"',
    '',
  ].join('\n');
  const sd = prepare(text);
  const to = [...RUNC, 'options', 'SystemdCgroup'];
  const d = diagOn(sd, [...RUNC, 'SystemdCgroup'], { fix: 'move', toPath: to });
  const actions = codeActions(sd, d.range, [d]).filter((x) => x.kind === 'quickfix');
  assert.equal(actions.length, 1);
  const [a] = actions;
  assert.equal(a.title, `Move \`SystemdCgroup\` to [plugins."${CRI}".containerd.runtimes.runc.options]`);
  assert.equal(a.kind, 'quickfix');
  assert.equal(a.isPreferred, true);
  assert.deepEqual(a.diagnostics, [d]);
  const out = apply(sd, a);
  assertMoved(text, out, [...RUNC, 'SystemdCgroup'], to);
  assert.match(out, /\n {2}BinaryName = "\/usr\/bin\/runc"\n {2}SystemdCgroup = true\n/);
  assert.equal(leafCount(parseToml(out), 'SystemdCgroup'), 1);
});

test('move: creates the options table when missing, right after the runtime section, in the file\'s indentation', () => {
  const text = [
    'version = 2',
    '[plugins]',
    `  [plugins."${CRI}".containerd.runtimes.runc]`,
    '    runtime_type = "io.containerd.runc.v2"',
    '    SystemdCgroup = true # use systemd',
    `  [plugins."${CRI}".registry]`,
    '    config_path = "/etc/containerd/certs.d"',
  ].join('\n');
  const sd = prepare(text);
  const to = [...RUNC, 'options', 'SystemdCgroup'];
  const d = diagOn(sd, [...RUNC, 'SystemdCgroup'], { fix: 'move', toPath: to });
  const [a] = codeActions(sd, d.range, [d]);
  const out = apply(sd, a);
  assertMoved(text, out, [...RUNC, 'SystemdCgroup'], to);
  const lines = out.split('\n');
  const h = lines.findIndex((l) => l.includes('runtimes.runc.options]'));
  assert.ok(h > 0);
  assert.equal(lines[h], `    [plugins."${CRI}".containerd.runtimes.runc.options]`);
  assert.equal(lines[h + 1], '      SystemdCgroup = true # use systemd');
  assert.ok(h < lines.findIndex((l) => l.includes('.registry]')), 'inserted before the next unrelated section');
});

test('move: the last line of a file without a final newline', () => {
  const text = `version = 2\n[plugins."${CRI}".containerd.runtimes.runc]\nruntime_type = "io.containerd.runc.v2"\nSystemdCgroup = true`;
  const sd = prepare(text);
  const to = [...RUNC, 'options', 'SystemdCgroup'];
  const d = diagOn(sd, [...RUNC, 'SystemdCgroup'], { fix: 'move', toPath: to });
  const out = apply(sd, codeActions(sd, d.range, [d])[0]);
  assertMoved(text, out, [...RUNC, 'SystemdCgroup'], to);
  assert.match(out, /\[plugins\."io\.containerd\.grpc\.v1\.cri"\.containerd\.runtimes\.runc\.options\]\nSystemdCgroup = true\n$/);
});

test('move into a table that only exists through dotted keys adds a dotted key (no duplicate table)', () => {
  const text = [
    'version = 2',
    `[plugins."${CRI}".containerd.runtimes.runc]`,
    '  options.BinaryName = "runc"',
    '  SystemdCgroup = true',
  ].join('\n');
  const sd = prepare(text);
  const to = [...RUNC, 'options', 'SystemdCgroup'];
  const d = diagOn(sd, [...RUNC, 'SystemdCgroup'], { fix: 'move', toPath: to });
  const out = apply(sd, codeActions(sd, d.range, [d])[0]);
  assertMoved(text, out, [...RUNC, 'SystemdCgroup'], to);
  assert.match(out, /\n {2}options\.SystemdCgroup = true\n/);
});

test('move to the root table lands before the first header', () => {
  const text = ['# config', 'version = 2', '', '[grpc]', '  address = "/run/c.sock"', '  oom_score = -999', ''].join('\n');
  const sd = prepare(text);
  const d = diagOn(sd, ['grpc', 'oom_score'], { fix: 'move', toPath: ['oom_score'] });
  const out = apply(sd, codeActions(sd, d.range, [d])[0]);
  assertMoved(text, out, ['grpc', 'oom_score'], ['oom_score']);
  assert.ok(out.indexOf('oom_score') < out.indexOf('[grpc]'));
  assert.ok(out.startsWith('# config\nversion = 2\noom_score = -999\n'));
});

test('migrate a deprecated key: sandbox_image in a version 3 file goes to pinned_images.sandbox', () => {
  const text = [
    'version = 3',
    '',
    `[plugins."${CRI}"]`,
    '  sandbox_image = "registry.k8s.io/pause:3.10"',
    '  stream_server_port = "0"',
    '',
    '[plugins."io.containerd.cri.v1.images"]',
    '  snapshotter = "overlayfs"',
    '',
  ].join('\n');
  const sd = prepare(text);
  const to = ['plugins', 'io.containerd.cri.v1.images', 'pinned_images', 'sandbox'];
  const d = diagOn(sd, ['plugins', CRI, 'sandbox_image'], { fix: 'move', toPath: to }, 'containerd/wrong-layout');
  const [a] = codeActions(sd, d.range, [d]);
  assert.equal(a.title, 'Migrate to `plugins."io.containerd.cri.v1.images".pinned_images.sandbox`');
  const out = apply(sd, a);
  assertMoved(text, out, ['plugins', CRI, 'sandbox_image'], to);
  assert.match(out, /\n\[plugins\."io\.containerd\.cri\.v1\.images"\.pinned_images\]\n {2}sandbox = "registry\.k8s\.io\/pause:3\.10"\n/);
});

test('migrate a whole v2 table in a v3 file by rewriting its headers', () => {
  const text = [
    'version = 3',
    `[plugins."${CRI}".registry.mirrors."docker.io"]`,
    '  endpoint = ["https://mirror.gcr.io"]',
    `[plugins."${CRI}".registry.mirrors."quay.io"]`,
    '  endpoint = ["https://quay.mirror"]',
  ].join('\n');
  const sd = prepare(text);
  const to = ['plugins', 'io.containerd.cri.v1.images', 'registry', 'mirrors'];
  const d = diagOn(sd, ['plugins', CRI, 'registry', 'mirrors'], { fix: 'move', toPath: to }, 'containerd/wrong-layout');
  const [a] = codeActions(sd, d.range, [d]);
  const out = apply(sd, a);
  const b = parseToml(out);
  assert.deepEqual(b.syntaxErrors, []);
  assert.deepEqual(toValue(getAt(b.root, [...to, 'quay.io', 'endpoint'])!), ['https://quay.mirror']);
  assert.deepEqual(toValue(getAt(b.root, [...to, 'docker.io', 'endpoint'])!), ['https://mirror.gcr.io']);
  assert.equal(getAt(b.root, ['plugins', CRI]), undefined);
});

test('move onto a key that is already set only offers removing the misplaced line', () => {
  const text = [
    'version = 2',
    `[plugins."${CRI}".containerd.runtimes.runc]`,
    '  SystemdCgroup = true',
    `[plugins."${CRI}".containerd.runtimes.runc.options]`,
    '  SystemdCgroup = false',
  ].join('\n');
  const sd = prepare(text);
  const d = diagOn(sd, [...RUNC, 'SystemdCgroup'], { fix: 'move', toPath: [...RUNC, 'options', 'SystemdCgroup'] });
  const [a] = codeActions(sd, d.range, [d]);
  assert.match(a.title, /^Remove `SystemdCgroup` \(already set in/);
  const out = parseToml(apply(sd, a));
  assert.equal(leafCount(out, 'SystemdCgroup'), 1);
  assert.equal(toValue(getAt(out.root, [...RUNC, 'options', 'SystemdCgroup'])!), false);
});

test('rename: a misspelled key becomes the suggestion, quoted when needed', () => {
  const text = ['version = 2', `[plugins."${CRI}"]`, '  tolerate_missing_hugepages_controller = true', '  enable_selinux = false', ''].join('\n');
  const sd = prepare(text);
  const d = diagOn(sd, ['plugins', CRI, 'tolerate_missing_hugepages_controller'], { fix: 'rename', newKey: 'tolerate_missing_hugetlb_controller' }, 'containerd/unknown-key');
  const actions = codeActions(sd, d.range, [d]);
  const fixes = actions.filter((a) => a.kind === 'quickfix');
  assert.equal(fixes.length, 1);
  assert.equal(fixes[0].title, 'Rename to `tolerate_missing_hugetlb_controller`');
  assert.equal(fixes[0].isPreferred, true);
  const out = apply(sd, fixes[0]);
  assert.equal(out, text.replace('hugepages', 'hugetlb'));

  const sd2 = prepare('version = 2\n[timeouts]\n  "io.containerd.timeout.shim.clean" = "5s"\n');
  const d2 = diagOn(sd2, ['timeouts', 'io.containerd.timeout.shim.clean'], { fix: 'rename', newKey: 'io.containerd.timeout.shim.cleanup' });
  const out2 = apply(sd2, codeActions(sd2, d2.range, [d2])[0]);
  assert.equal(out2, 'version = 2\n[timeouts]\n  "io.containerd.timeout.shim.cleanup" = "5s"\n');
});

test('diagnostics without fix data produce no quick fixes', () => {
  const sd = prepare('version = 3\n[grpc]\n  address = "x"\n');
  const d: Diagnostic = { range: { start: { line: 2, character: 2 }, end: { line: 2, character: 9 } }, message: 'x', code: 'containerd/other' };
  assert.deepEqual(codeActions(sd, d.range, [d]), []);
});

test('the migrate-to-v3 refactoring is offered for version 2 files (any range) and not for version 3', () => {
  const v2 = [
    'version = 2',
    `[plugins."${CRI}"]`,
    '  sandbox_image = "registry.k8s.io/pause:3.9"',
    `[plugins."${CRI}".containerd.runtimes.runc.options]`,
    '  SystemdCgroup = true',
  ].join('\n');
  const sd = prepare(v2);
  const actions = codeActions(sd, fullRange(), []);
  const mig = actions.find((a) => a.title === MIGRATE_TITLE);
  assert.ok(mig);
  assert.equal(mig.kind, 'refactor.rewrite');
  const out = parseToml(apply(sd, mig));
  assert.deepEqual(out.syntaxErrors, []);
  assert.equal(toValue(getAt(out.root, ['version'])!), 3);
  assert.equal(toValue(getAt(out.root, ['plugins', 'io.containerd.cri.v1.images', 'pinned_images', 'sandbox'])!), 'registry.k8s.io/pause:3.9');
  assert.equal(toValue(getAt(out.root, ['plugins', 'io.containerd.cri.v1.runtime', 'containerd', 'runtimes', 'runc', 'options', 'SystemdCgroup'])!), true);

  assert.equal(codeActions(prepare('version = 3\n[grpc]\n  address = "x"\n'), fullRange(), []).length, 0);
  // version-less with full plugin URIs: offered; version-less with nothing: not.
  assert.ok(codeActions(prepare(`[plugins."${CRI}"]\n  sandbox_image = "x"\n`), fullRange(), []).some((a) => a.title === MIGRATE_TITLE));
  assert.equal(codeActions(prepare('root = "/var/lib/containerd"\n'), fullRange(), []).length, 0);
  // Not offered over syntax errors (the rewrite would lose the broken lines).
  assert.equal(codeActions(prepare('version = 2\n[grpc\n  address = "x"\n'), fullRange(), []).length, 0);
});
