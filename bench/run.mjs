#!/usr/bin/env node
// Performance benchmark (a script, not a test): `npm run bench` builds, then runs this.
//
// On the same generated documents, in one run:
//   - diagnostics (parse + validate) in-process through the bundled language service, for a
//     typical ~300-line config and a ~10,000-line one: median and p95 after warm-up;
//   - completion latency over stdio against the real server (dist/server.js): p50 / p99 of
//     hundreds of requests at varied positions (on an unchanged document, and while typing:
//     didChange + completion, which includes the re-parse);
//   - server start-up: spawn → initialize response, median over 10 spawns;
//   - server RSS after opening 50 documents (/proc/PID/status VmRSS);
//   - taplo (@taplo/lib) linting the same two documents against OUR JSON schema
//     (schemas/containerd-config-v2.schema.json), and the ratio ours / taplo.
// Prints a table with the goals and writes bench/results.json (committed: the last recorded run).
//
// Environment: BENCH_QUICK=1 runs fewer iterations (smoke test of the script itself).

import * as esbuild from 'esbuild';
import { createRequire } from 'node:module';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const QUICK = !!process.env.BENCH_QUICK;
const started = performance.now();

process.env.CONTAINERD_TASKSERV_ROOT = root; // lspClient's ROOT when bundled outside out/test/protocol
const SERVER_JS = join(root, 'dist', 'server.js');
if (!existsSync(SERVER_JS)) {
  console.error('dist/server.js is missing: run `npm run build` first (or `npm run bench`, which builds).');
  process.exit(2);
}
const RESEARCH = resolve(root, '../shared/research/containerd');
const DEFAULTS = join(RESEARCH, 'defaults');
const CORPUS = join(RESEARCH, 'corpus');
if (!existsSync(join(DEFAULTS, 'containerd-1.7-default.RECONSTRUCTED.toml'))) {
  console.error(`${DEFAULTS}/containerd-1.7-default.RECONSTRUCTED.toml is missing: the benchmark documents are generated from it.`);
  process.exit(2);
}

// ------------------------------------------------------------------------------ bundle the TS bits

const entryOut = join(root, 'out', 'bench', 'entry.js');
await esbuild.build({
  entryPoints: [join(root, 'bench', 'entry.ts')],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  outfile: entryOut,
  logLevel: 'warning',
  absWorkingDir: root,
});
const { LanguageService, TextDocument, LspClient, itemsOf } = require(entryOut);

// ------------------------------------------------------------------------------ helpers

function mulberry32(a) {
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rng = mulberry32(20240601);
const int = (n) => Math.floor(rng() * n);

function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1));
  return s[i];
}
const median = (xs) => quantile(xs, 0.5);
const round = (x, d = 2) => (Number.isFinite(x) ? Number(x.toFixed(d)) : null);
const lineCount = (t) => t.split('\n').length - (t.endsWith('\n') ? 1 : 0);
const log = (s) => process.stderr.write(s + '\n');

// ------------------------------------------------------------------------------ documents

const CRI = 'plugins."io.containerd.grpc.v1.cri"';
const runtimeBlock = (name) => `
      [${CRI}.containerd.runtimes.${name}]
        runtime_type = "io.containerd.runc.v2"
        privileged_without_host_devices = false
        pod_annotations = ["io.kubernetes.cri.*"]
        [${CRI}.containerd.runtimes.${name}.options]
          BinaryName = "/usr/local/bin/${name}"
          SystemdCgroup = true
`;
const mirrorBlock = (host) => `
      [${CRI}.registry.mirrors."${host}"]
        endpoint = ["https://${host}", "https://mirror.example.com/v2/${host}"]
`;

const base17 = readFileSync(join(DEFAULTS, 'containerd-1.7-default.RECONSTRUCTED.toml'), 'utf8')
  .replace(/SystemdCgroup = false/, 'SystemdCgroup = true');

