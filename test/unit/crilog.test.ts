// The CRI log format (client/src/core/runtime/logs.ts): records, partials joined per stream, bad
// lines skipped, CRLF, huge lines bounded, chunks split anywhere; since/duration parsing; the
// viewer's include/exclude filter.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CriLogParser,
  LogError,
  containerLogPath,
  formatLogLine,
  makeLineFilter,
  parseCriLine,
  parseCriLog,
  parseDuration,
  parseSince,
  rfc3339ToMs,
  type LogLine,
} from '../../client/src/core/runtime/logs';
import type { ContainerInfo } from '../../client/src/core/runtime/types';

const T1 = '2025-03-04T05:06:07.123456789Z';
const T2 = '2025-03-04T05:06:08.5Z';
const T3 = '2025-03-04T07:06:09+02:00';
const rec = (t: string, s: string, tag: string, m: string) => `${t} ${s} ${tag} ${m}\n`;
const msgs = (ls: LogLine[]) => ls.map((l) => `${l.stream}:${l.message}`);

describe('parseCriLine', () => {
  test('a full record: time, stream, message (spaces kept)', () => {
    const r = parseCriLine(`${T1} stdout F hello  world `);
    assert.deepEqual(r, { time: T1, ms: Date.UTC(2025, 2, 4, 5, 6, 7, 123), stream: 'stdout', partial: false, message: 'hello  world ' });
  });
  test('partial tag, extra tags, stderr, empty message with and without the separator', () => {
    assert.equal(parseCriLine(`${T2} stderr P abc`)?.partial, true);
    assert.equal(parseCriLine(`${T2} stderr F:x:y abc`)?.message, 'abc');
    assert.equal(parseCriLine(`${T2} stdout F `)?.message, '');
    assert.equal(parseCriLine(`${T2} stdout F`)?.message, '');
  });
  test('time zones and fractions of any length', () => {
    assert.equal(parseCriLine(`${T3} stdout F x`)?.ms, Date.UTC(2025, 2, 4, 5, 6, 9));
    assert.equal(rfc3339ToMs(T2), Date.UTC(2025, 2, 4, 5, 6, 8, 500));
    assert.equal(rfc3339ToMs('2025-03-04T05:06:07Z'), Date.UTC(2025, 2, 4, 5, 6, 7));
  });
  test('garbage is refused', () => {
    for (const bad of [
      '',
      'hello world',
      `${T1} stdout`,
      `${T1} stdin F x`,
      `${T1} stdout X x`,
      `${T1} stdout PF x`,
      `2025-03-04 05:06:07 stdout F x`,
      `yesterday stdout F x`,
      `${T1}  stdout F x`,
      `{"log":"x\\n","stream":"stdout","time":"${T1}"}`,
    ])
      assert.equal(parseCriLine(bad), undefined, bad);
  });
});

describe('CriLogParser', () => {
  test('partials are joined up to F, per stream, even when the streams interleave', () => {
    const text =
      rec(T1, 'stdout', 'P', 'one-') +
      rec(T1, 'stderr', 'P', 'err-') +
      rec(T1, 'stdout', 'P', 'two-') +
      rec(T2, 'stderr', 'F', 'end') +
      rec(T2, 'stdout', 'F', 'three') +
      rec(T2, 'stdout', 'F', 'next');
    const { lines, skipped } = parseCriLog(text);
    assert.deepEqual(msgs(lines), ['stderr:err-end', 'stdout:one-two-three', 'stdout:next']);
    assert.equal(lines[1].time, T1, 'a joined line carries its first record\'s time');
    assert.equal(skipped, 0);
  });
  test('bad lines in between are skipped and counted; partials survive them', () => {
    const text = rec(T1, 'stdout', 'P', 'a') + 'garbage line\n' + '\n' + rec(T1, 'stdout', 'F', 'b') + `${T1} stdout\n` + rec(T2, 'stderr', 'F', 'c');
    const { lines, skipped } = parseCriLog(text);
    assert.deepEqual(msgs(lines), ['stdout:ab', 'stderr:c']);
    assert.equal(skipped, 2);
  });
  test('CRLF line ends and a program printing CRLF', () => {
    const text = `${T1} stdout F dos\r\n` + `${T1} stdout F crlf-from-program\r\r\n` + `${T1} stdout P split\r\n${T1} stdout F -end\r\n`;
    assert.deepEqual(msgs(parseCriLog(text).lines), ['stdout:dos', 'stdout:crlf-from-program', 'stdout:split-end']);
  });
  test('a pending partial at the end comes out incomplete; a last line without newline counts', () => {
    const { lines } = parseCriLog(rec(T1, 'stdout', 'F', 'x') + `${T2} stderr P half` + '\n' + `${T2} stdout F no-newline`);
    assert.deepEqual(msgs(lines), ['stdout:x', 'stdout:no-newline', 'stderr:half']);
    assert.equal(lines[2].incomplete, true);
    assert.equal(lines[0].incomplete, undefined);
  });
  test('chunks split anywhere (inside UTF-8 characters too) give the same lines', () => {
    const text = Buffer.from(
      rec(T1, 'stdout', 'F', 'grüße 🚀 ünïcödé') + rec(T1, 'stdout', 'P', '→ part') + rec(T2, 'stdout', 'F', ' ← end') + rec(T3, 'stderr', 'F', 'ok'),
    );
    const whole = parseCriLog(text).lines;
    for (let size = 1; size <= 17; size++) {
      const p = new CriLogParser();
      const got: LogLine[] = [];
      for (let i = 0; i < text.length; i += size) got.push(...p.push(text.subarray(i, i + size)));
      got.push(...p.end());
      assert.deepEqual(got, whole, `chunk size ${size}`);
    }
    assert.deepEqual(msgs(whole), ['stdout:grüße 🚀 ünïcödé', 'stdout:→ part ← end', 'stderr:ok']);
  });
  test('huge lines: one raw record and a long chain of partials are both cut at the limit', () => {
    const max = 1000;
    const huge = 'x'.repeat(5_000_000);
    const p = new CriLogParser({ maxLineChars: max });
    const out: LogLine[] = [];
    // one 5 MB record fed in 64 KiB chunks
    const big = Buffer.from(rec(T1, 'stdout', 'F', huge) + rec(T2, 'stdout', 'F', 'after'));
    for (let i = 0; i < big.length; i += 65536) out.push(...p.push(big.subarray(i, i + 65536)));
    // 2000 partials of 100 chars
    for (let i = 0; i < 2000; i++) out.push(...p.push(rec(T2, 'stderr', 'P', 'y'.repeat(100))));
    out.push(...p.push(rec(T2, 'stderr', 'F', 'z')));
    out.push(...p.end());
    assert.equal(out.length, 3);
    assert.equal(out[0].message.length, max);
    assert.equal(out[0].truncated, true);
    assert.deepEqual([out[1].message, out[1].truncated], ['after', undefined]);
    assert.equal(out[2].message.length, max);
    assert.equal(out[2].truncated, true);
    assert.equal(out[2].stream, 'stderr');
  });
  test('a joined line exactly at the limit is not marked truncated', () => {
    const { lines } = parseCriLog(rec(T1, 'stdout', 'P', 'a'.repeat(10)) + rec(T1, 'stdout', 'F', 'b'.repeat(6)), { maxLineChars: 16 });
    assert.equal(lines[0].message, 'a'.repeat(10) + 'b'.repeat(6));
    assert.equal(lines[0].truncated, undefined);
  });
});

