// The SSH core against a real OpenSSH server on 127.0.0.1 (test/ssh/sshd.ts): host keys
// (unknown/accepted/declined/changed/revoked/hashed), auth (key, encrypted key, password), exec
// (quoting, sudo, timeout, abort, output), SFTP, streamlocal, pooling, reconnect, ProxyJump — and
// the pure parts (quoting, known_hosts parsing, ~/.ssh/config). Run with `node --test`.
// Without sshd the live tests skip with the reason; with CI=true they fail with an install hint.

import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  KnownHosts,
  SshConfigFile,
  SshError,
  commandLine,
  createSshPool,
  fingerprint,
  parseJumpSpec,
  shellQuote,
  sudoArgv,
  type Credentials,
  type HostConfig,
  type HostConnection,
  type HostKeyPrompt,
  type SshPool,
  type SshPoolOptions,
} from '../../client/src/core/ssh';
import { Sshd, createUser, keygen, keygenFingerprint, run, sshdUnavailable } from './sshd';

const CI = process.env.CI === 'true';
const HINT = 'install it with: apt-get install -y openssh-server (scripts/install-system-deps.sh)';

// ---- pure parts ---------------------------------------------------------------------------------

describe('quote', () => {
  it('single-quotes every argument and escapes embedded quotes', () => {
    assert.equal(shellQuote('abc'), `'abc'`);
    assert.equal(shellQuote(''), `''`);
    assert.equal(shellQuote(`a'b`), `'a'\\''b'`);
    assert.equal(commandLine(['echo', '$(x)', '`y`', ';z']), `'echo' '$(x)' '\`y\`' ';z'`);
    assert.throws(() => commandLine([]));
    assert.throws(() => shellQuote('a\0b'));
  });
  it('sudoArgv per mode', () => {
    assert.deepEqual(sudoArgv(['id', '-u'], 'none'), ['id', '-u']);
    assert.deepEqual(sudoArgv(['id', '-u'], 'nopasswd'), ['sudo', '-n', '--', 'id', '-u']);
    assert.deepEqual(sudoArgv(['id', '-u'], 'password'), ['sudo', '-S', '-p', '', '--', 'id', '-u']);
    assert.equal(commandLine(sudoArgv(['id'], 'password')), `'sudo' '-S' '-p' '' '--' 'id'`);
  });
});

describe('known_hosts parsing', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kh-test-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const blob = (type: string, body: string) => {
    const t = Buffer.from(type);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(t.length);
    return Buffer.concat([len, t, Buffer.from(body)]);
  };
  const a = blob('ssh-ed25519', 'key-a');
  const b = blob('ssh-ed25519', 'key-b');
  const r = blob('ecdsa-sha2-nistp256', 'key-r');

  it('plain, [host]:port, comma lists, wildcards, negation, markers', () => {
    const file = path.join(dir, 'kh1');
    fs.writeFileSync(
      file,
      [
        '# comment',
        `web1,10.0.0.1 ssh-ed25519 ${a.toString('base64')}`,
        `[web2]:2222 ssh-ed25519 ${a.toString('base64')}`,
        `*.lan,!bad.lan ssh-ed25519 ${a.toString('base64')}`,
        `@cert-authority * ssh-ed25519 ${b.toString('base64')}`,
        `@revoked * ecdsa-sha2-nistp256 ${r.toString('base64')}`,
        'garbage line',
      ].join('\n'),
    );
    const kh = new KnownHosts(file);
    assert.equal(kh.verify('web1', 22, 'ssh-ed25519', a), 'known');
    assert.equal(kh.verify('10.0.0.1', 22, 'ssh-ed25519', a), 'known');
    assert.equal(kh.verify('WEB1', 22, 'ssh-ed25519', a), 'known');
    assert.equal(kh.verify('web1', 2222, 'ssh-ed25519', a), 'unknown');
    assert.equal(kh.verify('web2', 2222, 'ssh-ed25519', a), 'known');
    assert.equal(kh.verify('web2', 22, 'ssh-ed25519', a), 'unknown');
    assert.equal(kh.verify('x.lan', 22, 'ssh-ed25519', a), 'known');
    assert.equal(kh.verify('bad.lan', 22, 'ssh-ed25519', a), 'unknown');
    const c = kh.check('web1', 22, 'ssh-ed25519', b);
    assert.equal(c.verdict, 'changed');
    assert.equal(c.line, 2);
    // another key type for a known host is "unknown" (the pool prefers recorded types)
    assert.equal(kh.verify('web1', 22, 'ecdsa-sha2-nistp256', blob('ecdsa-sha2-nistp256', 'x')), 'unknown');
    // @cert-authority lines are ignored, @revoked refuses
    assert.equal(kh.verify('other', 22, 'ssh-ed25519', b), 'unknown');
    const rv = kh.check('web1', 22, 'ecdsa-sha2-nistp256', r);
    assert.equal(rv.verdict, 'changed');
    assert.equal(rv.revoked, true);
    assert.equal(rv.line, 6);
    assert.deepEqual(kh.lookup('web1', 22).map((e) => e.line), [2]);
  });

  it('add appends (hashed when the file hashes) and fingerprints like OpenSSH', () => {
    const file = path.join(dir, 'sub', 'kh2');
    const kh = new KnownHosts(file);
    kh.add('h1', 22, 'ssh-ed25519', a);
    assert.equal(fs.readFileSync(file, 'utf8'), `h1 ssh-ed25519 ${a.toString('base64')}\n`);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    fs.appendFileSync(file, '|1|AAAA|BBBB ssh-ed25519 ' + b.toString('base64')); // no trailing newline
    kh.add('h2', 2200, 'ssh-ed25519', b);
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    assert.match(lines[2], /^\|1\|[A-Za-z0-9+/=]+\|[A-Za-z0-9+/=]+ ssh-ed25519 /);
    assert.equal(kh.verify('h2', 2200, 'ssh-ed25519', b), 'known');
    assert.equal(kh.verify('h2', 22, 'ssh-ed25519', b), 'unknown');
    assert.match(fingerprint(a), /^SHA256:[A-Za-z0-9+/]{43}$/);
  });
});