// Typical: containerd 1.7's `config default` with the usual edits (systemd cgroups, a crun runtime, a mirror).
const DOC300 = base17 + runtimeBlock('crun') + mirrorBlock('docker.io');
// Large: the same plus many runtimes and registry mirrors, up to 10,000 lines.
let DOC10K = base17;
for (let i = 0; lineCount(DOC10K) < 10_000; i++) {
  DOC10K += i % 3 === 2 ? mirrorBlock(`registry-${i}.example.com`) : runtimeBlock(`runtime-${String(i).padStart(4, '0')}`);
}

const service = new LanguageService();
function diagnose(text, version = 1) {
  const td = TextDocument.create('file:///bench/config.toml', 'containerd-toml', version, text);
  const t0 = performance.now();
  const sd = service.prepare(td);
  const diags = service.validate(sd);
  return { ms: performance.now() - t0, diags };
}

const docs = {
  typical: { text: DOC300, lines: lineCount(DOC300), chars: DOC300.length },
  large: { text: DOC10K, lines: lineCount(DOC10K), chars: DOC10K.length },
};
for (const d of Object.values(docs)) {
  const { diags } = diagnose(d.text);
  d.ourDiagnostics = diags.length;
  d.ourErrors = diags.filter((x) => x.severity === 1).length;
}
log(`documents: typical ${docs.typical.lines} lines (${docs.typical.ourDiagnostics} diagnostics), large ${docs.large.lines} lines (${docs.large.ourDiagnostics} diagnostics)`);

// ------------------------------------------------------------------------------ 1. diagnostics in-process

function timeDiagnostics(text, warmup, runs) {
  for (let i = 0; i < warmup; i++) diagnose(text, i);
  const ms = [];
  for (let i = 0; i < runs; i++) ms.push(diagnose(text, i).ms);
  return { runs, warmup, median: median(ms), p95: quantile(ms, 0.95), min: Math.min(...ms), max: Math.max(...ms) };
}
log('diagnostics in-process …');
const diag300 = timeDiagnostics(DOC300, QUICK ? 5 : 50, QUICK ? 20 : 300);
const diag10k = timeDiagnostics(DOC10K, QUICK ? 1 : 5, QUICK ? 3 : 30);

// ------------------------------------------------------------------------------ 2. completion over stdio

