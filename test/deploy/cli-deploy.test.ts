/*
 * `containerd-taskserv deploy` end to end: the real CLI (bin/containerd-taskserv, no terminal)
 * against a real nspawn host over SSH — a deploy, a refused unknown host key, a refused changed key.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bootHosts, requireOrSkip, rekeyHost, stopHosts, HOSTS_KEY, HOSTS_KNOWN_HOSTS, REPO_ROOT, type TestHost } from '../hosts/testHosts';

const CLI = path.join(REPO_ROOT, 'bin', 'containerd-taskserv');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cts-cli-deploy-'));

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 180_000, stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('containerd-taskserv deploy (CLI) on a real host', () => {
  let host: TestHost | undefined;
  before(async () => {
    if (process.getuid?.() === 0 || process.env.CI === 'true') host = (await bootHosts(1))[0];
  });
  after(async () => {
    await stopHosts();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('deploys a config.toml: the host holds it and containerd is active', async (t) => {
    if (!requireOrSkip(t) || !host) return;
    const file = path.join(tmp, 'config.toml');
    const oom = -100 - Math.floor(Math.random() * 400);
    fs.writeFileSync(file, `version = 2\noom_score = ${oom}\n`);
    const r = cli(['deploy', file, '--host', `root@${host.address}`, '-i', HOSTS_KEY, '--known-hosts', HOSTS_KNOWN_HOSTS, '--yes']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /deployed/);
    const onHost = await host.ssh(['cat', '/etc/containerd/config.toml']);
    assert.equal(onHost.stdout, fs.readFileSync(file, 'utf8'));
    const active = await host.ssh(['systemctl', 'is-active', 'containerd']);
    assert.equal(active.stdout.trim(), 'active');
    const dump = await host.ssh(['containerd', 'config', 'dump']);
    assert.match(dump.stdout, new RegExp(`oom_score = ${oom}`));
  });

  test('an unknown host key is refused without a terminal (no --accept-new-host-keys)', async (t) => {
    if (!requireOrSkip(t) || !host) return;
    const empty = path.join(tmp, 'known_hosts_empty');
    fs.writeFileSync(empty, '');
    const file = path.join(tmp, 'config2.toml');
    fs.writeFileSync(file, 'version = 2\n');
    const before = await host.ssh(['sha256sum', '/etc/containerd/config.toml']);
    const r = cli(['deploy', file, '--host', `root@${host.address}`, '-i', HOSTS_KEY, '--known-hosts', empty, '--yes']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /FAILED/);
    assert.equal(fs.readFileSync(empty, 'utf8'), '', 'nothing was recorded');
    assert.equal((await host.ssh(['sha256sum', '/etc/containerd/config.toml'])).stdout, before.stdout, 'the host is untouched');
  });

  test('a changed host key is refused with a clear message', async (t) => {
    if (!requireOrSkip(t) || !host) return;
    const stale = path.join(tmp, 'known_hosts_stale');
    fs.writeFileSync(stale, host.knownHostsLine + '\n'); // the key as it was
    await rekeyHost(host.name);
    const file = path.join(tmp, 'config3.toml');
    fs.writeFileSync(file, 'version = 2\n');
    const r = cli(['deploy', file, '--host', `root@${host.address}`, '-i', HOSTS_KEY, '--known-hosts', stale, '--yes']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /host key .*changed|has changed/i);
  });
});
