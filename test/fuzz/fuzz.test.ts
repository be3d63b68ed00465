// Fuzzing: thousands of mutated real-world configs through
//   1. the language service in-process (fast, exceptions with stack traces, output invariants), and
//   2. the REAL server over stdio (dist/server.js): didOpen + didChange, then completion, hover,
//      documentSymbol, foldingRange and codeAction at random positions.
//
// Deterministic: a seeded PRNG (mulberry32); each document gets its own generator derived from
// (seed, iteration), so one failing case replays alone with FUZZ_SEED=<seed> FUZZ_ONLY=<iteration>.
//   FUZZ_SEED              seed (default: random, printed; fixed when CI=true)
//   FUZZ_ITERATIONS        documents sent over stdio (default 2000)
//   FUZZ_INPROC_ITERATIONS extra documents through the in-process service only (default FUZZ_ITERATIONS / 2);
//                          the stdio documents are checked in-process too, while the server works on them
//   FUZZ_ONLY              run only this iteration number (both parts)
// Failing documents are written to $TMPDIR/containerd-taskserv-fuzz/ and their paths printed.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { CodeAction, Diagnostic, DocumentSymbol, Position, Range, TextEdit } from 'vscode-languageserver-types';
import { LanguageService } from '../../server/src/languageService';
import { completeUnguarded } from '../../server/src/services/completion';
import { applyEdits, itemsOf, LspClient, ROOT } from '../protocol/lspClient';
import { int, pick, rngFor as rngAt, type Rng } from '../helpers/prng';

// ------------------------------------------------------------------------------- configuration

// CI runs a fixed seed (reproducible submissions); local runs explore a new seed each time.
const SEED = process.env.FUZZ_SEED !== undefined
  ? Number(process.env.FUZZ_SEED) >>> 0
  : process.env.CI === 'true' ? 20261129 : (Date.now() ^ (process.pid << 16)) >>> 0;
const STDIO_ITERATIONS = Math.max(1, Number(process.env.FUZZ_ITERATIONS ?? 2000) | 0);
const INPROC_ITERATIONS = Math.max(1, Number(process.env.FUZZ_INPROC_ITERATIONS ?? Math.ceil(STDIO_ITERATIONS / 2)) | 0);
const ONLY = process.env.FUZZ_ONLY !== undefined ? Number(process.env.FUZZ_ONLY) | 0 : undefined;
const FAIL_DIR = path.join(os.tmpdir(), 'containerd-taskserv-fuzz');
const MAX_REPORTED = 20;
const MAX_RESTARTS = 10;
/** FUZZ_PROFILE=<file>: append one line per stdio document (time, size, mutations). */
const PROFILE = process.env.FUZZ_PROFILE;

// (node --test shows a test file's stderr only when it fails; the seed is also in the test name and report.)
process.stderr.write(`fuzz: FUZZ_SEED=${SEED} FUZZ_ITERATIONS=${STDIO_ITERATIONS} FUZZ_INPROC_ITERATIONS=${INPROC_ITERATIONS}` +
  (ONLY !== undefined ? ` FUZZ_ONLY=${ONLY}` : '') + '\n');

// ------------------------------------------------------------------------------- PRNG

const rngFor = (stream: number, i: number): Rng => rngAt(SEED, stream, i);

// ------------------------------------------------------------------------------- seed corpus

const RESEARCH = path.resolve(ROOT, '../shared/research/containerd');

