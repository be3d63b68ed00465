/*
 * Extension integration tests inside code-server's remote extension host: bundles
 * test/e2e/exthost/suite.ts (mocha + the `vscode` API) into out/exthost/index.js, starts code-server
 * with the smoke-test driver on a fresh copy of test/e2e/workspace, and opens the workbench with the
 * payload extensionDevelopmentPath = the repo root (so dist/client.js + dist/server.js: run
 * `npm run build` first) and extensionTestsPath = out/exthost/index. Passes when the test extension
 * host exits with 0; mocha's output is printed either way (and saved to
 * test-results/e2e/exthost-mocha.log).
 *
 *   npm run build && node --test out/test/e2e/exthost.test.js
 *
 * Same skip rules as smoke.test.ts: skipped when the e2e prerequisites are missing, a failure with CI=true.
 */
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  REPO_ROOT,
  RESULTS_DIR,
  buildExthostSuite,
  e2eGate,
  launchBrowser,
  mochaLines,
  runExtensionTests,
  screenshot,
  startCodeServer,
  type Browser,
  type CodeServer,
} from './codeserver';

const FIXTURE = path.join(REPO_ROOT, 'test', 'e2e', 'workspace');
const { unavailable, skip } = e2eGate('e2e extension-host tests');

describe('e2e: extension integration tests in the code-server extension host', { skip }, () => {
  let server: CodeServer | undefined;
  let browser: Browser | undefined;
  let testsPath = '';

  before(async () => {
    if (unavailable) throw new Error(`${unavailable}\n(CI=true, so this is a failure, not a skip)`);
    for (const f of ['dist/client.js', 'dist/server.js']) {
      assert.ok(fs.existsSync(path.join(REPO_ROOT, f)), `${f} is missing: run \`npm run build\` first`);
    }
    const t0 = Date.now();
    testsPath = await buildExthostSuite();
    console.log(`# bundled ${path.relative(REPO_ROOT, testsPath)}.js in ${Date.now() - t0} ms`);
    fs.mkdirSync(RESULTS_DIR, { recursive: true });
    server = await startCodeServer({ workspace: FIXTURE, smokeTestDriver: true, label: 'exthost' });
    console.log(`# code-server on ${server.url} (healthz after ${server.startupMs} ms)`);
    browser = await launchBrowser();
  }, { timeout: 5 * 60_000 });

  after(async () => {
    if (browser) await browser.close();
    if (server) await server.stop();
  }, { timeout: 60_000 });

  test('the mocha suite passes inside the extension host', { timeout: 5 * 60_000 }, async () => {
    assert.ok(server && browser, 'set-up did not complete');
    const r = await runExtensionTests({
      server,
      browser,
      extensionDevelopmentPath: REPO_ROOT,
      extensionTestsPath: testsPath,
      timeoutMs: 4 * 60_000,
    });
    await screenshot(browser.page, 'exthost-final');
    fs.writeFileSync(path.join(RESULTS_DIR, 'exthost-codeAutomationLog.log'), r.log.join('\n'));
    const lines = mochaLines(r.log);
    fs.writeFileSync(path.join(RESULTS_DIR, 'exthost-mocha.log'), lines.join('\n'));
    console.log(lines.join('\n'));
    console.log(`extension host exited with ${r.exitCode} after ${r.durationMs} ms`);
    assert.equal(r.timedOut, false, `no codeAutomationExit within the timeout; last log lines:\n${r.log.slice(-30).join('\n')}`);
    assert.ok(lines.some((l) => /\d+ passing/.test(l)), `no mocha summary in the log:\n${r.log.slice(-60).join('\n')}`);
    assert.equal(r.exitCode, 0, `mocha failed inside the extension host:\n${lines.join('\n')}`);
  });
});
