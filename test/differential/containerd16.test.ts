/**
 * Differential test against the real containerd 1.6 (Debian's `containerd` package).
 *
 * `containerd --config FILE config dump` parses FILE exactly like the daemon does (go-toml v1 into
 * the server and plugin config structs) and prints the merged result without starting anything.
 * A key that containerd reads shows up in the dump with the value we wrote; a key that containerd
 * ignores does not show up at all. That gives us ground truth for two claims of our schema/linter:
 *
 *   1. applied keys — every v2-schema key that the schema says exists in this containerd release is
 *      really read by it (set to a non-default value, it comes back in the dump), and our linter
 *      reports no error and no `containerd/unknown-key` on those files;
 *   2. dropped keys — for planted unknown / misplaced keys and an unknown plugin table, the set of
 *      keys our linter flags equals the set containerd dropped.
 *   3. notes — schema keys that exist in 1.7 but not in this 1.6 (not exercised), keys from later 1.6
 *      patches (checked to be dropped by this binary), 1.6 defaults that differ from the schema's.
 *
 * Needs `containerd` on PATH (apt-get install containerd). Without it the test is skipped, or fails
 * when CI=true. See test/differential/README.md.
 */
import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseTOML, getStaticTOMLValue } from 'toml-eslint-parser';
import {
  availability, collectLeaves, ContainerdVersion, dumpMatches, expandPlaceholders, GeneratedFile, getAt,
  isDuration, Leaf, lineOf, pack, parseContainerdVersion, parseGoDuration, Path, Plan, planFor, renderToml,
  RenderedToml, SchemaNode, show, TomlValue,
} from './genconfig';

const ROOT = path.resolve(__dirname, '../../..');
const SCHEMA_FILE = path.join(ROOT, 'schemas', 'containerd-config-v2.schema.json');
const CLI = path.join(ROOT, 'bin', 'containerd-taskserv');
const INSTALL_HINT = "install Debian's containerd package: apt-get install containerd";
const DUMP_TIMEOUT_MS = 20_000;
const LINT_TIMEOUT_MS = 60_000;
/** Linter codes that mean "containerd does not read this". */
const DROP_CODES = new Set(['containerd/unknown-key', 'containerd/misplaced-key', 'containerd/unknown-plugin']);

// ---------------------------------------------------------------------------------------------
// Keys we do not exercise through a plain `config dump`, and why.

interface Exclusion {
  /** The key(s) as written in the schema (`<name>` map slots, `*` = everything below). */
  key: string;
  reason: string;
  /** Extra predicate (for rules that are not a path). */
  match?: (leaf: Leaf) => boolean;
  /** Plugin ID that must be absent from a dump of an empty file (re-checked on every run). */
  pluginNotBuilt?: string;
}

const EXCLUSIONS: Exclusion[] = [
  {
    key: 'imports',
    reason: 'needs the imported files to exist (a missing non-glob import is fatal), and `config dump` prints the list of ' +
      'files it actually loaded (including the main file itself), not the value written; globs are expanded',
  },
  {
    key: 'plugins."io.containerd.internal.v1.tracing".*',
    reason: "plugin not compiled into Debian's build (absent from `config dump` of an empty file), so its table is never decoded",
    pluginNotBuilt: 'io.containerd.internal.v1.tracing',
  },
  {
    key: 'plugins."io.containerd.tracing.processor.v1.otlp".*',
    reason: "plugin not compiled into Debian's build (absent from `config dump` of an empty file), so its table is never decoded",
    pluginNotBuilt: 'io.containerd.tracing.processor.v1.otlp',
  },
  {
    key: '(every key with x-containerd.platforms = ["windows"]: the runhcs options of each runtime table)',
    reason: 'Windows-only (hcsshim runhcs options). On Linux `options` is an opaque map in 1.6, so the dump would echo ' +
      'anything written there — it proves nothing about these keys',
    match: (leaf) => {
      const p = leaf.xc.platforms;
      return Array.isArray(p) && p.length > 0 && !p.includes('linux');
    },
  },
];

function exclusionFor(leaf: Leaf): Exclusion | undefined {
  const display = normalise(leaf.display);
  return EXCLUSIONS.find((e) => {
    if (e.match) return e.match(leaf);
    if (e.key.endsWith('.*')) return display.startsWith(normalise(e.key.slice(0, -1)));
    return display === normalise(e.key);
  });
}

