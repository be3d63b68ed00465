// `containerd-taskserv lint` end to end through bin/containerd-taskserv: formats, exit codes,
// --containerd-version. Needs `npm run build` (dist/cli.js). Run with `node --test`.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BIN, ROOT } from './lspClient';

const CORPUS = path.resolve(ROOT, '../shared/research/containerd/corpus');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], input?: string): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', input, timeout: 30_000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Problem {
  file: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  severity: string;
  code: string;
  message: string;
}

function json(r: Run): Problem[] {
  try {
    return JSON.parse(r.stdout) as Problem[];
  } catch (e) {
    throw new Error(`stdout is not JSON (${e}):\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
}

const WITH_ERRORS = `version = 2
oom_scroe = 0
[plugins."io.containerd.grpc.v1.cri"]
  enable_selinux = "true"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
  SystemdCgroup = true
`;
const ONLY_WARNINGS = 'version = 2\noom_scroe = 0\n';
const CLEAN = 'version = 2\n[grpc]\n  address = "/run/containerd/containerd.sock"\n  uid = 0\n';
const V3 = 'version = 3\n[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]\n  SystemdCgroup = true\n';

describe('containerd-taskserv lint', { timeout: 120_000 }, () => {
  let dir: string;
  const file = (name: string, text: string): string => {
    const p = path.join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  before(() => {
    assert.ok(existsSync(path.join(ROOT, 'dist', 'cli.js')), 'dist/cli.js missing: run npm run build first');
    dir = mkdtempSync(path.join(os.tmpdir(), 'cts-cli-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('--version prints the version of package.json', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = cli(['--version']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `containerd-taskserv ${pkg.version}\n`);
  });

  it('text format: file:line:col: severity code message, exit 1 with errors', () => {
    const f = file('errors.toml', WITH_ERRORS);
    const r = cli(['lint', f]);
    assert.equal(r.status, 1, r.stderr);
    const lines = r.stdout.trim().split('\n');
    for (const l of lines) assert.match(l, /^.+:\d+:\d+: (error|warning|information|hint) containerd\/[a-z-]+ .+/, l);
    assert.ok(lines.some((l) => l.startsWith(`${f}:2:1: warning containerd/unknown-key `) && l.includes('oom_score')), r.stdout);
    assert.ok(lines.some((l) => l.startsWith(`${f}:4:20: error containerd/type-mismatch `)), r.stdout);
    assert.ok(lines.some((l) => l.startsWith(`${f}:7:3: warning containerd/misplaced-key `)), r.stdout);
    // Sorted by position.
    const pos = lines.map((l) => l.slice(f.length + 1).split(':').slice(0, 2).map(Number));
    for (let i = 1; i < pos.length; i++) assert.ok(pos[i][0] > pos[i - 1][0] || (pos[i][0] === pos[i - 1][0] && pos[i][1] >= pos[i - 1][1]));
  });

  it('json format: an array of problems with 1-based positions, exit 1 with errors', () => {
    const f = file('errors.toml', WITH_ERRORS);
    for (const args of [['--format', 'json'], ['--format=json']]) {
      const r = cli(['lint', ...args, f]);
      assert.equal(r.status, 1);
      const problems = json(r);
      assert.ok(Array.isArray(problems) && problems.length >= 3);
      const tm = problems.find((p) => p.code === 'containerd/type-mismatch');
      assert.ok(tm);
      assert.deepEqual(
        { file: tm.file, line: tm.line, column: tm.column, endLine: tm.endLine, endColumn: tm.endColumn, severity: tm.severity },
        { file: f, line: 4, column: 20, endLine: 4, endColumn: 26, severity: 'error' },
      );
      for (const p of problems) {
        assert.equal(typeof p.message, 'string');
        assert.ok(p.line >= 1 && p.column >= 1);
      }
    }
  });

  it('exit 0 with only warnings, and the warnings are still printed', () => {
    const r = cli(['lint', file('warn.toml', ONLY_WARNINGS)]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /warning containerd\/unknown-key/);
    assert.doesNotMatch(r.stdout, / error /);
  });

  it('exit 0 and no output for a clean file; json prints []', () => {
    const f = file('clean.toml', CLEAN);
    const r = cli(['lint', f]);
    assert.equal(r.status, 0);
    assert.equal(r.stdout, '');
    const j = cli(['lint', '--format', 'json', f]);
    assert.equal(j.status, 0);
    assert.deepEqual(json(j), []);
  });

  it('several files: exit 1 when any has an error, problems of all files reported', () => {
    const a = file('a.toml', ONLY_WARNINGS);
    const b = file('b.toml', WITH_ERRORS);
    const r = cli(['lint', '--format', 'json', a, b]);
    assert.equal(r.status, 1);
    const files = new Set(json(r).map((p) => p.file));
    assert.deepEqual([...files].sort(), [a, b].sort());
  });

  it('reads stdin for "-"', () => {
    const r = cli(['lint', '-'], WITH_ERRORS);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /^-:4:20: error containerd\/type-mismatch/m);
  });

  it('usage errors and missing files exit 2 with a message on stderr', () => {
    const cases: [string[], RegExp][] = [
      [['lint'], /at least one FILE/],
      [['lint', '--bogus', 'x.toml'], /unknown option --bogus/],
      [['lint', '--format', 'xml', 'x.toml'], /--format takes text or json/],
      [['lint', '--containerd-version'], /needs a release/],
      [['lint', path.join(dir, 'does-not-exist.toml')], /cannot read .*does-not-exist\.toml: ENOENT/],
      [['lint', '--containerd-version', 'banana', file('c.toml', CLEAN)], /not a containerd release/],
      [['frobnicate'], /unknown command/],
      [['lsp'], /lsp needs --stdio/],
    ];
    for (const [args, msg] of cases) {
      const r = cli(args);
      assert.equal(r.status, 2, `${args.join(' ')} → ${r.status}\n${r.stderr}`);
      assert.match(r.stderr, msg, args.join(' '));
      assert.equal(r.stdout, '', `${args.join(' ')} printed on stdout`);
    }
  });

  it('a directory as FILE is an I/O problem (exit 2), not a crash', () => {
    const r = cli(['lint', dir]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /cannot read/);
  });

  it('--containerd-version: version = 3 is an error for 1.7.20 and fine for 2.1', () => {
    const f = file('v3.toml', V3);
    const old = cli(['lint', '--format', 'json', '--containerd-version', '1.7.20', f]);
    assert.equal(old.status, 1, old.stdout);
    const unsupported = json(old).filter((p) => p.code === 'containerd/unsupported-version');
    assert.equal(unsupported.length, 1);
    assert.equal(unsupported[0].line, 1);
    assert.equal(unsupported[0].severity, 'error');
    assert.match(unsupported[0].message, /1\.7\.20/);

    for (const args of [['--containerd-version', '2.1'], ['--containerd-version=2.1']]) {
      const ok = cli(['lint', '--format', 'json', ...args, f]);
      assert.equal(ok.status, 0, ok.stdout);
      assert.deepEqual(json(ok).filter((p) => p.severity === 'error'), []);
    }
    // Without the option a version 3 file targets 2.x.
    assert.equal(cli(['lint', f]).status, 0);
  });

  it('--containerd-version changes release-dependent results of a version 2 file', () => {
    // no_pivot is deprecated in 1.7 and removed in 2.0: 1.7 warns it is deprecated, 2.1 that it is ignored.
    const f = file('v2.toml', 'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd]\n  no_pivot = true\n');
    const on17 = json(cli(['lint', '--format', 'json', '--containerd-version', '1.7', f]));
    const on21 = json(cli(['lint', '--format', 'json', '--containerd-version', '2.1', f]));
    assert.notDeepEqual(on17.map((p) => p.code + p.message), on21.map((p) => p.code + p.message));
    assert.ok(on21.some((p) => /2\.1/.test(p.message)), JSON.stringify(on21));
  });

  it('a `# containerd: X.Y` pin in the file wins over --containerd-version', () => {
    const f = file('pinned.toml', '# containerd: 2.1\n' + V3);
    const r = cli(['lint', '--format', 'json', '--containerd-version', '1.7.20', f]);
    assert.equal(r.status, 0, r.stdout);
  });

  it('the real-world corpus: files expected valid have no errors, invalid ones do', { skip: !existsSync(path.join(CORPUS, 'MANIFEST.json')) }, () => {
    const manifest = JSON.parse(readFileSync(path.join(CORPUS, 'MANIFEST.json'), 'utf8')) as { file: string; expectation: string }[];
    const files = readdirSync(CORPUS).filter((f) => f.endsWith('.toml'));
    assert.ok(files.length >= 10);
    const r = cli(['lint', '--format', 'json', ...files.map((f) => path.join(CORPUS, f))]);
    assert.ok(r.status === 0 || r.status === 1, r.stderr);
    const problems = json(r);
    for (const m of manifest) {
      const errors = problems.filter((p) => path.basename(p.file) === m.file && p.severity === 'error');
      if (/^valid/.test(m.expectation)) assert.deepEqual(errors.map((e) => `${e.line}: ${e.code} ${e.message}`), [], `${m.file} (${m.expectation})`);
      else if (/^invalid/.test(m.expectation)) assert.ok(errors.length > 0, `${m.file} (${m.expectation}) has no error`);
    }
  });

  it('version and help', () => {
    const v = cli(['version']);
    assert.equal(v.status, 0);
    assert.match(v.stdout, /^containerd-taskserv \d+\.\d+\.\d+/);
    const h = cli(['--help']);
    assert.equal(h.status, 0);
    assert.match(h.stdout, /lint \[--format text\|json\]/);
  });
});
