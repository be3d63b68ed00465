import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DiagnosticSeverity, DiagnosticTag } from 'vscode-languageserver-types';
import { codes, diagnose } from '../helpers/lsdoc';

const find = (text: string, code: string, rel?: string) => diagnose(text, rel).filter((d) => d.code === code);

test('SystemdCgroup in the runtime table instead of options is a misplaced key with a move fix', () => {
  const text = [
    'version = 2',
    '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]',
    '  runtime_type = "io.containerd.runc.v2"',
    '  SystemdCgroup = true',
  ].join('\n');
  const [d] = find(text, 'containerd/misplaced-key');
  assert.ok(d);
  assert.equal(d.range.start.line, 3);
  assert.equal(d.range.start.character, 2);
  assert.equal(d.range.end.character, 'SystemdCgroup'.length + 2);
  assert.equal(d.severity, DiagnosticSeverity.Warning);
  assert.deepEqual(d.data, { fix: 'move', toPath: ['plugins', 'io.containerd.grpc.v1.cri', 'containerd', 'runtimes', 'runc', 'options', 'SystemdCgroup'] });
});

test('type errors are errors that say containerd refuses to start', () => {
  const [d] = find('version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  enable_selinux = "true"\n', 'containerd/type-mismatch');
  assert.equal(d.severity, DiagnosticSeverity.Error);
  assert.match(String(d.message), /refuses to start/);
  assert.equal(d.range.start.character, 19);
});

test('a string port and an integer duration are fatal; a bare 0 duration is accepted', () => {
  assert.equal(find('version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  stream_server_port = 10010\n', 'containerd/type-mismatch').length, 1);
  assert.equal(find('version = 2\n[plugins."io.containerd.gc.v1.scheduler"]\n  startup_delay = 10\n', 'containerd/type-mismatch').length, 1);
  assert.deepEqual(diagnose('version = 2\n[plugins."io.containerd.gc.v1.scheduler"]\n  schedule_delay = 0\n'), []);
  assert.equal(find('version = 2\n[plugins."io.containerd.gc.v1.scheduler"]\n  schedule_delay = "5 minutes"\n', 'containerd/invalid-duration').length, 1);
});

test('unknown keys are warnings with a did-you-mean rename', () => {
  const [d] = find('version = 2\n[grpc]\n  adress = "/run/containerd/containerd.sock"\n', 'containerd/unknown-key');
  assert.equal(d.severity, DiagnosticSeverity.Warning);
  assert.deepEqual(d.data, { fix: 'rename', newKey: 'address' });
  assert.match(String(d.message), /silently ignores/);
});

test('unknown plugin IDs are warnings with a suggestion; 2.x says containerd warns', () => {
  const [d] = find('version = 2\n[plugins."io.containerd.grpc.v1.crii"]\n  x = 1\n', 'containerd/unknown-plugin');
  assert.deepEqual(d.data, { fix: 'rename', newKey: 'io.containerd.grpc.v1.cri' });
  const [k] = find('version = 3\n[grpc]\n  bogus = 1\n', 'containerd/unknown-key');
  assert.match(String(k.message), /Ignoring unknown key/);
});

test('default_runtime_name naming a missing runtime unloads CRI (error)', () => {
  const text = 'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd]\n  default_runtime_name = "crun"\n';
  const [d] = find(text, 'containerd/undefined-runtime');
  assert.equal(d.severity, DiagnosticSeverity.Error);
  assert.match(String(d.message), /CRI plugin .* fails to load/);
  const ok = text + '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.crun]\n  runtime_type = "io.containerd.runc.v2"\n';
  assert.deepEqual(find(ok, 'containerd/undefined-runtime'), []);
});

test('1.x replaces the runtimes map: a partial runtime definition is warned about', () => {
  const text = 'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\n  SystemdCgroup = true\n';
  assert.equal(find(text, 'containerd/partial-map', '1.7').length, 1);
  assert.equal(find(text, 'containerd/partial-map', '2.1').length, 0, '2.x merges into the defaults');
});

test('v2 CRI layout in a version 3 file is flagged with its migration target', () => {
  const text = 'version = 3\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\n  SystemdCgroup = true\n';
  const [d] = find(text, 'containerd/wrong-layout');
  assert.ok(d);
  assert.deepEqual(d.data, { fix: 'move', toPath: ['plugins', 'io.containerd.cri.v1.runtime', 'containerd', 'runtimes', 'runc', 'options', 'SystemdCgroup'] });
});

