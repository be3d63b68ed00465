#!/usr/bin/env node
/*
 * Activation and first-diagnostics timings of the packaged extension in a real VS Code
 * (code-server 4.139.1 + headless chromium, the e2e harness of test/e2e/codeserver.ts).
 *
 *   node bench/activation.mjs [--runs N] [--strict]
 *
 * Each run starts a fresh code-server (fresh user data, extensions dir and workspace copy of
 * test/e2e/workspace) with dist/containerd-taskserv.vsix installed (`npm run package` is run first
 * unless E2E_VSIX is set), opens the workbench with the Problems panel showing, and measures:
 *
 *   activation    VS Code's own figure for the extension, as shown in "Developer: Show Running
 *                 Extensions": code loading (require of dist/client.js) + the activate() call, i.e.
 *                 the time the extension blocks the extension host. Read from that editor's DOM.
 *                 The activation event is taken from remoteexthost.log.
 *   first diagnostics (cold)
 *                 from the mouse-down on etc/containerd/config.toml in Quick Open to the first row
 *                 of that file in the Problems panel. Both instants are taken IN THE PAGE
 *                 (performance.now() in a capture listener and in a MutationObserver), so no
 *                 browser-driver round trip is counted. Includes starting the language server
 *                 process, which happens on the first containerd document.
 *   first diagnostics (warm)
 *                 the same for a second file (mistakes/containerd/config.toml), server running.
 *   first squiggle (cold / warm)
 *                 the same two opens, up to the first diagnostic squiggle painted in that file's
 *                 editor (the other place a user sees diagnostics; the goal is judged on Problems).
 *                 Only a diagnostic on a visible line paints one: none for the cold file, whose only
 *                 problem is below the fold (reported as n/a).
 *
 * Goals: activation < 100 ms, first diagnostics < 500 ms. Exit status 0 unless something broke;
 * with --strict, 1 when a median misses a goal.
 */
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
// The harness is TypeScript: bundle it (playwright-core and esbuild stay external). The output sits
// three folders below the repo root, as out/test/e2e/*.js do, because it locates the repo from __dirname.
const harnessPath = path.join(root, 'out', 'bench', 'e2e', 'codeserver.cjs');
const esbuild = await import('esbuild');
await esbuild.build({
  absWorkingDir: root,
  entryPoints: ['test/e2e/codeserver.ts'],
  outfile: harnessPath,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  external: ['playwright-core', 'esbuild', '*.node'],
  logLevel: 'warning',
});
const h = createRequire(import.meta.url)(harnessPath);

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1]) > 0 && args.includes('--runs') ? Number(args[args.indexOf('--runs') + 1]) : 3;
const strict = args.includes('--strict');
const GOALS = { activationMs: 100, firstDiagnosticsMs: 500 };
const FIXTURE = path.join(root, 'test', 'e2e', 'workspace');
const COLD = 'etc/containerd/config.toml';
const WARM = 'mistakes/containerd/config.toml';

const missing = h.ensureSetup().missing;
if (missing.length) {
  console.error(`e2e prerequisites missing: ${missing.join('; ')} (run scripts/e2e-setup.sh)`);
  process.exit(2);
}

// In-page probe: when armed with a folder, records the time of the next mousedown, the time the
// Problems panel first shows a file row with that folder as its description, and the time the editor
// of that file (its `data-uri` ends with the file's path) first paints a diagnostic squiggle.
const PROBE = `(() => {
  const st = window.__bench = { folder: '', rel: '', down: 0, shown: 0, squiggle: 0 };
  document.addEventListener('mousedown', () => { if (st.folder && !st.down) st.down = performance.now(); }, true);
  const check = () => {
    if (!st.folder || !st.down) return;
    if (!st.shown) {
      for (const d of document.querySelectorAll('.markers-panel .monaco-list-row .label-description')) {
        if ((d.textContent || '').trim() === st.folder) { st.shown = performance.now(); break; }
      }
    }
    if (!st.squiggle) {
      for (const e of document.querySelectorAll('.monaco-editor[data-uri]')) {
        if (e.getAttribute('data-uri').endsWith('/' + st.rel) && e.querySelector('.view-overlays [class*="squiggly-"]')) { st.squiggle = performance.now(); break; }
      }
    }
  };
  new MutationObserver(check).observe(document.body, { childList: true, subtree: true, characterData: true });
})()`;