describe('ssh config', () => {
  const sample = [
    'Host web1 web2',
    '  HostName 10.0.0.5',
    '  Port 2222',
    '  IdentityFile ~/.ssh/web_key',
    '',
    'Host db',
    '  HostName db.internal',
    '  User postgres',
    '  ProxyJump jump@bastion:2200',
    '',
    'Host *.lan !bad.lan',
    '  User admin',
    '  IdentityFile %d/.ssh/lan_%r',
    '',
    'Host bastion',
    '  User jumper',
    '',
    'Match exec "touch /tmp/should-never-exist-ssh-config-test"',
    '  User pwned',
    '',
    'Host *',
    '  User fallback',
    '  Port 22',
    '  IdentityFile ~/.ssh/id_default',
  ].join('\n');
  const cfg = SshConfigFile.parse(sample, { homeDir: '/home/me', localUser: 'me' });

  it('lists concrete hosts with their settings', () => {
    const hosts = cfg.hosts();
    assert.deepEqual(
      hosts.map((h) => h.name),
      ['web1', 'web2', 'db', 'bastion'],
    );
    assert.deepEqual(hosts[0], { name: 'web1', host: '10.0.0.5', user: 'fallback', port: 2222, identityFile: '/home/me/.ssh/web_key' });
    assert.deepEqual(hosts[2], {
      name: 'db',
      host: 'db.internal',
      user: 'postgres',
      port: 22,
      identityFile: '/home/me/.ssh/id_default',
      proxyJump: 'jump@bastion:2200',
    });
    assert.equal(fs.existsSync('/tmp/should-never-exist-ssh-config-test'), false, 'Match exec must not run');
  });

  it('resolveHost applies wildcard sections, first value wins', () => {
    assert.deepEqual(cfg.resolveHost('x.lan'), { name: 'x.lan', host: 'x.lan', user: 'admin', port: 22, identityFile: '/home/me/.ssh/lan_admin' });
    assert.equal(cfg.resolveHost('bad.lan').user, 'fallback');
    assert.equal(cfg.resolveHost('bastion').user, 'jumper');
    assert.deepEqual(SshConfigFile.parse('').resolveHost('plain'), { name: 'plain', host: 'plain' });
  });

  it('parses ProxyJump hops', () => {
    assert.deepEqual(parseJumpSpec('u@h:2200'), { user: 'u', host: 'h', port: 2200 });
    assert.deepEqual(parseJumpSpec('h'), { user: undefined, host: 'h', port: undefined });
    assert.deepEqual(parseJumpSpec('[::1]:22'), { user: undefined, host: '::1', port: 22 });
    assert.deepEqual(parseJumpSpec('ssh://a@b:3'), { user: 'a', host: 'b', port: 3 });
  });
});

// ---- live tests against sshd ---------------------------------------------------------------------

interface Calls {
  confirm: HostKeyPrompt[];
  passphrase: string[];
  password: number;
  sudo: number;
  forget: string[];
}

