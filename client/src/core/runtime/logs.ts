/**
 * Container logs (no vscode import): the CRI log file format and reading it over SSH.
 *
 * containerd's CRI plugin writes every container's stdout/stderr to `<pod log_directory>/<log_path>`
 * as records `<RFC3339Nano time> <stdout|stderr> <tags> <message>\n`, where the first tag is `P`
 * (partial: the line was longer than max_container_log_line_size or not yet ended, the next record of
 * the same stream continues it) or `F` (full: the line ends here); further tags are `:`-separated.
 * The file belongs to root (0640), so it is read without sudo when the login user can, else with sudo.
 * Containers started outside CRI (`ctr run`, nerdctl, …) have no such file: their output goes wherever
 * their creator sent it, which this module reports as `LogError('not-cri')`.
 *
 * Reading is `tail` on the host (argv only; a fixed `sh -c` script takes the path, counts and stream as
 * positional parameters), parsed here incrementally with bounded buffers: at most `limit` lines of
 * history, every raw record and every joined message cut at `maxLineChars`.
 */
import { StringDecoder } from 'node:string_decoder';
import type { HostConnection, RemoteProcess } from '../ssh/types';
import type { ContainerInfo } from './types';

export type LogStream = 'stdout' | 'stderr';
export type StreamFilter = LogStream | 'both';

/** One logical log line: a full record, or partial records of one stream joined up to their `F`. */
export interface LogLine {
  /** RFC3339Nano time of the (first) record, as containerd wrote it. */
  time: string;
  /** the same in ms since the epoch (sub-ms digits dropped) */
  ms: number;
  stream: LogStream;
  message: string;
  /** the line never got its final `F` record (end of the read, or the container stopped mid-line) */
  incomplete?: boolean;
  /** longer than the line limit: cut there */
  truncated?: boolean;
}

/** One record of the file, before partials are joined. */
export interface CriRecord {
  time: string;
  ms: number;
  stream: LogStream;
  partial: boolean;
  message: string;
}

export type LogErrorKind =
  /** the container was not created through CRI: containerd keeps no log file for it */
  | 'not-cri'
  /** a CRI container without a log file (its pod has no log directory, or the file was removed) */
  | 'no-file'
  /** the file exists but neither the login user nor sudo may read it */
  | 'access'
  /** the caller's signal aborted the read */
  | 'cancelled'
  /** anything else (tail failed, the connection dropped) */
  | 'failed';

export class LogError extends Error {
  constructor(
    message: string,
    readonly kind: LogErrorKind,
  ) {
    super(message);
    this.name = 'LogError';
  }
}

// ---- the format ----------------------------------------------------------------------------------

const TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;
const TAGS_RE = /^[PF](?::[^\s:]*)*$/;

/** ms since the epoch of an RFC3339(Nano) time, or NaN. */
export function rfc3339ToMs(time: string): number {
  if (!TIME_RE.test(time)) return NaN;
  // Date.parse takes at most ms precision reliably: cut the fraction to 3 digits
  return Date.parse(time.replace(/\.(\d{1,9})/, (_m, f: string) => '.' + f.slice(0, 3).padEnd(3, '0')));
}

/**
 * One line of a CRI log file (without its newline; a trailing CR is dropped) → a record, or
 * undefined when it is not one (garbage, a cut-off line, an empty line).
 */
export function parseCriLine(line: string): CriRecord | undefined {
  if (line.endsWith('\r')) line = line.slice(0, -1);
  const a = line.indexOf(' ');
  if (a <= 0) return undefined;
  const b = line.indexOf(' ', a + 1);
  if (b < 0) return undefined;
  let c = line.indexOf(' ', b + 1);
  if (c < 0) c = line.length; // `TIME STREAM F` with nothing after the tag: an empty message
  const time = line.slice(0, a);
  const stream = line.slice(a + 1, b);
  const tags = line.slice(b + 1, c);
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  if (!TAGS_RE.test(tags)) return undefined;
  const ms = rfc3339ToMs(time);
  if (Number.isNaN(ms)) return undefined;
  return { time, ms, stream, partial: tags[0] === 'P', message: line.slice(c + 1) };
}

export interface ParserOptions {
  /** longest raw record and longest joined message kept (characters); the rest is dropped. Default 256 Ki. */
  maxLineChars?: number;
}

/**
 * Incremental parser: feed it chunks as they arrive (lines may be split anywhere, UTF-8 too), get
 * the logical lines that completed. Partial records are joined per stream (stdout and stderr
 * partials may interleave). Memory: one raw line plus one pending message per stream, each bounded.
 */
