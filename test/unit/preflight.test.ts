// The preflight decisions (client/src/core/preflight/checks.ts), the config/crictl readers
// (config.ts) and the probe output parser (probe.ts), without a host.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { configFacts, crictlFacts, kubeletCgroupDriver, shimBinary } from '../../client/src/core/preflight/config';
import {
  checkCgroupDriver,
  checkConfigSyntax,
  checkConfigVersion,
  checkContainerd,
  checkCrictl,
  checkDisk,
  checkRuntime,
  checkSnapshotter,
  checkSocket,
  parseContainerdVersion,
  rejectingReleases,
  ROOT_DISK,
  type HostFacts,
} from '../../client/src/core/preflight/checks';
import { evaluate, formatChecks, formatMarkdown, probeRequest } from '../../client/src/core/preflight';
import { parseProbe, parseSsUsers, probeArgs, PROBE_SCRIPT } from '../../client/src/core/preflight/probe';

/** A healthy Debian-like host, to be varied per test. */
function host(over: Partial<HostFacts> = {}): HostFacts {
  return {
    containerd: { rc: 0, output: 'containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3' },
    cgroupFs: 'cgroup2fs',
    init: 'systemd',
    filesystems: ['ext4', 'tmpfs', 'overlay'],
    modules: {},
    service: { mainPid: 57, activeState: 'active' },
    devmapperControl: false,
    bins: {
      'containerd-shim-runc-v2': { state: 'ok', path: '/usr/bin/containerd-shim-runc-v2' },
      runc: { state: 'ok', path: '/usr/sbin/runc', versionRc: 0, versionOut: 'runc version 1.1.5' },
    },
    disks: {
      '/var/lib/containerd': { at: '/var/lib/containerd', fstype: 'ext4', sizeKiB: 100 * 1024 * 1024, availKiB: 50 * 1024 * 1024, usedPercent: 50, inodes: 1e6, inodesFree: 9e5, inodesUsedPercent: 10, mountpoint: '/' },
      '/run/containerd': { at: '/run/containerd', fstype: 'tmpfs', sizeKiB: 4 * 1024 * 1024, availKiB: 4 * 1024 * 1024, usedPercent: 1, inodes: 1e6, inodesFree: 1e6, inodesUsedPercent: 0, mountpoint: '/run' },
    },
    sockets: {
      '/run/containerd/containerd.sock': { type: 'socket', parentExists: true, ancestor: '/run/containerd', ancestorIsDir: true, listening: true, listeners: [{ name: 'containerd', pid: 57 }], haveSs: true },
    },
    users: {},
    groups: {},
    files: {},
    notes: [],
    ...over,
  };
}

const V2 = `version = 2
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
    SystemdCgroup = true
`;