function loadCorpus(): { name: string; text: string }[] {
  const out: { name: string; text: string }[] = [];
  for (const sub of ['corpus', 'defaults']) {
    const dir = path.join(RESEARCH, sub);
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).sort()) if (f.endsWith('.toml')) out.push({ name: `${sub}/${f}`, text: readFileSync(path.join(dir, f), 'utf8') });
  }
  // Built-in seeds, so the fuzzer works without the research folder.
  out.push({
    name: 'builtin/planted-v2',
    text: `version = 2
root = "/var/lib/containerd"
oom_scroe = 0
disabled_plugins = ["cri", "io.containerd.internal.v1.opt"]
[grpc]
  address = "/run/containerd/containerd.sock"
  max_recv_message_size = 16777216
[plugins."io.containerd.grpc.v1.cri"]
  enable_selinux = "true"
  sandbox_image = "registry.k8s.io/pause:3.9"
  systemd_cgroup = true
[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "crun"
  no_pivot = true
  snapshotter = "overlayfs"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
  SystemdCgroup = true
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  BinaryName = "/usr/bin/runc"
  systemdcgroup = 1
[plugins."io.containerd.grpc.v1.cri".registry]
  config_path = "/etc/containerd/certs.d"
[plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]
  endpoint = ["https://registry-1.docker.io"]
[[plugins."io.containerd.transfer.v1.local".unpack_config]]
  platform = "linux/amd64"
  snapshotter = "overlayfs"
`,
  });
  out.push({
    name: 'builtin/v3',
    text: `# containerd: 2.1
version = 3
[plugins.'io.containerd.cri.v1.runtime'.containerd]
  default_runtime_name = 'runc'
  [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
    runtime_type = 'io.containerd.runc.v2'
    options = { SystemdCgroup = true, BinaryName = "crun" }
[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"
  pinned_images = { sandbox = "registry.k8s.io/pause:3.10" }
[timeouts]
  "io.containerd.timeout.shim.cleanup" = "5s"
`,
  });
  out.push({ name: 'builtin/v1', text: '[plugins.cri]\n  sandbox_image = "k8s.gcr.io/pause:3.1"\n[plugins.cri.containerd.default_runtime]\n  runtime_type = "io.containerd.runtime.v1.linux"\n' });
  out.push({ name: 'builtin/empty', text: '' });
  return out;
}

// ------------------------------------------------------------------------------- mutations

const WEIRD = [
  '\u0000', '\ud800', '\udbff', '\udc00', '\udfff', '\ud83d', '\ude00', '\ufeff', '\u2028', '\u2029', '\u0085', '\u000b', '\f',
  '\x7f', '\r', '\r\n', '\t', 'e\u0301', '\u202e', '😀', '𝕏', '﷽', '\uffff', '\ufffe', 'ß', 'İ', 'ǅ', '\u200b',
];
const TOKENS = [
  '[', ']', '[[', ']]', '{', '}', '=', '"', "'", '"""', "'''", '.', ',', '#', '\\', '\n', ' = ', '\n[', '\n[[',
  '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.', '[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]\n',
  'SystemdCgroup = ', 'version = 3\n', 'version = 1\n', 'version = 4\n', 'version = 99\n', 'version = "2"\n', '# containerd: 1.6\n',
  '# containerd: 2.3.4\n', 'inf', 'nan', '-0', '0x', '1979-05-27T07:32:00Z', 'true', 'false', '"\\u00e9"', '"\\x"', '"\\U0010FFFF"',
  '[]', '{}', 'a.b.c = 1', '"".x = 1', "''", 'runtime_type = "io.containerd.kata.v2"\n', 'default_runtime_name = ""\n',
  'options = {', 'config_path = ""\n', '  ', '\t\t', '= =', '[a]\n[a]\n', 'x = 1\nx = 2\n', '${VAR}', '{{ .Template }}',
];

type Mutation = (rng: Rng, text: string, corpus: readonly { text: string }[]) => string;

const lines = (t: string): string[] => t.split('\n');
const randomOffset = (rng: Rng, t: string): number => int(rng, t.length + 1);

function deepNest(rng: Rng): string {
  const d = 1 + int(rng, rng() < 0.2 ? 5000 : 400);
  switch (int(rng, 5)) {
    case 0:
      return `deep = ${'['.repeat(d)}1${rng() < 0.8 ? ']'.repeat(d) : ''}`;
    case 1:
      return `deep = ${'{ a = '.repeat(d)}1${rng() < 0.8 ? ' }'.repeat(d) : ''}`;
    case 2:
      return `${Array.from({ length: d }, (_, i) => `k${i % 7}`).join('.')} = 1`;
    case 3:
      return `[${Array.from({ length: d }, () => 'plugins').join('.')}]\nx = 1`;
    default:
      return `deep = ${'[{ a = '.repeat(Math.min(d, 2000))}1${' }]'.repeat(Math.min(d, 2000))}`;
  }
}

/**
 * `weight`: how often a mutation is picked. Heavy mutations (1 MB strings, 10,000-element
 * arrays, hundreds of tables) are never picked at random: every HEAVY_EVERY-th document gets
 * exactly one, in rotation, so they are always covered and the run time stays predictable.
 */
