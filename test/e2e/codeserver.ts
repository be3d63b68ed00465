/*
 * End-to-end harness: a real VS Code (code-server) driven by playwright-core + Debian's chromium.
 *
 * Set-up (Node 24, code-server, OS packages) is done by scripts/e2e-setup.sh into $E2E_HOME
 * (default <repo>/.e2e). Every code-server run gets a fresh directory under $E2E_HOME/runs with its
 * own user-data-dir, extensions dir, workspace copy and TMPDIR; HOME/XDG_* point into $E2E_HOME/home
 * so nothing is written to the real home folder. code-server runs in its own process group
 * (detached = setsid) and is stopped by signalling the whole group.
 *
 * Every wait in here is bounded.
 *
 * Compiled by `tsc -p .` to out/test/e2e/codeserver.js.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { createRequire } from 'node:module';
import * as net from 'node:net';
import * as path from 'node:path';
import * as util from 'node:util';
import type { BrowserContext, Page } from 'playwright-core';

// ---------------------------------------------------------------------------------------------
// Paths and environment
// ---------------------------------------------------------------------------------------------

/** Repository root (this file runs as out/test/e2e/codeserver.js). */
export const REPO_ROOT = path.resolve(__dirname, '../../..');
/** Screenshots, copied logs etc. (gitignored). */
export const RESULTS_DIR = path.join(REPO_ROOT, 'test-results', 'e2e');
export const SETUP_SCRIPT = path.join(REPO_ROOT, 'scripts', 'e2e-setup.sh');
export const CHROMIUM_PATH = process.env.E2E_CHROMIUM ?? '/usr/bin/chromium';
export const CODE_SERVER_VERSION = process.env.E2E_CODE_SERVER_VERSION ?? '4.139.1';
export const NODE_VERSION = process.env.E2E_NODE_VERSION ?? '24.22.3';

export interface E2EPaths {
  /** $E2E_HOME, default <repo>/.e2e */
  home: string;
  /** Node 24 used to build and run code-server */
  nodeDir: string;
  codeServerBin: string;
  /** HOME / XDG_* for code-server and chromium */
  fakeHome: string;
  /** parent of the per-run directories */
  runsDir: string;
  stampsDir: string;
  /** stamp files that scripts/e2e-setup.sh writes when its steps are complete */
  stamps: string[];
}

export function e2ePaths(home: string = process.env.E2E_HOME ?? path.join(REPO_ROOT, '.e2e')): E2EPaths {
  const stampsDir = path.join(home, 'stamps');
  return {
    home,
    nodeDir: path.join(home, 'node24'),
    codeServerBin: path.join(home, 'code-server', 'node_modules', '.bin', 'code-server'),
    fakeHome: path.join(home, 'home'),
    runsDir: path.join(home, 'runs'),
    stampsDir,
    stamps: [
      path.join(stampsDir, `node-${NODE_VERSION}`),
      path.join(stampsDir, `code-server-${CODE_SERVER_VERSION}-node-${NODE_VERSION}`),
      path.join(stampsDir, 'setup-complete'),
    ],
  };
}

/** Environment for code-server / chromium: Node 24 first in PATH, HOME/XDG/TMPDIR redirected. */
export function e2eEnv(paths: E2EPaths, tmpDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) {
    // node --test marks its children with NODE_TEST_CONTEXT; VS Code's own variables would
    // make code-server think it runs inside another VS Code.
    if (k === 'NODE_TEST_CONTEXT' || k === 'NODE_OPTIONS' || k === 'ELECTRON_RUN_AS_NODE' || k.startsWith('VSCODE_')) {
      delete env[k];
    }
  }
  const h = paths.fakeHome;
  Object.assign(env, {
    PATH: `${path.join(paths.nodeDir, 'bin')}${path.delimiter}${process.env.PATH ?? ''}`,
    HOME: h,
    XDG_CONFIG_HOME: path.join(h, '.config'),
    XDG_DATA_HOME: path.join(h, '.local', 'share'),
    XDG_CACHE_HOME: path.join(h, '.cache'),
    TMPDIR: tmpDir,
  });
  return env;
}

/** What is missing for an e2e run (empty = ready). Does not install anything. */
export function missingPrerequisites(paths: E2EPaths = e2ePaths()): string[] {
  const missing: string[] = [];
  if (!isExecutable(CHROMIUM_PATH)) missing.push(`chromium (${CHROMIUM_PATH})`);
  if (!isExecutable(path.join(paths.nodeDir, 'bin', 'node'))) missing.push(`node ${NODE_VERSION} (${paths.nodeDir})`);
  if (!isExecutable(paths.codeServerBin)) missing.push(`code-server (${paths.codeServerBin})`);
  for (const s of paths.stamps) if (!fs.existsSync(s)) missing.push(`set-up stamp ${path.relative(paths.home, s)}`);
  try {
    loadPlaywright(paths);
  } catch {
    missing.push('playwright-core (npm ci)');
  }
  return missing;
}

