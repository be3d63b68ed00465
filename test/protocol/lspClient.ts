/**
 * A tiny LSP test client over stdio: spawns the real server (`node dist/server.js --stdio`
 * by default), speaks JSON-RPC with vscode-jsonrpc, records every publishDiagnostics per
 * uri and every window/logMessage, and shuts the server down. Every wait is bounded.
 *
 * Bundled by esbuild to out/test/protocol/lspClient.js (inlined into each test), so the
 * repository root is three levels up from __dirname.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  createMessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import type {
  CodeAction,
  CompletionItem,
  CompletionList,
  Diagnostic,
  DocumentSymbol,
  FoldingRange,
  Hover,
  Position,
  Range,
} from 'vscode-languageserver-types';
import type { InitializeResult } from 'vscode-languageserver-protocol';

export const ROOT = process.env.CONTAINERD_TASKSERV_ROOT ?? path.resolve(__dirname, '../../..');
export const SERVER_JS = path.join(ROOT, 'dist', 'server.js');
export const BIN = path.join(ROOT, 'bin', 'containerd-taskserv');

export const DEFAULT_TIMEOUT_MS = 10_000;

export interface PublishedDiagnostics {
  uri: string;
  version?: number;
  diagnostics: Diagnostic[];
  /** Monotonic arrival number over all uris (see `mark()`). */
  seq: number;
}

export interface LogMessage {
  type: number;
  message: string;
}

export interface StartOptions {
  /** argv after `node`; default `[dist/server.js, --stdio]`. */
  args?: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Send initialize + initialized right away (default true). */
  initialize?: boolean;
  initializationOptions?: unknown;
  timeoutMs?: number;
}

export class TimeoutError extends Error {}