const MUTATIONS: { name: string; weight: number; heavy?: boolean; fn: Mutation }[] = [
  { name: 'truncate', weight: 10, fn: (rng, t) => t.slice(0, randomOffset(rng, t)) },
  {
    name: 'flip-chars',
    weight: 10,
    fn: (rng, t) => {
      const a = t.split('');
      if (!a.length) return t;
      for (let k = 1 + int(rng, 8); k > 0; k--) {
        const i = int(rng, a.length);
        const c = a[i].charCodeAt(0);
        a[i] = rng() < 0.5 ? String.fromCharCode(c ^ (1 << int(rng, 16))) : String.fromCharCode(32 + int(rng, 95));
      }
      return a.join('');
    },
  },
  {
    name: 'delete-syntax',
    weight: 10,
    fn: (rng, t) => {
      const set = pick(rng, ['[]', '"\'', '=', '[]{}"\'=.', '\n', '#']);
      const idx: number[] = [];
      for (let i = 0; i < t.length; i++) if (set.includes(t[i])) idx.push(i);
      if (!idx.length) return t;
      const del = new Set<number>();
      for (let k = 1 + int(rng, 6); k > 0; k--) del.add(pick(rng, idx));
      let out = '';
      for (let i = 0; i < t.length; i++) if (!del.has(i)) out += t[i];
      return out;
    },
  },
  {
    name: 'duplicate-lines',
    weight: 8,
    fn: (rng, t) => {
      const l = lines(t);
      const a = int(rng, l.length);
      const block = l.slice(a, a + 1 + int(rng, 6));
      const at = int(rng, l.length + 1);
      return [...l.slice(0, at), ...block, ...l.slice(at)].join('\n');
    },
  },
  {
    name: 'delete-lines',
    weight: 5,
    fn: (rng, t) => {
      const l = lines(t);
      const a = int(rng, l.length);
      l.splice(a, 1 + int(rng, 4));
      return l.join('\n');
    },
  },
  {
    name: 'swap-lines',
    weight: 4,
    fn: (rng, t) => {
      const l = lines(t);
      for (let k = 1 + int(rng, 4); k > 0; k--) {
        const i = int(rng, l.length);
        const j = int(rng, l.length);
        [l[i], l[j]] = [l[j], l[i]];
      }
      return l.join('\n');
    },
  },
  {
    name: 'insert-tokens',
    weight: 10,
    fn: (rng, t) => {
      let out = t;
      for (let k = 1 + int(rng, 6); k > 0; k--) {
        const at = randomOffset(rng, out);
        out = out.slice(0, at) + pick(rng, TOKENS) + out.slice(at);
      }
      return out;
    },
  },
  {
    name: 'insert-unicode',
    weight: 8,
    fn: (rng, t) => {
      let out = t;
      for (let k = 1 + int(rng, 8); k > 0; k--) {
        const at = randomOffset(rng, out);
        const s = rng() < 0.7 ? pick(rng, WEIRD) : String.fromCharCode(int(rng, 0x10000));
        out = out.slice(0, at) + s + out.slice(at);
      }
      return out;
    },
  },
  {
    name: 'splice-files',
    weight: 5,
    fn: (rng, t, corpus) => {
      const other = lines(pick(rng, corpus).text);
      const l = lines(t);
      const a = int(rng, other.length);
      const at = int(rng, l.length + 1);
      return [...l.slice(0, at), ...other.slice(a, a + 1 + int(rng, 30)), ...l.slice(at)].join('\n');
    },
  },
  { name: 'crlf', weight: 3, fn: (rng, t) => (rng() < 0.7 ? t.replace(/\n/g, '\r\n') : t.replace(/\n/g, '\r')) },
  {
    name: 'deep-nesting',
    weight: 3,
    fn: (rng, t) => {
      const l = lines(t);
      l.splice(int(rng, l.length + 1), 0, deepNest(rng));
      return l.join('\n');
    },
  },
  {
    name: 'huge-string',
    weight: 0,
    heavy: true,
    fn: (rng, t) => {
      const l = lines(t);
      const big = pick(rng, ['x', 'é', '\\"', ' ', '😀']).repeat(rng() < 0.5 ? 1 << 20 : 1 << 18);
      const line = pick(rng, [`sandbox_image = "${big}"`, `huge = '${big}'`, `huge = """${big}"""`, big, `# ${big}`, `[${big}]`]);
      l.splice(int(rng, l.length + 1), 0, line);
      return l.join('\n');
    },
  },
  {
    name: 'huge-array',
    weight: 0,
    heavy: true,
    fn: (rng, t) => {
      const l = lines(t);
      const n = 10_000;
      const elems = Array.from({ length: n }, (_, i) => (rng() < 0.5 ? String(i) : `"io.containerd.x.v1.p${i}"`));
      const line = pick(rng, ['disabled_plugins', 'endpoint', 'huge'])
        + ' = [' + elems.join(rng() < 0.5 ? ', ' : ',\n  ') + (rng() < 0.9 ? ']' : '');
      l.splice(int(rng, l.length + 1), 0, line);
      return l.join('\n');
    },
  },
  {
    name: 'many-tables',
    weight: 0,
    heavy: true,
    fn: (rng, t) => {
      const n = 200 + int(rng, 600);
      const parts: string[] = [t];
      for (let i = 0; i < n; i++) {
        parts.push(`[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.r${rng() < 0.1 ? 0 : i}]\n  runtime_type = "io.containerd.runc.v2"\n  SystemdCgroup = ${i % 2 === 0}`);
      }
      return parts.join('\n');
    },
  },
  {
    name: 'random-text',
    weight: 2,
    fn: (rng) => {
      const n = int(rng, 2000);
      let s = '';
      for (let i = 0; i < n; i++) s += rng() < 0.3 ? pick(rng, TOKENS) : rng() < 0.1 ? pick(rng, WEIRD) : String.fromCharCode(32 + int(rng, 95));
      return s;
    },
  },
];
const TOTAL_WEIGHT = MUTATIONS.reduce((s, m) => s + m.weight, 0);