/**
 * Run scripts/e2e-setup.sh if any stamp file is missing. Returns what is still missing afterwards
 * (empty = ready); never throws for a failed set-up, so the caller decides between skip and fail.
 */
export function ensureSetup(opts: { timeoutMs?: number; paths?: E2EPaths } = {}): { ran: boolean; status: number | null; missing: string[] } {
  const paths = opts.paths ?? e2ePaths();
  if (missingPrerequisites(paths).length === 0) return { ran: false, status: 0, missing: [] };
  const r = spawnSync('bash', [SETUP_SCRIPT], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, E2E_HOME: paths.home },
    timeout: opts.timeoutMs ?? 15 * 60_000,
    killSignal: 'SIGKILL',
  });
  return { ran: true, status: r.status, missing: missingPrerequisites(paths) };
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Reject with `message` after `ms` unless `p` settles first. */
export async function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${message} (timed out after ${ms} ms)`)), ms);
      }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/** A free TCP port on 127.0.0.1 (listen on port 0, read it back, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('could not get a free port'))));
    });
  });
}

function httpStatus(url: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

function tail(file: string, lines = 40): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** True while any process of process group `pgid` is alive. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// ---------------------------------------------------------------------------------------------
// code-server
// ---------------------------------------------------------------------------------------------

/** User settings from the recipe: no startup editor, AI features, telemetry, update checks, git, autosave. */
export const DEFAULT_SETTINGS: Readonly<Record<string, unknown>> = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'workbench.enableExperiments': false,
  'chat.disableAIFeatures': true,
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'git.enabled': false,
  // the web build defaults to afterDelay: typed text would be saved into the workspace copy
  'files.autoSave': 'off',
};

export interface StartOptions {
  /** Folder copied to <runDir>/workspace (fresh every run). Omit for no workspace. */
  workspace?: string;
  /** .vsix files installed into the run's fresh extensions dir before the server starts. */
  vsix?: string[];
  /** Extra user settings, merged over DEFAULT_SETTINGS. */
  settings?: Record<string, unknown>;
  /** Adds `--vscode-option enable-smoke-test-driver` (needed by runExtensionTests; hides toasts). */
  smokeTestDriver?: boolean;
  /** More code-server arguments. */
  extraArgs?: string[];
  /** Name used for the copied logs under test-results/e2e/logs/<label>. Default 'code-server'. */
  label?: string;
  /** Bound for /healthz to answer. Default 30 s. */
  healthTimeoutMs?: number;
  paths?: E2EPaths;
}

export interface CodeServer {
  /** http://127.0.0.1:PORT */
  url: string;
  port: number;
  /** pid of the code-server wrapper = its process group id */
  pid: number;
  runDir: string;
  /** the fresh workspace copy ('' if no workspace was given) */
  workspaceDir: string;
  userDataDir: string;
  extensionsDir: string;
  tmpDir: string;
  /** code-server's stdout+stderr */
  logFile: string;
  /** ms from spawn until /healthz answered */
  startupMs: number;
  /** Text of code-server's own log so far. */
  log(): string;
  /**
   * Kill the whole process group (TERM, then KILL after 5 s), copy the logs to
   * test-results/e2e/logs/<label>/ and delete the run directory (kept if E2E_KEEP_RUN=1).
   */
  stop(): Promise<void>;
}

/** Install a .vsix into `extensionsDir` with code-server's CLI (bounded to 2 min). */
export function installVsix(vsix: string, extensionsDir: string, opts: { paths?: E2EPaths; userDataDir?: string; tmpDir?: string } = {}): void {
  const paths = opts.paths ?? e2ePaths();
  if (!fs.existsSync(vsix)) throw new Error(`vsix not found: ${vsix}`);
  fs.mkdirSync(extensionsDir, { recursive: true });
  const tmpDir = opts.tmpDir ?? path.join(paths.home, 'tmp');
  fs.mkdirSync(tmpDir, { recursive: true });
  const args = ['--extensions-dir', extensionsDir, '--install-extension', vsix, '--force'];
  if (opts.userDataDir) args.unshift('--user-data-dir', opts.userDataDir);
  const r = spawnSync(paths.codeServerBin, args, {
    env: e2eEnv(paths, tmpDir),
    encoding: 'utf8',
    timeout: 120_000,
    killSignal: 'SIGKILL',
  });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.status !== 0 || /Failed Installing|error/i.test(r.stderr ?? '')) {
    throw new Error(`installing ${vsix} failed (status ${r.status}${r.error ? ', ' + r.error.message : ''}):\n${out}`);
  }
}

/** Start code-server on a free loopback port with fresh state; resolves once /healthz answers. */
export async function startCodeServer(opts: StartOptions = {}): Promise<CodeServer> {
  const paths = opts.paths ?? e2ePaths();
  if (!isExecutable(paths.codeServerBin)) {
    throw new Error(`code-server is not installed at ${paths.codeServerBin}; run scripts/e2e-setup.sh`);
  }
  fs.mkdirSync(paths.runsDir, { recursive: true });
  fs.mkdirSync(paths.fakeHome, { recursive: true });
  const runDir = fs.mkdtempSync(path.join(paths.runsDir, 'r-'));
  const tmpDir = path.join(runDir, 'tmp');
  const userDataDir = path.join(runDir, 'user-data');
  const extensionsDir = path.join(runDir, 'extensions');
  const logFile = path.join(runDir, 'code-server.log');
  fs.mkdirSync(tmpDir, { recursive: true });
  fs.mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
  fs.mkdirSync(extensionsDir, { recursive: true });
  // unix sockets (vscode-ipc-<uuid>.sock, ~50 chars) go to TMPDIR; sun_path is limited to 107 bytes
  if (tmpDir.length > 55) {
    throw new Error(`E2E_HOME is too deep for unix socket paths (${tmpDir}); set E2E_HOME to a shorter path`);
  }
  fs.writeFileSync(
    path.join(userDataDir, 'User', 'settings.json'),
    JSON.stringify({ ...DEFAULT_SETTINGS, ...(opts.settings ?? {}) }, null, 2),
  );
  let workspaceDir = '';
  if (opts.workspace) {
    workspaceDir = path.join(runDir, 'workspace');
    fs.cpSync(opts.workspace, workspaceDir, { recursive: true });
  }
  for (const v of opts.vsix ?? []) installVsix(v, extensionsDir, { paths, tmpDir });

  const port = await freePort();
  const args = [
    '--bind-addr', `127.0.0.1:${port}`,
    '--auth', 'none',
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--user-data-dir', userDataDir,
    '--extensions-dir', extensionsDir,
  ];
  if (opts.smokeTestDriver) args.push('--vscode-option', 'enable-smoke-test-driver');
  args.push(...(opts.extraArgs ?? []));

  const logFd = fs.openSync(logFile, 'a');
  const t0 = Date.now();
  let child: ChildProcess;
  try {
    // detached: the child calls setsid(), so its pid is the process group id of everything it forks
    // (file watcher, extension host, ...), and stop() can signal the whole group.
    child = spawn(paths.codeServerBin, args, {
      cwd: runDir,
      env: e2eEnv(paths, tmpDir),
      detached: true,
      stdio: ['ignore', logFd, logFd],
    });
  } finally {
    fs.closeSync(logFd);
  }
  const pid = child.pid;
  if (!pid) throw new Error(`could not spawn ${paths.codeServerBin}`);
  let exited: string | null = null;
  child.on('exit', (code, signal) => { exited = `exited with code ${code} signal ${signal}`; });
  child.on('error', (e) => { exited = `spawn error: ${e.message}`; });
  // last resort if the test process dies without calling stop()
  const onExit = () => { try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ } };
  process.on('exit', onExit);

  const label = opts.label ?? 'code-server';
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    try { process.kill(-pid, 'SIGTERM'); } catch { /* already gone */ }
    const deadline = Date.now() + 5000;
    while (groupAlive(pid) && Date.now() < deadline) await sleep(100);
    if (groupAlive(pid)) {
      try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ }
      const d2 = Date.now() + 3000;
      while (groupAlive(pid) && Date.now() < d2) await sleep(100);
    }
    process.removeListener('exit', onExit);
    child.unref();
    // keep the logs, drop the rest
    const dest = path.join(RESULTS_DIR, 'logs', label);
    try {
      fs.rmSync(dest, { recursive: true, force: true });
      fs.mkdirSync(dest, { recursive: true });
      fs.copyFileSync(logFile, path.join(dest, 'code-server.log'));
      const vsLogs = path.join(userDataDir, 'logs');
      if (fs.existsSync(vsLogs)) fs.cpSync(vsLogs, path.join(dest, 'vscode-logs'), { recursive: true });
    } catch { /* logs are best effort */ }
    if (process.env.E2E_KEEP_RUN !== '1') fs.rmSync(runDir, { recursive: true, force: true });
  };

  const healthTimeout = opts.healthTimeoutMs ?? 30_000;
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + healthTimeout;
  for (;;) {
    if (exited) {
      const text = tail(logFile);
      await stop();
      throw new Error(`code-server ${exited} before /healthz answered:\n${text}`);
    }
    if ((await httpStatus(`${url}/healthz`, 1000)) === 200) break;
    if (Date.now() > deadline) {
      const text = tail(logFile);
      await stop();
      throw new Error(`code-server /healthz did not answer within ${healthTimeout} ms:\n${text}`);
    }
    await sleep(100);
  }
  return {
    url, port, pid, runDir, workspaceDir, userDataDir, extensionsDir, tmpDir, logFile,
    startupMs: Date.now() - t0,
    log: () => { try { return fs.readFileSync(logFile, 'utf8'); } catch { return ''; } },
    stop,
  };
}

// ---------------------------------------------------------------------------------------------
// Browser
// ---------------------------------------------------------------------------------------------

type PlaywrightModule = typeof import('playwright-core');

/** playwright-core from the repo's node_modules, else the private copy e2e-setup.sh may have made. */
export function loadPlaywright(paths: E2EPaths = e2ePaths()): PlaywrightModule {
  try {
    return require('playwright-core') as PlaywrightModule;
  } catch (first) {
    const priv = path.join(paths.home, 'driver', 'node_modules', 'playwright-core');
    if (fs.existsSync(priv)) return require(priv) as PlaywrightModule;
    throw first;
  }
}

export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** console errors and page errors seen so far */
  consoleErrors: string[];
  /** Close the browser and delete its profile dir (bounded to 15 s). */
  close(): Promise<void>;
}

/** Keep the browser's console errors (RESULTS_DIR/<prefix>-browser-console-errors.txt, when there are any), then close it. */
export async function closeBrowser(browser: Browser | undefined, prefix: string): Promise<void> {
  if (!browser) return;
  if (browser.consoleErrors.length) {
    fs.mkdirSync(RESULTS_DIR, { recursive: true });
    fs.writeFileSync(path.join(RESULTS_DIR, `${prefix}-browser-console-errors.txt`), browser.consoleErrors.join('\n'));
  }
  await browser.close();
}

/** Launch headless chromium with a persistent context on a fresh profile dir. */
export async function launchBrowser(opts: { paths?: E2EPaths; viewport?: { width: number; height: number }; timeoutMs?: number } = {}): Promise<Browser> {
  const paths = opts.paths ?? e2ePaths();
  const { chromium } = loadPlaywright(paths);
  fs.mkdirSync(paths.runsDir, { recursive: true });
  // playwright refuses --user-data-dir in args; a persistent context on a fresh dir is the same
  const profile = fs.mkdtempSync(path.join(paths.runsDir, 'chrome-'));
  const tmpDir = path.join(profile, 'tmp');
  fs.mkdirSync(tmpDir, { recursive: true });
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(e2eEnv(paths, tmpDir))) if (v !== undefined) env[k] = v;
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(path.join(profile, 'profile'), {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: [...CHROMIUM_ARGS],
      viewport: opts.viewport ?? { width: 1280, height: 800 },
      env,
      timeout: opts.timeoutMs ?? 60_000,
    });
  } catch (e) {
    fs.rmSync(profile, { recursive: true, force: true });
    throw e;
  }
  context.setDefaultTimeout(30_000);
  context.setDefaultNavigationTimeout(60_000);
  const page = context.pages()[0] ?? (await context.newPage());
  const consoleErrors: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
  let closed = false;
  return {
    context,
    page,
    consoleErrors,
    close: async () => {
      if (closed) return;
      closed = true;
      await withTimeout(context.close(), 15_000, 'closing chromium').catch(() => undefined);
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Open the workbench for `folder` (default: the server's workspace copy) and wait until it is usable. */
export async function openWorkbench(page: Page, server: CodeServer, opts: { folder?: string; timeoutMs?: number } = {}): Promise<void> {
  const timeout = opts.timeoutMs ?? 60_000;
  const folder = opts.folder ?? server.workspaceDir;
  const url = folder ? `${server.url}/?folder=${encodeURIComponent(folder)}` : `${server.url}/`;
  await page.goto(url, { waitUntil: 'domcontentloaded', timeout });
  await page.waitForSelector('.monaco-workbench', { timeout });
  if (folder) {
    // the explorer lists the folder once the remote connection is up
    await page.locator('.explorer-folders-view .monaco-list-row').first().waitFor({ timeout });
  }
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Open `relPath` (e.g. 'config.toml' or 'etc/containerd/config.toml') by clicking through the
 * explorer; resolves when its editor tab is active.
 */
export async function openFileFromExplorer(page: Page, relPath: string, opts: { timeoutMs?: number } = {}): Promise<void> {
  const timeout = opts.timeoutMs ?? 30_000;
  const parts = relPath.split('/').filter(Boolean);
  for (let i = 0; i < parts.length; i++) {
    const row = page
      .locator('.explorer-folders-view .monaco-list-row')
      .filter({ has: page.locator('.label-name', { hasText: new RegExp(`^${escapeRegExp(parts[i])}$`) }) })
      .first();
    await row.waitFor({ timeout });
    if (i < parts.length - 1) {
      if ((await row.getAttribute('aria-expanded')) !== 'true') await row.click();
    } else {
      await row.click();
    }
  }
  // (the tab's .label-name holds only "config"; ".toml" is a separate suffix span)
  const name = parts[parts.length - 1];
  await page.locator(`.tabs-container .tab.active[data-resource-name=${JSON.stringify(name)}]`).waitFor({ timeout });
  await page.locator('.editor-instance .monaco-editor .view-lines').first().waitFor({ timeout });
}

/** Run a command through the command palette (F1) by its label, e.g. 'View: Toggle Problems'. */
export async function runCommand(page: Page, label: string, opts: { timeoutMs?: number } = {}): Promise<void> {
  const timeout = opts.timeoutMs ?? 15_000;
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout });
  await input.fill(`>${label}`);
  await page
    .locator('.quick-input-widget .monaco-list-row', { hasText: label })
    .first()
    .waitFor({ timeout });
  await page.keyboard.press('Enter');
}

/** Show and focus the Problems panel (Ctrl+Shift+M, falling back to the command palette). */
export async function openProblemsPanel(page: Page, opts: { timeoutMs?: number } = {}): Promise<void> {
  const timeout = opts.timeoutMs ?? 15_000;
  const panel = page.locator('.markers-panel');
  if (await panel.isVisible()) return;
  await page.keyboard.press('Control+Shift+M');
  try {
    await panel.waitFor({ state: 'visible', timeout: Math.min(5000, timeout) });
    return;
  } catch { /* keybinding swallowed: use the palette */ }
  await runCommand(page, 'View: Focus on Problems View', { timeoutMs: timeout });
  await panel.waitFor({ state: 'visible', timeout });
}

export interface ProblemRow {
  /** 'resource' = a file row, 'marker' = a diagnostic row */
  kind: 'resource' | 'marker' | 'other';
  /** the row's visible text */
  text: string;
  ariaLabel: string;
  message: string;
  source: string;
  code: string;
  severity: 'error' | 'warning' | 'info' | '';
  /** 1-based, from "[Ln 5, Col 11]" (0 if absent) */
  line: number;
  column: number;
  /** for marker rows: the file name of the file row above it; for file rows: the file name */
  resource: string;
  /** for file rows: the folder shown after the name (e.g. 'etc/containerd'); for marker rows: that of its file */
  folder: string;
}

// Evaluated in the page (a string, so this file needs no DOM typings).
const READ_PROBLEMS_JS = `(() => {
  const rows = Array.from(document.querySelectorAll('.markers-panel .monaco-list-row'));
  rows.sort((a, b) => (parseFloat(a.style.top) || 0) - (parseFloat(b.style.top) || 0));
  const txt = (el, sel) => { const e = el.querySelector(sel); return e ? (e.textContent || '').trim() : ''; };
  let resource = '';
  let folder = '';
  return rows.map((r) => {
    const isMarker = !!r.querySelector('.marker-message-details-container, .marker-message');
    const isResource = !isMarker && !!r.querySelector('.monaco-icon-label, .file-icon');
    const icon = r.querySelector('.marker-icon');
    const cls = icon ? icon.className : '';
    const severity = /codicon-error|\\berror\\b/.test(cls) ? 'error' : /codicon-warning|\\bwarning\\b/.test(cls) ? 'warning'
      : /codicon-info|\\binfo\\b/.test(cls) ? 'info' : '';
    const lc = /Ln\\s*(\\d+),\\s*Col\\s*(\\d+)/.exec(txt(r, '.marker-line'));
    if (isResource) {
      resource = txt(r, '.label-name') || (r.textContent || '').trim();
      folder = txt(r, '.label-description');
    }
    return {
      kind: isMarker ? 'marker' : isResource ? 'resource' : 'other',
      text: (r.innerText || r.textContent || '').replace(/\\s+/g, ' ').trim(),
      ariaLabel: r.getAttribute('aria-label') || '',
      message: Array.from(r.querySelectorAll('.marker-message')).map((e) => e.textContent || '').join('\\n').trim(),
      source: txt(r, '.marker-source'),
      code: txt(r, '.marker-code'),
      severity,
      line: lc ? Number(lc[1]) : 0,
      column: lc ? Number(lc[2]) : 0,
      resource: isMarker || isResource ? resource : '',
      folder: isMarker || isResource ? folder : '',
    };
  });
})()`;

/** The rows the Problems panel currently renders (it must be open; the list is virtualised). */
export async function readProblems(page: Page): Promise<ProblemRow[]> {
  return page.evaluate<ProblemRow[]>(READ_PROBLEMS_JS);
}

/** Poll the Problems panel until a marker row satisfies `predicate`; bounded. */
export async function waitForProblem(
  page: Page,
  predicate: (row: ProblemRow) => boolean,
  opts: { timeoutMs?: number } = {},
): Promise<ProblemRow> {
  const timeout = opts.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeout;
  let last: ProblemRow[] = [];
  for (;;) {
    last = await readProblems(page);
    const hit = last.find((r) => r.kind === 'marker' && predicate(r));
    if (hit) return hit;
    if (Date.now() > deadline) {
      throw new Error(`no matching problem within ${timeout} ms; Problems panel rows:\n${JSON.stringify(last, null, 1)}`);
    }
    await sleep(250);
  }
}

/** Screenshot into test-results/e2e/<name>.png; returns the path. Never throws. */
export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, name.endsWith('.png') ? name : `${name}.png`);
  await page.screenshot({ path: file, timeout: 15_000 }).catch(() => undefined);
  return file;
}

// ---------------------------------------------------------------------------------------------
// Extension integration tests inside code-server's remote extension host
// ---------------------------------------------------------------------------------------------

export interface ExtensionTestResult {
  /** the code the test extension host exited with; null on timeout */
  exitCode: number | null;
  timedOut: boolean;
  /** lines from window.codeAutomationLog (mocha's output arrives here) */
  log: string[];
  durationMs: number;
}

/**
 * Run extension tests the way VS Code's test/integration/browser does: open the workbench with a
 * `payload` of extensionDevelopmentPath + extensionTestsPath, and wait for
 * window.codeAutomationExit(code). The server must have been started with `smokeTestDriver: true`
 * (the built workbench ignores the payload otherwise). Paths are server-side absolute paths.
 */
export async function runExtensionTests(opts: {
  server: CodeServer;
  extensionDevelopmentPath: string;
  extensionTestsPath: string;
  /** folder to open (default: the server's workspace copy) */
  folder?: string;
  timeoutMs?: number;
  /** reuse a browser; default launches (and closes) its own */
  browser?: Browser;
  /** also echo log lines to stdout */
  echo?: boolean;
}): Promise<ExtensionTestResult> {
  const t0 = Date.now();
  const own = !opts.browser;
  const browser = opts.browser ?? (await launchBrowser());
  const log: string[] = [];
  try {
    const { page } = browser;
    let finish: (code: number) => void = () => undefined;
    const done = new Promise<number>((r) => { finish = r; });
    await page.exposeFunction('codeAutomationLog', (type: unknown, args: unknown) => {
      const a = Array.isArray(args) ? args : [args];
      const line = `[${String(type)}] ${util.format(...a)}`;
      log.push(line);
      if (opts.echo) console.log(line);
    });
    await page.exposeFunction('codeAutomationExit', (code: unknown) => { finish(Number(code)); });
    const authority = new URL(opts.server.url).host; // code-server's remote authority = the page's host:port
    const remote = (p: string) => `vscode-remote://${authority}${p}`;
    const payload = JSON.stringify([
      ['extensionDevelopmentPath', remote(opts.extensionDevelopmentPath)],
      ['extensionTestsPath', remote(opts.extensionTestsPath)],
      ['skipWelcome', 'true'],
    ]);
    const folder = opts.folder ?? opts.server.workspaceDir;
    const query = folder ? `folder=${encodeURIComponent(folder)}&` : '';
    await page.goto(`${opts.server.url}/?${query}payload=${encodeURIComponent(payload)}`, { waitUntil: 'domcontentloaded' });
    const timeout = opts.timeoutMs ?? 120_000;
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      done,
      new Promise<null>((r) => { timer = setTimeout(() => r(null), timeout); }),
    ]);
    if (timer) clearTimeout(timer);
    return { exitCode: code, timedOut: code === null, log, durationMs: Date.now() - t0 };
  } finally {
    if (own) await browser.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Shared by the e2e test files (scenarios, exthost, package) and bench/activation.mjs
// ---------------------------------------------------------------------------------------------

/**
 * The skip decision of an e2e test file, computed synchronously at load time (runs
 * scripts/e2e-setup.sh when stamps are missing). `skip` is the reason to skip, or false; with
 * CI=true it is always false and `unavailable` (non-empty) must make the test fail loudly.
 */
export function e2eGate(what: string): { unavailable: string; skip: string | false } {
  const setup = ensureSetup();
  const unavailable = setup.missing.length
    ? `e2e prerequisites unavailable: ${setup.missing.join('; ')}` +
      (setup.ran ? ` (scripts/e2e-setup.sh exited with ${setup.status})` : '') +
      '. Run scripts/e2e-setup.sh (as root for the apt packages chromium, libkrb5-dev).'
    : '';
  const ci = process.env.CI === 'true';
  if (unavailable) {
    if (ci) console.error(`FAIL (CI=true): ${what}: ${unavailable}`);
    else console.log(`# skipping ${what}: ${unavailable}`);
  }
  return { unavailable, skip: unavailable && !ci ? unavailable : false };
}

export const DEFAULT_VSIX = path.join(REPO_ROOT, 'dist', 'containerd-taskserv.vsix');

/**
 * `npm run package` (production build + vsce) in the repo; returns the .vsix path and how long it
 * took. E2E_VSIX=/path/x.vsix skips packaging. Throws with the tail of the output on failure.
 */
export function packageExtension(opts: { logName?: string } = {}): { vsix: string; ms: number; output: string } {
  if (process.env.E2E_VSIX) {
    if (!fs.existsSync(process.env.E2E_VSIX)) throw new Error(`E2E_VSIX=${process.env.E2E_VSIX} does not exist`);
    return { vsix: path.resolve(process.env.E2E_VSIX), ms: 0, output: '' };
  }
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT; // set by node --test for its child processes
  const t0 = Date.now();
  const r = spawnSync('npm', ['run', 'package'], {
    cwd: REPO_ROOT,
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'], // vsce must not wait for an answer on stdin
    timeout: 5 * 60_000,
    killSignal: 'SIGKILL',
  });
  const output = `${r.stdout ?? ''}\n${r.stderr ?? ''}`;
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  fs.writeFileSync(path.join(RESULTS_DIR, opts.logName ?? 'npm-run-package.log'), output);
  if (r.status !== 0) {
    throw new Error(`npm run package failed (status ${r.status}${r.error ? ', ' + r.error.message : ''}):\n` +
      `${(r.stdout ?? '').slice(-3000)}\n${(r.stderr ?? '').slice(-3000)}`);
  }
  if (!fs.existsSync(DEFAULT_VSIX)) throw new Error(`npm run package succeeded but ${DEFAULT_VSIX} is missing`);
  return { vsix: DEFAULT_VSIX, ms: Date.now() - t0, output };
}

/**
 * Bundle test/e2e/exthost/suite.ts (mocha bundled in, `vscode` external) into out/exthost/index.js
 * with esbuild's JS API. Returns the extensionTestsPath (without .js).
 */
export async function buildExthostSuite(entry = 'test/e2e/exthost/suite.ts', outName = 'exthost'): Promise<string> {
  // createRequire: the test bundler (scripts/build.mjs) must not inline esbuild itself
  const esbuild = createRequire(path.join(REPO_ROOT, 'package.json'))('esbuild') as typeof import('esbuild');
  const outdir = path.join(REPO_ROOT, 'out', outName);
  await esbuild.build({
    absWorkingDir: REPO_ROOT,
    entryPoints: { index: entry },
    outdir,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: ['vscode'],
    sourcemap: 'inline',
    logLevel: 'warning',
  });
  return path.join(outdir, 'index');
}

/** Marker a suite built by buildExthostSuite prints just before mocha starts. */
export const EXTHOST_SUITE_START = 'EXTHOST-SUITE-START';

/** The mocha output among the codeAutomationLog lines of runExtensionTests (what follows the start marker). */
export function mochaLines(log: readonly string[]): string[] {
  const lines = log.map((l) => l.replace(/^\[[a-z]+\] ?/, ''));
  const i = lines.findIndex((l) => l.includes(EXTHOST_SUITE_START));
  return i < 0 ? lines.filter((l) => /✔|^\s*\d+\) |passing|failing|EXTHOST-/.test(l)) : lines.slice(i + 1);
}