function normalise(p: string): string {
  return p.replace(/'/g, '"');
}

// ---------------------------------------------------------------------------------------------
// Environment

function findOnPath(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

const CONTAINERD = findOnPath('containerd');
const SKIP: string | false = CONTAINERD ? false : `containerd not found on PATH (${INSTALL_HINT})`;

interface ExecResult { code: number; stdout: string; stderr: string; ms: number }

function run(cmd: string, args: string[], timeout: number, cwd?: string): Promise<ExecResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout, maxBuffer: 64 * 1024 * 1024, cwd, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) + (err && code === -1 ? `\n${err.message}` : ''), ms: Date.now() - started });
    });
  });
}

async function dump(file: string): Promise<Record<string, unknown>> {
  const r = await run(CONTAINERD as string, ['--config', file, 'config', 'dump'], DUMP_TIMEOUT_MS, path.dirname(file));
  if (r.code !== 0) {
    throw new Error(`containerd --config ${file} config dump failed (exit ${r.code}):\n${r.stderr}\n--- file ---\n${fs.readFileSync(file, 'utf8')}`);
  }
  return getStaticTOMLValue(parseTOML(r.stdout)) as Record<string, unknown>;
}

interface Diagnostic {
  file: string; line: number; column: number; endLine: number; endColumn: number;
  severity: 'error' | 'warning' | 'information' | 'hint'; code: string; message: string;
}

const CLI_AVAILABLE = fs.existsSync(CLI);

async function lint(file: string, target = '1.6'): Promise<Diagnostic[]> {
  const r = await run(process.execPath, [CLI, 'lint', '--format', 'json', '--containerd-version', target, file], LINT_TIMEOUT_MS);
  if (r.code !== 0 && r.code !== 1) {
    throw new Error(`lint exited ${r.code}: ${r.stderr}`);
  }
  let diags: Diagnostic[];
  try {
    diags = JSON.parse(r.stdout) as Diagnostic[];
  } catch {
    throw new Error(`lint --format json did not print JSON (exit ${r.code}; is the CLI built? npm run build):\n${r.stdout.slice(0, 500)}\n${r.stderr.slice(0, 2000)}`);
  }
  assert.ok(Array.isArray(diags), 'lint --format json prints an array');
  const hasError = diags.some((d) => d.severity === 'error');
  assert.equal(r.code, hasError ? 1 : 0, `lint exit code must be 1 exactly when there are errors (stderr: ${r.stderr})`);
  return diags;
}

function requireCli(): void {
  assert.ok(CLI_AVAILABLE, `${CLI} is missing: build the CLI first (npm run build)`);
}

const fmtDiag = (d: Diagnostic): string => `${d.line}:${d.column} ${d.severity} ${d.code} ${d.message}`;

// ---------------------------------------------------------------------------------------------
// Shared state (tests run in order within this file)

interface KeyCase {
  plan: Plan;
  file: GeneratedFile;
  rendered: RenderedToml;
  filePath: string;
}

const state: {
  version?: ContainerdVersion;
  versionText?: string;
  scratch?: string;
  schema?: SchemaNode;
  baseline?: Record<string, unknown>;
  leaves: Leaf[];
  excluded: { leaf: Leaf; exclusion: Exclusion }[];
  notInSeries: Leaf[];
  notInPatch: Leaf[];
  cases: KeyCase[];
  files: { file: GeneratedFile; rendered: RenderedToml; filePath: string; dump?: Record<string, unknown> }[];
  started: number;
} = { leaves: [], excluded: [], notInSeries: [], notInPatch: [], cases: [], files: [], started: Date.now() };

function scratchDir(): string {
  if (!state.scratch) state.scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'ctd-difftest-'));
  return state.scratch;
}

/** Content for the files that generated values point at (so nothing is "missing"). */
function fileContent(p: string): string {
  if (p.endsWith('base-spec.json')) return JSON.stringify({ ociVersion: '1.0.2-dev', process: { cwd: '/' }, root: { path: 'rootfs' } }, null, 2);
  if (p.endsWith('.json')) return '{"cniVersion":"0.4.0","name":"difftest","plugins":[]}\n';
  if (p.endsWith('.yaml')) return 'rdt: {}\n';
  if (p.endsWith('.toml')) return '# difftest\n';
  return '-----BEGIN CERTIFICATE-----\nZGlmZnRlc3Q=\n-----END CERTIFICATE-----\n';
}