function pickMutation(rng: Rng): (typeof MUTATIONS)[number] {
  let r = rng() * TOTAL_WEIGHT;
  for (const m of MUTATIONS) {
    r -= m.weight;
    if (r < 0) return m;
  }
  return MUTATIONS[0];
}

interface Case {
  base: string;
  applied: string[];
  text: string;
}

const HEAVY = MUTATIONS.filter((m) => m.heavy);
const HEAVY_EVERY = 40;

function mutate(rng: Rng, base: { name: string; text: string }, corpus: readonly { text: string }[], iteration = -1): Case {
  let text = base.text;
  const applied: string[] = [];
  for (let k = 1 + int(rng, 3); k > 0; k--) {
    const m = pickMutation(rng);
    text = m.fn(rng, text, corpus);
    applied.push(m.name);
  }
  if (iteration >= 0 && iteration % HEAVY_EVERY === HEAVY_EVERY - 1) {
    const m = HEAVY[Math.floor(iteration / HEAVY_EVERY) % HEAVY.length];
    text = m.fn(rng, text, corpus);
    applied.push(m.name);
  }
  return { base: base.name, applied, text };
}

function randomPosition(rng: Rng, text: string): Position {
  const l = text.split('\n');
  if (rng() < 0.85) {
    const line = int(rng, l.length);
    return { line, character: int(rng, (l[line]?.length ?? 0) + 1) };
  }
  // Out of range on purpose.
  return { line: int(rng, l.length + 5), character: int(rng, 200) };
}

function randomRange(rng: Rng, text: string): Range {
  const a = randomPosition(rng, text);
  const b = randomPosition(rng, text);
  return a.line < b.line || (a.line === b.line && a.character <= b.character) ? { start: a, end: b } : { start: b, end: a };
}

/** A fresh, deterministic text change applied to `text` (so we know the server's new content). */
function randomEdit(rng: Rng, text: string, corpus: readonly { text: string }[]): { range: Range; text: string; result: string } {
  const td = TextDocument.create('file:///x', 'toml', 1, text);
  const r = randomRange(rng, text);
  const insert = rng() < 0.5 ? pick(rng, TOKENS) : rng() < 0.5 ? pick(rng, WEIRD) : pick(rng, lines(pick(rng, corpus).text)) + '\n';
  TextDocument.update(td, [{ range: r, text: insert }], 2);
  return { range: r, text: insert, result: td.getText() };
}

// ------------------------------------------------------------------------------- reporting

interface Failure {
  iteration: number;
  what: string;
  detail: string;
  file?: string;
}

