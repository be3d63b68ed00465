#!/usr/bin/env node
// Remote container explorer benchmark (a script, not a test): `node bench/explorer.mjs` as root.
//
// Boots 1 test host (test/hosts/testHosts.ts: a systemd-nspawn Debian machine with containerd 1.6),
// starts COUNT (default 200) busybox idle loops with `ctr run -d` in the namespace `bench` (runc v2
// shims shared by groups of 20 through the `io.containerd.runc.v2.group` label, so that 200
// containers fit on a small machine), then measures a full refresh of the host:
//   - ours: RuntimeClient.snapshot() — gRPC (CRI + containerd API) tunnelled through the pooled SSH
//     connection (streamlocal as root), all calls in parallel on one channel;
//   - the Docker-over-SSH way: one `ssh host ctr …` process per call (no connection sharing) for the
//     same listing (namespaces, then containers, tasks and images of every namespace), once with the
//     calls of a phase in parallel and once one after the other;
// and the latency of containerd events: from `ctr run` of a new container to its /tasks/start event
// arriving on our subscription (end to end, and from the event's own timestamp: the host shares this
// machine's clock). Prints the medians, the ratio and the goals (≥5× faster, <1 s for 200
// containers, <1 s event latency); nothing is asserted.
//
// Environment: COUNT=N, ROUNDS=N (default 7; BENCH_QUICK=1: 3, COUNT 40), KEEP_HOSTS=1.

import * as esbuild from 'esbuild';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
process.env.CONTAINERD_TASKSERV_ROOT = root;
const QUICK = !!process.env.BENCH_QUICK;
const COUNT = Number(process.env.COUNT ?? (QUICK ? 40 : 200));
const ROUNDS = Number(process.env.ROUNDS ?? (QUICK ? 3 : 7));
const NS = 'bench';
const BUSYBOX = 'docker.io/library/busybox:latest';

const entry = join(root, 'out', 'bench', 'explorer-entry.js');
await esbuild.build({
  stdin: {
    contents: `
      export { bootHosts, stopHosts, ensureHostsPrereqs, HOSTS_KEY, HOSTS_KNOWN_HOSTS } from './test/hosts/testHosts';
      export { createSshPool } from './client/src/core/ssh';
      export { connectRuntime } from './client/src/core/runtime';
      export { Refresher } from './client/src/explorer/refresher';
    `,
    resolveDir: root,
    sourcefile: 'explorer-entry.ts',
    loader: 'ts',
  },
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  outfile: entry,
  logLevel: 'warning',
  external: ['*.node'],
  loader: { '.proto': 'text' },
  absWorkingDir: root,
});
const { bootHosts, stopHosts, ensureHostsPrereqs, HOSTS_KEY, HOSTS_KNOWN_HOSTS, createSshPool, connectRuntime, Refresher } = require(entry);