describe('config facts', () => {
  test('version 2: runtimes, options case-insensitively, defaults', () => {
    const f = configFacts(`version = 2
[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "native"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.crun]
  runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.crun.options]
    binaryname = "/usr/local/bin/crun"
    systemdcgroup = true
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.kata]
  runtime_type = "io.containerd.kata.v2"
`);
    assert.equal(f.version, 2);
    assert.equal(f.root, '/var/lib/containerd');
    assert.equal(f.state, '/run/containerd');
    assert.equal(f.address, '/run/containerd/containerd.sock');
    assert.equal(f.ttrpcAddress, '/run/containerd/containerd.sock.ttrpc');
    assert.equal(f.snapshotter, 'native');
    assert.deepEqual(f.runtimes.map((r) => [r.name, r.shim, r.runcLike, r.binaryName, r.systemdCgroup]), [
      ['crun', 'containerd-shim-runc-v2', true, '/usr/local/bin/crun', true],
      ['kata', 'containerd-shim-kata-v2', false, undefined, undefined],
    ]);
  });

  test('version 3: the CRI runtime/images plugins; grpc table; no runtimes = the default runc', () => {
    const f = configFacts(`version = 3
root = "/data/containerd"
[grpc]
  address = "/run/k/containerd.sock"
  gid = 1001
[plugins."io.containerd.cri.v1.images"]
  snapshotter = "btrfs"
`);
    assert.equal(f.version, 3);
    assert.equal(f.root, '/data/containerd');
    assert.equal(f.address, '/run/k/containerd.sock');
    assert.equal(f.gid, 1001);
    assert.equal(f.snapshotter, 'btrfs');
    assert.equal(f.runtimes.length, 1);
    assert.equal(f.runtimes[0].implicit, true);
    assert.equal(f.runtimes[0].shim, 'containerd-shim-runc-v2');
  });

  test('version 4: the grpc server plugin wins over the deprecated table', () => {
    const f = configFacts(`version = 4
[grpc]
  address = "/run/old.sock"
[plugins."io.containerd.server.v1.grpc"]
  address = "/run/new.sock"
`);
    assert.equal(f.address, '/run/new.sock');
  });

  test('no version: version 1 paths; proxy snapshotters; syntax errors', () => {
    const f = configFacts(`[plugins.cri.containerd]
  snapshotter = "stargz"
[proxy_plugins.stargz]
  type = "snapshot"
  address = "/run/stargz.sock"
`);
    assert.equal(f.version, 1);
    assert.equal(f.versionExplicit, false);
    assert.deepEqual(f.proxySnapshotters, { stargz: '/run/stargz.sock' });
    assert.ok(configFacts('version = 2\n[plugins\n').syntaxErrors.length > 0);
  });

  test('shim names follow containerd (io.containerd.<name>.<vN> → containerd-shim-<name>-<vN>)', () => {
    assert.equal(shimBinary('io.containerd.runc.v2'), 'containerd-shim-runc-v2');
    assert.equal(shimBinary('io.containerd.runsc.v1'), 'containerd-shim-runsc-v1');
    assert.equal(shimBinary('io.containerd.kata-qemu.v2'), 'containerd-shim-kata-qemu-v2');
    assert.equal(shimBinary('/opt/bin/my-shim'), '/opt/bin/my-shim');
  });

  test('crictl.yaml and kubelet config', () => {
    assert.deepEqual(crictlFacts('runtime-endpoint: "unix:///run/a.sock"\nimage-endpoint: unix:///run/b.sock\ntimeout: 10\n'), { runtimeEndpoint: 'unix:///run/a.sock', imageEndpoint: 'unix:///run/b.sock' });
    assert.deepEqual(crictlFacts(''), {});
    assert.ok(crictlFacts('runtime-endpoint: [\n').error);
    assert.deepEqual(kubeletCgroupDriver('apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: systemd\n'), { driver: 'systemd', explicit: true });
    assert.deepEqual(kubeletCgroupDriver('kind: KubeletConfiguration\n'), { driver: 'cgroupfs', explicit: false });
  });
});