function saveCase(kind: string, iteration: number, text: string): string | undefined {
  try {
    mkdirSync(FAIL_DIR, { recursive: true });
    const f = path.join(FAIL_DIR, `${kind}-seed${SEED}-it${iteration}.toml`);
    writeFileSync(f, text);
    return f;
  } catch {
    return undefined;
  }
}

/** Failures that are the same bug look alike once positions, labels and numbers are blanked. */
function signature(f: Failure): string {
  const what = f.what.replace(/\(.*\)$/, '').trim();
  const lines = f.detail.split('\n');
  // For exceptions: the message and the first stack frame inside our code.
  const frame = lines.find((l) => /^\s+at /.test(l) && !/node:internal/.test(l)) ?? '';
  const head = lines[0]
    .replace(/\{[^{}]*(\{[^{}]*\}[^{}]*)*\}/g, '{}')
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/`[^`]*`/g, '``')
    .replace(/\d+/g, 'N');
  return `${what} | ${head.slice(0, 160)} | ${frame.replace(/:\d+:\d+\)?$/, '').trim()}`;
}

function report(failures: Failure[]): string {
  const groups = new Map<string, Failure[]>();
  for (const f of failures) {
    const k = signature(f);
    const g = groups.get(k);
    if (g) g.push(f);
    else groups.set(k, [f]);
  }
  const out = [`${groups.size} distinct failure signature(s) in ${failures.length} document(s):`];
  for (const [k, g] of [...groups].slice(0, MAX_REPORTED)) {
    const f = g[0];
    out.push(`[${g.length}×] ${k}\n  first: #${f.iteration} ${f.what}${f.file ? `\n  document: ${f.file}` : ''}` +
      `\n  other iterations: ${g.slice(1, 12).map((x) => x.iteration).join(', ') || '-'}` +
      `\n    ${f.detail.split('\n').slice(0, 14).join('\n    ')}`);
  }
  if (groups.size > MAX_REPORTED) out.push(`… and ${groups.size - MAX_REPORTED} more signatures`);
  out.push(`replay one document with FUZZ_SEED=${SEED} FUZZ_ONLY=<iteration>`);
  return out.join('\n');
}

const errText = (e: unknown): string => (e instanceof Error ? e.stack ?? e.message : String(e));

// ------------------------------------------------------------------------------- invariants

function le(a: Position, b: Position): boolean {
  return a.line < b.line || (a.line === b.line && a.character <= b.character);
}

function rangeOk(r: Range | undefined, td: TextDocument): boolean {
  if (!r) return false;
  if (!le(r.start, r.end)) return false;
  const last = td.lineCount - 1;
  return r.start.line >= 0 && r.end.line <= last && r.start.character >= 0 && r.end.character >= 0;
}

function symbolProblems(syms: DocumentSymbol[], td: TextDocument, out: string[], parent?: DocumentSymbol, depth = 0): void {
  if (depth > 200) {
    out.push('symbol tree deeper than 200');
    return;
  }
  for (const s of syms) {
    if (!s.name) out.push(`symbol with empty name at ${JSON.stringify(s.range)} (VS Code rejects falsy names)`);
    if (!rangeOk(s.range, td)) out.push(`symbol ${s.name}: bad range ${JSON.stringify(s.range)}`);
    if (!(le(s.range.start, s.selectionRange.start) && le(s.selectionRange.end, s.range.end))) {
      out.push(`symbol ${JSON.stringify(s.name)}: selectionRange ${JSON.stringify(s.selectionRange)} not inside range ${JSON.stringify(s.range)} (VS Code rejects it)`);
    }
    if (parent && !(le(parent.range.start, s.range.start) && le(s.range.end, parent.range.end))) {
      out.push(`symbol ${JSON.stringify(s.name)} range ${JSON.stringify(s.range)} outside its parent ${JSON.stringify(parent.name)} ${JSON.stringify(parent.range)}`);
    }
    if (s.children) symbolProblems(s.children, td, out, s, depth + 1);
  }
}