function expandPlan(plan: Plan, dir: string, files: Set<string>): Plan {
  return {
    ...plan,
    value: expandPlaceholders(plan.value, dir, files),
    requires: plan.requires.map((a) => ({ path: a.path, value: expandPlaceholders(a.value, dir, files) })),
  };
}

// ---------------------------------------------------------------------------------------------

test('containerd 1.6 differential: setup', { skip: SKIP }, async () => {
  if (!CONTAINERD) return;
  state.versionText = execFileSync(CONTAINERD, ['--version'], { encoding: 'utf8', timeout: DUMP_TIMEOUT_MS }).trim();
  const v = parseContainerdVersion(state.versionText);
  assert.ok(v, `cannot parse \`containerd --version\`: ${state.versionText}`);
  assert.equal(`${v.major}.${v.minor}`, '1.6', `this test is for containerd 1.6; found ${state.versionText}`);
  state.version = v;

  assert.ok(fs.existsSync(SCHEMA_FILE), `${SCHEMA_FILE} is missing (npm run gen)`);
  state.schema = JSON.parse(fs.readFileSync(SCHEMA_FILE, 'utf8')) as SchemaNode;

  const dir = scratchDir();
  const empty = path.join(dir, 'empty.toml');
  fs.writeFileSync(empty, 'version = 2\n');
  state.baseline = await dump(empty);

  // Re-check the "plugin not built" exclusions against this binary.
  const plugins = (state.baseline.plugins ?? {}) as Record<string, unknown>;
  for (const e of EXCLUSIONS) {
    if (e.pluginNotBuilt) {
      assert.ok(!(e.pluginNotBuilt in plugins), `${e.pluginNotBuilt} is now built into this containerd: exercise its keys instead of excluding them`);
    }
  }

  state.leaves = collectLeaves(state.schema);
  const plans: Plan[] = [];
  for (const leaf of state.leaves) {
    const a = availability(leaf.xc.versions, v);
    if (a === 'not-in-series') { state.notInSeries.push(leaf); continue; }
    const ex = exclusionFor(leaf);
    if (ex) { state.excluded.push({ leaf, exclusion: ex }); continue; }
    if (a === 'not-in-patch') { state.notInPatch.push(leaf); continue; }
    plans.push(planFor(leaf));
  }
  assert.ok(plans.length > 100, `only ${plans.length} keys to exercise: is the schema walk broken?`);

  const files = new Set<string>();
  const expanded = plans.map((p) => expandPlan(p, dir, files));
  for (const f of files) if (!fs.existsSync(f)) fs.writeFileSync(f, fileContent(f));
  for (const file of pack(expanded, [{ path: ['version'], value: 2 }], 'applied')) {
    const rendered = renderToml(file.root);
    const filePath = path.join(dir, file.name);
    fs.writeFileSync(filePath, rendered.text);
    state.files.push({ file, rendered, filePath });
    for (const plan of file.plans) state.cases.push({ plan, file, rendered, filePath });
  }
});