describe('containerd and config version', () => {
  test('versions in `containerd --version` outputs', () => {
    assert.equal(parseContainerdVersion('containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3'), '1.6.20~ds1');
    assert.equal(parseContainerdVersion('containerd containerd.io 1.7.27 05044ec0a9a75232cad458027ca83437aae3f4da'), '1.7.27');
    assert.equal(parseContainerdVersion('containerd github.com/containerd/containerd/v2 v2.1.4 75cb2b7193e4e490e9fbdc236c0e811ccaba3376'), '2.1.4');
    assert.equal(parseContainerdVersion('something else'), undefined);
  });

  test('not installed is a fail; a taskserv version on another series is a warn', () => {
    assert.equal(checkContainerd(host({ containerd: { rc: 127, output: 'timeout: failed to run command ‘containerd’: No such file or directory' } })).status, 'fail');
    assert.equal(checkContainerd(host(), '1.6.20').status, 'pass');
    const other = checkContainerd(host(), '1.7.18');
    assert.equal(other.status, 'warn');
    assert.match(other.message, /1\.6\.20.*1\.7\.18/);
    assert.equal(checkContainerd(host({ containerd: { rc: 0, output: 'garbage' } })).status, 'warn');
  });

  test('a version 3 config on 1.6.20 (reads it silently as 2) and on 1.6.33 (refuses) fails; on 2.0 passes', () => {
    const v3 = configFacts('version = 3\n');
    const lenient = checkConfigVersion(v3, '1.6.20');
    assert.equal(lenient.status, 'fail');
    assert.match(lenient.message, /silently reads the file as version 2/);
    assert.match(lenient.detail!, /1\.6\.32\+/);
    assert.match(lenient.detail!, /1\.7\.17\+/);
    const strict = checkConfigVersion(v3, '1.6.33');
    assert.equal(strict.status, 'fail');
    assert.match(strict.message, /refuses to start/);
    assert.equal(checkConfigVersion(v3, '2.0.0').status, 'pass');
    assert.equal(checkConfigVersion(configFacts('version = 4\n'), '2.1.3').status, 'fail');
    assert.equal(checkConfigVersion(configFacts('version = 4\n'), '2.3.0').status, 'pass');
    const v2on2 = checkConfigVersion(configFacts('version = 2\n'), '2.1.0');
    assert.equal(v2on2.status, 'pass');
    assert.match(v2on2.message, /migrated to version 3/);
    assert.equal(checkConfigVersion(configFacts('[plugins]\n'), '1.6.20').status, 'warn');
    assert.equal(checkConfigVersion(configFacts('version = 7\n'), '1.6.20').status, 'fail');
  });

  test('the releases that reject a version come from releases.ts', () => {
    const t3 = rejectingReleases(3);
    assert.match(t3, /needs containerd 2\.0 or later/);
    assert.match(t3, /1\.5/);
    assert.doesNotMatch(t3, /2\.1/);
    const t4 = rejectingReleases(4);
    assert.match(t4, /needs containerd 2\.3 or later/);
    assert.match(t4, /2\.0, 2\.1, 2\.2/);
  });

  test('syntax errors warn (containerd\'s validation judges the file)', () => {
    assert.equal(checkConfigSyntax(configFacts('version = 2\n[plugins\n'), 'x').status, 'warn');
    assert.equal(checkConfigSyntax(configFacts(V2), 'x').status, 'pass');
  });
});

describe('runtimes', () => {
  const [runc] = configFacts(V2).runtimes;
  test('present and running: pass with the version', () => {
    const c = checkRuntime(runc, host());
    assert.equal(c.status, 'pass');
    assert.match(c.message, /runc version 1\.1\.5/);
  });
  test('a BinaryName that does not exist, is not executable, or does not run: fail', () => {
    const rt = configFacts(V2.replace('SystemdCgroup = true', 'BinaryName = "/opt/nope/runc"')).runtimes[0];
    const missing = checkRuntime(rt, host({ bins: { ...host().bins, '/opt/nope/runc': { state: 'missing', path: '/opt/nope/runc' } } }));
    assert.equal(missing.status, 'fail');
    assert.match(missing.message, /\/opt\/nope\/runc does not exist/);
    assert.equal(checkRuntime(rt, host({ bins: { ...host().bins, '/opt/nope/runc': { state: 'noexec', path: '/opt/nope/runc' } } })).status, 'fail');
    const broken = checkRuntime(rt, host({ bins: { ...host().bins, '/opt/nope/runc': { state: 'ok', path: '/opt/nope/runc', versionRc: 126, versionOut: 'cannot execute binary file: Exec format error' } } }));
    assert.equal(broken.status, 'fail');
    assert.match(broken.message, /Exec format error/);
  });
  test('a missing shim fails', () => {
    const kata = configFacts('version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.kata]\nruntime_type = "io.containerd.kata.v2"\n').runtimes[0];
    const c = checkRuntime(kata, host({ bins: { 'containerd-shim-kata-v2': { state: 'missing' } } }));
    assert.equal(c.status, 'fail');
    assert.match(c.message, /containerd-shim-kata-v2/);
  });
});