describe('since, durations, filters, formatting', () => {
  test('Go-style durations', () => {
    assert.equal(parseDuration('90s'), 90_000);
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('1.5h'), 5_400_000);
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('2d'), 172_800_000);
    for (const bad of ['', '10', 'm', '5 m', '-5m', '1y']) assert.equal(parseDuration(bad), undefined, bad);
  });
  test('since: duration, seconds, RFC3339, Date; junk is an error', () => {
    const now = Date.UTC(2025, 0, 1, 12, 0, 0);
    assert.equal(parseSince('10m', now).getTime(), now - 600_000);
    assert.equal(parseSince(30, now).getTime(), now - 30_000);
    assert.equal(parseSince('2025-01-01T11:00:00Z', now).getTime(), Date.UTC(2025, 0, 1, 11));
    assert.equal(parseSince('2025-01-01T13:00:00+02:00', now).getTime(), Date.UTC(2025, 0, 1, 11));
    const d = new Date(now - 5);
    assert.equal(parseSince(d, now), d);
    for (const bad of ['soon', '10', '2025-13-45T99:00:00Z', '1y']) assert.throws(() => parseSince(bad, now), /since/, bad);
  });
  test('include/exclude: text (case-insensitive) or /regex/', () => {
    const f = makeLineFilter({ include: 'ERROR', exclude: 'health' });
    assert.equal(f('an error here'), true);
    assert.equal(f('error in healthcheck'), false);
    assert.equal(f('all good'), false);
    const r = makeLineFilter({ include: '/^\\d+ ok$/' });
    assert.equal(r('42 ok'), true);
    assert.equal(r('x 42 ok'), false);
    assert.equal(makeLineFilter({ include: '/[unclosed/' })('a /[unclosed/ b'), true, 'a bad regex is plain text');
    assert.equal(makeLineFilter({})('anything'), true);
  });
  test('formatting with and without timestamps', () => {
    const l: LogLine = { time: T1, ms: 0, stream: 'stdout', message: 'm' };
    assert.equal(formatLogLine(l), 'm');
    assert.equal(formatLogLine(l, { timestamps: true }), `${T1} m`);
  });
  test('containers without a CRI log file get a typed error', () => {
    const base: ContainerInfo = { id: 'abc', name: 'web', namespace: 'default', image: 'busybox', state: 'running', createdAt: 0, labels: {}, source: 'containerd' };
    assert.throws(() => containerLogPath(base), (e: unknown) => e instanceof LogError && e.kind === 'not-cri' && /not created through CRI/.test(e.message));
    assert.throws(() => containerLogPath({ ...base, source: 'cri', namespace: 'k8s.io' }), (e: unknown) => e instanceof LogError && e.kind === 'no-file');
    assert.equal(containerLogPath({ ...base, source: 'cri', logPath: '/var/log/pods/x/c/0.log' }), '/var/log/pods/x/c/0.log');
  });
});