test('containerd 1.6 differential: every 1.6 key of the v2 schema is applied by `config dump`', { skip: SKIP }, async (t) => {
  assert.ok(state.version && state.baseline, 'setup failed');
  await Promise.all(state.files.map(async (f) => { f.dump = await dump(f.filePath); }));
  const baseline = state.baseline;
  let applied = 0;
  for (const c of state.cases) {
    const { plan } = c;
    await t.test(plan.leaf.display, () => {
      const f = state.files.find((x) => x.filePath === c.filePath);
      assert.ok(f?.dump, 'no dump');
      const line = lineOf(c.rendered, plan.path);
      const where = `${path.basename(c.filePath)}:${line ?? '?'}`;
      const duration = isDuration(plan.leaf);
      // The value must be non-default for this containerd (its own default, from an empty file).
      if (plan.path[0] !== 'version') {
        const def = getAt(baseline, plan.path);
        assert.ok(!dumpMatches(plan.value, def, duration), `${where}: generated value ${show(plan.value)} equals containerd's default — generator bug`);
      }
      const got = getAt(f.dump, plan.path);
      assert.ok(dumpMatches(plan.value, got, duration), `${where}: wrote ${show(plan.value)}, config dump shows ${show(got)} at ${plan.path.join(' > ')}`);
      applied++;
    });
  }
  const secs = ((Date.now() - state.started) / 1000).toFixed(1);
  t.diagnostic(`${state.versionText}`);
  t.diagnostic(`schema leaves: ${state.leaves.length}; exercised: ${state.cases.length} in ${state.files.length} files; applied: ${applied}; ` +
    `excluded: ${state.excluded.length}; later 1.6 patches: ${state.notInPatch.length}; not in 1.6: ${state.notInSeries.length}; ${secs}s so far`);
  for (const e of EXCLUSIONS) {
    const n = state.excluded.filter((x) => x.exclusion === e).length;
    t.diagnostic(`excluded ${n} × ${e.key}: ${e.reason}`);
  }
});

test('containerd 1.6 differential: keys of later 1.6 patches are dropped by this binary', { skip: SKIP }, async (t) => {
  assert.ok(state.version, 'setup failed');
  if (state.notInPatch.length === 0) return;
  const dir = scratchDir();
  const files = new Set<string>();
  const plans = state.notInPatch.map((leaf) => expandPlan(planFor(leaf), dir, files));
  for (const f of files) if (!fs.existsSync(f)) fs.writeFileSync(f, fileContent(f));
  const packed = pack(plans, [{ path: ['version'], value: 2 }], 'later-patch');
  for (const file of packed) {
    const rendered = renderToml(file.root);
    const filePath = path.join(dir, file.name);
    fs.writeFileSync(filePath, rendered.text);
    const d = await dump(filePath);
    for (const plan of file.plans) {
      const got = getAt(d, plan.path);
      assert.ok(!dumpMatches(plan.value, got, isDuration(plan.leaf)),
        `${plan.leaf.display} (${JSON.stringify(plan.leaf.xc.versions)}) was applied by ${state.version.raw}: the schema's 1.6 range is wrong`);
    }
    requireCli();
    // Targeting the exact patch, the linter must say that each of these keys is ignored (on the key
    // line or on the header of a table that holds it); targeting just "1.6" it must not reject them.
    const exact = await lint(filePath, state.version.raw);
    const missed: string[] = [];
    for (const plan of file.plans) {
      const lines = new Set<number>();
      for (let n = plan.path.length; n > 0; n--) {
        const l = lineOf(rendered, plan.path.slice(0, n));
        if (l !== undefined) lines.add(l);
      }
      const hit = exact.some((x) => lines.has(x.line) && (x.code === 'containerd/unavailable-in-release' || DROP_CODES.has(x.code)));
      if (!hit) missed.push(`${plan.leaf.display} (lines ${[...lines].join(',')})`);
    }
    assert.deepEqual(missed, [], `--containerd-version ${state.version.raw}: keys this binary drops that the linter does not flag:\n${missed.join('\n')}`);
    const loose = await lint(filePath, '1.6');
    const rejected = loose.filter((x) => x.severity === 'error' || DROP_CODES.has(x.code)).map(fmtDiag);
    assert.deepEqual(rejected, [], `--containerd-version 1.6 must accept keys of later 1.6 patches:\n${rejected.join('\n')}`);
  }
  t.diagnostic(`not in ${state.version.raw} (added in a later 1.6 patch, dropped by this binary): ` +
    state.notInPatch.map((l) => `${l.display} [${l.xc.versions?.['1.6']}]`).join(', '));
});

test('containerd 1.6 differential: linter reports no error and no unknown-key on the applied-key files', { skip: SKIP }, async (t) => {
  requireCli();
  assert.ok(state.files.length, 'setup failed');
  const results = await Promise.all(state.files.map(async (f) => ({ f, diags: await lint(f.filePath) })));
  const problems: string[] = [];
  for (const { f, diags } of results) {
    const keyAtLine = new Map<number, string>();
    for (const plan of f.file.plans) {
      const l = lineOf(f.rendered, plan.path);
      if (l !== undefined) keyAtLine.set(l, plan.leaf.display);
    }
    for (const d of diags) {
      const key = keyAtLine.get(d.line) ?? '(context line)';
      if (d.severity === 'error' || d.code === 'containerd/unknown-key') problems.push(`${path.basename(f.filePath)} ${key}: ${fmtDiag(d)}`);
      else t.diagnostic(`${path.basename(f.filePath)} ${key}: ${fmtDiag(d)}`);
    }
  }
  assert.deepEqual(problems, [], `the linter rejects keys that containerd ${state.version?.raw} applies:\n${problems.join('\n')}`);
});