describe('cgroup driver', () => {
  const cgroupfs = configFacts(V2.replace('SystemdCgroup = true', 'SystemdCgroup = false'));
  const systemd = configFacts(V2);
  test('cgroup v2 + systemd init wants SystemdCgroup = true', () => {
    assert.equal(checkCgroupDriver(systemd, host()).status, 'pass');
    assert.equal(checkCgroupDriver(cgroupfs, host()).status, 'warn');
    assert.equal(checkCgroupDriver(cgroupfs, host({ cgroupFs: 'tmpfs' })).status, 'pass', 'cgroup v1: cgroupfs is fine');
  });
  test('SystemdCgroup without systemd as init fails', () => {
    assert.equal(checkCgroupDriver(systemd, host({ init: 'tini' })).status, 'fail');
  });
  test('kubelet disagreeing fails, agreeing passes', () => {
    const k = checkCgroupDriver(systemd, host(), { driver: 'cgroupfs', explicit: false });
    assert.equal(k.status, 'fail');
    assert.match(k.message, /kubelet uses the cgroupfs cgroup driver \(its default\)/);
    assert.equal(checkCgroupDriver(systemd, host(), { driver: 'systemd', explicit: true }).status, 'pass');
  });
  test('runtimes that disagree warn', () => {
    const mixed = configFacts(V2 + '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.crun]\n  runtime_type = "io.containerd.runc.v2"\n');
    assert.equal(checkCgroupDriver(mixed, host()).status, 'warn');
  });
});

describe('socket', () => {
  const facts = (extra = '') => configFacts(`version = 2\n[grpc]\n  address = "/run/other/containerd.sock"\n${extra}`);
  const sock = (over: Partial<HostFacts['sockets'][string]>) => ({ type: 'socket' as const, parentExists: true, ancestor: '/run/other', ancestorIsDir: true, listening: true, listeners: [], haveSs: true, ...over });
  test('in use by another program: fail, naming it', () => {
    const c = checkSocket(facts(), host({ sockets: { '/run/other/containerd.sock': sock({ listeners: [{ name: 'socat', pid: 99 }] }) } }));
    assert.equal(c.status, 'fail');
    assert.match(c.message, /in use by socat \(pid 99\)/);
  });
  test('served by the running containerd: pass', () => {
    assert.equal(checkSocket(configFacts(V2), host()).status, 'pass');
  });
  test('free, stale, a directory, a file in the way, too long', () => {
    assert.equal(checkSocket(facts(), host({ sockets: { '/run/other/containerd.sock': sock({ type: 'absent', listening: false, parentExists: false, ancestor: '/run' }) } })).status, 'pass');
    assert.equal(checkSocket(facts(), host({ sockets: { '/run/other/containerd.sock': sock({ listening: false }) } })).status, 'pass');
    assert.equal(checkSocket(facts(), host({ sockets: { '/run/other/containerd.sock': sock({ type: 'directory', listening: false }) } })).status, 'fail');
    assert.equal(checkSocket(facts(), host({ sockets: { '/run/other/containerd.sock': sock({ type: 'absent', listening: false, ancestor: '/run/other', ancestorIsDir: false }) } })).status, 'fail');
    const long = configFacts(`version = 2\n[grpc]\n  address = "/run/${'x'.repeat(120)}.sock"\n`);
    assert.equal(checkSocket(long, host()).status, 'fail');
  });
  test('held by systemd (socket activation): warn; no ss and unknown listener: warn', () => {
    assert.equal(checkSocket(facts(), host({ sockets: { '/run/other/containerd.sock': sock({ listeners: [{ name: 'systemd', pid: 1 }] }) } })).status, 'warn');
    assert.equal(checkSocket(facts(), host({ sockets: { '/run/other/containerd.sock': sock({ haveSs: false }) } })).status, 'warn');
  });
  test('grpc.uid other than root warns; an unknown gid warns; a known gid passes', () => {
    assert.equal(checkSocket(configFacts(`${V2}[grpc]\n  uid = 1000\n`), host({ users: { 1000: 'deploy' } })).status, 'warn');
    assert.equal(checkSocket(configFacts(`${V2}[grpc]\n  gid = 4343\n`), host({ groups: { 4343: null } })).status, 'warn');
    const ok = checkSocket(configFacts(`${V2}[grpc]\n  gid = 1000\n`), host({ groups: { 1000: 'docker' } }));
    assert.equal(ok.status, 'pass');
    assert.match(ok.message, /group docker/);
  });
});