test('a version 3 file is refused by 1.7.20 and silently downgraded by 1.6.20', () => {
  const strict = find('version = 3\n', 'containerd/unsupported-version', '1.7.20');
  assert.equal(strict[0].severity, DiagnosticSeverity.Error);
  const lenient = find('version = 3\n', 'containerd/unsupported-version', '1.6.20');
  assert.equal(lenient[0].severity, DiagnosticSeverity.Warning);
  assert.deepEqual(find('version = 3\n', 'containerd/unsupported-version', '2.1'), []);
  assert.equal(find('version = "2"\n', 'containerd/invalid-version')[0].severity, DiagnosticSeverity.Error);
});

test('keys are checked against the target release (pin comment)', () => {
  const body = 'version = 3\n[plugins."io.containerd.snapshotter.v1.overlayfs"]\n  slow_chown = true\n';
  assert.deepEqual(find('# containerd: 2.2\n' + body, 'containerd/unavailable-in-release'), []);
  const v2body = 'version = 2\n[plugins."io.containerd.snapshotter.v1.overlayfs"]\n  slow_chown = true\n';
  assert.equal(find('# containerd: 1.7\n' + v2body, 'containerd/unavailable-in-release').length, 1);
  assert.deepEqual(find('# containerd: 2.1\n' + v2body, 'containerd/unavailable-in-release'), [], 'a version 2 file on 2.x honours 2.x keys');
});

test('deprecated keys in use carry the Deprecated tag; defaults printed by config default do not', () => {
  const used = find('version = 2\n[plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]\n  endpoint = ["https://m.example"]\n', 'containerd/deprecated');
  assert.ok(used.length >= 1);
  assert.deepEqual(used[0].tags, [DiagnosticTag.Deprecated]);
  assert.deepEqual(find('version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  systemd_cgroup = false\n', 'containerd/deprecated'), []);
});

test('mirrors together with config_path unload CRI', () => {
  const text = 'version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/containerd/certs.d"\n[plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]\n  endpoint = ["https://m"]\n';
  assert.equal(find(text, 'containerd/registry-conflict')[0].severity, DiagnosticSeverity.Error);
});

test('relative paths are flagged where containerd needs absolute ones', () => {
  const [d] = find('version = 2\nroot = "var/lib/containerd"\n', 'containerd/relative-path');
  assert.ok(d);
  assert.deepEqual(find('version = 2\nroot = "/var/lib/containerd"\n', 'containerd/relative-path'), []);
});

test('option keys: case-insensitive matches are informational, snake_case is misplaced/unknown', () => {
  const base = 'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]\n  runtime_type = "io.containerd.runc.v2"\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\n';
  const [c] = find(base + '  systemdcgroup = true\n', 'containerd/key-case');
  assert.equal(c.severity, DiagnosticSeverity.Information);
  const snake = diagnose(base + '  systemd_cgroup = true\n').filter((d) => d.range.start.line === 4);
  assert.equal(snake.length, 1);
  assert.ok(['containerd/unknown-key', 'containerd/misplaced-key'].includes(String(snake[0].code)));
  // A non-runc shim receives its options as a blob: anything goes.
  const kata = 'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd]\n  default_runtime_name = "kata"\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.kata]\n  runtime_type = "io.containerd.kata.v2"\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.kata.options]\n  ConfigPath = "/etc/kata.toml"\n  anything_goes = 1\n';
  assert.deepEqual(diagnose(kata, '1.7'), []);
});

test('syntax errors are reported at the exact place and checking continues', () => {
  const text = 'version = 2\n[grpc\n  bogus_key = 1\n[debug]\n  levle = "info"\n';
  const ds = diagnose(text);
  const syn = ds.find((d) => d.code === 'containerd/syntax');
  assert.ok(syn);
  assert.equal(syn.range.start.line, 1);
  assert.ok(ds.some((d) => d.code === 'containerd/unknown-key' && d.range.start.line === 4), codes(ds).join(','));
});

test('duplicate tables and keys are errors', () => {
  assert.equal(find('version = 2\n[grpc]\n  uid = 1\n[grpc]\n  gid = 1\n', 'containerd/duplicate-table').length, 1);
  assert.equal(find('version = 2\n[grpc]\n  uid = 1\n  uid = 2\n', 'containerd/duplicate-key').length, 1);
});

test('version 2 with short plugin IDs is fatal on 1.x', () => {
  const [d] = find('version = 2\n[plugins.cri]\n  sandbox_image = "x"\n', 'containerd/invalid-plugin-uri');
  assert.equal(d.severity, DiagnosticSeverity.Error);
  assert.deepEqual(d.data, { fix: 'rename', newKey: 'io.containerd.grpc.v1.cri' });
});