// ---------------------------------------------------------------------------------------------
// Dropped keys

interface Planted {
  label: string;
  /** The lines the item occupies (key line; for a table, header and key lines). */
  lines: number[];
  /** True when containerd kept (read) the item, judged from the dump. */
  kept: (dump: Record<string, unknown>) => boolean;
}

const present = (p: Path) => (d: Record<string, unknown>): boolean => getAt(d, p) !== undefined;
const hasValue = (p: Path, v: TomlValue) => (d: Record<string, unknown>): boolean => dumpMatches(v, getAt(d, p), false);

/** Builds a TOML file line by line, recording planted items. */
class PlantedFile {
  readonly lines: string[] = [];
  readonly items: Planted[] = [];
  add(text: string): number {
    this.lines.push(text);
    return this.lines.length;
  }
  plant(text: string, label: string, kept: Planted['kept'], extraLines: number[] = []): void {
    const line = this.add(text);
    this.items.push({ label, lines: [...extraLines, line], kept });
  }
  get text(): string { return this.lines.join('\n') + '\n'; }
}

const CRI = 'io.containerd.grpc.v1.cri';

function plantedCore(): PlantedFile {
  const f = new PlantedFile();
  f.add('version = 2');
  f.plant('bogus_key = "x"', 'bogus_key at the top level', present(['bogus_key']));
  f.add('oom_score = -999');
  f.add('');
  f.add('[grpc]');
  f.add('  max_recv_message_size = 33554432');
  f.plant('  bogus_key = 1', 'bogus_key in [grpc]', present(['grpc', 'bogus_key']));
  f.add('');
  f.add('[debug]');
  f.add('  level = "debug"');
  f.plant('  max_recv_message_size = 33554432', 'max_recv_message_size under [debug] (belongs in [grpc])', present(['debug', 'max_recv_message_size']));
  f.add('');
  f.add(`[plugins."${CRI}"]`);
  f.add('  sandbox_image = "registry.example.com/pause:3.9"');
  f.plant('  bogus_key = 1', `bogus_key in [plugins."${CRI}"]`, present(['plugins', CRI, 'bogus_key']));
  f.add('');
  f.add(`[plugins."${CRI}".containerd]`);
  f.add('  snapshotter = "native"');
  f.plant('  sandbox_image = "registry.example.com/pause:3.10"', 'sandbox_image under .containerd (belongs in the CRI plugin table)',
    present(['plugins', CRI, 'containerd', 'sandbox_image']));
  f.add('');
  f.add(`[plugins."${CRI}".containerd.runtimes.runc]`);
  f.add('  runtime_type = "io.containerd.runc.v2"');
  f.plant('  SystemdCgroup = true', 'SystemdCgroup directly under runtimes.runc (belongs in .options)',
    present(['plugins', CRI, 'containerd', 'runtimes', 'runc', 'SystemdCgroup']));
  f.add('');
  f.add(`[plugins."${CRI}".containerd.runtimes.runc.options]`);
  f.add('  BinaryName = "/usr/local/sbin/runc"');
  f.add('');
  const header = f.add(`[plugins."${CRI}i"]`);
  f.plant('  sandbox_image = "registry.example.com/pause:3.9"', `[plugins."${CRI}i"] (unknown plugin ID)`,
    present(['plugins', `${CRI}i`]), [header]);
  f.add('');
  f.add('[proxy_plugins.example]');
  f.add('  type = "snapshot"');
  f.add('  address = "/run/example.sock"');
  f.plant('  bogus_key = 1', 'bogus_key in a proxy_plugins entry', present(['proxy_plugins', 'example', 'bogus_key']));
  return f;
}

