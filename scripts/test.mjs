#!/usr/bin/env node
// The README's test command runs this (after `npm ci`): it does all set-up a fresh machine
// needs, then runs every test with node's test runner.
//   1. system packages (apt, as root) — scripts/install-system-deps.sh
//   2. build (esbuild) and typecheck (tsc --noEmit, strict)
//   3. node --test over every bundled test file (unit, corpus, protocol, fuzz, differential, e2e)
// With CI=true no test may skip because something is missing: the tests fail loudly instead.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { homedir } from 'node:os';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

// Caches outside the checkout, shared by every checkout on this machine: Node 24 + code-server for
// the end-to-end tests (~800 MB) and the test hosts' root filesystem (~2 min to build). Short paths:
// code-server's unix sockets live below E2E_HOME and must stay under the kernel's 108-byte limit.
const cache = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'cts');
process.env.E2E_HOME ||= join(cache, 'e2e');
process.env.HOSTS_BASE ||= join(cache, 'hosts');
const run = (cmd, args, opts = {}) => {
  console.log(`\n$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
  if (r.status !== 0) {
    console.error(`\n${cmd} ${args.join(' ')} failed (${r.status ?? r.signal})`);
    process.exit(r.status || 1);
  }
};

run('bash', ['scripts/install-system-deps.sh']);
run('node', ['scripts/build.mjs']);
run('npx', ['tsc', '-p', '.', '--noEmit']);

const files = [];
const walk = (d) => {
  for (const n of readdirSync(d)) {
    const p = join(d, n);
    if (statSync(p).isDirectory()) walk(p);
    else if (n.endsWith('.test.js')) files.push(p);
  }
};
walk(join(root, 'out'));
const only = process.argv.slice(2);
const selected = only.length ? files.filter((f) => only.some((o) => f.includes(o))) : files;
selected.sort();
run('node', ['--test', '--test-concurrency=1', '--test-timeout=900000', ...selected]);
