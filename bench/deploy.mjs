#!/usr/bin/env node
// Deploy benchmark (a script, not a test): `node bench/deploy.mjs` as root.
//
// Boots 6 test hosts (test/hosts/testHosts.ts: systemd-nspawn Debian machines with containerd),
// opens one SSH connection to each (the pool, timed separately), then deploys the same config
// (a value changed per round, so that every deploy really validates, swaps and restarts) with
// deployGroup to 1 host, to 3 and to 6 in parallel (concurrency = number of hosts). Each size is
// measured ROUNDS times (default 3; BENCH_QUICK=1: 1); prints the median wall time per size, the
// per-stage medians for one host, and the ratios 6-vs-1 (goal < 2×) and 3-vs-1.
//
// Environment: BENCH_QUICK=1, ROUNDS=N, KEEP_HOSTS=1 (do not stop the hosts at the end).

import * as esbuild from 'esbuild';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
process.env.CONTAINERD_TASKSERV_ROOT = root;
const ROUNDS = Number(process.env.ROUNDS ?? (process.env.BENCH_QUICK ? 1 : 3));

const entry = join(root, 'out', 'bench', 'deploy-entry.js');
await esbuild.build({
  stdin: {
    contents: `
      export { bootHosts, stopHosts, ensureHostsPrereqs, HOSTS_KEY, HOSTS_KNOWN_HOSTS, SUDOPW_PASSWORD } from './test/hosts/testHosts';
      export { createSshPool } from './client/src/core/ssh';
      export { deployGroup } from './client/src/core/deploy/group';
    `,
    resolveDir: root,
    sourcefile: 'deploy-entry.ts',
    loader: 'ts',
  },
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  outfile: entry,
  logLevel: 'warning',
  external: ['*.node'],
  absWorkingDir: root,
});
const { bootHosts, stopHosts, ensureHostsPrereqs, HOSTS_KEY, HOSTS_KNOWN_HOSTS, SUDOPW_PASSWORD, createSshPool, deployGroup } = require(entry);

const missing = ensureHostsPrereqs();
if (missing.length) {
  console.error(`cannot boot test hosts, missing: ${missing.join(', ')} (run as root after scripts/install-system-deps.sh)`);
  process.exit(2);
}

const config = (n) => `version = 2
oom_score = ${-1000 + n}

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    max_concurrent_downloads = ${1 + (n % 9)}
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "/etc/cni/net.d"
  [plugins."io.containerd.internal.v1.opt"]
    path = "/var/lib/containerd/opt"
`;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (ms) => `${(ms / 1000).toFixed(2)} s`;

console.log(`deploy benchmark — ${cpus().length} cores, node ${process.version}, ${ROUNDS} round(s) per size`);
let t0 = performance.now();
const hosts = await bootHosts(6);
console.log(`booted ${hosts.map((h) => h.name).join(' ')} in ${fmt(performance.now() - t0)}`);

const pool = createSshPool({
  credentials: {
    confirmHostKey: async () => false,
    passphrase: async () => undefined,
    password: async () => undefined,
    sudoPassword: async () => SUDOPW_PASSWORD,
    forget: async () => undefined,
  },
  knownHostsPath: HOSTS_KNOWN_HOSTS,
  agentSocket: null,
});
const cfgs = hosts.map((h) => ({ name: h.name, host: h.address, port: h.port, user: 'root', identityFile: HOSTS_KEY }));

// containerd must be up everywhere before we measure
for (const h of hosts) {
  const end = Date.now() + 120_000;
  while ((await h.ssh(['systemctl', 'is-active', 'containerd'])).stdout.trim() !== 'active') {
    if (Date.now() > end) throw new Error(`${h.name}: containerd not active`);
    await new Promise((r) => setTimeout(r, 500));
  }
}
t0 = performance.now();
await Promise.all(cfgs.map((c) => pool.get(c)));
console.log(`connected to 6 hosts (in parallel) in ${fmt(performance.now() - t0)}`);

// CPU one deploy costs on a host (its cgroup's cpuacct.usage, over the deploy; cgroup v1 hosts)
const hostCpu = async (h) => Number((await h.ssh(['cat', '/sys/fs/cgroup/cpuacct/cpuacct.usage'])).stdout.trim()) || NaN;
let cpuPerDeploy;
{
  const a = await hostCpu(hosts[0]);
  const r = await deployGroup(cfgs.slice(0, 1), pool, { files: [{ path: '/etc/containerd/config.toml', content: config(999), kind: 'config.toml' }] }, {});
  const b = await hostCpu(hosts[0]);
  if (r[0].ok && Number.isFinite(a) && Number.isFinite(b)) cpuPerDeploy = (b - a) / 1e6;
  console.log(`host CPU for one deploy (validate, restart, health, ~10 execs): ${cpuPerDeploy ? `${Math.round(cpuPerDeploy)} ms` : 'n/a'}`);
}

let n = 0;
const results = {};
const stageMs = {};
let failed = 0;
try {
  for (const size of [1, 3, 6]) {
    results[size] = [];
    for (let round = 0; round < ROUNDS + 1; round++) {
      n++;
      const t = performance.now();
      const reports = await deployGroup(cfgs.slice(0, size), pool, { files: [{ path: '/etc/containerd/config.toml', content: config(n), kind: 'config.toml' }] }, { concurrency: size });
      const ms = performance.now() - t;
      const bad = reports.filter((r) => !r.ok);
      if (bad.length) {
        failed += bad.length;
        for (const r of bad) console.error(`  ${r.host}: FAILED ${r.error}`);
      }
      if (round === 0) continue; // warm-up round (page cache, first daemon-reload…)
      results[size].push(ms);
      for (const r of reports) for (const s of r.stages) ((stageMs[size] ??= {})[s.stage] ??= []).push(s.ms);
    }
    console.log(`  ${size} host(s): median ${fmt(median(results[size]))}  (${results[size].map(fmt).join(', ')}; load average ${loadavg()[0].toFixed(1)})`);
  }
} finally {
  pool.closeAll();
  if (!process.env.KEEP_HOSTS) await stopHosts();
}

const m1 = median(results[1]);
const m3 = median(results[3]);
const m6 = median(results[6]);
for (const size of [1, 3, 6]) {
  console.log(`per stage, ${size} host(s) (median ms over hosts and rounds): ` + Object.entries(stageMs[size] ?? {}).map(([k, v]) => `${k} ${Math.round(median(v))}`).join(', '));
}
console.log(`\n| hosts | median wall time | vs 1 host |`);
console.log(`| --- | --- | --- |`);
console.log(`| 1 | ${fmt(m1)} | 1.00× |`);
console.log(`| 3 | ${fmt(m3)} | ${(m3 / m1).toFixed(2)}× |`);
console.log(`| 6 | ${fmt(m6)} | ${(m6 / m1).toFixed(2)}× (goal < 2×: ${m6 / m1 < 2 ? 'met' : 'NOT met'}) |`);
if (cpuPerDeploy) {
  const floor = (6 * cpuPerDeploy) / cpus().length;
  console.log(`\nAll 6 hosts share this machine's ${cpus().length} cores with the client: 6 deploys need at least ${fmt(floor)} of CPU here (${fmt(6 * cpuPerDeploy)} / ${cpus().length} cores), on top of the 1-host latency.`);
}
if (failed) {
  console.error(`${failed} host deploy(s) failed`);
  process.exit(1);
}
