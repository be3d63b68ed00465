/*
 * Smoke test of the test-host launcher (test/hosts/hostctl.sh + testHosts.ts): boots two real
 * hosts (systemd-nspawn, sshd, containerd), checks what the deploy and explorer tests rely on, then
 * tears them down and checks that nothing is left behind.
 *
 *   npx esbuild test/hosts/hosts.test.ts --bundle --platform=node --format=cjs --outdir=/tmp/hosts-out
 *   node --test /tmp/hosts-out/
 *
 * Needs root and the packages of scripts/install-system-deps.sh; skipped without them, failed
 * with CI=true. The first run builds the image (~1-2 min), later boots take seconds.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import {
  BUSYBOX,
  HOSTS_BASE,
  SUDOPW_PASSWORD,
  HOSTS_KNOWN_HOSTS,
  bootHosts,
  killHost,
  rekeyHost,
  requireOrSkip,
  startHost,
  stopHosts,
  type TestHost,
} from './testHosts';

async function ok(h: TestHost, cmd: string[], opts?: Parameters<TestHost['ssh']>[1]): Promise<string> {
  const r = await h.ssh(cmd, opts);
  assert.equal(r.code, 0, `${h.name}: \`${cmd.join(' ')}\` exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.stdout.trim();
}

async function eventually(what: string, fn: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** pids of systemd-nspawn processes running one of our hosts */
function ourNspawns(names: string[]): number[] {
  const out: number[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    let argv: string[];
    try {
      argv = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (!argv[0]?.endsWith('systemd-nspawn')) continue;
    if (argv.some((a) => a.startsWith('--directory=') && names.some((n) => a === `--directory=${HOSTS_BASE}/m/${n}`)))
      out.push(Number(p));
  }
  return out;
}

const names: string[] = [];

test('test hosts: boot 2, ssh, containerd, busybox container, sudo users', { timeout: 15 * 60_000 }, async (t) => {
  if (!requireOrSkip(t)) return;

  const t0 = Date.now();
  const hosts = await bootHosts(2);
  t.diagnostic(`booted ${hosts.map((h) => `${h.name}=${h.address}`).join(' ')} in ${Date.now() - t0} ms`);
  assert.equal(hosts.length, 2);
  names.push(...hosts.map((h) => h.name));

  {
    await Promise.all(
      hosts.map((h) =>
        t.test(`${h.name} (${h.address})`, async () => {
          assert.match(h.knownHostsLine, new RegExp(`^${h.address.replace(/\./g, '\\.')} ssh-ed25519 AAAA`));
          assert.match(h.hostKeyFingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
          assert.equal(h.port, 22);

          // ssh as root
          assert.equal(await ok(h, ['id', '-un']), 'root');
          assert.equal(await ok(h, ['hostname']), h.name);
          assert.equal(await ok(h, ['systemctl', 'is-system-running']), 'running');

          // containerd
          assert.equal(await ok(h, ['systemctl', 'is-active', 'containerd']), 'active');
          assert.match(await ok(h, ['ctr', 'version']), /Server:\s*\n\s*Version:/);

          // a container from the bundled busybox image
          await ok(h, [...BUSYBOX.importCmd]);
          assert.match(await ok(h, ['ctr', 'images', 'ls', '-q']), new RegExp(BUSYBOX.ref.replace(/\./g, '\\.')));
          await ok(h, ['ctr', 'run', '-d', BUSYBOX.ref, 'smoke']);
          await eventually(`${h.name}: task smoke RUNNING`, async () =>
            /^smoke\s+\d+\s+RUNNING/m.test((await h.ssh(['ctr', 'task', 'ls'])).stdout),
          );
          assert.equal(await ok(h, ['ctr', 'task', 'exec', '--exec-id', 'e1', 'smoke', 'echo', 'hi from busybox']), 'hi from busybox');

          // sudo: deploy without a password; sudopw only with its password
          assert.equal(await ok(h, ['id', '-un'], { user: 'deploy' }), 'deploy');
          await ok(h, ['sudo', '-n', 'true'], { user: 'deploy' });
          const noPw = await h.ssh(['sudo', '-n', 'true'], { user: 'sudopw' });
          assert.notEqual(noPw.code, 0, 'sudopw: sudo -n must need a password');
          assert.match(noPw.stderr, /password is required/);
          await ok(h, ['sh', '-c', `echo ${SUDOPW_PASSWORD} | sudo -S -p '' true`], { user: 'sudopw' });
          await ok(h, ['sudo', '-S', '-p', '', 'id', '-un'], { user: 'sudopw', input: `${SUDOPW_PASSWORD}\n` });
          const badPw = await h.ssh(['sh', '-c', "echo wrong | sudo -S -p '' true"], { user: 'sudopw' });
          assert.notEqual(badPw.code, 0, 'sudopw: a wrong password must fail');

          // restart containerd: returns, comes back active, the container survives
          const pid0 = await ok(h, ['systemctl', 'show', '-p', 'MainPID', '--value', 'containerd']);
          await ok(h, ['systemctl', 'restart', 'containerd'], { timeoutMs: 60_000 });
          await eventually(`${h.name}: containerd active again`, async () =>
            (await h.ssh(['systemctl', 'is-active', 'containerd'])).stdout.trim() === 'active',
          );
          assert.notEqual(await ok(h, ['systemctl', 'show', '-p', 'MainPID', '--value', 'containerd']), pid0);
          assert.match(await ok(h, ['ctr', 'task', 'ls']), /^smoke\s+\d+\s+RUNNING/m);
        }),
      ),
    );
  }
});

test('test hosts: rekey, kill, start again', { timeout: 10 * 60_000 }, async (t) => {
  if (!requireOrSkip(t)) return;
  const [h] = await bootHosts(1); // reuses the first host of the test above
  assert.equal(h.name, names[0] ?? h.name);
  if (!names.length) names.push(h.name);

  // a new host key: the old line no longer matches, host.ssh (HOSTS_KNOWN_HOSTS) trusts the new one
  const oldLine = h.knownHostsLine;
  const oldFp = h.hostKeyFingerprint;
  await rekeyHost(h.name);
  assert.notEqual(h.knownHostsLine, oldLine);
  assert.notEqual(h.hostKeyFingerprint, oldFp);
  assert.ok(fs.readFileSync(HOSTS_KNOWN_HOSTS, 'utf8').includes(h.knownHostsLine));
  assert.equal(await ok(h, ['true']), '');
  const remote = await ok(h, ['cat', '/etc/ssh/ssh_host_ed25519_key.pub']);
  assert.equal(remote.split(' ').slice(0, 2).join(' '), h.knownHostsLine.split(' ').slice(1).join(' '));

  // hard stop: connections are refused at once; start again from the same disk, same key
  await ok(h, ['sh', '-c', 'echo survived > /root/marker']);
  let t0 = Date.now();
  await killHost(h.name);
  t.diagnostic(`killHost took ${Date.now() - t0} ms`);
  let r = await h.ssh(['true']);
  assert.equal(r.code, 255);
  assert.match(r.stderr, /Connection refused/);
  t0 = Date.now();
  await startHost(h.name);
  t.diagnostic(`startHost took ${Date.now() - t0} ms`);
  assert.equal(await ok(h, ['cat', '/root/marker']), 'survived');
  assert.equal(await ok(h, ['systemctl', 'is-active', 'containerd']), 'active');

  // unreachable: no route to host (bounded by ARP, not by a TCP timeout)
  await killHost(h.name, { network: 'unreachable' });
  t0 = Date.now();
  r = await h.ssh(['true']);
  t.diagnostic(`ssh to an unreachable host failed after ${Date.now() - t0} ms: ${r.stderr.trim()}`);
  assert.equal(r.code, 255);
  assert.match(r.stderr, /No route to host|timed out/);
  await startHost(h.name);
  assert.equal(await ok(h, ['hostname']), h.name);
});

test('test hosts: stopHosts leaves nothing behind', { timeout: 5 * 60_000 }, async (t) => {
  if (!requireOrSkip(t)) return;
  const t0 = Date.now();
  await stopHosts();
  t.diagnostic(`stopHosts took ${Date.now() - t0} ms`);

  // nothing left: no nspawn, no netns, no veth, no cgroups, no disks of our hosts
  assert.deepEqual(ourNspawns(names), [], 'systemd-nspawn still running');
  const netns = fs.existsSync('/run/netns') ? fs.readdirSync('/run/netns') : [];
  assert.deepEqual(netns.filter((n) => names.some((m) => n === `hosts-${m}`)), [], 'netns left');
  const links = fs.readdirSync('/sys/class/net');
  assert.deepEqual(links.filter((l) => names.some((m) => l === `v${m}`)), [], 'veth left');
  for (const n of names) {
    assert.ok(!fs.existsSync(`${HOSTS_BASE}/m/${n}`), `${n}: disk left`);
    assert.ok(!fs.existsSync(`${HOSTS_BASE}/m/${n}.cgroups`), `${n}: cgroups left`);
    assert.ok(!fs.existsSync(`/run/hostctl/leases/${n}`), `${n}: lease left`);
  }
  const others = netns.filter((n) => /^hosts-h\d+$/.test(n) && !names.some((m) => n === `hosts-${m}`));
  if (others.length) t.diagnostic(`other processes' hosts still up (not ours): ${others.join(' ')}`);
});