/** Count the marker rows of the Problems panel by severity (optionally only those matching `filter`). */
export function countProblems(rows: readonly ProblemRow[], filter: (r: ProblemRow) => boolean = () => true): Record<'error' | 'warning' | 'info', number> {
  const c = { error: 0, warning: 0, info: 0 };
  for (const r of rows) if (r.kind === 'marker' && filter(r) && r.severity) c[r.severity]++;
  return c;
}

/**
 * Put the cursor of the active editor at 1-based `line`:`column` with the Go to Line quick input
 * (F1, then `:line:col`). Leaves the focus in the editor.
 */
export async function gotoLine(page: Page, line: number, column = 1, opts: { timeoutMs?: number } = {}): Promise<void> {
  const timeout = opts.timeoutMs ?? 15_000;
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout });
  await input.fill(`:${line}:${column}`);
  // Enter acts on the picker's item: wait until it names the line ("Go to line N and character C")
  await page
    .locator('.quick-input-widget .monaco-list-row', { hasText: new RegExp(`\\b${line}\\b.*\\b${column}\\b`) })
    .first()
    .waitFor({ state: 'visible', timeout });
  await page.keyboard.press('Enter');
  await input.waitFor({ state: 'hidden', timeout });
}

/** The editor (`.monaco-editor`) of the editor group whose active tab shows `fileName`. */
export function editorOfTab(page: Page, fileName: string) {
  return page
    .locator('.editor-group-container')
    .filter({ has: page.locator(`.tab.active[data-resource-name=${JSON.stringify(fileName)}]`) })
    .locator('.editor-instance .monaco-editor')
    .first();
}