/** Reject after `ms` with a message naming what we waited for; always clears its timer. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

export function fileUri(p: string): string {
  return pathToFileURL(p).href;
}

interface DiagWaiter {
  uri: string;
  pred: (d: PublishedDiagnostics) => boolean;
  resolve: (d: PublishedDiagnostics) => void;
  reject: (e: Error) => void;
}

const MAX_STDERR = 1 << 20;

export class LspClient {
  readonly proc: ChildProcess;
  readonly conn: MessageConnection;
  /** Everything the server wrote to stderr (first MiB). */
  stderr = '';
  /** window/logMessage and window/showMessage notifications, in order. */
  readonly logs: LogMessage[] = [];
  /** Latest diagnostics per uri. */
  readonly latest = new Map<string, PublishedDiagnostics>();
  /** Number of publishDiagnostics received per uri. */
  readonly counts = new Map<string, number>();
  initializeResult: InitializeResult | undefined;
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  readonly spawnedAt: number;

  private seq = 0;
  private waiters: DiagWaiter[] = [];
  private exitPromise: Promise<void>;
  private disposed = false;
  private readonly timeoutMs: number;

  private constructor(opts: StartOptions) {
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const args = opts.args ?? [SERVER_JS, '--stdio'];
    this.spawnedAt = performance.now();
    this.proc = spawn(process.execPath, args, {
      cwd: opts.cwd ?? ROOT,
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.proc.stderr!.setEncoding('utf8');
    this.proc.stderr!.on('data', (s: string) => {
      if (this.stderr.length < MAX_STDERR) this.stderr += s;
    });
    // Writes to a dead server must not crash the test process.
    this.proc.stdin!.on('error', () => undefined);
    this.exitPromise = new Promise((resolve) => {
      this.proc.once('exit', (code, signal) => {
        this.exit = { code, signal };
        const err = new Error(`server exited (code ${code}, signal ${signal}); stderr:\n${this.stderr.slice(-4000)}`);
        for (const w of this.waiters.splice(0)) w.reject(err);
        resolve();
      });
      this.proc.once('error', (e) => {
        this.exit = { code: null, signal: null };
        for (const w of this.waiters.splice(0)) w.reject(e);
        resolve();
      });
    });
    this.conn = createMessageConnection(
      new StreamMessageReader(this.proc.stdout!),
      new StreamMessageWriter(this.proc.stdin!),
    );
    this.conn.onNotification('textDocument/publishDiagnostics', (p: { uri: string; version?: number; diagnostics: Diagnostic[] }) => {
      const d: PublishedDiagnostics = { uri: p.uri, version: p.version, diagnostics: p.diagnostics, seq: ++this.seq };
      this.latest.set(p.uri, d);
      this.counts.set(p.uri, (this.counts.get(p.uri) ?? 0) + 1);
      this.waiters = this.waiters.filter((w) => {
        if (w.uri !== p.uri || !w.pred(d)) return true;
        w.resolve(d);
        return false;
      });
    });
    const onLog = (p: LogMessage) => {
      if (this.logs.length < 10_000) this.logs.push({ type: p.type, message: String(p.message) });
    };
    this.conn.onNotification('window/logMessage', onLog);
    this.conn.onNotification('window/showMessage', onLog);
    // The server may ask the client things (configuration, capability registration): answer null.
    this.conn.onRequest((_method: string) => null);
    this.conn.onError(() => undefined);
    this.conn.listen();
  }

  /** Spawn the server and (by default) initialize it. */
  static async start(opts: StartOptions = {}): Promise<LspClient> {
    const c = new LspClient(opts);
    if (opts.initialize !== false) {
      try {
        await c.initialize(opts.initializationOptions);
      } catch (e) {
        c.kill();
        throw e;
      }
    }
    return c;
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  alive(): boolean {
    return this.exit === undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** window/logMessage errors (type 1): the server's `safe()` wrapper logs every caught handler exception there. */
  errorLogs(): LogMessage[] {
    return this.logs.filter((l) => l.type === 1);
  }

  async initialize(initializationOptions?: unknown, rootDir = ROOT): Promise<InitializeResult> {
    const res = await this.request<InitializeResult>('initialize', {
      processId: process.pid,
      rootUri: fileUri(rootDir),
      workspaceFolders: null,
      initializationOptions,
      capabilities: {
        textDocument: {
          synchronization: { dynamicRegistration: false, didSave: false },
          publishDiagnostics: { relatedInformation: true, versionSupport: true, tagSupport: { valueSet: [1, 2] }, codeDescriptionSupport: true, dataSupport: true },
          completion: { completionItem: { snippetSupport: true, documentationFormat: ['markdown', 'plaintext'] } },
          hover: { contentFormat: ['markdown', 'plaintext'] },
          documentSymbol: { hierarchicalDocumentSymbolSupport: true },
          foldingRange: { lineFoldingOnly: false },
          codeAction: {
            codeActionLiteralSupport: { codeActionKind: { valueSet: ['quickfix', 'refactor', 'refactor.rewrite', 'source'] } },
            isPreferredSupport: true,
            dataSupport: true,
          },
        },
        workspace: { configuration: false, workspaceFolders: false },
      },
    });
    this.initializeResult = res;
    await this.notify('initialized', {});
    return res;
  }

  /** Send a request; rejects after `timeoutMs` (or when the server dies). */
  request<T>(method: string, params: unknown, timeoutMs = this.timeoutMs): Promise<T> {
    if (!this.alive()) return Promise.reject(new Error(`server is not running (request ${method}); stderr:\n${this.stderr.slice(-4000)}`));
    const died = this.exitPromise.then(() => {
      throw new Error(`server exited during ${method} (code ${this.exit?.code}, signal ${this.exit?.signal}); stderr:\n${this.stderr.slice(-4000)}`);
    });
    return withTimeout(Promise.race([this.conn.sendRequest<T>(method, params), died]), timeoutMs, `response to ${method}`);
  }

  notify(method: string, params: unknown): Promise<void> {
    if (!this.alive()) return Promise.reject(new Error(`server is not running (notification ${method})`));
    return withTimeout(this.conn.sendNotification(method, params), this.timeoutMs, `sending ${method}`);
  }

  /** The current diagnostics arrival counter: pass it as `after` to wait for newer ones. */
  mark(): number {
    return this.seq;
  }

  /**
   * Wait for diagnostics of `uri` with `version >= opts.version` (when given) that arrived
   * after `opts.after` (when given). Already-received diagnostics count.
   */
  waitForDiagnostics(uri: string, opts: { version?: number; after?: number; timeoutMs?: number } = {}): Promise<PublishedDiagnostics> {
    const pred = (d: PublishedDiagnostics) =>
      (opts.after === undefined || d.seq > opts.after) &&
      (opts.version === undefined || (d.version !== undefined && d.version >= opts.version));
    const have = this.latest.get(uri);
    if (have && pred(have)) return Promise.resolve(have);
    if (!this.alive()) return Promise.reject(new Error(`server is not running (diagnostics for ${uri}); stderr:\n${this.stderr.slice(-4000)}`));
    let waiter!: DiagWaiter;
    const p = new Promise<PublishedDiagnostics>((resolve, reject) => {
      waiter = { uri, pred, resolve, reject };
      this.waiters.push(waiter);
    });
    const ms = opts.timeoutMs ?? this.timeoutMs;
    return withTimeout(p, ms, `publishDiagnostics for ${uri}` + (opts.version !== undefined ? ` version ${opts.version}` : '')).catch((e) => {
      this.waiters = this.waiters.filter((w) => w !== waiter);
      throw e;
    });
  }

  async open(uri: string, text: string, version = 1, languageId = 'containerd-toml'): Promise<void> {
    await this.notify('textDocument/didOpen', { textDocument: { uri, languageId, version, text } });
  }

  /** Open and wait for the diagnostics of that version. */
  async openAndWait(uri: string, text: string, version = 1, timeoutMs?: number): Promise<PublishedDiagnostics> {
    const after = this.mark();
    await this.open(uri, text, version);
    return this.waitForDiagnostics(uri, { version, after, timeoutMs });
  }

  /** Replace the whole text (a range-less content change). */
  async changeFull(uri: string, version: number, text: string): Promise<void> {
    await this.notify('textDocument/didChange', { textDocument: { uri, version }, contentChanges: [{ text }] });
  }

  async changeIncremental(uri: string, version: number, changes: { range: Range; text: string }[]): Promise<void> {
    await this.notify('textDocument/didChange', { textDocument: { uri, version }, contentChanges: changes });
  }

  async changeAndWait(uri: string, version: number, text: string, timeoutMs?: number): Promise<PublishedDiagnostics> {
    const after = this.mark();
    await this.changeFull(uri, version, text);
    return this.waitForDiagnostics(uri, { version, after, timeoutMs });
  }

  async close(uri: string): Promise<void> {
    await this.notify('textDocument/didClose', { textDocument: { uri } });
  }

  // -------------------------------------------------------------- typed requests

  completion(uri: string, position: Position, timeoutMs?: number): Promise<CompletionList | CompletionItem[] | null> {
    return this.request('textDocument/completion', { textDocument: { uri }, position }, timeoutMs);
  }

  hover(uri: string, position: Position, timeoutMs?: number): Promise<Hover | null> {
    return this.request('textDocument/hover', { textDocument: { uri }, position }, timeoutMs);
  }

  documentSymbol(uri: string, timeoutMs?: number): Promise<DocumentSymbol[] | null> {
    return this.request('textDocument/documentSymbol', { textDocument: { uri } }, timeoutMs);
  }

  foldingRange(uri: string, timeoutMs?: number): Promise<FoldingRange[] | null> {
    return this.request('textDocument/foldingRange', { textDocument: { uri } }, timeoutMs);
  }

  codeAction(uri: string, range: Range, diagnostics: Diagnostic[], only?: string[], timeoutMs?: number): Promise<CodeAction[] | null> {
    return this.request('textDocument/codeAction', { textDocument: { uri }, range, context: { diagnostics, ...(only ? { only } : {}) } }, timeoutMs);
  }

  documentInfo(uri: string, timeoutMs?: number): Promise<Record<string, unknown> | null> {
    return this.request('containerd/documentInfo', { uri }, timeoutMs);
  }

  // -------------------------------------------------------------- teardown

  /** shutdown + exit; SIGKILL when the server does not exit within the timeout. Never throws. */
  async shutdown(timeoutMs = 5000): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    if (this.alive()) {
      try {
        await this.request('shutdown', null, timeoutMs);
        await withTimeout(this.conn.sendNotification('exit'), 1000, 'exit');
      } catch {
        /* fall through to kill */
      }
      try {
        await withTimeout(this.exitPromise, timeoutMs, 'server exit');
      } catch {
        this.kill();
        await withTimeout(this.exitPromise, 2000, 'server exit after SIGKILL').catch(() => undefined);
      }
    }
    this.conn.dispose();
  }

  kill(): void {
    if (this.alive()) this.proc.kill('SIGKILL');
  }
}

/** Items of a completion answer, whichever shape it has. */
export function itemsOf(r: CompletionList | CompletionItem[] | null | undefined): CompletionItem[] {
  if (!r) return [];
  return Array.isArray(r) ? r : r.items;
}

/** Position of the first occurrence of `needle` in `text` (+ `delta` characters), throws if absent. */
export function positionOf(text: string, needle: string, delta = 0, from = 0): Position {
  const i = text.indexOf(needle, from);
  if (i < 0) throw new Error(`"${needle}" not in text`);
  return offsetToPosition(text, i + delta);
}

export function offsetToPosition(text: string, offset: number): Position {
  let line = 0;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, character: Math.min(offset, text.length) - lineStart };
}

export function positionToOffset(text: string, pos: Position): number {
  let line = 0;
  let i = 0;
  while (line < pos.line && i < text.length) {
    const nl = text.indexOf('\n', i);
    if (nl < 0) return text.length;
    i = nl + 1;
    line++;
  }
  let end = text.indexOf('\n', i);
  if (end < 0) end = text.length;
  return Math.min(i + pos.character, end);
}

/** Apply LSP text edits (non-overlapping) to a text. */
export function applyEdits(text: string, edits: { range: Range; newText: string }[]): string {
  const withOffsets = edits.map((e, idx) => ({ s: positionToOffset(text, e.range.start), e: positionToOffset(text, e.range.end), t: e.newText, idx }));
  withOffsets.sort((a, b) => b.s - a.s || b.e - a.e || b.idx - a.idx);
  let out = text;
  for (const e of withOffsets) out = out.slice(0, e.s) + e.t + out.slice(e.e);
  return out;
}