describe('disk, snapshotter, crictl', () => {
  test('free space thresholds', () => {
    const d = (availMiB: number, usedPercent = 10) => ({ at: '/x', fstype: 'ext4', sizeKiB: 100 * 1024 * 1024, availKiB: availMiB * 1024, usedPercent, inodes: 1000000, inodesFree: 500000, inodesUsedPercent: 50, mountpoint: '/' });
    assert.equal(checkDisk('root', '/x', d(0, 100), ROOT_DISK).status, 'fail');
    assert.equal(checkDisk('root', '/x', d(100), ROOT_DISK).status, 'fail');
    assert.equal(checkDisk('root', '/x', d(1000), ROOT_DISK).status, 'warn');
    assert.equal(checkDisk('root', '/x', d(50_000, 95), ROOT_DISK).status, 'warn');
    assert.equal(checkDisk('root', '/x', d(50_000), ROOT_DISK).status, 'pass');
    assert.equal(checkDisk('root', '/x', { ...d(50_000), inodesFree: 10 }, ROOT_DISK).status, 'fail');
    assert.equal(checkDisk('root', '/x', { at: '/x', error: 'df: no' }, ROOT_DISK).status, 'warn');
    assert.equal(checkDisk('root', '/x', { ...d(0), sizeKiB: 0, fstype: 'proc' }, ROOT_DISK).status, 'warn', 'no capacity accounted: no evidence');
    const notYet = checkDisk('root', '/x/containerd', d(50_000), ROOT_DISK);
    assert.match(notYet.message, /not created yet/);
  });
  test('overlayfs needs the kernel\'s overlay (loaded or as a module) and root not on overlay', () => {
    const f = configFacts(V2);
    assert.equal(checkSnapshotter('overlayfs', f, host()).status, 'pass');
    assert.equal(checkSnapshotter('overlayfs', f, host({ filesystems: ['ext4'], modules: { overlay: 'yes' } })).status, 'pass');
    assert.equal(checkSnapshotter('overlayfs', f, host({ filesystems: ['ext4'], modules: { overlay: 'no' } })).status, 'fail');
    const onOverlay = host();
    onOverlay.disks['/var/lib/containerd'].fstype = 'overlay';
    assert.equal(checkSnapshotter('overlayfs', f, onOverlay).status, 'fail');
  });
  test('btrfs/zfs need root on that filesystem; devmapper needs a pool; native always; aufs not on 2.x', () => {
    const f = configFacts(V2);
    assert.equal(checkSnapshotter('btrfs', f, host()).status, 'fail');
    assert.equal(checkSnapshotter('zfs', f, host()).status, 'fail');
    assert.equal(checkSnapshotter('devmapper', f, host()).status, 'fail');
    assert.equal(checkSnapshotter('native', f, host()).status, 'pass');
    assert.equal(checkSnapshotter('aufs', f, host(), '2.0.0').status, 'fail');
    assert.equal(checkSnapshotter('whatever', f, host()).status, 'warn');
  });
  test('crictl endpoints must point at the socket', () => {
    const want = '/run/containerd/containerd.sock';
    assert.equal(checkCrictl(crictlFacts(`runtime-endpoint: unix://${want}\nimage-endpoint: unix://${want}\n`), 'c', want).status, 'pass');
    const bad = checkCrictl(crictlFacts('runtime-endpoint: unix:///run/crio/crio.sock\n'), 'c', want);
    assert.equal(bad.status, 'warn');
    assert.match(bad.message, /crio/);
    assert.equal(checkCrictl(crictlFacts(''), 'c', '/run/other.sock').status, 'warn', 'no endpoint and a non-default socket');
    assert.equal(checkCrictl(undefined, undefined, want).status, 'pass');
  });
});