const missing = ensureHostsPrereqs();
if (missing.length) {
  console.error(`cannot boot test hosts, missing: ${missing.join(', ')} (run as root after scripts/install-system-deps.sh)`);
  process.exit(2);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

console.log(`explorer benchmark — ${cpus().length} cores, node ${process.version}, ${COUNT} containers, ${ROUNDS} round(s)`);
let t0 = performance.now();
const [host] = await bootHosts(1);
console.log(`booted ${host.name} in ${fmt(performance.now() - t0)}`);

/** `ssh root@host ARGV…` as its own process (what a CLI wrapper over SSH does per call). */
const sshArgs = ['-i', HOSTS_KEY, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${HOSTS_KNOWN_HOSTS}`, '-o', 'ControlMaster=no', '-o', 'ControlPath=none', '-o', 'LogLevel=ERROR'];
const q = (s) => (/^[A-Za-z0-9_\-./:=@,+%]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
function sshCall(argv) {
  return new Promise((resolve, reject) => {
    const p = spawn('ssh', [...sshArgs, `root@${host.address}`, '--', argv.map(q).join(' ')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (b) => (out += b));
    p.stderr.on('data', (b) => (err += b));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`ssh ${argv.join(' ')}: ${code} ${err}`))));
  });
}

const pool = createSshPool({
  credentials: { confirmHostKey: async () => false, passphrase: async () => undefined, password: async () => undefined, sudoPassword: async () => undefined, forget: async () => undefined },
  knownHostsPath: HOSTS_KNOWN_HOSTS,
  agentSocket: null,
});
let rt;
try {
  // ---- COUNT idle containers -------------------------------------------------------------------
  t0 = performance.now();
  const r = await host.ssh(
    [
      'sh',
      '-c',
      // constant script; $1 = namespace, $2 = count
      'set -e; ctr -n "$1" images import --base-name docker.io/library/busybox /opt/images/busybox.tar >/dev/null; ' +
        // xargs appends the number: inside, $0 = namespace, $1 = number
        'seq 1 "$2" | xargs -P 4 -n 1 sh -c \'ctr -n "$0" run -d --label io.containerd.runc.v2.group=g$(( $1 % 10 )) docker.io/library/busybox:latest "b$1" >/dev/null\' "$1"; ' +
        'ctr -n "$1" tasks ls | grep -c RUNNING',
      'sh',
      NS,
      String(COUNT),
    ],
    { timeoutMs: 30 * 60_000 },
  );
  if (r.code !== 0) throw new Error(`starting containers failed: ${r.stderr}`);
  console.log(`started ${r.stdout.trim()} running containers in ${NS} in ${fmt(performance.now() - t0)} (load average ${loadavg()[0].toFixed(1)})`);

  // ---- ours: snapshot over the pooled connection -------------------------------------------------
  t0 = performance.now();
  const conn = await pool.get({ name: host.name, host: host.address, port: host.port, user: 'root', identityFile: HOSTS_KEY });
  const tConn = performance.now() - t0;
  t0 = performance.now();
  rt = await connectRuntime(conn);
  const tRt = performance.now() - t0;
  console.log(`SSH connection ${fmt(tConn)}, runtime client (${rt.access}, probe included) ${fmt(tRt)}`);
  const first = await rt.snapshot(); // warm-up (and a check of what is listed)
  const listed = first.namespaces.reduce((n, x) => n + x.containers.length, 0);
  console.log(`snapshot lists ${listed} containers in ${first.namespaces.length} namespaces (${first.namespaces.map((n) => `${n.name}: ${n.containers.length}`).join(', ')})`);
  const ours = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t = performance.now();
    await rt.snapshot();
    ours.push(performance.now() - t);
  }

  // ---- containerd's own share: the same listing by ctr on the host itself (no SSH in the timing) --
  const floor = [];
  for (let i = 0; i < ROUNDS; i++) {
    const out = await conn.exec([
      'sh',
      '-c',
      // constant script; $1 = namespace
      's=$(date +%s%N); ctr namespaces ls -q >/dev/null; ctr -n "$1" containers ls >/dev/null; ctr -n "$1" tasks ls >/dev/null; ctr -n "$1" images ls >/dev/null; e=$(date +%s%N); echo $(( (e - s) / 1000000 ))',
      'sh',
      NS,
    ]);
    floor.push(Number(out.stdout.trim()));
  }
  const listOnly = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t = performance.now();
    await rt.listContainers(NS);
    listOnly.push(performance.now() - t);
  }

  // ---- the Docker-over-SSH way: one ssh process per ctr call -----------------------------------
  const perNs = (ns) => [
    ['ctr', '-n', ns, 'containers', 'ls'],
    ['ctr', '-n', ns, 'tasks', 'ls'],
    ['ctr', '-n', ns, 'images', 'ls'],
  ];
  const sshParallel = [];
  const sshSerial = [];
  let calls = 0;
  for (let i = 0; i < ROUNDS; i++) {
    let t = performance.now();
    const names = (await sshCall(['ctr', 'namespaces', 'ls', '-q'])).split('\n').filter(Boolean);
    await Promise.all(names.flatMap(perNs).map(sshCall));
    sshParallel.push(performance.now() - t);
    calls = 1 + names.length * 3;
    t = performance.now();
    const names2 = (await sshCall(['ctr', 'namespaces', 'ls', '-q'])).split('\n').filter(Boolean);
    for (const argv of names2.flatMap(perNs)) await sshCall(argv);
    sshSerial.push(performance.now() - t);
  }

  // ---- event latency ------------------------------------------------------------------------------
  const ac = new AbortController();
  const waiting = new Map();
  const sub = rt.subscribe((e) => {
    if (e.topic === '/tasks/start' && waiting.has(e.subject)) waiting.get(e.subject)(e);
  }, ac.signal);
  await sleep(1000); // Events.Subscribe has no "ready" message
  const endToEnd = [];
  const fromStamp = [];
  for (let i = 0; i < ROUNDS; i++) {
    const name = `ev${i}`;
    const got = new Promise((resolve) => waiting.set(name, (e) => resolve({ e, at: Date.now() })));
    const t = Date.now();
    const run = conn.exec(['ctr', '-n', NS, 'run', '-d', BUSYBOX, name]);
    const { e, at } = await Promise.race([got, sleep(30_000).then(() => ({ e: undefined, at: NaN }))]);
    await run;
    if (!e) {
      console.error(`no /tasks/start event for ${name} within 30 s`);
      continue;
    }
    endToEnd.push(at - t);
    fromStamp.push(at - e.timestamp);
  }
  ac.abort();
  await sub;

  // ---- container start → in the tree ---------------------------------------------------------------
  // The explorer's own refresh path: the Refresher (event stream of the expanded host, debounced 300 ms)
  // reloads the host with snapshot(); the container is "in the tree" when a reloaded snapshot lists it
  // as running (the tree items are built from that snapshot; VS Code's paint is not counted). Timed
  // from the container's /tasks/start event timestamp (containerd's clock = this machine's).
  const startTimes = new Map();
  const inTree = new Map();
  const treeWaiters = new Map();
  const refresher = new Refresher({
    subscribe: (key, onEvent, signal) => rt.subscribe((e) => {
      if (e.topic === '/tasks/start') startTimes.set(e.subject, e.timestamp);
      onEvent();
    }, signal),
    refresh: async () => {
      const snap = await rt.snapshot();
      const at = Date.now();
      const ns = snap.namespaces.find((n) => n.name === NS);
      for (const [name, resolve] of treeWaiters) {
        if (ns?.containers.some((c) => c.id === name && c.state === 'running')) {
          inTree.set(name, at);
          treeWaiters.delete(name);
          resolve();
        }
      }
    },
  }, { pollMs: 0 });
  refresher.setVisible(true);
  refresher.setExpanded(host.name, true);
  await sleep(3500); // the stream opens and its settle reload (2 s, of 200 containers) is done: only events count below
  const startToTree = [];
  const runToTree = [];
  for (let i = 0; i < ROUNDS; i++) {
    const name = `tr${i}`;
    const shown = new Promise((resolve) => treeWaiters.set(name, resolve));
    const t = Date.now();
    await conn.exec(['ctr', '-n', NS, 'run', '-d', BUSYBOX, name]);
    const ok = await Promise.race([shown.then(() => true), sleep(30_000).then(() => false)]);
    if (!ok || !startTimes.has(name)) {
      console.error(`${name} did not reach the tree within 30 s`);
      continue;
    }
    startToTree.push(inTree.get(name) - startTimes.get(name));
    runToTree.push(inTree.get(name) - t);
    await sleep(500);
  }
  refresher.dispose();

  // ---- report ---------------------------------------------------------------------------------------
  const mo = median(ours);
  const mp = median(sshParallel);
  const ms = median(sshSerial);
  console.log(`\nfull refresh of ${listed} containers (median of ${ROUNDS}):`);
  console.log(`| method | median | rounds |`);
  console.log(`| --- | --- | --- |`);
  console.log(`| gRPC snapshot over the pooled SSH connection | ${fmt(mo)} | ${ours.map(fmt).join(', ')} |`);
  console.log(`| ssh host ctr … per call, calls of a phase in parallel (${calls} ssh processes) | ${fmt(mp)} | ${sshParallel.map(fmt).join(', ')} |`);
  console.log(`| ssh host ctr … per call, one after the other | ${fmt(ms)} | ${sshSerial.map(fmt).join(', ')} |`);
  console.log(`| (our listContainers of ${NS} alone) | ${fmt(median(listOnly))} | ${listOnly.map(fmt).join(', ')} |`);
  console.log(`| (containerd's own time: the same ctr calls run on the host, no SSH) | ${fmt(median(floor))} | ${floor.map(fmt).join(', ')} |`);
  console.log(`\nspeed-up: ${(mp / mo).toFixed(1)}× vs parallel ssh calls, ${(ms / mo).toFixed(1)}× vs serial (goal ≥ 5×: ${mp / mo >= 5 ? 'met' : 'NOT met'})`);
  console.log(`refresh of ${listed} containers: ${fmt(mo)} (goal < 1 s: ${mo < 1000 ? 'met' : 'NOT met'})`);
  if (endToEnd.length) {
    const me = median(endToEnd);
    console.log(
      `event latency, ctr run → /tasks/start received: median ${fmt(me)} (${endToEnd.map(fmt).join(', ')}); ` +
        `event timestamp → received: median ${fmt(median(fromStamp))} (goal < 1 s: ${me < 1000 ? 'met' : 'NOT met'})`,
    );
  }
  if (startToTree.length) {
    const mt = median(startToTree);
    console.log(
      `container start → in the tree (event stream → 300 ms debounce → snapshot of ${listed} containers): median ${fmt(mt)} ` +
        `(${startToTree.map(fmt).join(', ')}); from \`ctr run\`: median ${fmt(median(runToTree))} (goal < 1 s: ${mt < 1000 ? 'met' : 'NOT met'})`,
    );
  }
  console.log(
    JSON.stringify({ containers: listed, startToTreeMs: startToTree.length ? Math.round(median(startToTree)) : null, loadAverage: Number(loadavg()[0].toFixed(1)), snapshotMs: Math.round(mo), hostCtrMs: Math.round(median(floor)), sshParallelMs: Math.round(mp), sshSerialMs: Math.round(ms), eventEndToEndMs: endToEnd.length ? Math.round(median(endToEnd)) : null, eventFromStampMs: fromStamp.length ? Math.round(median(fromStamp)) : null }),
  );
} finally {
  rt?.close();
  pool.closeAll();
  if (!process.env.KEEP_HOSTS) await stopHosts();
}