function credentials(opts: { accept?: boolean; passphrases?: string[]; passwords?: string[]; sudo?: string[] } = {}): Credentials & { calls: Calls } {
  const calls: Calls = { confirm: [], passphrase: [], password: 0, sudo: 0, forget: [] };
  const pp = [...(opts.passphrases ?? [])];
  const pw = [...(opts.passwords ?? [])];
  const sp = [...(opts.sudo ?? [])];
  return {
    calls,
    async confirmHostKey(p) {
      calls.confirm.push(p);
      return opts.accept ?? false;
    },
    async passphrase(_h, keyFile) {
      calls.passphrase.push(keyFile);
      return pp.shift();
    },
    async password() {
      calls.password++;
      return pw.shift();
    },
    async sudoPassword() {
      calls.sudo++;
      return sp.shift();
    },
    async forget(_h, kind) {
      calls.forget.push(kind);
    },
  };
}

async function rejectsWith(p: Promise<unknown>, kind: SshError['kind'], re?: RegExp): Promise<SshError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof SshError, `expected SshError, got ${String(e)}`);
    assert.equal(e.kind, kind, e.message);
    if (re) assert.match(e.message, re);
    return e;
  }
  assert.fail(`expected SshError(${kind})`);
}

describe('ssh pool against a real sshd on 127.0.0.1', () => {
  let skipReason: string | undefined = sshdUnavailable();
  let sshd: Sshd | undefined;
  let dir = '';
  let key = '';
  const pools: SshPool[] = [];
  const cleanups: (() => void | Promise<void>)[] = [];

  before(async () => {
    if (skipReason) {
      if (CI) throw new Error(`sshd unavailable with CI=true: ${skipReason} — ${HINT}`);
      return;
    }
    try {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ssh-client-'));
      key = path.join(dir, 'id_ed25519');
      keygen(key);
      sshd = new Sshd();
      sshd.authorize(key + '.pub');
      await sshd.start();
    } catch (e) {
      const msg = `cannot start sshd: ${(e as Error).message}`;
      if (CI) throw new Error(`${msg} — ${HINT}`);
      skipReason = msg;
    }
  });

  after(async () => {
    for (const p of pools) p.closeAll();
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch {
        /* best effort */
      }
    }
    await sshd?.dispose();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const live = (name: string, fn: (t: TestContext) => Promise<void>) =>
    it(name, { timeout: 120_000 }, async (t) => {
      if (skipReason) return t.skip(skipReason);
      await fn(t);
    });

  let khCounter = 0;
  /** A fresh known_hosts path, optionally pre-trusting the server's key. */
  const knownHosts = (trusted = true, s: Sshd = sshd!): string => {
    const file = path.join(dir, `known_hosts_${++khCounter}`);
    if (trusted) {
      const [type, b64] = fs.readFileSync(s.hostKey + '.pub', 'utf8').trim().split(/\s+/);
      fs.writeFileSync(file, `[127.0.0.1]:${s.port} ${type} ${b64}\n`);
    }
    return file;
  };
  const pool = (creds: Credentials, knownHostsPath: string, extra: Partial<SshPoolOptions> = {}): SshPool => {
    const p = createSshPool({
      credentials: creds,
      knownHostsPath,
      agentSocket: null,
      defaultIdentityFiles: [],
      connectTimeoutMs: 10_000,
      ...extra,
    });
    pools.push(p);
    return p;
  };
  const host = (extra: Partial<HostConfig> = {}, s: Sshd = sshd!): HostConfig => ({
    name: 'local',
    host: '127.0.0.1',
    port: s.port,
    user: 'root',
    identityFile: key,
    ...extra,
  });

  live('connects with a key and runs a command', async () => {
    const creds = credentials();
    const conn = await pool(creds, knownHosts()).get(host());
    const r = await conn.exec(['id', '-un']);
    assert.deepEqual(r, { code: 0, stdout: 'root\n', stderr: '' });
    assert.equal(creds.calls.confirm.length, 0);
  });

  live('unknown host key: asks with the OpenSSH fingerprint, accepting records it', async () => {
    const kh = knownHosts(false);
    const creds = credentials({ accept: true });
    const conn = await pool(creds, kh).get(host());
    assert.equal((await conn.exec(['true'])).code, 0);
    assert.equal(creds.calls.confirm.length, 1);
    const p = creds.calls.confirm[0];
    assert.deepEqual(p, { host: '127.0.0.1', port: sshd!.port, keyType: 'ssh-ed25519', fingerprint: keygenFingerprint(sshd!.hostKey + '.pub') });
    const text = fs.readFileSync(kh, 'utf8');
    assert.match(text, new RegExp(`^\\[127\\.0\\.0\\.1\\]:${sshd!.port} ssh-ed25519 AAAA`));
    // OpenSSH finds what we wrote
    assert.equal(run('ssh-keygen', ['-F', `[127.0.0.1]:${sshd!.port}`, '-f', kh]).status, 0);
    const creds2 = credentials({ accept: false });
    await (await pool(creds2, kh).get(host())).exec(['true']);
    assert.equal(creds2.calls.confirm.length, 0, 'second pool must not ask');
  });

  live('unknown host key: declining refuses and records nothing', async () => {
    const kh = knownHosts(false);
    const creds = credentials({ accept: false });
    await rejectsWith(pool(creds, kh).get(host()), 'host-key-rejected');
    assert.equal(creds.calls.confirm.length, 1);
    assert.equal(fs.existsSync(kh), false);
  });

  live('hashed known_hosts entries (ssh-keygen -H) match, and new entries are hashed', async () => {
    const kh = knownHosts(true);
    fs.appendFileSync(kh, `other.example ssh-ed25519 ${Buffer.from('x').toString('base64')}\n`);
    const h = run('ssh-keygen', ['-H', '-f', kh]);
    assert.equal(h.status, 0, h.stderr);
    assert.doesNotMatch(fs.readFileSync(kh, 'utf8'), /127\.0\.0\.1/);
    const creds = credentials();
    await (await pool(creds, kh).get(host())).exec(['true']);
    assert.equal(creds.calls.confirm.length, 0);
    // a new entry is hashed like HashKnownHosts, and OpenSSH can find it
    const k = new KnownHosts(kh);
    k.add('127.0.0.2', 2022, 'ssh-ed25519', Buffer.from(fs.readFileSync(sshd!.hostKey + '.pub', 'utf8').split(/\s+/)[1], 'base64'));
    const last = fs.readFileSync(kh, 'utf8').trim().split('\n').pop()!;
    assert.match(last, /^\|1\|/);
    assert.equal(run('ssh-keygen', ['-F', '[127.0.0.2]:2022', '-f', kh]).status, 0);
  });

  live('@revoked host key is refused', async () => {
    const kh = knownHosts(false);
    const [type, b64] = fs.readFileSync(sshd!.hostKey + '.pub', 'utf8').trim().split(/\s+/);
    fs.writeFileSync(kh, `@revoked * ${type} ${b64}\n[127.0.0.1]:${sshd!.port} ${type} ${b64}\n`);
    const creds = credentials({ accept: true });
    await rejectsWith(pool(creds, kh).get(host()), 'host-key-changed', /@revoked.*line 1/);
    assert.equal(creds.calls.confirm.length, 0);
  });

  live('ssh-agent: keys from the agent are used first', async (t) => {
    const sockPath = path.join(dir, 'agent.sock');
    const a = run('ssh-agent', ['-a', sockPath, '-s']);
    const pid = /SSH_AGENT_PID=(\d+)/.exec(a.stdout)?.[1];
    if (a.status !== 0 || !pid) {
      if (CI) assert.fail(`ssh-agent failed: ${a.stderr}`);
      return t.skip(`ssh-agent unavailable: ${a.stderr}`);
    }
    cleanups.push(() => {
      try {
        process.kill(Number(pid), 'SIGTERM');
      } catch {
        /* gone */
      }
    });
    const add = spawnSync('ssh-add', [key], { env: { ...process.env, SSH_AUTH_SOCK: sockPath }, encoding: 'utf8', timeout: 10_000 });
    assert.equal(add.status, 0, add.stderr);
    const creds = credentials();
    const conn = await pool(creds, knownHosts(), { agentSocket: sockPath }).get(host({ identityFile: undefined }));
    assert.equal((await conn.exec(['echo', 'agent'])).stdout, 'agent\n');
    assert.equal(creds.calls.password, 0);
  });

  live('encrypted key: passphrase asked through the callback (a wrong one is forgotten)', async () => {
    const enc = path.join(dir, 'id_enc');
    keygen(enc, 'ed25519', 'correct horse');
    sshd!.authorize(enc + '.pub');
    const creds = credentials({ passphrases: ['wrong', 'correct horse'] });
    const conn = await pool(creds, knownHosts()).get(host({ identityFile: enc }));
    assert.equal((await conn.exec(['echo', 'ok'])).stdout, 'ok\n');
    assert.deepEqual(creds.calls.passphrase, [enc, enc]);
    assert.deepEqual(creds.calls.forget, ['passphrase']);
  });

  live('auth failure is SshError(auth); connection failures are unreachable / timeout', async () => {
    const other = path.join(dir, 'id_other');
    keygen(other);
    const creds = credentials({});
    await rejectsWith(pool(creds, knownHosts()).get(host({ identityFile: other })), 'auth');
    assert.equal(creds.calls.password, 1, 'asked for a password once, got none');
    // closed port
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const closedPort = (srv.address() as net.AddressInfo).port;
    await new Promise<void>((r) => srv.close(() => r()));
    await rejectsWith(pool(credentials(), knownHosts()).get(host({ port: closedPort })), 'unreachable');
    // a server that accepts and never speaks: bounded by connectTimeoutMs
    const mute = net.createServer(() => undefined);
    const sockets: net.Socket[] = [];
    mute.on('connection', (s) => sockets.push(s));
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', () => r()));
    // (it never speaks, so only the timeout can end this: the kind says which fired)
    await rejectsWith(
      pool(credentials(), knownHosts(), { connectTimeoutMs: 1000 }).get(host({ port: (mute.address() as net.AddressInfo).port })),
      'timeout',
    );
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => mute.close(() => r()));
  });

  live('exec returns code, stdout and stderr; stdin is passed', async () => {
    const conn = await pool(credentials(), knownHosts()).get(host());
    const r = await conn.exec(['sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.deepEqual(r, { code: 3, stdout: 'out\n', stderr: 'err\n' });
    assert.equal((await conn.exec(['cat'], { stdin: 'hello\nworld' })).stdout, 'hello\nworld');
    assert.equal((await conn.exec(['cat'])).stdout, '', 'no stdin → EOF, no hang');
    const u = await conn.exec(['printf', '%s', 'grüße ✓']);
    assert.equal(u.stdout, 'grüße ✓');
  });

  live('hostile arguments are inert', async () => {
    const marker = `/tmp/pwned-${randomBytes(6).toString('hex')}`;
    const args = ['echo', `$(touch ${marker})`, ';reboot', '`id`', "a'b", '"x"', '\n', '$HOME', '*', '|', '&&', '\\'];
    const conn = await pool(credentials(), knownHosts()).get(host());
    const r = await conn.exec(args);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, args.slice(1).join(' ') + '\n');
    assert.equal(fs.existsSync(marker), false);
  });

  live('output is capped with a marker', async () => {
    const conn = await pool(credentials(), knownHosts(), { maxOutputBytes: 1000 }).get(host());
    const r = await conn.exec(['head', '-c', '5000', '/dev/zero']);
    assert.equal(r.code, 0);
    assert.ok(r.stdout.startsWith('\0'.repeat(1000)));
    assert.match(r.stdout, /output truncated: 4000 more bytes/);
  });

  live('sudo: mode none runs directly as root; nopasswd uses sudo -n', async (t) => {
    const p = pool(credentials(), knownHosts());
    const direct = await p.get(host({ sudo: 'none' }));
    assert.equal((await direct.exec(['id', '-u'], { sudo: true })).stdout, '0\n');
    if (!fs.existsSync('/usr/bin/sudo')) {
      if (CI) assert.fail('sudo is missing: apt-get install -y sudo');
      return t.skip('sudo not installed (apt-get install -y sudo)');
    }
    const viaSudo = await p.get(host({ sudo: 'nopasswd' }));
    const r = await viaSudo.exec(['sh', '-c', 'echo $SUDO_USER:$(id -u)'], { sudo: true });
    assert.equal(r.stdout, 'root:0\n', r.stderr);
  });

  live('password login (throwaway local user); a wrong password is forgotten and asked again', async (t) => {
    const u = createUser();
    if ('reason' in u) {
      if (CI) assert.fail(u.reason);
      return t.skip(u.reason);
    }
    cleanups.push(() => u.remove());
    const kh = knownHosts();
    // wrong password first: forgotten, asked again once
    const creds = credentials({ passwords: ['nope', u.password] });
    const p = pool(creds, kh);
    const h = host({ user: u.user, identityFile: undefined });
    const conn = await p.get(h);
    assert.equal((await conn.exec(['id', '-un'])).stdout, `${u.user}\n`);
    assert.equal(creds.calls.password, 2);
    assert.deepEqual(creds.calls.forget, ['password']);
    // no password at all → auth
    await rejectsWith(pool(credentials({}), kh).get(host({ user: u.user, identityFile: undefined })), 'auth');
  });

  live('sudo password mode: password only to sudo, caller stdin only to the command', async (t) => {
    const u = createUser();
    if ('reason' in u) {
      if (CI) assert.fail(u.reason);
      return t.skip(u.reason);
    }
    cleanups.push(() => u.remove());
    if (!fs.existsSync('/usr/bin/sudo')) {
      if (CI) assert.fail('sudo is missing: apt-get install -y sudo');
      return t.skip('sudo not installed (apt-get install -y sudo)');
    }
    const sudoers = `/etc/sudoers.d/${u.user}`;
    fs.writeFileSync(sudoers, `${u.user} ALL=(ALL) ALL\n`, { mode: 0o440 });
    cleanups.push(() => fs.rmSync(sudoers, { force: true }));
    const creds = credentials({ passwords: [u.password], sudo: [u.password, u.password, 'wrong'] });
    const p = pool(creds, knownHosts());
    const conn = await p.get(host({ user: u.user, identityFile: undefined, sudo: 'password' }));
    const r = await conn.exec(['id', '-u'], { sudo: true });
    assert.deepEqual([r.code, r.stdout], [0, '0\n'], r.stderr);
    const c = await conn.exec(['cat'], { sudo: true, stdin: 'caller data\n' });
    assert.equal(c.stdout, 'caller data\n');
    assert.doesNotMatch(c.stdout + c.stderr, new RegExp(u.password));
    await rejectsWith(conn.exec(['id', '-u'], { sudo: true }), 'sudo', /incorrect password/);
    assert.deepEqual(creds.calls.forget, ['sudo']);
    // nopasswd mode for this user → "a password is required"
    const np = await p.get(host({ user: u.user, identityFile: undefined, sudo: 'nopasswd' }));
    await rejectsWith(np.exec(['id', '-u'], { sudo: true }), 'sudo', /password is required/);
  });

  live('timeout and AbortSignal end a running command promptly; the connection stays usable', async () => {
    // What the pool guarantees is the caller's side: the promise rejects with the right kind, in
    // bounded time, and the shared connection keeps working. Whether the remote process also ends
    // depends on the server honouring the SSH `signal` request (this OpenSSH does not stop it: a
    // known limitation, see the CHANGELOG).
    const conn = await pool(credentials(), knownHosts()).get(host());
    const running = (d: string) => spawnSync('pgrep', ['-f', `sleep ${d}`], { timeout: 5000 }).status === 0;
    const whenRunning = async (d: string): Promise<void> => {
      for (let i = 0; i < 100 && !running(d); i++) await new Promise((r) => setTimeout(r, 50));
      assert.ok(running(d), `remote sleep ${d} never started`);
    };
    const d1 = `30.${Math.floor(Math.random() * 1e6)}`;
    // a 30 s sleep that finished would resolve with code 0: a rejection of the right kind is the proof
    const timedOut = conn.exec(['sleep', d1], { timeoutMs: 6000 });
    await whenRunning(d1);
    await rejectsWith(timedOut, 'timeout');
    const d2 = `30.${Math.floor(Math.random() * 1e6)}`;
    const ac = new AbortController();
    const aborted = conn.exec(['sleep', d2], { signal: ac.signal });
    await whenRunning(d2);
    ac.abort();
    await rejectsWith(aborted, 'cancelled');
    // the connection is still usable
    assert.equal((await conn.exec(['echo', 'alive'])).stdout, 'alive\n');
    // already-aborted signal
    await rejectsWith(conn.exec(['true'], { signal: AbortSignal.abort() }), 'cancelled');
    for (const d of [d1, d2]) spawnSync('pkill', ['-f', `sleep ${d}`]);
  });

  live('writeFile / readFile round trip with mode, atomic replace', async () => {
    const conn = await pool(credentials(), knownHosts()).get(host());
    const sub = path.join(dir, 'remote');
    fs.mkdirSync(sub, { recursive: true });
    const file = path.join(sub, 'config.toml');
    const data = Buffer.concat([Buffer.from('version = 2\n'), randomBytes(100_000)]);
    await conn.writeFile(file, data, { mode: 0o640 });
    assert.ok(fs.readFileSync(file).equals(data));
    assert.equal(fs.statSync(file).mode & 0o777, 0o640);
    assert.ok((await conn.readFile(file)).equals(data));
    await conn.writeFile(file, 'replaced\n'); // mode kept when not given
    assert.equal(fs.readFileSync(file, 'utf8'), 'replaced\n');
    assert.equal(fs.statSync(file).mode & 0o777, 0o640);
    assert.deepEqual(fs.readdirSync(sub), ['config.toml'], 'no temp file left');
    await rejectsWith(conn.readFile(path.join(sub, 'missing')), 'other');
    await rejectsWith(conn.writeFile(path.join(sub, 'nodir', 'x'), 'x'), 'other');
  });

  live('one shared connection for concurrent execs (more than MaxSessions)', async () => {
    const p = pool(credentials(), knownHosts());
    const [c1, c2] = await Promise.all([p.get(host()), p.get(host({ name: 'same-host-other-name' }))]);
    const runs = await Promise.all(
      Array.from({ length: 14 }, (_, i) => (i % 2 ? c1 : c2).exec(['sh', '-c', 'sleep 0.2; echo "$SSH_CONNECTION"'])),
    );
    const conns = new Set(runs.map((r) => r.stdout.trim()));
    assert.equal(conns.size, 1, [...conns].join(' | '));
    assert.match([...conns][0], /^127\.0\.0\.1 \d+ 127\.0\.0\.1 \d+$/);
  });

  live('openUnixSocket reaches a unix socket on the host', async () => {
    const sock = path.join(dir, 'echo.sock');
    const srv = net.createServer((s) => s.on('data', (d) => s.end(`echo:${d}`)));
    await new Promise<void>((r) => srv.listen(sock, () => r()));
    cleanups.push(() => new Promise<void>((r) => srv.close(() => r())));
    const conn = await pool(credentials(), knownHosts()).get(host());
    const stream = await conn.openUnixSocket!(sock);
    const reply = await new Promise<string>((resolve, reject) => {
      let buf = '';
      const t = setTimeout(() => reject(new Error('no reply')), 5000);
      stream.on('data', (d: Buffer) => (buf += d.toString()));
      stream.on('end', () => {
        clearTimeout(t);
        resolve(buf);
      });
      stream.on('error', reject);
      stream.write('ping');
    });
    assert.equal(reply, 'echo:ping');
    await rejectsWith(conn.openUnixSocket!(path.join(dir, 'nope.sock')), 'other');
  });

  live('ProxyJump through a pooled jump connection', async () => {
    const p = pool(credentials(), knownHosts(), {
      resolveJumpHost: (spec) => ({ name: spec, ...parseJumpSpec(spec), identityFile: key }),
    });
    const conn = await p.get(host({ proxyJump: `root@127.0.0.1:${sshd!.port}` }));
    const r = await conn.exec(['sh', '-c', 'echo "$SSH_CONNECTION"']);
    assert.match(r.stdout, /^127\.0\.0\.1 \d+ 127\.0\.0\.1 \d+\n$/);
    const direct = await p.get(host());
    const d = await direct.exec(['sh', '-c', 'echo "$SSH_CONNECTION"']);
    assert.notEqual(d.stdout, r.stdout, 'the jumped connection is its own TCP connection');
  });

  live('spawn: streams output as it comes, takes stdin, reports the exit code', async () => {
    const conn = await pool(credentials(), knownHosts()).get(host());
    const proc = await conn.spawn(['sh', '-c', 'echo first; read line; echo "got:$line"; echo err >&2; exit 3']);
    const chunks: string[] = [];
    const firstSeen = new Promise<void>((resolve) =>
      proc.stdout.on('data', (b: Buffer) => {
        chunks.push(b.toString());
        if (chunks.join('').includes('first')) resolve();
      }),
    );
    let err = '';
    proc.stderr.on('data', (b: Buffer) => (err += b.toString()));
    await firstSeen; // arrives while the command still waits for its stdin
    proc.stdin.write('hello\n');
    const exit = await proc.exited;
    assert.equal(exit.code, 3);
    assert.equal(chunks.join(''), 'first\ngot:hello\n');
    assert.equal(err, 'err\n');
  });

  live('spawn with a pty: a terminal, resizable; kill ends a command that never exits', async () => {
    const conn = await pool(credentials(), knownHosts()).get(host());
    const proc = await conn.spawn(['sh', '-c', 'test -t 0 && echo tty; stty size; while :; do sleep 1; done'], { pty: { rows: 30, cols: 100 } });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no size printed: ${JSON.stringify(out)}`)), 20_000);
      proc.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        if (/30 100/.test(out)) {
          clearTimeout(t);
          resolve();
        }
      });
    });
    assert.match(out, /tty\r?\n/);
    proc.resize(40, 120);
    proc.kill();
    const exit = await proc.exited;
    assert.notEqual(exit.code, 0, 'killed, not a clean exit');
  });

  live('spawn: a cancelled start rejects; a failing command still starts and reports its exit', async () => {
    const conn = await pool(credentials(), knownHosts()).get(host());
    const ac = new AbortController();
    ac.abort();
    await rejectsWith(conn.spawn(['true'], { signal: ac.signal }), 'cancelled');
    const proc = await conn.spawn(['sh', '-c', 'exit 7']);
    assert.equal((await proc.exited).code, 7);
  });

  live('spawn: at most 5 long-lived channels per host, execs keep working beside them', async () => {
    const conn = await pool(credentials(), knownHosts()).get(host());
    const procs = [];
    for (let i = 0; i < 5; i++) procs.push(await conn.spawn(['sleep', '60']));
    const refused = await rejectsWith(conn.spawn(['sleep', '60']), 'other', /long-running channels/);
    assert.ok(refused);
    // short commands still run (they have their own slots within sshd's MaxSessions)
    const rs = await Promise.all(Array.from({ length: 6 }, (_, i) => conn.exec(['echo', String(i)])));
    assert.deepEqual(rs.map((r) => r.stdout.trim()), ['0', '1', '2', '3', '4', '5']);
    procs[0].kill();
    await procs[0].exited;
    const again = await conn.spawn(['sleep', '60']);
    for (const p of [...procs.slice(1), again]) p.kill();
    await Promise.all([...procs.slice(1), again].map((p) => p.exited));
  });

  live('a socket that dies before ssh2 notices: exec, spawn, SFTP, socket and jump forwards reject as closed; the pool reconnects', async () => {
    // ssh2 throws "Not connected" from its calls once its socket is unwritable and before it emits
    // 'close' — the window a server restart opens. Reach that state on purpose (private fields),
    // once per operation so that each meets the dead socket itself.
    const ops: [string, (c: HostConnection) => Promise<unknown>][] = [
      ['exec', (c) => c.exec(['true'])],
      ['spawn', (c) => c.spawn(['true'])],
      ['writeFile', (c) => c.writeFile(path.join(dir, 'never-written'), Buffer.from('x'))],
      ['openUnixSocket', (c) => c.openUnixSocket!(path.join(dir, 'any.sock'))],
    ];
    for (const [name, op] of ops) {
      const p = pool(credentials(), knownHosts());
      const conn = await p.get(host());
      await conn.exec(['true']);
      (conn as unknown as { entry: { client: { _sock: { destroy(): void } } } }).entry.client._sock.destroy();
      const err = await op(conn).then(
        () => assert.fail(`${name} succeeded on a dead socket`),
        (x: unknown) => x,
      );
      assert.ok(err instanceof SshError, `${name}: ${String(err)}`);
      assert.equal(err.kind, 'closed', `${name}: ${err.message}`);
      const again = await p.get(host());
      assert.equal((await again.exec(['echo', name])).stdout, `${name}\n`);
    }
    assert.ok(!fs.existsSync(path.join(dir, 'never-written')));

    // a jump host whose socket just died: a new connection through it fails as closed, the next one
    // reconnects the jump host
    const p = pool(credentials(), knownHosts(), { resolveJumpHost: (spec) => ({ name: spec, ...parseJumpSpec(spec), identityFile: key }) });
    const jumped = host({ proxyJump: `root@127.0.0.1:${sshd!.port}` });
    (await p.get(jumped)).close(); // leaves only the jump host's connection in the pool
    const entries = [...(p as unknown as { entries: Map<string, { client?: { _sock: { destroy(): void } } }> }).entries.values()];
    assert.equal(entries.length, 1, 'only the jump host is pooled');
    entries[0].client!._sock.destroy();
    await rejectsWith(p.get(jumped), 'closed');
    assert.equal((await (await p.get(jumped)).exec(['echo', 'jumped'])).stdout, 'jumped\n');
  });

  live('changed host key is refused; after a restart the pool reconnects', async () => {
    const s2 = new Sshd();
    cleanups.push(() => s2.dispose());
    s2.authorize(key + '.pub');
    await s2.start();
    const kh = knownHosts(true, s2);
    const p = pool(credentials({ accept: true }), kh);
    const conn = await p.get(host({}, s2));
    const first = (await conn.exec(['sh', '-c', 'echo "$SSH_CONNECTION"'])).stdout;

    // restart (same key): the drop is noticed, the next get reconnects
    await s2.stop();
    let dropped = false;
    for (let i = 0; i < 50 && !dropped; i++) {
      try {
        await conn.exec(['true'], { timeoutMs: 2000 });
        await new Promise((r) => setTimeout(r, 100));
      } catch (e) {
        dropped = e instanceof SshError && (e.kind === 'closed' || e.kind === 'timeout');
      }
    }
    assert.ok(dropped, 'the pool noticed the dropped connection');
    await s2.start();
    const again = await p.get(host({}, s2));
    const second = (await again.exec(['sh', '-c', 'echo "$SSH_CONNECTION"'])).stdout;
    assert.match(second, /^127\.0\.0\.1 /);
    assert.notEqual(second, first);

    // the server is "reinstalled" with a new host key: refused, with a clear message
    s2.regenerateHostKey();
    await s2.restart();
    const creds = credentials({ accept: true });
    const err = await rejectsWith(pool(creds, kh).get(host({}, s2)), 'host-key-changed');
    assert.match(err.message, /has changed/);
    assert.match(err.message, /intercepting/);
    assert.ok(err.message.includes(`${kh} line 1`), err.message);
    assert.equal(creds.calls.confirm.length, 0, 'a changed key is never offered for confirmation');
  });
});