/** The lines a Monaco editor currently renders (only the visible part of the file), top to bottom. */
export async function readEditorLines(editor: ReturnType<Page['locator']>): Promise<{ line: number; text: string }[]> {
  // (runs in the page; `any` because this file is compiled without DOM typings)
  return editor.evaluate((ed: any) => {
    const tops = (sel: string) => Array.from(ed.querySelectorAll(sel) as ArrayLike<any>).map((e: any) => ({
      // a .view-line carries its own `top`; a .line-numbers cell sits in a positioned parent
      top: parseFloat(e.style.top || (e.parentElement && e.parentElement.style.top) || '') || 0,
      text: String(e.textContent || '').replace(/\u00a0/g, ' '),
    }));
    const lines = tops('.view-lines .view-line').sort((a, b) => a.top - b.top);
    const nums = tops('.margin-view-overlays .line-numbers').sort((a, b) => a.top - b.top);
    return lines.map((l) => {
      const n = nums.find((x) => Math.abs(x.top - l.top) < 2);
      return { line: n ? Number(n.text.trim()) || 0 : 0, text: l.text };
    });
  });
}

/**
 * Open the workspace file `relPath` through Quick Open (F1, then the path): unambiguous where the
 * explorer has several folders of the same name. Resolves when the editor shows it (breadcrumbs).
 */
