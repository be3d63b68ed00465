/*
 * Pure parts of the install core: the config-version boundary rule for downgrades, version and
 * checksum parsing, archive layouts, and plans built from a taskserv.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkConfigBoundary,
  configVersionOf,
  parseContainerdVersion,
  parseDnfList,
  parseFindListing,
  parseMadison,
  parseSha256File,
  parseTarballName,
  pickPackageVersion,
  tarballLayout,
  upstreamOfPackageVersion,
} from '../../client/src/core/install/versions';
import { installSettingsFromText, planFromSettings } from '../../client/src/core/install/taskserv';

test('downgrade 2.x → 1.x with a version 3 config on the host is refused, unless the migrated config comes along', () => {
  const refused = checkConfigBoundary({ from: '2.0.4', to: '1.7.18', hostConfigVersion: 3 });
  assert.equal(refused.ok, false);
  assert.match((refused as { reason: string }).reason, /version 3.*cannot read.*up to version 2/);
  assert.match((refused as { reason: string }).reason, /downgrade/);
  // the plan deploys a config rendered for 1.7 (version 2): allowed
  const migrated = checkConfigBoundary({ from: '2.0.4', to: '1.7.18', hostConfigVersion: 3, planConfigVersion: 2 });
  assert.equal(migrated.ok, true);
  // ... but not a plan config the target cannot read either
  const wrongPlan = checkConfigBoundary({ from: '2.0.4', to: '1.7.18', hostConfigVersion: 3, planConfigVersion: 3 });
  assert.equal(wrongPlan.ok, false);
  assert.match((wrongPlan as { reason: string }).reason, /render the taskserv for 1\.7\.18 \(config version 2\)/);
  // 2.3 (version 4) → 2.1 (reads up to 3): refused; the caller says it migrated the file: allowed with a note
  assert.equal(checkConfigBoundary({ from: '2.3.0', to: '2.1.1', hostConfigVersion: 4 }).ok, false);
  const allowed = checkConfigBoundary({ from: '2.3.0', to: '2.1.1', hostConfigVersion: 4, allow: true });
  assert.equal(allowed.ok, true);
  assert.match((allowed as { note?: string }).note ?? '', /allowed by the caller/);
});

test('downgrades within a config version, upgrades and fresh installs pass the boundary check', () => {
  assert.equal(checkConfigBoundary({ from: '1.7.18', to: '1.6.20', hostConfigVersion: 2 }).ok, true);
  assert.match((checkConfigBoundary({ from: '1.7.18', to: '1.6.20', hostConfigVersion: 2 }) as { note?: string }).note ?? '', /downgrade 1\.7\.18 → 1\.6\.20/);
  assert.equal(checkConfigBoundary({ from: '1.6.20', to: '2.0.0', hostConfigVersion: 2 }).ok, true); // 2.x migrates v2 itself
  assert.equal(checkConfigBoundary({ to: '1.7.18' }).ok, true);
  assert.equal(checkConfigBoundary({ to: '1.7.18', hostConfigVersion: 1 }).ok, true);
  // a leftover version 3 config on a host getting 1.x is refused too (it would not be read)
  assert.equal(checkConfigBoundary({ to: '1.7.18', hostConfigVersion: 3 }).ok, false);
  // unknown target: cannot judge, passes with a note
  assert.equal(checkConfigBoundary({ from: '2.0.0', hostConfigVersion: 3 }).ok, true);
});

test('config versions, containerd and package versions', () => {
  assert.equal(configVersionOf('version = 3\n[plugins]\n'), 3);
  assert.equal(configVersionOf('# c\nroot = "/x"\n[plugins."io.containerd.grpc.v1.cri"]\nversion = 9\n'), 1);
  assert.equal(configVersionOf('  version=2'), 2);
  assert.equal(parseContainerdVersion('containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3'), '1.6.20');
  assert.equal(parseContainerdVersion('containerd containerd.io v2.0.4 1a43cb6a1035441f9aca8f5666a9b3ef9e70ab20'), '2.0.4');
  assert.equal(parseContainerdVersion('sh: containerd: not found'), undefined);
  assert.equal(upstreamOfPackageVersion('1.6.20~ds1-1+deb12u3'), '1.6.20');
  assert.equal(upstreamOfPackageVersion('1:1.7.18-1'), '1.7.18');
  const madison = ' containerd | 1.6.20~ds1-1+deb12u3 | file:/srv/repo ./ Packages\n containerd | 1.6.20~ds1-1+deb12u1 | http://deb.debian.org/debian bookworm/main amd64 Packages\n';
  assert.deepEqual(parseMadison(madison, 'containerd'), ['1.6.20~ds1-1+deb12u3', '1.6.20~ds1-1+deb12u1']);
  assert.equal(pickPackageVersion(parseMadison(madison, 'containerd'), '1.6.20'), '1.6.20~ds1-1+deb12u3');
  assert.equal(pickPackageVersion(parseMadison(madison, 'containerd'), '1.7.18'), undefined);
  const dnf = 'Available Packages\ncontainerd.x86_64   1.7.17-1.fc40   updates\ncontainerd.x86_64   1.7.18-1.fc40   updates\n';
  assert.deepEqual(parseDnfList(dnf, 'containerd'), ['1.7.18-1.fc40', '1.7.17-1.fc40']);
});

test('.sha256sum files and release archive names', () => {
  const h = 'a'.repeat(64);
  const g = 'b'.repeat(64);
  assert.equal(parseSha256File(`${h}  containerd-1.7.18-linux-amd64.tar.gz\n`, 'containerd-1.7.18-linux-amd64.tar.gz'), h);
  assert.equal(parseSha256File(`${h} *runc.arm64\n${g} *runc.amd64\n`, 'runc.amd64'), g);
  assert.equal(parseSha256File(`${h}\n`, 'anything'), h);
  assert.equal(parseSha256File(`${h}  other.tar.gz\n`, 'containerd-1.7.18-linux-amd64.tar.gz'), undefined);
  assert.equal(parseSha256File('<html>not found</html>'), undefined);
  assert.deepEqual(parseTarballName('/x/containerd-1.7.18-linux-arm64.tar.gz'), { version: '1.7.18', arch: 'arm64' });
  assert.equal(parseTarballName('cri-containerd-cni-1.7.18-linux-amd64.tar.gz'), undefined);
});

test('archive layout: bin/ files only, no links, must hold bin/containerd', () => {
  const ok = tarballLayout(parseFindListing('d 755 bin\nf 755 bin/containerd\nf 755 bin/ctr\nf 755 bin/containerd-shim-runc-v2\n'));
  assert.ok(!('error' in ok));
  assert.deepEqual((ok as { files: { to: string }[] }).files.map((f) => f.to), ['bin/containerd', 'bin/ctr', 'bin/containerd-shim-runc-v2']);
  const withUnit = tarballLayout(parseFindListing('f 755 bin/containerd\nf 644 etc/systemd/system/containerd.service\n'));
  assert.equal((withUnit as { unit?: string }).unit, 'etc/systemd/system/containerd.service');
  assert.match((tarballLayout(parseFindListing('f 755 bin/containerd\nl 777 bin/ctr\n')) as { error: string }).error, /symbolic link/);
  assert.match((tarballLayout(parseFindListing('f 755 bin/containerd\nf 644 etc/passwd\n')) as { error: string }).error, /unexpected file etc\/passwd/);
  assert.match((tarballLayout(parseFindListing('f 755 bin/ctr\n')) as { error: string }).error, /no bin\/containerd/);
});

test('a plan from a taskserv: version, install block, runtimes with their BinaryName; flags win', () => {
  const text = `containerd: Containerd = {
    name: "containerd"
    version: "1.7.18"
    runtimes: "runc,crun"
    runtime_configs: {
        crun: {
            runtime_type: "io.containerd.runc.v2"
            options: {
                BinaryName: "/opt/rt/crun"
            }
        }
    }
    install: {
        source: "package"
        package_version: "1.7.18-1"
        runtimes: {
            crun: {
                url: "https://example.invalid/crun-1.15-linux-amd64"
                sha256: "${'c'.repeat(64)}"
            }
        }
    }
}
`;
  const s = installSettingsFromText(text);
  assert.ok(s);
  assert.equal(s.version, '1.7.18');
  assert.equal(s.source, 'package');
  assert.deepEqual(s.runtimes.map((r) => [r.name, r.binaryName, r.url ? 'url' : '']), [['runc', undefined, ''], ['crun', '/opt/rt/crun', 'url']]);
  const p = planFromSettings(s, undefined);
  assert.deepEqual(p.source, { kind: 'package', packageName: undefined, packageVersion: '1.7.18-1' });
  assert.deepEqual(p.runtimes?.map((r) => [r.name, r.path, r.source]), [['runc', undefined, 'auto'], ['crun', '/opt/rt/crun', 'url']]);
  const q = planFromSettings(s, undefined, { source: 'file', file: 'pkgs/containerd.deb', version: '1.6.20' }, (f) => `/base/${f}`);
  assert.deepEqual(q.source, { kind: 'file', path: '/base/pkgs/containerd.deb', sha256: undefined });
  assert.equal(q.version, '1.6.20');
  // no install block: the schema's default source (release tarball) and prefix
  const d = planFromSettings(installSettingsFromText('containerd: Containerd = {\n    version: "2.0.4"\n    runtimes: "youki"\n}\n'), undefined);
  assert.equal(d.source.kind, 'tarball');
  assert.equal(d.runtimes?.[0].path, '/usr/local/bin/youki');
});