export class CriLogParser {
  /** records that were not CRI records (garbage, cut lines) */
  skipped = 0;
  private readonly max: number;
  private readonly decoder = new StringDecoder('utf8');
  private buf = '';
  /** the current raw line is over the limit: drop the rest up to the next newline */
  private dropping = false;
  private cutRaw = false;
  private readonly pending: Partial<Record<LogStream, LogLine>> = {};

  constructor(opts: ParserOptions = {}) {
    this.max = Math.max(16, opts.maxLineChars ?? 256 * 1024);
  }

  push(chunk: Buffer | string): LogLine[] {
    const text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    const out: LogLine[] = [];
    let from = 0;
    for (;;) {
      const nl = text.indexOf('\n', from);
      const piece = nl < 0 ? text.slice(from) : text.slice(from, nl);
      if (!this.dropping) {
        // the raw line may carry a time, stream and tags in front of a message of max chars
        const room = this.max + 128 - this.buf.length;
        if (piece.length > room) {
          this.buf += piece.slice(0, Math.max(0, room));
          this.dropping = true;
          this.cutRaw = true;
        } else this.buf += piece;
      }
      if (nl < 0) break;
      this.line(this.buf, this.cutRaw, out);
      this.buf = '';
      this.dropping = false;
      this.cutRaw = false;
      from = nl + 1;
    }
    return out;
  }

  /** End of input: a last unterminated line counts, pending partials come out as incomplete. */
  end(): LogLine[] {
    const out: LogLine[] = [];
    const rest = this.decoder.end();
    if (rest) out.push(...this.push(rest));
    if (this.buf) this.line(this.buf, this.cutRaw, out);
    this.buf = '';
    this.dropping = this.cutRaw = false;
    out.push(...this.flush());
    return out;
  }

  /** Pending partial lines as incomplete lines (oldest first), and forget them. */
  flush(): LogLine[] {
    const out = (['stdout', 'stderr'] as const)
      .map((s) => this.pending[s])
      .filter((l): l is LogLine => !!l)
      .sort((x, y) => x.ms - y.ms);
    for (const l of out) l.incomplete = true;
    this.pending.stdout = this.pending.stderr = undefined;
    return out;
  }

  private line(raw: string, cut: boolean, out: LogLine[]): void {
    if (!raw || raw === '\r') return;
    const r = parseCriLine(raw);
    if (!r) {
      this.skipped++;
      return;
    }
    const p = this.pending[r.stream];
    let l: LogLine;
    if (p) {
      l = p;
      const room = this.max - l.message.length;
      if (r.message.length > room) {
        l.message += r.message.slice(0, Math.max(0, room));
        l.truncated = true;
      } else l.message += r.message;
    } else {
      l = { time: r.time, ms: r.ms, stream: r.stream, message: r.message };
      if (l.message.length > this.max) {
        l.message = l.message.slice(0, this.max);
        l.truncated = true;
      }
    }
    if (cut) {
      l.truncated = true;
      if (l.message.length > this.max) l.message = l.message.slice(0, this.max);
    }
    if (r.partial) this.pending[r.stream] = l;
    else {
      this.pending[r.stream] = undefined;
      if (l.message.endsWith('\r')) l.message = l.message.slice(0, -1); // a program printing CRLF
      out.push(l);
    }
  }
}

/** Parse a whole CRI log text (tests, small files). */
export function parseCriLog(text: string | Buffer, opts?: ParserOptions): { lines: LogLine[]; skipped: number } {
  const p = new CriLogParser(opts);
  const lines = [...p.push(text), ...p.end()];
  return { lines, skipped: p.skipped };
}

// ---- options -----------------------------------------------------------------------------------------

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A Go-style duration (`90s`, `5m`, `1h30m`, `1.5h`, also `2d`) in ms, or undefined. */
export function parseDuration(s: string): number | undefined {
  const t = s.trim();
  if (!/^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h|d))+$/.test(t)) return undefined;
  let ms = 0;
  for (const m of t.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)/g)) ms += Number(m[1]) * DURATION_UNITS[m[2]];
  return ms;
}

/**
 * `since` as the user gives it: a Date, seconds (number), a duration (`10m`: that long before `now`)
 * or an RFC3339 time / date (`2025-01-02T03:04:05Z`). Throws on anything else.
 */