/** Open `rel` with Quick Open; ms from the mouse-down to the Problems row and to the first squiggle. */
async function timeToProblems(page, rel) {
  await page.evaluate(([folder, r]) => { Object.assign(window.__bench, { folder, rel: r, down: 0, shown: 0, squiggle: 0 }); }, [path.posix.dirname(rel), rel]);
  await h.openFileByPath(page, rel);
  const deadline = Date.now() + 90_000;
  for (;;) {
    const st = await page.evaluate(() => ({ ...window.__bench, now: performance.now() }));
    // a squiggle is painted only when a diagnostic is on a visible line: null when none comes within 3 s
    if (st.shown && (st.squiggle || st.now - st.shown > 3000)) {
      return { problems: Math.round(st.shown - st.down), squiggle: st.squiggle ? Math.round(st.squiggle - st.down) : null };
    }
    if (Date.now() > deadline) throw new Error(`no Problems row for ${rel} within 90 s (${JSON.stringify(st)})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function runningExtensionsActivation(page) {
  // The list is sorted by activation time and virtualised: a fast extension sits far down, out of
  // the rendered rows. A tall viewport renders them all.
  const size = page.viewportSize();
  await page.setViewportSize({ width: size?.width ?? 1440, height: 4000 });
  await h.runCommand(page, 'Developer: Show Running Extensions');
  const row = page.locator('.runtime-extensions-editor .monaco-list-row', { hasText: /containerd taskserv|containerd-taskserv/i }).first();
  await row.waitFor({ timeout: 30_000 });
  const deadline = Date.now() + 15_000;
  let text = '';
  for (;;) {
    text = (await row.innerText()).replace(/\s+/g, ' ');
    const m = /(Startup )?Activation:\s*(\d+)\s*ms/i.exec(text);
    if (m) return { ms: Number(m[2]), startup: !!m[1], text };
    if (Date.now() > deadline) throw new Error(`no activation time in the Running Extensions row: ${text}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function activationEvent(server) {
  const logs = path.join(server.userDataDir, 'logs');
  const found = [];
  const walk = (d) => {
    for (const n of fs.existsSync(d) ? fs.readdirSync(d) : []) {
      const p = path.join(d, n);
      if (fs.statSync(p).isDirectory()) walk(p);
      else if (/exthost\.log$/.test(n)) found.push(p);
    }
  };
  walk(logs);
  for (const f of found) {
    const m = /_doActivateExtension containerd-taskserv\.containerd-taskserv, startup: (\w+), activationEvent: '([^']+)'/.exec(fs.readFileSync(f, 'utf8'));
    if (m) return m[2];
  }
  return '?';
}

const median = (xs) => { const s = xs.filter((x) => typeof x === 'number').sort((a, b) => a - b); return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN; };

let vsix;
try {
  const p = h.packageExtension({ logName: 'bench-npm-run-package.log' });
  vsix = p.vsix;
  console.log(`packaged ${path.relative(root, vsix)}${p.ms ? ` in ${p.ms} ms` : ''}`);
} catch (e) {
  console.error(String(e));
  process.exit(2);
}

const results = [];
for (let i = 1; i <= runs; i++) {
  const server = await h.startCodeServer({ workspace: FIXTURE, vsix: [vsix], label: `bench-activation-${i}` });
  const browser = await h.launchBrowser({ viewport: { width: 1440, height: 900 } });
  const { page } = browser;
  try {
    await h.openWorkbench(page, server);
    await page.evaluate(PROBE);
    await h.openProblemsPanel(page);
    const cold = await timeToProblems(page, COLD);
    const warm = await timeToProblems(page, WARM);
    const act = await runningExtensionsActivation(page);
    await h.screenshot(page, `bench-running-extensions-${i}`);
    await page.setViewportSize({ width: 1440, height: 900 });
    const r = {
      run: i, activationMs: act.ms, startupActivation: act.startup, activationEvent: activationEvent(server),
      firstDiagnosticsColdMs: cold.problems, firstDiagnosticsWarmMs: warm.problems, firstSquiggleColdMs: cold.squiggle, firstSquiggleWarmMs: warm.squiggle,
    };
    results.push(r);
    console.log(JSON.stringify(r));
  } finally {
    await browser.close();
    await server.stop();
  }
}

const summary = {
  activationMs: median(results.map((r) => r.activationMs)),
  firstDiagnosticsColdMs: median(results.map((r) => r.firstDiagnosticsColdMs)),
  firstDiagnosticsWarmMs: median(results.map((r) => r.firstDiagnosticsWarmMs)),
  firstSquiggleColdMs: median(results.map((r) => r.firstSquiggleColdMs)),
  firstSquiggleWarmMs: median(results.map((r) => r.firstSquiggleWarmMs)),
};
const verdict = (v, goal) => `${v} ms (goal < ${goal} ms: ${v < goal ? 'met' : 'MISSED'})`;
console.log(`\nmedians of ${results.length} run(s), code-server ${h.CODE_SERVER_VERSION}, ${process.platform}/${process.arch}:`);
console.log(`  activation (VS Code: code loading + activate())   ${verdict(summary.activationMs, GOALS.activationMs)}`);
console.log(`  open -> first diagnostic in Problems, cold         ${verdict(summary.firstDiagnosticsColdMs, GOALS.firstDiagnosticsMs)}  (includes language-server start)`);
console.log(`  open -> first diagnostic in Problems, warm         ${verdict(summary.firstDiagnosticsWarmMs, GOALS.firstDiagnosticsMs)}`);
const na = (v) => (Number.isFinite(v) ? `${v} ms` : 'n/a');
console.log(`  open -> first squiggle in the editor, cold / warm  ${na(summary.firstSquiggleColdMs)} / ${na(summary.firstSquiggleWarmMs)}`);
fs.mkdirSync(h.RESULTS_DIR, { recursive: true });
fs.writeFileSync(path.join(h.RESULTS_DIR, 'activation-bench.json'), JSON.stringify({ goals: GOALS, summary, runs: results }, null, 2));
const missed = summary.activationMs >= GOALS.activationMs || summary.firstDiagnosticsColdMs >= GOALS.firstDiagnosticsMs || summary.firstDiagnosticsWarmMs >= GOALS.firstDiagnosticsMs;
process.exit(strict && missed ? 1 : 0);