/** Varied completion positions: keys (line starts, empty lines), values (after `=`), headers, mid-word. */
function completionPositions(text, n) {
  const lines = text.split('\n');
  const out = [];
  for (let guard = 0; out.length < n && guard < n * 20; guard++) {
    const line = int(lines.length);
    const l = lines[line];
    const eq = l.indexOf('=');
    const kind = int(5);
    if (kind === 0 && eq >= 0) out.push({ line, character: Math.min(l.length, eq + 2) }); // value
    else if (kind === 1 && /^\s*\[/.test(l)) out.push({ line, character: l.length - 1 }); // inside a header
    else if (kind === 2) out.push({ line, character: l.length - l.trimStart().length }); // key position
    else if (kind === 3 && l.trim() === '') out.push({ line, character: 0 }); // empty line
    else if (kind === 4 && l.length) out.push({ line, character: int(l.length + 1) }); // anywhere
  }
  return out;
}

async function timeCompletions(client, uri, positions) {
  const ms = [];
  let items = 0;
  for (const pos of positions) {
    const t0 = performance.now();
    const r = await client.completion(uri, pos);
    ms.push(performance.now() - t0);
    items += itemsOf(r).length;
  }
  return { requests: positions.length, p50: median(ms), p99: quantile(ms, 0.99), max: Math.max(...ms), meanItems: items / positions.length };
}

log('completion over stdio …');
const compClient = await LspClient.start({ timeoutMs: 60_000 });
let completion;
try {
  const uri300 = 'file:///bench/typical/config.toml';
  const uri10k = 'file:///bench/large/config.toml';
  await compClient.openAndWait(uri300, DOC300, 1, 60_000);
  await compClient.openAndWait(uri10k, DOC10K, 1, 60_000);
  await timeCompletions(compClient, uri300, completionPositions(DOC300, 30)); // warm-up
  await timeCompletions(compClient, uri10k, completionPositions(DOC10K, 10));
  const typical = await timeCompletions(compClient, uri300, completionPositions(DOC300, QUICK ? 50 : 500));
  const large = await timeCompletions(compClient, uri10k, completionPositions(DOC10K, QUICK ? 20 : 200));

  // Typing: an incremental edit, then completion right away (the server re-parses for it).
  const ms = [];
  let text = DOC300;
  let version = 1;
  const empties = DOC300.split('\n').map((l, i) => (l.trim() === '' ? i : -1)).filter((i) => i >= 0);
  let prevLine;
  for (let i = 0; i < (QUICK ? 20 : 150); i++) {
    const line = i % 2 === 0 ? empties[int(empties.length)] : prevLine;
    const td = TextDocument.create(uri300, 'toml', version, text);
    const insert = i % 2 === 0 ? 'S' : '';
    // Type a character on an empty line, then delete it again (the document stays the same size).
    const range = { start: { line: prevLine ?? line, character: 0 }, end: { line: prevLine ?? line, character: i % 2 === 0 ? 0 : 1 } };
    TextDocument.update(td, [{ range, text: insert }], ++version);
    text = td.getText();
    const t0 = performance.now();
    await compClient.changeIncremental(uri300, version, [{ range, text: insert }]);
    await compClient.completion(uri300, { line, character: insert.length });
    ms.push(performance.now() - t0);
    prevLine = i % 2 === 0 ? line : undefined;
  }
  const typing = { requests: ms.length, p50: median(ms), p99: quantile(ms, 0.99), max: Math.max(...ms) };
  completion = { typical, large, typing };
} finally {
  await compClient.shutdown();
}

// ------------------------------------------------------------------------------ 3. start-up

log('start-up …');
const startMs = [];
for (let i = 0; i < (QUICK ? 3 : 10); i++) {
  const c = await LspClient.start({ initialize: false, timeoutMs: 30_000 });
  try {
    await c.initialize();
    startMs.push(performance.now() - c.spawnedAt);
  } finally {
    await c.shutdown();
  }
}
const startup = { spawns: startMs.length, median: median(startMs), min: Math.min(...startMs), max: Math.max(...startMs) };

// ------------------------------------------------------------------------------ 4. RSS after 50 documents

function procStatus(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number((s.match(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm')) ?? [])[1]);
    return { rssMiB: kb('VmRSS') / 1024, hwmMiB: kb('VmHWM') / 1024 };
  } catch {
    return { rssMiB: NaN, hwmMiB: NaN };
  }
}
log('memory …');
const memClient = await LspClient.start({ timeoutMs: 60_000 });
let memory;
try {
  const afterInit = procStatus(memClient.pid);
  const real = [CORPUS, DEFAULTS].flatMap((d) => (existsSync(d) ? readdirSync(d).filter((f) => f.endsWith('.toml')).sort().map((f) => readFileSync(join(d, f), 'utf8')) : []));
  const texts = [];
  for (let i = 0; texts.length < 50; i++) texts.push(i < real.length ? real[i] : DOC300.replace('runtimes.crun', `runtimes.crun${i}`));
  let totalLines = 0;
  for (const [i, t] of texts.entries()) {
    totalLines += lineCount(t);
    await memClient.openAndWait(`file:///bench/mem/${i}/config.toml`, t, 1, 60_000);
  }
  const after50 = procStatus(memClient.pid);
  memory = { documents: texts.length, totalLines, rssAfterInitMiB: afterInit.rssMiB, rssAfter50MiB: after50.rssMiB, peakRssMiB: after50.hwmMiB };
} finally {
  await memClient.shutdown();
}

// ------------------------------------------------------------------------------ 5. taplo on the same documents

log('taplo …');
const schemaPath = join(root, 'schemas', 'containerd-config-v2.schema.json');
let taplo;
try {
  const { Taplo } = require('@taplo/lib');
  const env = {
    now: () => new Date(),
    envVar: () => undefined,
    envVars: () => [],
    stdErrAtty: () => false,
    stdin: async () => new Uint8Array(),
    stdout: async (b) => b.length,
    stderr: async (b) => b.length,
    glob: () => [],
    // Serves our schema (and anything else taplo asks for by file URL) from disk.
    readFile: async (p) => new Uint8Array(readFileSync(p)),
    writeFile: async () => undefined,
    urlToFilePath: (u) => (u.startsWith('file:') ? fileURLToPath(u) : u),
    isAbsolute: (p) => p.startsWith('/'),
    cwd: () => root,
    findConfigFile: () => undefined,
    fetch: { fetch: globalThis.fetch, Headers: globalThis.Headers, Request: globalThis.Request, Response: globalThis.Response },
  };
  const t0 = performance.now();
  const lib = await Taplo.initialize(env);
  const initMs = performance.now() - t0;
  const withSchema = { config: { schema: { enabled: true, url: pathToFileURL(schemaPath).href } } };
  const lint = async (text, opts) => {
    const s = performance.now();
    const r = await lib.lint(text, opts);
    return { ms: performance.now() - s, errors: r.errors.length };
  };
  const timeTaplo = async (text, opts, warmup, runs) => {
    for (let i = 0; i < warmup; i++) await lint(text, opts);
    const ms = [];
    let errors = 0;
    for (let i = 0; i < runs; i++) {
      const r = await lint(text, opts);
      ms.push(r.ms);
      errors = r.errors;
    }
    return { runs, median: median(ms), p95: quantile(ms, 0.95), errors };
  };
  const timeDecode = (text, warmup, runs) => {
    for (let i = 0; i < warmup; i++) lib.decode(text, false);
    const ms = [];
    for (let i = 0; i < runs; i++) {
      const s = performance.now();
      lib.decode(text, false);
      ms.push(performance.now() - s);
    }
    return { runs, median: median(ms) };
  };
  taplo = {
    initMs,
    schema: 'schemas/containerd-config-v2.schema.json',
    typicalSchema: await timeTaplo(DOC300, withSchema, QUICK ? 1 : 2, QUICK ? 2 : 10),
    largeSchema: await timeTaplo(DOC10K, withSchema, QUICK ? 0 : 1, QUICK ? 1 : 3),
    // lint() without a schema panics inside taplo's wasm ("not yet implemented"), so the
    // schema-less comparison is taplo's parser alone: decode() (TOML → JSON text).
    typicalSyntaxOnly: timeDecode(DOC300, 2, QUICK ? 3 : 20),
    largeSyntaxOnly: timeDecode(DOC10K, 1, QUICK ? 1 : 5),
  };
} catch (e) {
  taplo = { error: e instanceof Error ? e.message : String(e) };
  log(`taplo failed: ${taplo.error}`);
}

// ------------------------------------------------------------------------------ report

const goals = [
  { name: `diagnostics, ${docs.typical.lines}-line config (p95)`, target: '< 5 ms', value: diag300.p95, unit: 'ms', met: diag300.p95 < 5 },
  { name: `diagnostics, ${docs.large.lines}-line config (p95)`, target: '< 150 ms', value: diag10k.p95, unit: 'ms', met: diag10k.p95 < 150 },
  { name: `completion p99, ${docs.typical.lines}-line doc, stdio`, target: '< 15 ms', value: completion.typical.p99, unit: 'ms', met: completion.typical.p99 < 15 },
  { name: `completion p99, ${docs.large.lines}-line doc, stdio`, target: '< 15 ms', value: completion.large.p99, unit: 'ms', met: completion.large.p99 < 15 },
  { name: 'completion p99 while typing (didChange + completion)', target: '< 15 ms', value: completion.typing.p99, unit: 'ms', met: completion.typing.p99 < 15 },
  { name: 'start-up, spawn → initialize response (median)', target: '< 300 ms', value: startup.median, unit: 'ms', met: startup.median < 300 },
];
const ratios = {};
if (!taplo.error) {
  ratios.typical = diag300.median / taplo.typicalSchema.median;
  ratios.large = diag10k.median / taplo.largeSchema.median;
  ratios.typicalSyntaxOnly = diag300.median / taplo.typicalSyntaxOnly.median;
  ratios.largeSyntaxOnly = diag10k.median / taplo.largeSyntaxOnly.median;
  goals.push(
    { name: `faster than taplo + our schema, ${docs.typical.lines} lines (ours/taplo, medians)`, target: '< 1', value: ratios.typical, unit: '×', met: ratios.typical < 1 },
    { name: `faster than taplo + our schema, ${docs.large.lines} lines (ours/taplo, medians)`, target: '< 1', value: ratios.large, unit: '×', met: ratios.large < 1 },
  );
}

const f = (x, unit = 'ms') => (Number.isFinite(x) ? `${x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : x.toFixed(0)}${unit === '×' ? '×' : ` ${unit}`}` : 'n/a');
const rows = [
  ['measurement', 'value'],
  [`diagnostics ${docs.typical.lines} lines: median / p95 (${diag300.runs} runs)`, `${f(diag300.median)} / ${f(diag300.p95)}`],
  [`diagnostics ${docs.large.lines} lines: median / p95 (${diag10k.runs} runs)`, `${f(diag10k.median)} / ${f(diag10k.p95)}`],
  [`completion ${docs.typical.lines}-line doc: p50 / p99 (${completion.typical.requests} req)`, `${f(completion.typical.p50)} / ${f(completion.typical.p99)}`],
  [`completion ${docs.large.lines}-line doc: p50 / p99 (${completion.large.requests} req)`, `${f(completion.large.p50)} / ${f(completion.large.p99)}`],
  [`typing: didChange + completion: p50 / p99 (${completion.typing.requests})`, `${f(completion.typing.p50)} / ${f(completion.typing.p99)}`],
  [`start-up spawn → initialize: median (min–max, ${startup.spawns} spawns)`, `${f(startup.median)} (${f(startup.min)}–${f(startup.max)})`],
  [`server RSS: after initialize / after ${memory.documents} docs (peak)`, `${f(memory.rssAfterInitMiB, 'MiB')} / ${f(memory.rssAfter50MiB, 'MiB')} (${f(memory.peakRssMiB, 'MiB')})`],
];
if (!taplo.error) {
  rows.push(
    [`taplo + our schema ${docs.typical.lines} lines: median (${taplo.typicalSchema.runs} runs)`, `${f(taplo.typicalSchema.median)} → ours/taplo ${f(ratios.typical, '×')}`],
    [`taplo + our schema ${docs.large.lines} lines: median (${taplo.largeSchema.runs} runs)`, `${f(taplo.largeSchema.median)} → ours/taplo ${f(ratios.large, '×')}`],
    [`taplo parse only (decode) ${docs.typical.lines} lines: median`, `${f(taplo.typicalSyntaxOnly.median)} → ours/taplo ${f(ratios.typicalSyntaxOnly, '×')}`],
    [`taplo parse only (decode) ${docs.large.lines} lines: median`, `${f(taplo.largeSyntaxOnly.median)} → ours/taplo ${f(ratios.largeSyntaxOnly, '×')}`],
  );
} else rows.push(['taplo', `failed: ${taplo.error}`]);

const table = (rs) => {
  const w = rs[0].map((_, c) => Math.max(...rs.map((r) => String(r[c]).length)));
  return rs.map((r, i) => r.map((x, c) => String(x).padEnd(w[c])).join('  ') + (i === 0 ? '\n' + w.map((n) => '-'.repeat(n)).join('  ') : '')).join('\n');
};
console.log(`\ncontainerd-taskserv benchmark — node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? '?'}\n`);
console.log(table(rows));
console.log('');
console.log(table([['goal', 'target', 'measured', 'met'], ...goals.map((g) => [g.name, g.target, f(g.value, g.unit), g.met ? 'yes' : 'NO'])]));
if (!taplo.error) {
  console.log(`\nnotes: taplo's lint() loads and compiles the schema file (${(readFileSync(schemaPath).length / 1024).toFixed(0)} KiB) on every call; ` +
    `"parse only" is taplo's decode() (parse + JSON), since its lint() panics without a schema. Errors on the same documents — ours: ${docs.typical.ourErrors} / ${docs.large.ourErrors}, ` +
    `taplo + schema: ${taplo.typicalSchema.errors} / ${taplo.largeSchema.errors}.`);
}

const results = {
  recordedAt: new Date().toISOString(),
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
  cpu: `${cpus().length} × ${cpus()[0]?.model ?? '?'}`,
  memoryGiB: round(totalmem() / 2 ** 30, 1),
  quick: QUICK,
  documents: {
    typical: { lines: docs.typical.lines, chars: docs.typical.chars, ourDiagnostics: docs.typical.ourDiagnostics, ourErrors: docs.typical.ourErrors },
    large: { lines: docs.large.lines, chars: docs.large.chars, ourDiagnostics: docs.large.ourDiagnostics, ourErrors: docs.large.ourErrors },
  },
  diagnosticsMs: {
    typical: { median: round(diag300.median, 3), p95: round(diag300.p95, 3), min: round(diag300.min, 3), max: round(diag300.max, 3), runs: diag300.runs },
    large: { median: round(diag10k.median), p95: round(diag10k.p95), min: round(diag10k.min), max: round(diag10k.max), runs: diag10k.runs },
  },
  completionMs: Object.fromEntries(Object.entries(completion).map(([k, v]) => [k, Object.fromEntries(Object.entries(v).map(([a, b]) => [a, round(b, 3)]))])),
  startupMs: { median: round(startup.median, 1), min: round(startup.min, 1), max: round(startup.max, 1), spawns: startup.spawns },
  memory: { ...memory, rssAfterInitMiB: round(memory.rssAfterInitMiB, 1), rssAfter50MiB: round(memory.rssAfter50MiB, 1), peakRssMiB: round(memory.peakRssMiB, 1) },
  taplo: taplo.error ? taplo : {
    initMs: round(taplo.initMs, 1),
    schema: taplo.schema,
    typicalWithSchema: { median: round(taplo.typicalSchema.median, 2), p95: round(taplo.typicalSchema.p95, 2), runs: taplo.typicalSchema.runs, errors: taplo.typicalSchema.errors },
    largeWithSchema: { median: round(taplo.largeSchema.median, 1), p95: round(taplo.largeSchema.p95, 1), runs: taplo.largeSchema.runs, errors: taplo.largeSchema.errors },
    typicalSyntaxOnly: { median: round(taplo.typicalSyntaxOnly.median, 2), runs: taplo.typicalSyntaxOnly.runs },
    largeSyntaxOnly: { median: round(taplo.largeSyntaxOnly.median, 1), runs: taplo.largeSyntaxOnly.runs },
    ratiosOursOverTaplo: Object.fromEntries(Object.entries(ratios).map(([k, v]) => [k, round(v, 4)])),
  },
  goals: goals.map((g) => ({ name: g.name, target: g.target, value: round(g.value, 3), unit: g.unit, met: g.met })),
  durationS: 0,
};
results.durationS = round((performance.now() - started) / 1000, 1);
const out = join(dirname(fileURLToPath(import.meta.url)), 'results.json');
if (!QUICK) writeFileSync(out, JSON.stringify(results, null, 2) + '\n');
console.log(`\n${QUICK ? 'quick run: results not written' : `results written to ${out}`} (${results.durationS} s)`);