describe('probe output and the whole evaluation', () => {
  test('ss users and the probe sections', () => {
    assert.deepEqual(parseSsUsers('u_str LISTEN 0 4096 /run/x.sock 1 * 0 users:(("containerd",pid=57,fd=11),("systemd",pid=1,fd=3))'), [
      { name: 'containerd', pid: 57 },
      { name: 'systemd', pid: 1 },
    ]);
    const f = configFacts(V2);
    const req = probeRequest(f, 'containerd', {});
    assert.deepEqual(req.bins, [{ name: 'containerd-shim-runc-v2', version: false }, { name: 'runc', version: true }]);
    assert.deepEqual(req.files, ['/etc/crictl.yaml']);
    assert.deepEqual(probeArgs(req).slice(0, 4), ['bin', 'containerd-shim-runc-v2', 'binv', 'runc']);
    assert.ok(!PROBE_SCRIPT.includes('${'), 'no JS interpolation in the constant script');
    const m = '--m--';
    const out = [
      `${m} g version`, 'rc=0', 'containerd github.com/containerd/containerd 1.6.20~ds1 x',
      `${m} g cgroupfs`, 'tmpfs', `${m} g unified`, 'cgroup2fs', `${m} g init`, 'systemd',
      `${m} g filesystems`, 'nodev\ttmpfs', 'nodev\toverlay', '\text4',
      `${m} g service`, 'MainPID=57', 'ActiveState=active', `${m} g ss`, 'yes', `${m} g kubelet`, 'absent', `${m} g devmapper`, 'absent',
      `${m} i 1 bin`, 'path=/usr/bin/containerd-shim-runc-v2', 'state=ok',
      `${m} i 2 binv`, 'path=/usr/sbin/runc', 'state=ok', 'rc=0', 'runc version 1.1.5+ds1', 'commit: x',
      `${m} i 3 df`, 'at=/var/lib/containerd', 'out 264212084 79006924  26% 16777216 16280590    3% ext4 /',
      `${m} i 4 df`, 'at=/run', 'out 4936724 4936668 1% 1000000 900000 10% tmpfs /run',
      `${m} i 5 sock`, 'type=socket', 'parent=yes', 'ancestor=dir /run/containerd', 'owner=0:0 660', 'ss u_str LISTEN 0      4096              /run/containerd/containerd.sock 947627 * 0 users:(("containerd",pid=57,fd=11))',
      `${m} i 6 sock`, 'type=absent', 'parent=yes', 'ancestor=dir /run/containerd',
      `${m} i 7 mod`, 'avail=unknown',
      `${m} i 8 file`, 'absent',
      `${m} end`,
    ].join('\n');
    const h = parseProbe(out, m, req);
    assert.equal(h.complete, true);
    assert.equal(h.containerd.rc, 0);
    assert.equal(h.cgroupFs, 'tmpfs');
    assert.equal(h.cgroupUnifiedFs, 'cgroup2fs');
    assert.ok(h.filesystems.includes('overlay'));
    assert.equal(h.service.mainPid, 57);
    assert.equal(h.bins.runc.versionOut, 'runc version 1.1.5+ds1\ncommit: x');
    assert.equal(h.disks['/var/lib/containerd'].availKiB, 79006924);
    assert.equal(h.disks['/var/lib/containerd'].mountpoint, '/');
    assert.equal(h.disks['/run/containerd'].at, '/run');
    assert.deepEqual(h.sockets['/run/containerd/containerd.sock'].listeners, [{ name: 'containerd', pid: 57 }]);
    assert.equal(h.sockets['/run/containerd/containerd.sock.ttrpc'].type, 'absent');
    assert.equal(h.files['/etc/crictl.yaml'], null);
    const checks = evaluate(f, h, {});
    assert.deepEqual(checks.filter((c) => c.status === 'fail'), []);
    assert.deepEqual(checks.map((c) => c.id), ['config', 'containerd', 'config-version', 'runtime', 'cgroup-driver', 'socket', 'disk', 'disk', 'snapshotter', 'crictl']);
    const text = formatChecks(checks).join('\n');
    assert.match(text, /^✔ containerd: containerd 1\.6\.20~ds1 installed/m);
    assert.match(formatMarkdown([{ host: 'h', ok: true, status: 'pass', checks, ms: 1, at: 'now' }]), /\| ✔ \| runtime runc \|/);
  });
  test('an incomplete probe parses what it has', () => {
    const req = probeRequest(configFacts(V2), 'containerd', {});
    const h = parseProbe('--m-- g version\nrc=127\ncontainerd: not found\n', '--m--', req);
    assert.equal(h.complete, false);
    assert.deepEqual(h.bins, {});
    const checks = evaluate(configFacts(V2), h, {});
    assert.equal(checks.find((c) => c.id === 'containerd')!.status, 'fail');
    assert.equal(checks.find((c) => c.id === 'runtime')!.status, 'warn', 'facts missing: a warn, not a crash');
  });
});