export async function openFileByPath(page: Page, relPath: string, opts: { timeoutMs?: number } = {}): Promise<void> {
  const timeout = opts.timeoutMs ?? 30_000;
  const name = path.posix.basename(relPath);
  const dir = path.posix.dirname(relPath);
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout });
  await input.fill(relPath);
  const row = page
    .locator('.quick-input-widget .monaco-list-row')
    .filter({ has: page.locator('.label-name', { hasText: new RegExp(`^${escapeRegExp(name)}$`) }) })
    .filter({ has: page.locator('.label-description', { hasText: new RegExp(`^${escapeRegExp(dir)}$`) }) })
    .first();
  await row.waitFor({ timeout });
  await row.click();
  await input.waitFor({ state: 'hidden', timeout });
  await page.locator(`.tabs-container .tab.active[data-resource-name=${JSON.stringify(name)}]`).waitFor({ timeout });
  // the breadcrumbs of the active editor name the folders
  const crumbs = page.locator('.editor-group-container.active .breadcrumbs-control .monaco-breadcrumb-item');
  const want = relPath.split('/');
  const deadline = Date.now() + timeout;
  for (;;) {
    const got = (await crumbs.allInnerTexts()).map((t) => t.trim()).filter(Boolean);
    if (want.every((w, i) => got[i] === w)) break;
    if (Date.now() > deadline) throw new Error(`opened ${JSON.stringify(got)} instead of ${relPath}`);
    await sleep(100);
  }
  await page.locator('.editor-group-container.active .editor-instance .monaco-editor .view-lines').first().waitFor({ timeout });
}