export function parseSince(since: Date | number | string, now = Date.now()): Date {
  if (since instanceof Date) {
    if (Number.isNaN(since.getTime())) throw new Error('since: invalid date');
    return since;
  }
  if (typeof since === 'number') {
    if (!Number.isFinite(since) || since < 0) throw new Error('since: expected a number of seconds ≥ 0');
    return new Date(now - since * 1000);
  }
  const d = parseDuration(since);
  if (d !== undefined) return new Date(now - d);
  if (/^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/.test(since.trim())) {
    const ms = Date.parse(since.trim());
    if (!Number.isNaN(ms)) return new Date(ms);
  }
  throw new Error(`since: "${since}" is neither a duration (30s, 5m, 1h30m) nor a time (2025-01-02T03:04:05Z)`);
}

export interface LineFilter {
  /** keep lines containing this (case-insensitive), or matching it when written /regex/flags */
  include?: string;
  /** drop lines containing / matching this */
  exclude?: string;
}

function matcher(spec: string | undefined): ((s: string) => boolean) | undefined {
  const t = spec?.trim();
  if (!t) return undefined;
  const re = /^\/(.+)\/([a-z]*)$/.exec(t);
  if (re) {
    try {
      const rx = new RegExp(re[1], re[2].replace(/[gy]/g, ''));
      return (s) => rx.test(s);
    } catch {
      /* not a valid regex: plain text */
    }
  }
  const needle = t.toLowerCase();
  return (s) => s.toLowerCase().includes(needle);
}

/** The include/exclude filter of the log viewer (the same rules run in its webview). */
export function makeLineFilter(f: LineFilter): (message: string) => boolean {
  const inc = matcher(f.include);
  const exc = matcher(f.exclude);
  return (m) => (!inc || inc(m)) && !(exc && exc(m));
}

/** `[time ]message` as `crictl logs [--timestamps]` prints it. */
export function formatLogLine(l: LogLine, opts: { timestamps?: boolean } = {}): string {
  return opts.timestamps ? `${l.time} ${l.message}` : l.message;
}

// ---- reading over SSH -----------------------------------------------------------------------------

export interface ReadLogsOptions {
  /** the last N lines (default: up to `limit`) */
  tail?: number;
  /** only lines at or after this time (Date, seconds, duration `10m`, or RFC3339) */
  since?: Date | number | string;
  stream?: StreamFilter;
  /** keep reading new lines until `signal` aborts (or `until` says stop) */
  follow?: boolean;
  signal?: AbortSignal;
  /**
   * Called with the history once (phase 'history', possibly empty), then in follow mode with each
   * batch of new lines (phase 'live'). Live lines are not kept in the result.
   */
  onLines?: (lines: LogLine[], phase: 'history' | 'live') => void;
  /** follow only: polled every `untilEveryMs` (default 2000); true ends the follow (e.g. the container exited) */
  until?: () => Promise<boolean>;
  untilEveryMs?: number;
  /** most history lines ever read (bounded memory; default 10 000) */
  limit?: number;
  maxLineChars?: number;
  /** now, for `since` durations (tests) */
  now?: number;
}

export interface ReadLogsResult {
  /** the history lines (at most `tail` / `limit`) */
  lines: LogLine[];
  /** older matching lines exist that were left out because of `tail` / `limit` */
  limited: boolean;
  /** records that were not CRI records */
  skipped: number;
  /** read with sudo (the login user could not read the file) */
  sudo: boolean;
  /** follow mode: why it ended */
  ended?: 'signal' | 'until' | 'closed';
  /** follow mode, ended 'closed': what the remote side said (tail's stderr, or the exit status) */
  detail?: string;
}

/** Extra records read before the wanted tail, so that a line split into partials is not cut at the window's start. */
const SLACK = 256;

/** history only, one stream: the last N records of that stream */
const STREAM_TAIL_SCRIPT = 'awk -v s="$1" \'$2 == s\' "$3" | tail -n "$2"';
/**
 * follow: the history as of now (size measured first: exact, no line twice or lost), a marker line
 * (never a CRI record: those start with a digit), then everything after that size, following the
 * name across rotations. $1 = stream or both, $2 = N, $3 = file.
 */
export const LIVE_MARK = '#containerd-taskserv:live';
const FOLLOW_SCRIPT = [
  'size=$(wc -c < "$3") || exit 3',
  'if [ "$1" = both ]; then head -c "$size" "$3" | tail -n "$2"; else head -c "$size" "$3" | awk -v s="$1" \'$2 == s\' | tail -n "$2"; fi',
  `printf '\\n%s\\n' '${LIVE_MARK}'`,
  'exec tail -c "+$((size + 1))" -F "$3"',
].join('\n');

