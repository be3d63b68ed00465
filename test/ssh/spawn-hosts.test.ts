/*
 * HostConnection.spawn on a real test host: sudo without a password (deploy), sudo with a
 * password (sudopw) — the password never shows in the output, with or without a pty — and a
 * wrong sudo password is a clear error.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { bootHosts, requireOrSkip, stopHosts, HOSTS_KEY, HOSTS_KNOWN_HOSTS, SUDOPW_PASSWORD, type TestHost } from '../hosts/testHosts';
import { createSshPool, SshError, type Credentials, type HostConfig, type RemoteProcess } from '../../client/src/core/ssh';

const creds = (password: string): Credentials => ({
  confirmHostKey: async () => false, // every test host is in HOSTS_KNOWN_HOSTS
  passphrase: async () => undefined,
  password: async () => undefined,
  sudoPassword: async () => password,
  forget: async () => undefined,
});
const cfg = (h: TestHost, user: string, extra: Partial<HostConfig> = {}): HostConfig => ({
  name: `${user}@${h.name}`,
  host: h.address,
  port: h.port,
  user,
  identityFile: HOSTS_KEY,
  ...extra,
});

async function collect(p: RemoteProcess): Promise<{ out: string; err: string; code: number | null }> {
  let out = '';
  let err = '';
  p.stdout.on('data', (b: Buffer) => (out += b.toString()));
  p.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const { code } = await p.exited;
  return { out, err, code };
}

after(() => stopHosts());

test('spawn under sudo on a real host: nopasswd, password (plain and pty), wrong password', { timeout: 10 * 60_000 }, async (t) => {
  if (!requireOrSkip(t)) return;
  const [h] = await bootHosts(1);
  const good = createSshPool({ credentials: creds(SUDOPW_PASSWORD), knownHostsPath: HOSTS_KNOWN_HOSTS, agentSocket: null });
  const bad = createSshPool({ credentials: creds('not-the-password'), knownHostsPath: HOSTS_KNOWN_HOSTS, agentSocket: null });
  try {
    const deploy = await good.get(cfg(h, 'deploy'));
    const r1 = await collect(await deploy.spawn(['sh', '-c', 'id -un; cat'], { sudo: true }).then((p) => (p.stdin.end('piped\n'), p)));
    assert.deepEqual(r1, { out: 'root\npiped\n', err: '', code: 0 });

    const sudopw = await good.get(cfg(h, 'sudopw', { sudo: 'password' }));
    const p2 = await sudopw.spawn(['sh', '-c', 'id -un; echo to-stderr >&2; cat'], { sudo: true });
    p2.stdin.end('after-start\n');
    const r2 = await collect(p2);
    assert.equal(r2.code, 0);
    assert.equal(r2.out, 'root\nafter-start\n', 'the stdin reaches the command, not sudo');
    assert.equal(r2.err, 'to-stderr\n', 'no sudo prompt or marker leaks into stderr');

    const p3 = await sudopw.spawn(['sh', '-c', 'id -un; tty >/dev/null && echo has-tty'], { sudo: true, pty: { rows: 24, cols: 80 } });
    const r3 = await collect(p3);
    assert.equal(r3.code, 0);
    assert.ok(!r3.out.includes(SUDOPW_PASSWORD), 'the password is never echoed back');
    assert.match(r3.out, /^root\r?\nhas-tty\r?\n$/);

    const wrong = await bad.get(cfg(h, 'sudopw', { sudo: 'password' }));
    await assert.rejects(wrong.spawn(['id', '-un'], { sudo: true }), (e: unknown) => e instanceof SshError && e.kind === 'sudo' && /password/.test(e.message));
  } finally {
    good.closeAll();
    bad.closeAll();
  }
});