function editsOverlap(edits: TextEdit[], td: TextDocument): boolean {
  const spans = edits.map((e) => [td.offsetAt(e.range.start), td.offsetAt(e.range.end)]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  for (let i = 1; i < spans.length; i++) if (spans[i][0] < spans[i - 1][1]) return true;
  return false;
}

/** Run every feature in-process on one document; returns invariant violations (exceptions propagate). */
function checkInProcess(service: LanguageService, text: string, rng: Rng, stage: string[]): string[] {
  const problems: string[] = [];
  const td = TextDocument.create('file:///fuzz/config.toml', 'containerd-toml', 1, text);
  stage[0] = 'prepare';
  const sd = service.prepare(td);
  stage[0] = 'validate';
  const diags = service.validate(sd);
  const hadSyntaxErrors = diags.some((d) => d.code === 'containerd/syntax' || d.code === 'containerd/duplicate-key' || d.code === 'containerd/duplicate-table');
  for (const d of diags) {
    if (!rangeOk(d.range, td)) problems.push(`diagnostic ${d.code} with bad range ${JSON.stringify(d.range)}`);
    if (typeof d.code !== 'string' || !d.code.startsWith('containerd/')) problems.push(`diagnostic without a containerd/ code: ${JSON.stringify(d.code)}`);
    if (!d.message) problems.push(`diagnostic ${d.code} with an empty message`);
    if (!(d.severity! >= 1 && d.severity! <= 4)) problems.push(`diagnostic ${d.code} with severity ${d.severity}`);
  }
  for (let k = 0; k < 4; k++) {
    const pos = randomPosition(rng, text);
    stage[0] = `completion at ${JSON.stringify(pos)}`;
    const list = completeUnguarded(sd, pos);
    // Line semantics of LSP (and TextDocument): \n, \r\n and a lone \r all end a line.
    const lineText = pos.line < td.lineCount
      ? td.getText({ start: { line: pos.line, character: 0 }, end: { line: pos.line + 1, character: 0 } }).replace(/\r?\n$|\r$/, '')
      : '';
    const inLine = pos.line < td.lineCount && pos.character <= lineText.length;
    for (const item of list.items) {
      if (typeof item.label !== 'string' || item.label === '') problems.push(`completion item with empty label at ${JSON.stringify(pos)}`);
      const te = item.textEdit as { range?: Range } | undefined;
      if (te?.range && !le(te.range.start, te.range.end)) {
        problems.push(`completion ${JSON.stringify(item.label)} at ${JSON.stringify(pos)}: textEdit range ${JSON.stringify(te.range)} ends before it starts`);
      } else if (te?.range && inLine) {
        if (te.range.start.line !== pos.line || te.range.end.line !== pos.line || !(te.range.start.character <= pos.character && pos.character <= te.range.end.character)) {
          problems.push(`completion ${JSON.stringify(item.label)} at ${JSON.stringify(pos)}: textEdit range ${JSON.stringify(te.range)} does not contain the cursor on its line`);
        }
      }
    }
    stage[0] = `hover at ${JSON.stringify(pos)}`;
    const h = service.hover(sd, pos);
    if (h?.range && !rangeOk(h.range, td)) problems.push(`hover at ${JSON.stringify(pos)}: bad range ${JSON.stringify(h.range)}`);
  }
  stage[0] = 'documentSymbols';
  symbolProblems(service.documentSymbols(sd), td, problems);
  stage[0] = 'foldingRanges';
  for (const f of service.foldingRanges(sd)) {
    if (!(f.startLine >= 0 && f.startLine < f.endLine && f.endLine < td.lineCount)) problems.push(`folding range ${JSON.stringify(f)} out of bounds (${td.lineCount} lines)`);
  }
  stage[0] = 'codeActions (random range)';
  const checkActions = (actions: CodeAction[], label: string): void => {
    for (const a of actions) {
      const edits = a.edit?.changes?.[td.uri] ?? [];
      for (const e of edits) if (!rangeOk(e.range, td)) problems.push(`${label}: "${a.title}" edits a bad range ${JSON.stringify(e.range)}`);
      if (editsOverlap(edits, td)) problems.push(`${label}: "${a.title}" has overlapping edits`);
      if (a.kind === 'quickfix' && !hadSyntaxErrors && edits.length) {
        // A quick fix on a syntactically valid file must keep it valid TOML.
        const fixed = applyEdits(text, edits);
        const after = service.validate(service.prepare(TextDocument.create(td.uri, td.languageId, 2, fixed)));
        const broken = after.filter((d) => d.code === 'containerd/syntax' || d.code === 'containerd/duplicate-key' || d.code === 'containerd/duplicate-table');
        if (broken.length) problems.push(`${label}: applying "${a.title}" breaks the TOML: ${broken[0].code} at line ${broken[0].range.start.line + 1}: ${typeof broken[0].message === 'string' ? broken[0].message : broken[0].message.value}`);
      }
    }
  };
  checkActions(service.codeActions(sd, randomRange(rng, text), diags), 'codeActions(all diagnostics)');
  for (const d of diags.filter((x) => x.data !== undefined).slice(0, 8)) {
    stage[0] = `codeActions for ${d.code} at ${JSON.stringify(d.range)}`;
    checkActions(service.codeActions(sd, d.range, [d]), `codeActions(${d.code})`);
  }
  return problems;
}

// ------------------------------------------------------------------------------- tests

const CORPUS = loadCorpus();

function iterations(n: number): number[] {
  if (ONLY !== undefined) return [ONLY];
  return Array.from({ length: n }, (_, i) => i);
}

/** In-process check of one document; failures are appended to `failures`. */
function inProcess(service: LanguageService, c: Case, i: number, rng: Rng, failures: Failure[], kind: string): void {
  const stage = ['prepare'];
  try {
    const problems = checkInProcess(service, c.text, rng, stage);
    if (problems.length) {
      failures.push({ iteration: i, what: `${kind}: invariant broken (${c.base} + ${c.applied.join(', ')})`, detail: [...new Set(problems)].slice(0, 5).join('\n'), file: saveCase(kind, i, c.text) });
    }
  } catch (e) {
    failures.push({ iteration: i, what: `${kind}: exception in ${stage[0]} (${c.base} + ${c.applied.join(', ')})`, detail: errText(e), file: saveCase(kind, i, c.text) });
  }
}

describe(`fuzz (FUZZ_SEED=${SEED})`, () => {
  // The stdio documents are also checked in-process, while the server works on them (2 cores).
  it(`real server over stdio (+ the same documents in-process): ${ONLY !== undefined ? 1 : STDIO_ITERATIONS} mutated documents`, { timeout: 900_000 }, async (t) => {
    t.diagnostic(`FUZZ_SEED=${SEED} FUZZ_ITERATIONS=${STDIO_ITERATIONS}`);
    const service = new LanguageService();
    let client = await LspClient.start({ timeoutMs: 30_000 });
    let restarts = 0;
    const failures: Failure[] = [];
    const inprocFailures: Failure[] = [];
    let requests = 0;
    let publishes = 0;
    let documents = 0;
    const t0 = performance.now();
    try {
      for (const i of iterations(STDIO_ITERATIONS)) {
        if (!client.alive()) {
          // Recorded with the document that killed it (below); restart a bounded number of times.
          if (++restarts > MAX_RESTARTS) break;
          await client.shutdown();
          client = await LspClient.start({ timeoutMs: 30_000 });
        }
        const rng = rngFor(2, i);
        const c = mutate(rng, pick(rng, CORPUS), CORPUS, i);
        const uri = `file:///fuzz/${i}/config.toml`;
        let text = c.text;
        let step = 'didOpen';
        const logsBefore = client.errorLogs().length;
        const it0 = performance.now();
        try {
          const opened = client.mark();
          await client.open(uri, text, 1);
          documents++;
          inProcess(service, c, i, rngFor(3, i), inprocFailures, 'stdio-doc-inproc');
          const d1 = await client.waitForDiagnostics(uri, { version: 1, after: opened });
          publishes++;
          if (!Array.isArray(d1.diagnostics)) throw new Error('diagnostics is not an array');
          // didChange: a full replacement (another mutation) or an incremental edit.
          let version = 1;
          for (let k = rng() < 0.25 ? 2 : 1; k > 0; k--) {
            version++;
            step = `didChange v${version}`;
            const after = client.mark();
            if (rng() < 0.4) {
              text = mutate(rng, { name: c.base, text }, CORPUS).text;
              await client.changeFull(uri, version, text);
            } else {
              const e = randomEdit(rng, text, CORPUS);
              text = e.result;
              await client.changeIncremental(uri, version, [{ range: e.range, text: e.text }]);
            }
            documents++;
            const d = await client.waitForDiagnostics(uri, { version, after });
            publishes++;
            if (d.version !== version) throw new Error(`diagnostics for version ${d.version}, expected ${version}`);
          }
          const diags: Diagnostic[] = client.latest.get(uri)!.diagnostics;
          step = 'requests';
          const pending: Promise<unknown>[] = [];
          for (let k = 0; k < 2; k++) {
            pending.push(client.completion(uri, randomPosition(rng, text)).then((r) => {
              if (r !== null && !Array.isArray(itemsOf(r))) throw new Error('completion: no items array');
            }));
            pending.push(client.hover(uri, randomPosition(rng, text)));
          }
          pending.push(client.documentSymbol(uri).then((r) => assert.ok(Array.isArray(r), 'documentSymbol: not an array')));
          pending.push(client.foldingRange(uri).then((r) => assert.ok(Array.isArray(r), 'foldingRange: not an array')));
          pending.push(client.codeAction(uri, randomRange(rng, text), diags).then((r) => assert.ok(Array.isArray(r), 'codeAction: not an array')));
          const withFix = diags.find((d) => d.data !== undefined);
          if (withFix) pending.push(client.codeAction(uri, withFix.range, [withFix]));
          pending.push(client.documentInfo(uri));
          requests += pending.length;
          await Promise.all(pending);
          step = 'didClose';
          await client.close(uri);
        } catch (e) {
          const died = !client.alive();
          failures.push({
            iteration: i,
            what: `${died ? 'server process died' : `${step} failed`} (${c.base} + ${c.applied.join(', ')})`,
            detail: died ? `exit ${JSON.stringify(client.exit)}; server stderr:\n${client.stderr.slice(-3000)}` : errText(e),
            file: saveCase('stdio', i, text),
          });
        }
        const newLogs = client.errorLogs().slice(logsBefore);
        if (newLogs.length) {
          failures.push({ iteration: i, what: `server logged a handler failure (${c.base} + ${c.applied.join(', ')})`, detail: newLogs.map((l) => l.message).join('\n'), file: saveCase('stdio', i, text) });
        }
        if (PROFILE) appendFileSync(PROFILE, `fuzz-profile ${i} ${(performance.now() - it0).toFixed(1)} ms ${text.length} chars ${c.applied.join(',')}\n`);
        if (failures.length > 200) break;
      }
      const secs = (performance.now() - t0) / 1000;
      t.diagnostic(`stdio: ${documents} documents (didOpen + didChange), ${publishes} publishDiagnostics, ${requests} requests answered, in ${secs.toFixed(1)} s`);
      if (restarts) t.diagnostic(`the server died and was restarted ${restarts} time(s)`);
      assert.ok(client.alive(), `server died:\n${client.stderr.slice(-3000)}`);
      assert.doesNotMatch(client.stderr, /uncaught|unhandled|RangeError|TypeError|ReferenceError|FATAL|heap out of memory/i, client.stderr.slice(-3000));
    } finally {
      await client.shutdown();
    }
    const all = [...failures, ...inprocFailures];
    assert.equal(all.length, 0, `${failures.length} protocol failure(s), ${inprocFailures.length} in-process failure(s) on the same documents:\n${report(all)}`);
  });

  it(`in-process language service: ${ONLY !== undefined ? 1 : INPROC_ITERATIONS} more mutated documents`, { timeout: 900_000 }, (t) => {
    t.diagnostic(`FUZZ_SEED=${SEED} FUZZ_INPROC_ITERATIONS=${INPROC_ITERATIONS}`);
    const service = new LanguageService();
    const failures: Failure[] = [];
    const t0 = performance.now();
    let slowest = { ms: 0, iteration: -1, len: 0, file: undefined as string | undefined };
    for (const i of iterations(INPROC_ITERATIONS)) {
      const rng = rngFor(1, i);
      const c = mutate(rng, pick(rng, CORPUS), CORPUS, i);
      const s0 = performance.now();
      inProcess(service, c, i, rng, failures, 'inproc');
      const ms = performance.now() - s0;
      if (ms > slowest.ms) slowest = { ms, iteration: i, len: c.text.length, file: ms > 1000 ? saveCase('slow', i, c.text) : undefined };
    }
    const secs = (performance.now() - t0) / 1000;
    t.diagnostic(`in-process: ${ONLY !== undefined ? 1 : INPROC_ITERATIONS} documents in ${secs.toFixed(1)} s; slowest #${slowest.iteration} ` +
      `${slowest.ms.toFixed(0)} ms for all features (${slowest.len} chars)${slowest.file ? ` saved as ${slowest.file}` : ''}`);
    assert.equal(failures.length, 0, `${failures.length} failing document(s):\n${report(failures)}`);
  });
});