/**
 * Like runCommand, but clicks the palette row whose label is exactly `label` (runCommand presses
 * Enter on the first row, which may be a longer command that merely contains the label).
 */
export async function runCommandExact(page: Page, label: string, opts: { timeoutMs?: number } = {}): Promise<void> {
  const timeout = opts.timeoutMs ?? 15_000;
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout });
  await input.fill(`>${label}`);
  const row = page
    .locator('.quick-input-widget .monaco-list-row')
    .filter({ has: page.locator('.label-name', { hasText: new RegExp(`^\\s*${escapeRegExp(label)}\\s*$`) }) })
    .first();
  await row.waitFor({ timeout });
  await row.click();
  await input.waitFor({ state: 'hidden', timeout });
}

/**
 * All lines of the file shown in a Monaco editor: focuses it, goes to the top and pages down,
 * collecting the rendered lines by line number (Monaco renders only the visible ones).
 * Moves that editor's cursor and scroll position.
 */
export async function readWholeEditor(page: Page, editor: ReturnType<Page['locator']>, opts: { maxPages?: number } = {}): Promise<string[]> {
  await editor.click({ position: { x: 80, y: 8 } }); // the first visible line, right of the gutter
  await page.keyboard.press('Control+Home');
  for (let i = 0; i < 50 && !(await readEditorLines(editor)).some((l) => l.line === 1); i++) await sleep(100);
  const byLine = new Map<number, string>();
  // the end is where paging down shows nothing new three times running (a busy browser may
  // render a page late: one unchanged read is not the end)
  let still = 0;
  for (let i = 0; i < (opts.maxPages ?? 100) + 3; i++) {
    const before = byLine.size;
    for (const l of await readEditorLines(editor)) if (l.line) byLine.set(l.line, l.text);
    still = i > 0 && byLine.size === before ? still + 1 : 0;
    if (still >= 3) break;
    await page.keyboard.press('PageDown');
    await sleep(100);
  }
  return [...byLine.entries()].sort((a, b) => a[0] - b[0]).map(([, t]) => t);
}