/**
 * go-toml v1 (containerd 1.x) finds a struct field by trying the tag as written, lower case,
 * UPPER CASE and lowerFirst — so `ADDRESS` is read but `Address` is dropped (2.x accepts any case).
 */
function plantedCase(): PlantedFile {
  const f = new PlantedFile();
  f.add('version = 2');
  f.add('');
  f.add('[ttrpc]');
  f.plant('  ADDRESS = "/run/containerd/upper.sock.ttrpc"', 'ADDRESS in [ttrpc] (upper-case variant of address)',
    hasValue(['ttrpc', 'address'], '/run/containerd/upper.sock.ttrpc'));
  f.add('');
  f.add('[metrics]');
  f.plant('  Address = "127.0.0.1:1338"', 'Address in [metrics] (capitalised variant of address)', hasValue(['metrics', 'address'], '127.0.0.1:1338'));
  f.add('');
  f.add('[debug]');
  f.plant('  LEVEL = "debug"', 'LEVEL in [debug]', hasValue(['debug', 'level'], 'debug'));
  f.plant('  Uid = 1000', 'Uid in [debug]', hasValue(['debug', 'uid'], 1000));
  f.add('');
  f.add(`[plugins."${CRI}"]`);
  f.plant('  SANDBOX_IMAGE = "registry.example.com/pause:3.9"', 'SANDBOX_IMAGE in the CRI plugin table',
    hasValue(['plugins', CRI, 'sandbox_image'], 'registry.example.com/pause:3.9'));
  f.plant('  Enable_Selinux = true', 'Enable_Selinux in the CRI plugin table', hasValue(['plugins', CRI, 'enable_selinux'], true));
  return f;
}

async function droppedVsFlagged(t: { diagnostic: (m: string) => void }, name: string, pf: PlantedFile): Promise<void> {
  const filePath = path.join(scratchDir(), name);
  fs.writeFileSync(filePath, pf.text);
  const d = await dump(filePath);
  const dropped = pf.items.filter((i) => !i.kept(d)).map((i) => i.label).sort();
  const keptItems = pf.items.filter((i) => i.kept(d)).map((i) => i.label).sort();
  t.diagnostic(`${name}: containerd dropped ${dropped.length}: ${dropped.join('; ')}`);
  t.diagnostic(`${name}: containerd kept ${keptItems.length}: ${keptItems.join('; ') || '-'}`);
  requireCli();
  const diags = await lint(filePath);
  const flaggedLines = new Set(diags.filter((x) => DROP_CODES.has(x.code)).map((x) => x.line));
  const flagged = pf.items.filter((i) => i.lines.some((l) => flaggedLines.has(l))).map((i) => i.label).sort();
  const plantedLines = new Set(pf.items.flatMap((i) => i.lines));
  const stray = diags.filter((x) => DROP_CODES.has(x.code) && !plantedLines.has(x.line)).map(fmtDiag);
  for (const x of diags) t.diagnostic(`${name} lint: ${fmtDiag(x)}`);
  assert.deepEqual(stray, [], `${name}: the linter flags lines containerd reads:\n${stray.join('\n')}`);
  assert.deepEqual(flagged, dropped, `${name}: keys flagged by the linter (${DROP_CODES.size} codes) ≠ keys dropped by containerd ${state.version?.raw}`);
}

test('containerd 1.6 differential: planted unknown/misplaced keys — linter flags exactly what containerd drops', { skip: SKIP }, async (t) => {
  await droppedVsFlagged(t, 'planted-core.toml', plantedCore());
});

test('containerd 1.6 differential: key case variants (go-toml v1 lookup) — linter flags exactly what containerd drops', { skip: SKIP }, async (t) => {
  await droppedVsFlagged(t, 'planted-case.toml', plantedCase());
});

// ---------------------------------------------------------------------------------------------
// Files containerd refuses: the linter must report an error

