/*
 * The log viewer's webview document (client/src/explorer/logViewHtml.ts) in a real browser
 * (Debian's chromium through playwright-core), with the VS Code webview API replaced by a recorder
 * (the only stand-in: the page itself is exactly what the panel shows). Log text that looks like
 * HTML stays text, the include/exclude filter also hides lines that arrive later, the toolbar
 * sends its settings, states show their notes, the line cap holds, and the page loads nothing.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { logViewHtml, MAX_LINES, type ToWebview, type WireLine } from '../../client/src/explorer/logViewHtml';

const CHROMIUM = process.env.E2E_CHROMIUM ?? '/usr/bin/chromium';
const CI = process.env.CI === 'true';
const URL = 'http://logview.invalid/';
const NONCE = 'dGVzdC1ub25jZS0xMjM0NTY3OA==';

type PW = typeof import('playwright-core');
let pw: PW | undefined;
let missing = '';
try {
  pw = require('playwright-core') as PW;
  if (!fs.existsSync(CHROMIUM)) missing = `chromium (${CHROMIUM})`;
} catch {
  missing = 'playwright-core';
}
function needBrowser(t: TestContext): boolean {
  if (!missing) return true;
  if (CI) throw new Error(`CI=true: ${missing} is missing (apt-get install chromium; npm ci)`);
  t.skip(`${missing} is missing`);
  return false;
}

const STRINGS = { follow: 'Follow', hidden: '{0} of {1} lines match the filter', incomplete: '(line not finished)', truncated: '(cut: line too long)', noFollow: 'not running', all: 'All' };
const line = (m: string, o: Partial<WireLine> = {}): WireLine => ({ t: '2025-01-02T03:04:05.123456789Z', m, ...o });

describe('log viewer webview in Chromium', () => {
  let browser: import('playwright-core').Browser | undefined;
  let page: import('playwright-core').Page;
  const requests: string[] = [];
  const errors: string[] = [];

  // page-side code is passed as strings (this file has no DOM typings)
  const send = (m: ToWebview) => page.evaluate(`window.postMessage(${JSON.stringify(m)}, '*')`);
  const sent = () => page.evaluate('window.__sent') as Promise<{ type: string; [k: string]: unknown }[]>;
  const visible = () => page.evaluate(`Array.from(document.querySelectorAll('#log .l')).filter((n) => !n.hidden).map((n) => n.childNodes[1].textContent)`) as Promise<string[]>;
  const statusText = () => page.textContent('#status');
  /** Poll a page expression (waitForFunction would eval in the page, which the CSP forbids: good). */
  const until = async (expr: string, what: string) => {
    for (let i = 0; i < 100; i++) {
      if (await page.evaluate(expr)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`timed out waiting for ${what}`);
  };

  before(async () => {
    if (missing) return;
    browser = await pw!.chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    page = await browser.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    await page.route('**/*', async (route) => {
      const u = route.request().url();
      if (u === URL) return route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: logViewHtml(NONCE, 'https://webview.invalid') });
      requests.push(u);
      return route.abort();
    });
    // the VS Code webview API, recorded
    // (messages are copied as VS Code's postMessage serialises them)
    await page.addInitScript(`
      window.__sent = [];
      window.__state = undefined;
      window.acquireVsCodeApi = () => ({
        postMessage: (m) => window.__sent.push(JSON.parse(JSON.stringify(m))),
        getState: () => window.__state,
        setState: (s) => { window.__state = s; },
      });`);
    await page.goto(URL);
    await until(`window.__sent.some((m) => m.type === 'ready')`, 'the webview to be ready');
    await send({ type: 'init', settings: { follow: true, tail: 1000, since: '', timestamps: false, stream: 'both' }, canFollow: true, title: 'web', subtitle: 'h1 · k8s.io', strings: STRINGS });
  });
  after(async () => {
    await browser?.close();
  });

  test('the document: CSP with the nonce only, nothing loaded from anywhere', async (t) => {
    if (!needBrowser(t)) return;
    const html = logViewHtml(NONCE, 'https://webview.invalid');
    const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)?.[1] ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, new RegExp(`script-src 'nonce-${NONCE.replace(/[+/=]/g, '\\$&')}';`));
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:\/\/(?!webview\.invalid)/);
    assert.equal((html.match(/<script/g) ?? []).length, 1);
    assert.match(html, new RegExp(`<script nonce="${NONCE.replace(/[+/=]/g, '\\$&')}">`));
    assert.equal(await page.textContent('#name'), 'web');
    assert.deepEqual(requests, []);
  });

  test('log text that looks like HTML stays text', async (t) => {
    if (!needBrowser(t)) return;
    await send({ type: 'reset' });
    const evil = ['<img src=x onerror="window.__pwned=1">', '<script>window.__pwned=2</script>', '&lt;b&gt; & <b>bold</b>', '"><svg onload=window.__pwned=3>'];
    await send({ type: 'lines', lines: evil.map((m) => line(m)) });
    assert.deepEqual(await visible(), evil);
    const r = await page.evaluate(`({ tags: document.querySelectorAll('#log img, #log script, #log svg, #log b').length, pwned: window.__pwned })`);
    assert.deepEqual(r, { tags: 0, pwned: undefined });
    assert.deepEqual(requests, [], 'the <img> never loaded');
  });

  test('include/exclude hide lines, later lines too; the count says how many match', async (t) => {
    if (!needBrowser(t)) return;
    await send({ type: 'reset' });
    await send({ type: 'status', kind: 'following', text: 'Following new lines.', canFollow: true });
    await send({ type: 'lines', lines: [line('GET /health 200'), line('ERROR db down', { e: 1 }), line('GET /api 200')] });
    await page.fill('#include', 'get');
    await page.fill('#exclude', '/health/');
    // (the include filter alone shows "2 of 3": wait for both)
    await until(`document.getElementById('status').textContent.includes('1 of 3 lines match')`, 'both filters');
    assert.deepEqual(await visible(), ['GET /api 200']);
    await send({ type: 'lines', lines: [line('GET /health 200'), line('get /users 500'), line('POST /x')] });
    assert.deepEqual(await visible(), ['GET /api 200', 'get /users 500']);
    assert.match((await statusText()) ?? '', /^Following new lines\. · 2 of 6 lines match the filter$/);
    const f = (await sent()).filter((m) => m.type === 'filter').pop();
    assert.deepEqual(f, { type: 'filter', include: 'get', exclude: '/health/' }, 'the host knows the filter (Open as Text)');
    await page.fill('#include', '');
    await page.fill('#exclude', '');
    await until(`!document.getElementById('status').textContent.includes('match')`, 'the filter to clear');
    assert.equal((await visible()).length, 6);
  });

  test('stderr lines are marked; incomplete and cut lines carry a note', async (t) => {
    if (!needBrowser(t)) return;
    await send({ type: 'reset' });
    await send({ type: 'lines', lines: [line('out'), line('err', { e: 1 }), line('half', { p: 1 }), line('long', { x: 1 })] });
    const r = await page.evaluate(`Array.from(document.querySelectorAll('#log .l')).map((n) => [n.className, n.textContent])`);
    assert.deepEqual(r, [
      ['l', '2025-01-02T03:04:05.123456789Zout'],
      ['l e', '2025-01-02T03:04:05.123456789Zerr'],
      ['l', '2025-01-02T03:04:05.123456789Zhalf(line not finished)'],
      ['l', '2025-01-02T03:04:05.123456789Zlong(cut: line too long)'],
    ]);
  });

  test('the toolbar sends its settings; timestamps show at once', async (t) => {
    if (!needBrowser(t)) return;
    const before = (await sent()).length;
    const tsHidden = () => page.evaluate(`getComputedStyle(document.querySelector('#log .t')).display`);
    await send({ type: 'reset' });
    await send({ type: 'lines', lines: [line('x')] });
    assert.equal(await tsHidden(), 'none');
    await page.check('#timestamps');
    assert.equal(await tsHidden(), 'inline');
    await page.selectOption('#stream', 'stderr');
    await page.selectOption('#tail', '100');
    await page.selectOption('#since', '15m');
    await page.uncheck('#follow');
    await page.selectOption('#since', 'custom');
    await page.fill('#sinceCustom', '2h30m');
    await page.press('#sinceCustom', 'Enter');
    const s = (await sent()).slice(before).filter((m) => m.type === 'settings').map((m) => m.settings);
    assert.deepEqual(s.at(-1), { follow: false, tail: 100, since: '2h30m', timestamps: true, stream: 'stderr' });
    assert.deepEqual(s.map((x) => (x as { since: string }).since), ['', '', '', '15m', '15m', '2h30m']);
    await page.click('#openText');
    await page.click('#reload');
    assert.deepEqual((await sent()).slice(-2).map((m) => m.type), ['openText', 'reload']);
  });

  test('states: a note in the empty view, follow disabled when nothing can be followed', async (t) => {
    if (!needBrowser(t)) return;
    await send({ type: 'reset' });
    await send({ type: 'status', kind: 'nolog', text: 'web was not created through CRI: containerd keeps no log file for it', canFollow: false });
    assert.equal(await page.textContent('#log .empty'), 'web was not created through CRI: containerd keeps no log file for it');
    assert.equal(await page.isDisabled('#follow'), true);
    assert.equal(await page.isChecked('#follow'), false);
    await send({ type: 'reset' });
    await send({ type: 'status', kind: 'waiting', text: 'No log lines yet', canFollow: true });
    assert.equal(await page.textContent('#log .empty'), 'No log lines yet');
    await send({ type: 'lines', lines: [line('first')] });
    assert.equal(await page.$('#log .empty'), null, 'the note goes when lines come');
    assert.equal(await page.isDisabled('#follow'), false);
  });

  test(`at most ${MAX_LINES} lines are kept; the oldest go`, async (t) => {
    if (!needBrowser(t)) return;
    await send({ type: 'reset' });
    const n = MAX_LINES + 10;
    for (let i = 0; i < n; i += 10_000) await send({ type: 'lines', lines: Array.from({ length: Math.min(10_000, n - i) }, (_, k) => line(`n${i + k}`)) });
    const r = await page.evaluate(`(() => {
      const ls = document.querySelectorAll('#log .l');
      return { count: ls.length, first: ls[0].childNodes[1].textContent, last: ls[ls.length - 1].childNodes[1].textContent };
    })()`);
    assert.deepEqual(r, { count: MAX_LINES, first: 'n10', last: `n${n - 1}` });
    assert.deepEqual(errors, []);
    assert.deepEqual(requests, []);
  });
});
