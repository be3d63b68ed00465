// Fuzzing taskserv (KCL) documents: seeded mutations of the seed's five Containerd blocks
// (truncations, character deletions/insertions, bracket deletions, duplicated lines, huge strings
// and lists, random unicode, spliced blocks) through
//   1. the LanguageService in-process: prepare, validate, render, completion and hover at random
//      positions (the unguarded services, so a bug shows its stack), symbols and folding, with
//      output invariants (edit ranges on the cursor's line, symbol ranges nested, folds in range);
//   2. the REAL server over stdio (dist/server.js): didOpen / didChange with `.k` documents, then
//      completion, hover, documentSymbol, foldingRange and containerd/render: every request must
//      get a response and the server must stay alive without logging handler errors.
//
// Deterministic: a seeded PRNG; each document gets its own generator from (seed, stream, iteration).
//   FUZZ_SEED        seed (default: random, printed; fixed when CI=true)
//   FUZZ_ITERATIONS  in-process documents (default 2000); the stdio batch is a tenth (at least 200)
//   FUZZ_STDIO_ITERATIONS  override the stdio batch size
// Failing documents are written to $TMPDIR/containerd-taskserv-fuzz-kcl/ and their paths printed.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { DocumentSymbol, Position, Range } from 'vscode-languageserver-types';
import { LanguageService } from '../../server/src/languageService';
import { taskservCompleteUnguarded } from '../../server/src/services/taskservCompletion';
import { taskservHoverUnguarded } from '../../server/src/services/taskservHover';
import { LspClient, ROOT } from '../protocol/lspClient';
import { int, pick, rngFor as rngAt, type Rng } from '../helpers/prng';

// CI runs a fixed seed (reproducible submissions); local runs explore a new seed each time.
const SEED = process.env.FUZZ_SEED !== undefined
  ? Number(process.env.FUZZ_SEED) >>> 0
  : process.env.CI === 'true' ? 20261129 : (Date.now() ^ (process.pid << 16)) >>> 0;
const ITERATIONS = Math.max(1, Number(process.env.FUZZ_ITERATIONS ?? 2000) | 0);
const STDIO_ITERATIONS = Math.max(1, Number(process.env.FUZZ_STDIO_ITERATIONS ?? Math.max(200, Math.ceil(ITERATIONS / 10))) | 0);
const POSITIONS_PER_DOC = 6;
const FAIL_DIR = path.join(os.tmpdir(), 'containerd-taskserv-fuzz-kcl');
const MAX_REPORTED = 15;

process.stderr.write(`taskserv fuzz: FUZZ_SEED=${SEED} FUZZ_ITERATIONS=${ITERATIONS} FUZZ_STDIO_ITERATIONS=${STDIO_ITERATIONS}\n`);
console.log(`# taskserv fuzz seed ${SEED} (replay with FUZZ_SEED=${SEED})`);

// ------------------------------------------------------------------------------- PRNG

const rngFor = (stream: number, i: number): Rng => rngAt(SEED, stream, i);

// ------------------------------------------------------------------------------- corpus

const SEED_FILE = path.resolve(ROOT, '../shared/seed/containerd-taskserv.md');