const FATAL_CASES: { name: string; text: string }[] = [
  { name: 'wrong value type (stream_server_port is a string)', text: `version = 2\n[plugins."${CRI}"]\n  stream_server_port = 10010\n` },
  { name: 'duration given as a non-zero integer', text: 'version = 2\n[plugins."io.containerd.gc.v1.scheduler"]\n  startup_delay = 10\n' },
  { name: 'short plugin name in disabled_plugins with version 2', text: 'version = 2\ndisabled_plugins = ["cri"]\n' },
  // 1.6 registers proxy plugins only for type snapshot/content; anything else (or no type) leaves
  // the registration without a type and plugin.Register panics: "panic: plugin: no type".
  { name: 'proxy plugin without type', text: 'version = 2\n[proxy_plugins.example]\n  address = "/run/example.sock"\n' },
  { name: 'proxy plugin of type "diff" (1.7.4+)', text: 'version = 2\n[proxy_plugins.example]\n  type = "diff"\n  address = "/run/example.sock"\n' },
];

test('containerd 1.6 differential: files containerd refuses get a linter error', { skip: SKIP }, async (t) => {
  const dir = scratchDir();
  const problems: string[] = [];
  await Promise.all(FATAL_CASES.map(async (c, i) => {
    const filePath = path.join(dir, `fatal-${i + 1}.toml`);
    fs.writeFileSync(filePath, c.text);
    const r = await run(CONTAINERD as string, ['--config', filePath, 'config', 'dump'], DUMP_TIMEOUT_MS, dir);
    const why = (r.stderr.match(/(panic: .*|level=fatal msg=.*|failed to load TOML.*|.*invalid.*)/) ?? [r.stderr.trim().split('\n').pop() ?? ''])[0];
    assert.notEqual(r.code, 0, `${c.name}: containerd accepted it — case is wrong`);
    t.diagnostic(`${c.name}: containerd exit ${r.code}: ${why}`);
    if (!CLI_AVAILABLE) return;
    const diags = await lint(filePath);
    if (!diags.some((d) => d.severity === 'error')) {
      problems.push(`${c.name}: no error from the linter (got: ${diags.map(fmtDiag).join(' | ') || 'nothing'})`);
    }
  }));
  requireCli();
  assert.deepEqual(problems, [], `files containerd ${state.version?.raw ?? ''} refuses, without a linter error:\n${problems.join('\n')}`);
});

// ---------------------------------------------------------------------------------------------
// Notes: 1.6 vs 1.7

test('containerd 1.6 differential: notes on 1.6 vs 1.7', { skip: SKIP }, (t) => {
  assert.ok(state.version && state.baseline, 'setup failed');
  const only17 = state.notInSeries.filter((l) => l.xc.versions && '1.7' in l.xc.versions).map((l) => `${l.display} [1.7: ${l.xc.versions?.['1.7']}]`);
  t.diagnostic(`not in 1.6: ${only17.length} keys of the v2 schema exist in 1.7 only and were not exercised: ${only17.join(', ')}`);
  // Defaults: what this 1.6 binary uses vs the schema's `default` (documented for the latest release of the config version).
  const diffs: string[] = [];
  for (const c of state.cases) {
    const def = c.plan.leaf.node.default;
    if (def === undefined || c.plan.path[0] === 'version' || JSON.stringify(def).includes('<')) continue;
    if (c.plan.path.some((s) => typeof s === 'number')) continue;
    if (c.plan.leaf.segs.some((s) => 'map' in s)) continue;
    const actual = getAt(state.baseline, c.plan.path);
    if (actual === undefined) continue;
    const dur = isDuration(c.plan.leaf);
    const same = dur && typeof def === 'string' && typeof actual === 'string'
      ? parseGoDuration(def) === parseGoDuration(actual)
      : JSON.stringify(def) === JSON.stringify(actual);
    if (!same) diffs.push(`${c.plan.leaf.display}: ${state.version.raw} ${show(actual)} vs schema ${show(def)}`);
  }
  t.diagnostic(`defaults that differ between ${state.version.raw} and the schema: ${diffs.join('; ') || 'none'}`);
  t.diagnostic(`total time ${((Date.now() - state.started) / 1000).toFixed(1)}s; scratch files in ${state.scratch} (kept only with DIFFTEST_KEEP=1)`);
});

after(() => {
  if (state.scratch && process.env.DIFFTEST_KEEP !== '1') fs.rmSync(state.scratch, { recursive: true, force: true });
});

if (SKIP && process.env.CI === 'true') {
  test('containerd 1.6 differential: containerd is required in CI', () => {
    assert.fail(`containerd is not installed: ${INSTALL_HINT}`);
  });
}