/** The container's CRI log file, or a LogError saying why there is none. */
export function containerLogPath(c: ContainerInfo): string {
  if (c.source !== 'cri')
    throw new LogError(
      `${c.name || c.id} (namespace ${c.namespace}) was not created through CRI: containerd keeps no log file for it; its output went to whoever started it (for \`ctr run -d\`: nowhere).`,
      'not-cri',
    );
  if (!c.logPath)
    throw new LogError(`${c.name || c.id} has no log file: its pod was created without a log directory, so containerd does not record its output.`, 'no-file');
  return c.logPath;
}

function checkPath(p: string): void {
  if (!p.startsWith('/') || /[\0\n\r]/.test(p) || /(^|\/)\.\.(\/|$)/.test(p)) throw new LogError(`not a log file path: ${JSON.stringify(p)}`, 'failed');
}

/** Can the login user read it (no sudo)? Else does it exist for root? → sudo or a LogError. */
async function accessMode(conn: HostConnection, logPath: string, signal?: AbortSignal): Promise<boolean> {
  const plain = await conn.exec(['test', '-r', logPath], { signal, timeoutMs: 30_000 });
  if (plain.code === 0) return false;
  let r;
  try {
    r = await conn.exec(['test', '-f', logPath], { sudo: true, signal, timeoutMs: 30_000 });
  } catch (e) {
    const m = e instanceof Error ? e.message : String(e);
    if ((e as { kind?: string }).kind === 'cancelled') throw e;
    throw new LogError(`${logPath}: the login user cannot read it and sudo failed: ${m}`, 'access');
  }
  if (r.code === 0) return true;
  if (r.code === 1) throw new LogError(`the log file ${logPath} does not exist (the container may have been removed, or it never started)`, 'no-file');
  throw new LogError(`${logPath}: sudo failed: ${r.stderr.trim() || `exit ${r.code}`}`, 'access');
}

function clampInt(n: number | undefined, dflt: number, max: number): number {
  if (n === undefined || !Number.isFinite(n)) return dflt;
  return Math.min(max, Math.max(0, Math.floor(n)));
}

/** Collect a process's output through the parser; resolves at exit. */
function drain(
  proc: RemoteProcess,
  onChunk: (b: Buffer) => void,
  stderrCap = 8192,
): Promise<{ code: number | null; stderr: string }> {
  let stderr = '';
  proc.stdout.on('data', (b: Buffer | string) => onChunk(typeof b === 'string' ? Buffer.from(b) : b));
  proc.stderr.on('data', (b: Buffer | string) => {
    if (stderr.length < stderrCap) stderr += b.toString();
  });
  return proc.exited.then((x) => ({ code: x.code, stderr: stderr.slice(0, stderrCap) }));
}

/**
 * Read a CRI log file on the host: the last `tail` lines (since `since`, of `stream`), and with
 * `follow` every line written after them until `signal` aborts or `until()` is true.
 */