function corpus(): string[] {
  const out: string[] = [];
  if (existsSync(SEED_FILE)) {
    const lines = readFileSync(SEED_FILE, 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      if (!/^containerd: Containerd = \{/.test(lines[i])) continue;
      let j = i;
      while (j < lines.length && lines[j] !== '}') j++;
      out.push(lines.slice(i, j + 1).join('\n') + '\n');
      i = j;
    }
  }
  // Built-in blocks, so the fuzzer works without the seed.
  out.push(`containerd: Containerd = {
    name: "containerd"
    version: "2.1.3"
    runtime_default: "crun"
    runtimes: "runc,crun,kata"
    runtime_configs: {
        kata: { runtime_type: "io.containerd.kata.v2", privileged_without_host_devices: True }
        crun.options.SystemdCgroup = True
    }
    config: { version: 3, disabled_plugins: ["io.containerd.internal.v1.tracing"] }
    plugins.cri.registry.config_path: "/etc/containerd/certs.d"
    resources: { cpu_quota: 200, memory_limit: "4G", pid_limit: 0, oom_score_adj: -999 }
    install: { source: "release-tarball", arch: "arm64", runtimes: { crun: { version: "1.19" } } }
}
`);
  out.push(`import provisioning

schema Extra:
    a: int = 1

_base = {x: 1}

# a comment block
# of two lines
containerd = Containerd {
    version = "1.6.36"
    runtimes = 'runc'
    crictl = { timeout = 10Mi, debug = true }
    plugins: {snapshots: {overlayfs: {mount_options: ["nodev", r"x\\y", """multi
line"""]}}}
    if _base.x > 0:
        name: "cond"
    performance: {max_concurrent_uploads: 0x10, snapshotter: "native"}
}
`);
  return out;
}

const CORPUS = corpus();

// ------------------------------------------------------------------------------- mutations

const INSERTS = ['{', '}', '[', ']', '(', ')', '"', "'", '"""', ':', '=', ',', '#', '\n', '\t', ' ', '\\', '\r\n', '\r', '$', '.', '**', 'True', 'None', 'if x:', 'r"', '0x', '1Ki', '\u0000', '\ufeff'];
const UNICODE = ['é', 'ß', '€', '😀', '\ud83d', '\ude00', '日本', '\u200b', '\u2028', 'Ω', '\u0301', '\u{10ffff}'];
const KEYS = ['runtime_default', 'runtimes', 'runtime_configs', 'options', 'SystemdCgroup', 'version', 'config', 'plugins', 'cri', 'grpc', 'seccomp_profile_root', 'crictl', 'resources'];

type Mutation = (rng: Rng, t: string) => string;

const MUTATIONS: { name: string; fn: Mutation }[] = [
  { name: 'truncate', fn: (rng, t) => t.slice(0, int(rng, t.length + 1)) },
  {
    name: 'delete-chars',
    fn: (rng, t) => {
      const at = int(rng, t.length + 1);
      return t.slice(0, at) + t.slice(at + 1 + int(rng, 8));
    },
  },
  {
    name: 'insert',
    fn: (rng, t) => {
      const at = int(rng, t.length + 1);
      return t.slice(0, at) + pick(rng, INSERTS) + t.slice(at);
    },
  },
  {
    name: 'delete-bracket',
    fn: (rng, t) => {
      const idx: number[] = [];
      for (let i = 0; i < t.length; i++) if ('{}[]'.includes(t[i])) idx.push(i);
      if (!idx.length) return t;
      const at = pick(rng, idx);
      return t.slice(0, at) + t.slice(at + 1);
    },
  },
  {
    name: 'duplicate-line',
    fn: (rng, t) => {
      const lines = t.split('\n');
      const i = int(rng, lines.length);
      lines.splice(i, 0, lines[i]);
      return lines.join('\n');
    },
  },
  {
    name: 'delete-line',
    fn: (rng, t) => {
      const lines = t.split('\n');
      lines.splice(int(rng, lines.length), 1);
      return lines.join('\n');
    },
  },
  {
    name: 'huge-string',
    fn: (rng, t) => {
      const lines = t.split('\n');
      const i = 1 + int(rng, Math.max(1, lines.length - 2));
      const ch = pick(rng, ['x', 'é', '😀', '\\"', ',']);
      lines.splice(i, 0, `    ${pick(rng, KEYS)}: "${ch.repeat(5_000 + int(rng, 40_000))}"`);
      return lines.join('\n');
    },
  },
  {
    name: 'huge-list',
    fn: (rng, t) => {
      const lines = t.split('\n');
      const i = 1 + int(rng, Math.max(1, lines.length - 2));
      const n = 1_000 + int(rng, 8_000);
      const items = Array.from({ length: n }, (_, k) => (k % 3 === 0 ? `"p${k}"` : String(k))).join(rng() < 0.5 ? ', ' : ',\n');
      lines.splice(i, 0, `    config: { disabled_plugins: [${items}${rng() < 0.3 ? '' : ']'} }`);
      return lines.join('\n');
    },
  },
  {
    name: 'deep-nesting',
    fn: (rng, t) => {
      const n = 50 + int(rng, 400);
      const at = int(rng, t.length + 1);
      return t.slice(0, at) + 'a: {'.repeat(n) + (rng() < 0.5 ? '}'.repeat(n) : '') + t.slice(at);
    },
  },
  {
    name: 'unicode',
    fn: (rng, t) => {
      let out = t;
      for (let k = 0; k < 1 + int(rng, 5); k++) {
        const at = int(rng, out.length + 1);
        out = out.slice(0, at) + pick(rng, UNICODE) + out.slice(at);
      }
      return out;
    },
  },
  {
    name: 'random-chars',
    fn: (rng, t) => {
      const at = int(rng, t.length + 1);
      let s = '';
      for (let k = 0; k < 1 + int(rng, 30); k++) s += String.fromCharCode(int(rng, 0x3000));
      return t.slice(0, at) + s + t.slice(at);
    },
  },
  {
    name: 'splice-blocks',
    fn: (rng, t) => {
      const other = pick(rng, CORPUS);
      const a = int(rng, t.length + 1);
      const b = int(rng, other.length + 1);
      return t.slice(0, a) + other.slice(b);
    },
  },
  {
    name: 'swap-lines',
    fn: (rng, t) => {
      const lines = t.split('\n');
      const i = int(rng, lines.length);
      const j = int(rng, lines.length);
      [lines[i], lines[j]] = [lines[j], lines[i]];
      return lines.join('\n');
    },
  },
  {
    name: 'key-typo',
    fn: (rng, t) => t.replace(pick(rng, KEYS), (k) => (rng() < 0.5 ? k.slice(0, -1) : k + pick(rng, ['x', '_', '.', ':']))),
  },
  {
    name: 'crlf',
    fn: (_rng, t) => t.replace(/\n/g, '\r\n'),
  },
];

function mutate(rng: Rng, base: string): { text: string; applied: string[] } {
  let t = base;
  const applied: string[] = [];
  const n = 1 + int(rng, 4);
  for (let k = 0; k < n; k++) {
    const m = pick(rng, MUTATIONS);
    t = m.fn(rng, t);
    applied.push(m.name);
    if (t.length > 400_000) t = t.slice(0, 400_000);
  }
  return { text: t, applied };
}

function makeDoc(stream: number, i: number): { text: string; applied: string[]; rng: Rng } {
  const rng = rngFor(stream, i);
  const base = CORPUS[i % CORPUS.length];
  const { text, applied } = mutate(rng, base);
  return { text, applied, rng };
}

function randomPosition(rng: Rng, td: TextDocument): Position {
  const text = td.getText();
  const r = rng();
  if (r < 0.1) return { line: int(rng, td.lineCount + 3), character: int(rng, 200) }; // possibly out of range
  return td.positionAt(int(rng, text.length + 1));
}

function saveFailure(name: string, text: string): string {
  mkdirSync(FAIL_DIR, { recursive: true });
  const p = path.join(FAIL_DIR, `${name}.k`);
  writeFileSync(p, text);
  return p;
}

// ------------------------------------------------------------------------------- invariants

function le(a: Position, b: Position): boolean {
  return a.line < b.line || (a.line === b.line && a.character <= b.character);
}

function checkSymbols(syms: DocumentSymbol[], parent?: DocumentSymbol, depth = 0): void {
  for (const s of syms) {
    assert.ok(le(s.range.start, s.range.end), `symbol ${s.name}: range start after end`);
    assert.ok(le(s.range.start, s.selectionRange.start) && le(s.selectionRange.end, s.range.end), `symbol ${s.name}: selectionRange outside range`);
    if (parent) assert.ok(le(parent.range.start, s.range.start) && le(s.range.end, parent.range.end), `symbol ${s.name} outside ${parent.name}`);
    if (s.children && depth < 200) checkSymbols(s.children, s, depth + 1);
  }
}

function checkEditRange(r: Range, pos: Position, td: TextDocument, label: string): void {
  const p = td.positionAt(td.offsetAt(pos)); // the clamped cursor
  assert.equal(r.start.line, r.end.line, `completion ${label}: edit range spans lines`);
  assert.equal(r.start.line, p.line, `completion ${label}: edit range not on the cursor's line`);
  assert.ok(le(r.start, p) && le(p, r.end), `completion ${label}: edit range ${JSON.stringify(r)} does not contain the cursor ${JSON.stringify(p)}`);
}

// ------------------------------------------------------------------------------- in-process

describe(`taskserv fuzz in-process (FUZZ_SEED=${SEED})`, { timeout: 600_000 }, () => {
  it(`${ITERATIONS} mutated taskserv documents through the LanguageService`, () => {
    const service = new LanguageService();
    const failures: string[] = [];
    const started = Date.now();
    for (let i = 0; i < ITERATIONS; i++) {
      const { text, applied, rng } = makeDoc(0, i);
      const td = TextDocument.create(`file:///fuzz/${i}/containerd.k`, 'KCL', 1, text);
      let step = 'prepare';
      try {
        const sd = service.prepare(td);
        step = 'validate';
        const diags = service.validate(sd);
        for (const d of diags) assert.ok(le(d.range.start, d.range.end), 'diagnostic range start after end');
        step = 'render';
        service.render(sd);
        for (let k = 0; k < POSITIONS_PER_DOC; k++) {
          const pos = randomPosition(rng, td);
          step = `complete ${JSON.stringify(pos)}`;
          const list = taskservCompleteUnguarded(sd, pos);
          for (const it of list.items) {
            if (it.textEdit && 'range' in it.textEdit) checkEditRange(it.textEdit.range, pos, td, it.label);
          }
          step = `hover ${JSON.stringify(pos)}`;
          const h = taskservHoverUnguarded(sd, pos);
          if (h?.range) assert.ok(le(h.range.start, h.range.end), 'hover range start after end');
          step = `facade ${JSON.stringify(pos)}`;
          service.complete(sd, pos);
          service.hover(sd, pos);
        }
        step = 'symbols';
        checkSymbols(service.documentSymbols(sd));
        step = 'folding';
        for (const f of service.foldingRanges(sd)) {
          assert.ok(f.endLine > f.startLine, `fold ${JSON.stringify(f)} is empty`);
          assert.ok(f.endLine < td.lineCount, `fold ${JSON.stringify(f)} beyond the last line`);
        }
      } catch (e) {
        const file = saveFailure(`seed${SEED}-inproc-${i}`, text);
        failures.push(`#${i} [${applied.join(', ')}] ${step}: ${(e as Error).stack?.split('\n').slice(0, 6).join('\n')}\n  document: ${file}`);
        if (failures.length >= MAX_REPORTED) break;
      }
    }
    console.log(`# in-process: ${ITERATIONS} documents in ${Date.now() - started} ms, ${failures.length} failures`);
    assert.equal(failures.length, 0, `FUZZ_SEED=${SEED}: ${failures.length} failing documents:\n${failures.join('\n')}`);
  });
});

// ------------------------------------------------------------------------------- over stdio

describe(`taskserv fuzz over stdio (FUZZ_SEED=${SEED})`, { timeout: 600_000 }, () => {
  it(`${STDIO_ITERATIONS} mutated taskserv documents through the real server`, async () => {
    const client = await LspClient.start({ timeoutMs: 20_000 });
    const failures: string[] = [];
    const started = Date.now();
    let requests = 0;
    try {
      const uris = Array.from({ length: 8 }, (_, k) => `file:///tmp/containerd-taskserv-fuzz-kcl/${process.pid}/${k}/containerd.k`);
      const versions = new Map<string, number>();
      for (let i = 0; i < STDIO_ITERATIONS; i++) {
        const { text, applied, rng } = makeDoc(1, i);
        const uri = uris[i % uris.length];
        let step = 'open';
        try {
          const v = (versions.get(uri) ?? 0) + 1;
          versions.set(uri, v);
          const mark = client.mark();
          if (v === 1) await client.open(uri, text, v, 'KCL');
          else await client.changeFull(uri, v, text);
          const td = TextDocument.create(uri, 'KCL', v, text);
          const pending: Promise<unknown>[] = [];
          for (let k = 0; k < 2; k++) {
            const pos = randomPosition(rng, td);
            pending.push(client.completion(uri, pos), client.hover(uri, pos));
          }
          pending.push(client.documentSymbol(uri), client.foldingRange(uri), client.request('containerd/render', { uri }));
          requests += pending.length;
          step = 'requests';
          await Promise.all(pending);
          if (i % 10 === 0) {
            step = 'diagnostics';
            await client.waitForDiagnostics(uri, { version: v, after: mark });
          }
          assert.ok(client.alive(), 'server died');
          const errs = client.errorLogs();
          assert.equal(errs.length, 0, `server logged handler errors:\n${errs.map((l) => l.message).join('\n').slice(0, 3000)}`);
        } catch (e) {
          const file = saveFailure(`seed${SEED}-stdio-${i}`, text);
          failures.push(`#${i} [${applied.join(', ')}] ${step}: ${(e as Error).message.slice(0, 2000)}\n  document: ${file}`);
          if (!client.alive() || failures.length >= MAX_REPORTED) break;
          client.logs.length = 0;
        }
      }
      assert.ok(client.alive(), `the server died; stderr:\n${client.stderr.slice(-3000)}`);
    } finally {
      await client.shutdown();
    }
    console.log(`# stdio: ${STDIO_ITERATIONS} documents, ${requests} requests in ${Date.now() - started} ms, ${failures.length} failures`);
    assert.equal(failures.length, 0, `FUZZ_SEED=${SEED}: ${failures.length} failing documents:\n${failures.join('\n')}`);
  });
});