export async function readLogs(conn: HostConnection, logPath: string, opts: ReadLogsOptions = {}): Promise<ReadLogsResult> {
  checkPath(logPath);
  const stream = opts.stream ?? 'both';
  if (stream !== 'both' && stream !== 'stdout' && stream !== 'stderr') throw new LogError(`stream: expected stdout, stderr or both, not ${String(stream)}`, 'failed');
  const limit = clampInt(opts.limit, 10_000, 1_000_000);
  const want = Math.min(limit, clampInt(opts.tail, limit, limit));
  const sinceMs = opts.since !== undefined ? parseSince(opts.since, opts.now).getTime() : undefined;
  const fetch = String(want + SLACK);
  const sudo = await accessMode(conn, logPath, opts.signal);
  const parser = new CriLogParser({ maxLineChars: opts.maxLineChars });
  const keep = (l: LogLine) => (stream === 'both' || l.stream === stream) && (sinceMs === undefined || l.ms >= sinceMs);
  let history: LogLine[] = [];
  let records = 0;
  const addHistory = (ls: LogLine[]) => {
    for (const l of ls) {
      if (!keep(l)) continue;
      history.push(l);
      if (history.length > want + SLACK) history = history.slice(-(want + 1)); // bounded while reading
    }
  };
  const finishHistory = (): { lines: LogLine[]; limited: boolean } => {
    // the window was full: its first line may be the tail end of a longer one (or of a line before `since`)
    const full = records >= want + SLACK;
    const lines = history.length > want ? history.slice(-want) : history;
    return { lines, limited: history.length > want || (full && lines.length >= want) };
  };
  const countRecords = (b: Buffer) => {
    for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) records++;
  };

  if (!opts.follow) {
    const argv = stream === 'both' ? ['tail', '-n', fetch, '--', logPath] : ['sh', '-c', STREAM_TAIL_SCRIPT, 'sh', stream, fetch, logPath];
    if (want === 0) {
      opts.onLines?.([], 'history');
      return { lines: [], limited: false, skipped: 0, sudo };
    }
    const proc = await conn.spawn(argv, { sudo, signal: opts.signal });
    const done = await drain(proc, (b) => {
      countRecords(b);
      addHistory(parser.push(b));
    });
    if (opts.signal?.aborted) throw new LogError(`reading ${logPath}: cancelled`, 'cancelled');
    if (done.code !== 0) throw new LogError(`reading ${logPath} failed: ${done.stderr.trim() || `exit ${done.code}`}`, 'failed');
    addHistory(parser.end());
    const h = finishHistory();
    opts.onLines?.(h.lines, 'history');
    return { ...h, skipped: parser.skipped, sudo };
  }

  // follow: one process for history + live (no gap, no duplicate)
  const proc = await conn.spawn(['sh', '-c', FOLLOW_SCRIPT, 'sh', stream, String(want === 0 ? 0 : fetch), logPath], { sudo, signal: opts.signal });
  let live = false;
  let result: { lines: LogLine[]; limited: boolean } = { lines: [], limited: false };
  let ended: ReadLogsResult['ended'] = 'closed';
  let stopping = false;
  const stop = (why: ReadLogsResult['ended']) => {
    if (stopping) return;
    stopping = true;
    ended = why;
    proc.kill();
  };
  const onAbort = () => stop('signal');
  if (opts.signal?.aborted) onAbort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  let tailBuf = Buffer.alloc(0);
  const onChunk = (b: Buffer) => {
    if (!live) {
      // look for the marker line; everything before it is history
      const all = tailBuf.length ? Buffer.concat([tailBuf, b]) : b;
      const at = all.indexOf(`\n${LIVE_MARK}\n`);
      if (at < 0) {
        // keep a little for a marker split across chunks; parse the rest
        const safe = Math.max(0, all.length - LIVE_MARK.length - 2);
        const head = all.subarray(0, safe);
        countRecords(head);
        addHistory(parser.push(head));
        tailBuf = Buffer.from(all.subarray(safe));
        return;
      }
      const head = all.subarray(0, at + 1);
      countRecords(head);
      addHistory(parser.push(head));
      // a history line still waiting for its F continues in the live part: keep the parser's state
      result = finishHistory();
      history = [];
      live = true;
      opts.onLines?.(result.lines, 'history');
      b = Buffer.from(all.subarray(at + LIVE_MARK.length + 2));
      tailBuf = Buffer.alloc(0);
      if (!b.length) return;
    }
    const ls = parser.push(b).filter(keep);
    if (ls.length) opts.onLines?.(ls, 'live');
  };
  let timer: NodeJS.Timeout | undefined;
  if (opts.until) {
    const every = Math.max(200, opts.untilEveryMs ?? 2000);
    const check = async (): Promise<void> => {
      let yes = false;
      try {
        yes = await opts.until!();
      } catch {
        /* keep following when the check itself failed */
      }
      if (yes) {
        // the last lines may still be on their way from the container's pipe to the file
        timer = setTimeout(() => stop('until'), Math.min(every, 1000));
      } else if (!stopping) timer = setTimeout(() => void check(), every);
    };
    timer = setTimeout(() => void check(), every);
  }
  try {
    const done = await drain(proc, onChunk);
    const rest = parser.end().filter(keep);
    if (!live) {
      // ended before the marker (tail failed, or stopped very early)
      addHistory(rest);
      result = finishHistory();
      opts.onLines?.(result.lines, 'history');
      if (!stopping && done.code !== 0) throw new LogError(`reading ${logPath} failed: ${done.stderr.trim() || `exit ${done.code}`}`, 'failed');
    } else if (rest.length) opts.onLines?.(rest, 'live');
    const r: ReadLogsResult = { ...result, skipped: parser.skipped, sudo, ended };
    if (ended === 'closed') r.detail = done.stderr.trim() || `exit ${done.code ?? 'by signal'}`;
    return r;
  } finally {
    if (timer) clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * Logs of a container: its CRI log file through `readLogs`, or a LogError for containers without
 * one. In follow mode for a container that is not running, the history is read and the follow
 * skipped (nothing will be written any more).
 */
export async function readContainerLogs(conn: HostConnection, c: ContainerInfo, opts: ReadLogsOptions = {}): Promise<ReadLogsResult> {
  const file = containerLogPath(c);
  return readLogs(conn, file, { ...opts, follow: !!opts.follow && (c.state === 'running' || c.state === 'created' || c.state === 'unknown') });
}
