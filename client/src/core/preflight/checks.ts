/**
 * The preflight decisions: facts of the config (config.ts) + facts of the host (probe.ts) →
 * pass / warn / fail with one line of what was found and one of what to do. Pure functions,
 * unit-tested without a host; probe.ts gathers the host facts.
 *
 * Release knowledge comes from the language server's own tables (server/src/schema/releases.ts):
 * which config versions a release reads and which releases silently read a newer file as
 * version 2.
 */
import {
  configVersionSupport,
  formatRelease,
  nativeConfigVersion,
  parseRelease,
  seriesOf,
  SERIES,
  type Release,
} from '../../../../server/src/schema/releases';
import type { ConfigFacts, CrictlFacts, RuntimeFacts } from './config';
import type { DiskThresholds, PreflightCheck, PreflightStatus } from './types';

// ---------------------------------------------------------------------------------------------
// Host facts (what probe.ts parses out of the remote script's output)

export interface BinProbe {
  /** ok: an executable file; missing: not found (on PATH for a bare name); dir: a directory; noexec: not executable. */
  state: 'ok' | 'missing' | 'dir' | 'noexec';
  /** The resolved path. */
  path?: string;
  /** Exit code of `<bin> --version` (when run); 124/137: timed out. */
  versionRc?: number;
  versionOut?: string;
}

export interface DiskProbe {
  /** The path examined: the configured one, or its nearest existing ancestor. */
  at: string;
  fstype?: string;
  sizeKiB?: number;
  availKiB?: number;
  usedPercent?: number;
  inodes?: number;
  inodesFree?: number;
  inodesUsedPercent?: number;
  mountpoint?: string;
  error?: string;
}

export interface SocketListener {
  pid?: number;
  name?: string;
}

export interface SocketProbe {
  type: 'socket' | 'directory' | 'other' | 'absent';
  /** The socket's directory exists. */
  parentExists: boolean;
  /** The nearest existing ancestor of the socket path, and whether it is a directory. */
  ancestor: string;
  ancestorIsDir: boolean;
  owner?: string;
  /** A process listens on the path. */
  listening: boolean;
  /** Who listens (from `ss -xlp`); empty when only /proc/net/unix was available. */
  listeners: SocketListener[];
  /** `ss` was available (else we cannot tell who listens). */
  haveSs: boolean;
}

export interface HostFacts {
  /** `containerd --version`: exit code and output. */
  containerd: { rc: number | null; output: string };
  /** `stat -fc %T /sys/fs/cgroup`: cgroup2fs (v2), tmpfs (v1/hybrid). */
  cgroupFs?: string;
  /** `stat -fc %T /sys/fs/cgroup/unified` (hybrid hosts). */
  cgroupUnifiedFs?: string;
  /** /proc/1/comm */
  init?: string;
  /** /proc/filesystems: the fs types the kernel offers right now. */
  filesystems: string[];
  /** modprobe -n: a module can be loaded ('unknown': no modprobe). */
  modules: Record<string, 'yes' | 'no' | 'unknown'>;
  service: { mainPid?: number; activeState?: string };
  /** /var/lib/kubelet/config.yaml text, when present. */
  kubeletConfig?: string;
  devmapperControl: boolean;
  bins: Record<string, BinProbe>;
  disks: Record<string, DiskProbe>;
  sockets: Record<string, SocketProbe>;
  /** getent passwd/group by numeric id: name or null (no entry). */
  users: Record<number, string | null>;
  groups: Record<number, string | null>;
  /** Files read on the host (crictl.yaml): text or null (absent). */
  files: Record<string, string | null>;
  /** Why some facts are missing (e.g. no sudo: ran without it). */
  notes: string[];
}

// ---------------------------------------------------------------------------------------------

const check = (c: PreflightCheck): PreflightCheck => c;
const firstLine = (s: string): string => s.trim().split('\n')[0]?.trim() ?? '';

export function worst(statuses: PreflightStatus[]): PreflightStatus {
  return statuses.includes('fail') ? 'fail' : statuses.includes('warn') ? 'warn' : 'pass';
}

/** The version in `containerd --version` output ("containerd github.com/containerd/containerd 1.6.20~ds1 …"). */
export function parseContainerdVersion(output: string): string | undefined {
  for (const tok of output.trim().split(/\s+/)) {
    const m = /^v?(\d+\.\d+\.\d+(?:[-~+][0-9A-Za-z.~+-]*)?)$/.exec(tok);
    if (m) return m[1];
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// config syntax

export function checkConfigSyntax(facts: ConfigFacts, source: string): PreflightCheck {
  if (facts.syntaxErrors.length) {
    return check({
      id: 'config',
      title: 'config',
      // the host checks below read what could be parsed; containerd's own validation (the deploy's
      // validate stage) is the judge of the file itself
      status: 'warn',
      message: `${source} is not valid TOML (${facts.syntaxErrors[0]}): containerd will reject it; the checks below read what could be parsed`,
      fix: 'fix the syntax; `containerd-taskserv lint` shows every problem',
      detail: facts.syntaxErrors.join('\n'),
    });
  }
  return check({ id: 'config', title: 'config', status: 'pass', message: `${source} parses (config version ${facts.version}${facts.versionExplicit ? '' : ', no `version` key'})` });
}

// ---------------------------------------------------------------------------------------------
// containerd installed, version against the taskserv's

export function checkContainerd(host: HostFacts, taskservRelease?: string): PreflightCheck {
  const base = { id: 'containerd' as const, title: 'containerd' };
  const { rc, output } = host.containerd;
  if (rc === 127 || (rc !== 0 && /not found|No such file/i.test(output))) {
    return check({
      ...base,
      status: 'fail',
      message: 'containerd is not installed on the host (`containerd --version`: command not found)',
      fix: `install containerd${taskservRelease ? ` ${taskservRelease}` : ''} first (containerd-taskserv install); a deploy validates the config with the host's containerd`,
    });
  }
  const version = rc === 0 ? parseContainerdVersion(output) : undefined;
  if (!version) {
    return check({
      ...base,
      status: 'warn',
      message: rc === 0 ? `cannot read a version in \`containerd --version\`: ${firstLine(output) || '(no output)'}` : `\`containerd --version\` failed (exit ${rc ?? 'signal'}): ${firstLine(output)}`,
      fix: 'check the containerd binary on the host (`containerd --version`)',
      detail: output.trim() || undefined,
    });
  }
  const have = parseRelease(version)!;
  const service = host.service.activeState ? `, service ${host.service.activeState}` : '';
  if (taskservRelease) {
    const want = parseRelease(taskservRelease);
    if (want) {
      const sameSeries = seriesOf(want) === seriesOf(have);
      const same = sameSeries && (want.patch === undefined || want.patch === have.patch);
      if (!same) {
        return check({
          ...base,
          status: 'warn',
          message: `the host runs containerd ${version}, the taskserv wants ${taskservRelease}${sameSeries ? ' (another patch release)' : ''}${service}`,
          fix: sameSeries
            ? `upgrade the host to ${taskservRelease} (containerd-taskserv install) or set the taskserv's version to ${formatRelease(have)}`
            : `install containerd ${taskservRelease} on the host first (containerd-taskserv install): keys of ${seriesOf(want)} that ${seriesOf(have)} does not know are ignored, and the config is judged by the wrong release`,
        });
      }
      return check({ ...base, status: 'pass', message: `containerd ${version} installed, as the taskserv wants${service}` });
    }
  }
  return check({ ...base, status: 'pass', message: `containerd ${version} installed${service}` });
}

// ---------------------------------------------------------------------------------------------
// config version against the host's release

/** Which releases cannot read config version `n`, in words (from releases.ts). */
export function rejectingReleases(n: number): string {
  const refuse: string[] = [];
  const lenient: string[] = [];
  for (const s of SERIES) {
    const r = parseRelease(s)!;
    const latest = configVersionSupport(r); // a series-only release = its latest patch
    if (latest.max >= n) continue;
    // 1.6/1.7 early patches read a newer file silently as version 2
    const early = configVersionSupport({ ...r, patch: 0 });
    if (early.lenientAbove) {
      const first = r.minor === 6 ? 32 : r.minor === 7 ? 17 : undefined;
      refuse.push(first !== undefined ? `${s}.${first}+` : s);
      lenient.push(first !== undefined ? `${s}.0–${s}.${first - 1}` : s);
    } else refuse.push(s);
  }
  const needs = SERIES.find((s) => configVersionSupport(parseRelease(s)!).max >= n);
  let text = `config version ${n} needs containerd ${needs ?? 'a newer release'} or later; ${refuse.join(', ')} refuse to start with it`;
  if (lenient.length) text += `, ${lenient.join(' and ')} silently read it as version 2 (ignoring its version ${n} plugin tables)`;
  return text;
}

export function checkConfigVersion(facts: ConfigFacts, hostVersion: string | undefined): PreflightCheck {
  const base = { id: 'config-version' as const, title: 'config version' };
  const n = facts.version;
  if (!Number.isInteger(n) || n < 1 || n > 4) {
    return check({ ...base, status: 'fail', message: `config version ${n} does not exist (containerd knows 1 to 4) and refuses to start`, fix: 'set `version` to 2 (containerd 1.x), 3 (2.0–2.2) or 4 (2.3+)' });
  }
  const have = hostVersion ? parseRelease(hostVersion) : undefined;
  if (!have) {
    return check({ ...base, status: 'warn', message: `config version ${n}: cannot compare, the host's containerd version is unknown`, fix: 'install containerd first (see the containerd check)' });
  }
  const rel = formatRelease(have);
  const support = configVersionSupport(have);
  if (n > support.max) {
    const fix = `upgrade the host to containerd ${n === 3 ? '2.0' : '2.3'}+ (containerd-taskserv install) or deploy a version ${support.max} config (set the taskserv's config.version / containerd version to match the host)`;
    if (support.lenientAbove) {
      return check({
        ...base,
        status: 'fail',
        message: `containerd ${rel} does not know config version ${n}: it silently reads the file as version ${support.max} and ignores its version ${n} plugin tables`,
        fix,
        detail: rejectingReleases(n),
      });
    }
    return check({
      ...base,
      status: 'fail',
      message: `containerd ${rel} refuses to start with config version ${n} (the highest it reads is ${support.max})`,
      fix,
      detail: rejectingReleases(n),
    });
  }
  if (!facts.versionExplicit) {
    return check({
      ...base,
      status: 'warn',
      message: `the config has no \`version\`: containerd ${rel} reads it as the deprecated version 1 (short plugin IDs)`,
      fix: `add \`version = ${nativeConfigVersion(have)}\` and full plugin IDs (the editor's migrate action does it)`,
    });
  }
  if (n === 1) {
    return check({ ...base, status: 'warn', message: `config version 1 is deprecated (containerd ${rel})`, fix: `migrate to version ${nativeConfigVersion(have)}` });
  }
  const native = nativeConfigVersion(have);
  return check({
    ...base,
    status: 'pass',
    message: n < native ? `config version ${n} on containerd ${rel} (migrated to version ${native} at every start)` : `config version ${n} is what containerd ${rel} reads`,
  });
}

// ---------------------------------------------------------------------------------------------
// runtimes

export function checkRuntime(rt: RuntimeFacts, host: HostFacts): PreflightCheck {
  const title = `runtime ${rt.name}`;
  const base = { id: 'runtime' as const, subject: rt.name, title };
  const shim = host.bins[rt.shim];
  const problems: { status: PreflightStatus; message: string; fix: string }[] = [];
  const describe = (b: BinProbe | undefined, name: string, what: string) => {
    if (!b) return;
    if (b.state === 'missing') {
      problems.push({
        status: 'fail',
        message: name.includes('/') ? `${what} ${name} does not exist` : `${what} "${name}" is not on the PATH`,
        fix: name.includes('/') ? `install it at ${name} or point ${rt.binaryName ? 'options.BinaryName' : 'the runtime'} at the real binary` : name === 'runc' ? 'install runc (apt-get install runc) or set options.BinaryName to its absolute path' : `install ${name} on the host (on root's PATH, e.g. /usr/local/bin) or set ${what === 'shim' ? 'runtime_path' : 'its absolute path'}`,
      });
    } else if (b.state === 'dir') problems.push({ status: 'fail', message: `${what} ${b.path ?? name} is a directory`, fix: 'point it at the binary itself' });
    else if (b.state === 'noexec') problems.push({ status: 'fail', message: `${what} ${b.path ?? name} is not executable`, fix: `chmod +x ${b.path ?? name}` });
  };
  describe(shim, rt.shim, 'shim');
  const binName = rt.runcLike ? rt.binaryName ?? 'runc' : rt.binaryName;
  const bin = binName ? host.bins[binName] : undefined;
  describe(bin, binName ?? '', rt.binaryName ? 'BinaryName' : 'runtime binary');
  let version = '';
  if (bin?.state === 'ok' && bin.versionRc !== undefined) {
    if (bin.versionRc !== 0) {
      const timedOut = bin.versionRc === 124 || bin.versionRc === 137;
      problems.push({
        status: 'fail',
        message: `\`${bin.path ?? binName} --version\` ${timedOut ? 'did not finish in 10 s' : `fails (exit ${bin.versionRc})`}: ${firstLine(bin.versionOut ?? '') || '(no output)'}`,
        fix: 'the binary does not run on this host (wrong architecture, missing libraries, a broken install?): reinstall it',
      });
    } else version = firstLine(bin.versionOut ?? '');
  }
  if (problems.length) {
    const s = worst(problems.map((p) => p.status));
    const first = problems.find((p) => p.status === s)!;
    return check({ ...base, status: s, message: problems.map((p) => p.message).join('; '), fix: first.fix });
  }
  if (!shim && !bin) return check({ ...base, status: 'warn', message: 'not checked (the host facts are missing)', fix: 'run the preflight again' });
  const where = bin?.path ?? (binName ? binName : undefined);
  return check({
    ...base,
    status: 'pass',
    message: `${rt.implicit ? '(containerd default) ' : ''}shim ${shim?.path ?? rt.shim}${where ? `, ${where}${version ? ` (${version})` : ''}` : ''}`,
  });
}

// ---------------------------------------------------------------------------------------------
// cgroup driver

export type CgroupMode = 'v2' | 'v1' | 'hybrid' | 'unknown';

export function cgroupMode(host: HostFacts): CgroupMode {
  if (host.cgroupFs === 'cgroup2fs') return 'v2';
  if (host.cgroupFs === 'tmpfs') return host.cgroupUnifiedFs === 'cgroup2fs' ? 'hybrid' : 'v1';
  return 'unknown';
}

export function checkCgroupDriver(facts: ConfigFacts, host: HostFacts, kubelet?: { driver: string; explicit: boolean } | { error: string }): PreflightCheck {
  const base = { id: 'cgroup-driver' as const, title: 'cgroup driver' };
  const runc = facts.runtimes.filter((r) => r.runcLike);
  if (!runc.length) return check({ ...base, status: 'pass', message: 'no runc runtime: the cgroup driver is up to the configured shims' });
  const values = runc.map((r) => r.systemdCgroup ?? (r.type === 'io.containerd.runc.v1' ? facts.legacySystemdCgroup : undefined) ?? false);
  const mixed = new Set(values).size > 1;
  const systemd = values[0];
  const mode = cgroupMode(host);
  const systemdInit = host.init === 'systemd';
  const driver = (b: boolean) => (b ? 'systemd' : 'cgroupfs');
  const list = runc.map((r, i) => `${r.name}=${values[i]}`).join(', ');
  const hostDesc = `cgroup ${mode === 'unknown' ? `fs "${host.cgroupFs ?? '?'}"` : mode}, init ${host.init ?? 'unknown'}`;
  const out: { status: PreflightStatus; message: string; fix?: string }[] = [];
  if (mixed) out.push({ status: 'warn', message: `runc runtimes disagree on SystemdCgroup (${list})`, fix: 'use one cgroup driver for every runtime of a node' });
  if (values.some((v) => v) && !systemdInit && host.init) {
    out.push({ status: 'fail', message: `SystemdCgroup = true but the host's init is ${host.init}, not systemd: runc cannot create containers`, fix: 'set SystemdCgroup = false (cgroupfs driver)' });
  }
  if (kubelet && 'error' in kubelet) {
    out.push({ status: 'warn', message: `/var/lib/kubelet/config.yaml does not parse: ${kubelet.error}`, fix: 'check the kubelet configuration' });
  } else if (kubelet) {
    const want = kubelet.driver === 'systemd';
    const disagree = runc.filter((_r, i) => values[i] !== want);
    if (disagree.length) {
      out.push({
        status: 'fail',
        message: `kubelet uses the ${kubelet.driver} cgroup driver${kubelet.explicit ? '' : ' (its default)'} but SystemdCgroup is ${!want} for ${disagree.map((r) => r.name).join(', ')}`,
        fix: `set SystemdCgroup = ${want} (plugins.cri.systemd_cgroup in the taskserv) or change kubelet's cgroupDriver: both must agree or pods fail to start`,
      });
    }
  }
  if (systemdInit && !systemd && mode === 'v2') {
    out.push({
      status: 'warn',
      message: `cgroup v2 with systemd as init, but runc uses the cgroupfs driver (SystemdCgroup = false)`,
      fix: 'set SystemdCgroup = true (and kubelet cgroupDriver: systemd): two cgroup managers on one host are not recommended',
    });
  }
  if (mode === 'unknown' && !out.length) out.push({ status: 'warn', message: `cannot tell the host's cgroup setup (${hostDesc})`, fix: 'check /sys/fs/cgroup on the host' });
  if (out.length) {
    const s = worst(out.map((o) => o.status));
    return check({ ...base, status: s, message: out.map((o) => o.message).join('; '), fix: out.find((o) => o.status === s)?.fix, detail: `${hostDesc}; ${list}` });
  }
  return check({
    ...base,
    status: 'pass',
    message: `${driver(systemd)} driver (SystemdCgroup = ${systemd}) on ${hostDesc}${kubelet && !('error' in kubelet) ? `, kubelet ${kubelet.driver}` : ''}`,
  });
}

// ---------------------------------------------------------------------------------------------
// socket

/** Longest unix socket path (sun_path is 108 bytes with the terminating NUL). */
export const MAX_SOCKET_PATH = 107;

export function checkSocket(
  facts: ConfigFacts,
  host: HostFacts,
  opts: { currentSocket?: string } = {},
): PreflightCheck {
  const base = { id: 'socket' as const, title: 'socket' };
  const out: { status: PreflightStatus; message: string; fix?: string }[] = [];
  const addr = facts.address;
  if (!addr.startsWith('/')) {
    out.push({ status: 'fail', message: `grpc.address "${addr}" is not an absolute path`, fix: 'use an absolute path such as /run/containerd/containerd.sock' });
  }
  for (const [label, path] of [
    ['grpc.address', addr],
    ['ttrpc address', facts.ttrpcAddress],
  ] as const) {
    if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
      out.push({ status: 'fail', message: `${label} ${path} is ${Buffer.byteLength(path)} bytes, longer than a unix socket path may be (${MAX_SOCKET_PATH})`, fix: 'use a shorter path' });
    }
  }
  const pid = host.service.mainPid;
  const describeOwner = (l: SocketListener[]) => l.map((x) => `${x.name ?? '?'}${x.pid ? ` (pid ${x.pid})` : ''}`).join(', ');
  for (const [label, path] of [
    ['grpc.address', addr],
    ['ttrpc address', facts.ttrpcAddress],
  ] as const) {
    const s = host.sockets[path];
    if (!s) continue;
    if (!s.ancestorIsDir) {
      out.push({ status: 'fail', message: `${label} ${path}: ${s.ancestor} is not a directory, containerd cannot create the socket`, fix: `remove ${s.ancestor} or choose another socket path` });
      continue;
    }
    if (s.type === 'directory') {
      out.push({ status: 'fail', message: `${label} ${path} is a directory: containerd cannot replace it with its socket`, fix: `remove the directory ${path} or choose another path` });
      continue;
    }
    if (s.listening) {
      const foreign = s.listeners.filter((l) => !(pid && l.pid === pid));
      if (s.listeners.length === 0) {
        // only /proc/net/unix: we know it listens, not who
        if (path !== (opts.currentSocket ?? '') && path !== `${opts.currentSocket ?? ''}.ttrpc`) {
          out.push({ status: 'warn', message: `${label} ${path} is a listening socket and we cannot tell whose (${s.haveSs ? '\`ss\` named no process: no root?' : 'no \`ss\` on the host'})`, fix: 'check it is not another runtime\'s socket (containerd would take the path over)' });
        }
      } else if (foreign.length) {
        const systemdOnly = foreign.every((l) => l.pid === 1);
        out.push({
          status: systemdOnly ? 'warn' : 'fail',
          message: systemdOnly
            ? `${label} ${path} is held by systemd (socket activation of some unit)`
            : `${label} ${path} is already in use by ${describeOwner(foreign)}${pid ? `, not by the containerd service (pid ${pid})` : ' (the containerd service is not running)'}`,
          fix: systemdOnly
            ? 'check `systemctl list-sockets`: containerd unlinks the path at start and the socket unit loses it'
            : 'choose another socket path: containerd unlinks an existing socket at start and binds its own, cutting that program off',
        });
      }
    } else if (s.type === 'other') {
      out.push({ status: 'warn', message: `${label} ${path} exists and is not a socket: containerd removes it at start`, fix: `make sure nothing needs ${path}` });
    }
  }
  if (!facts.uid && !facts.gid) {
    // the default: root only
  } else {
    if (facts.uid) {
      const name = host.users[facts.uid];
      out.push({
        status: 'warn',
        message: `grpc.uid ${facts.uid}${name ? ` (${name})` : name === null ? ' (no such user on the host)' : ''} owns the socket: that user can control containerd, i.e. is root-equivalent`,
        fix: 'leave grpc.uid at 0 and grant access through grpc.gid if needed',
      });
    }
    if (facts.gid) {
      const name = host.groups[facts.gid];
      if (name === null) out.push({ status: 'warn', message: `grpc.gid ${facts.gid} is no group on the host`, fix: 'create the group or use an existing gid' });
    }
  }
  if (out.length) {
    const st = worst(out.map((o) => o.status));
    return check({ ...base, status: st, message: out.map((o) => o.message).join('; '), fix: out.find((o) => o.status === st)?.fix });
  }
  const s = host.sockets[addr];
  const state = !s ? '' : s.listening ? (pid && s.listeners.some((l) => l.pid === pid) ? ', served by the running containerd' : ', listening') : s.type === 'absent' ? (s.parentExists ? ', free' : ', free (its directory is created at start)') : ', stale socket file (replaced at start)';
  const gname = facts.gid ? host.groups[facts.gid] : undefined;
  return check({ ...base, status: 'pass', message: `${addr}${state}${facts.gid ? `, group ${gname ?? facts.gid}` : ''}` });
}

// ---------------------------------------------------------------------------------------------
// disk space

export const ROOT_DISK: DiskThresholds = { failMiB: 512, warnMiB: 2048, warnPercent: 90 };
export const STATE_DISK: DiskThresholds = { failMiB: 8, warnMiB: 32, warnPercent: 95 };

const mib = (kib: number) => (kib >= 10 * 1024 * 1024 ? `${(kib / 1024 / 1024).toFixed(0)} GiB` : kib >= 1024 * 1024 ? `${(kib / 1024 / 1024).toFixed(1)} GiB` : `${(kib / 1024).toFixed(kib < 10 * 1024 ? 1 : 0)} MiB`);

export function checkDisk(which: 'root' | 'state', path: string, probe: DiskProbe | undefined, t: DiskThresholds): PreflightCheck {
  const base = { id: 'disk' as const, subject: which, title: `disk ${which}` };
  if (!probe || probe.error || probe.availKiB === undefined) {
    return check({ ...base, status: 'warn', message: `cannot read the free space of ${path}: ${probe?.error ?? 'no answer'}`, fix: `check it on the host: df -h ${path}` });
  }
  const on = `${probe.at !== path ? `${path} (not created yet; ${probe.at})` : path} on ${probe.mountpoint ?? '?'}${probe.fstype ? ` (${probe.fstype})` : ''}`;
  const free = `${mib(probe.availKiB)} free${probe.usedPercent !== undefined ? `, ${probe.usedPercent}% used` : ''}`;
  const inode = probe.inodes ? probe.inodesFree ?? 0 : undefined;
  if (probe.sizeKiB === 0) {
    // pseudo and some FUSE/network filesystems account no space: no evidence either way
    return check({ ...base, status: 'warn', message: `${on} reports no capacity (df shows size 0): cannot tell the free space`, fix: `make sure ${path} is on a real filesystem with room for containerd's ${which}` });
  }
  if (probe.availKiB < t.failMiB * 1024) {
    return check({ ...base, status: 'fail', message: `only ${free} at ${on} (needs ${t.failMiB} MiB at least)`, fix: `free space on ${probe.mountpoint ?? probe.at} or move containerd's ${which} to a larger filesystem` });
  }
  if (inode !== undefined && inode < 1000) {
    return check({ ...base, status: 'fail', message: `only ${inode} inodes free at ${on}`, fix: `free inodes on ${probe.mountpoint ?? probe.at} (prune images: crictl rmi --prune)` });
  }
  if (probe.availKiB < t.warnMiB * 1024 || (probe.usedPercent !== undefined && probe.usedPercent >= t.warnPercent) || (probe.inodesUsedPercent !== undefined && probe.inodesUsedPercent >= 95)) {
    return check({
      ...base,
      status: 'warn',
      message: `${free}${probe.inodesUsedPercent !== undefined && probe.inodesUsedPercent >= 95 ? `, ${probe.inodesUsedPercent}% inodes used` : ''} at ${on}`,
      fix: `free space on ${probe.mountpoint ?? probe.at} (e.g. crictl rmi --prune) before images fill it`,
    });
  }
  return check({ ...base, status: 'pass', message: `${free} at ${on}` });
}

// ---------------------------------------------------------------------------------------------
// snapshotter

export function checkSnapshotter(name: string, facts: ConfigFacts, host: HostFacts, hostVersion?: string): PreflightCheck {
  const base = { id: 'snapshotter' as const, subject: name, title: `snapshotter ${name}` };
  const fs = new Set(host.filesystems);
  const rootFs = host.disks[facts.root]?.fstype;
  const has = (t: string): 'yes' | 'module' | 'no' | 'unknown' => (fs.has(t) ? 'yes' : host.modules[t] === 'yes' ? 'module' : host.modules[t] === 'unknown' && !host.filesystems.length ? 'unknown' : 'no');
  const major = hostVersion ? parseRelease(hostVersion)?.major : undefined;
  if (facts.proxySnapshotters[name] !== undefined) {
    const addr = facts.proxySnapshotters[name];
    const s = host.sockets[addr];
    if (!addr) return check({ ...base, status: 'fail', message: `proxy plugin ${name} has no address`, fix: `set proxy_plugins.${name}.address` });
    if (s && s.type === 'socket' && s.listening) return check({ ...base, status: 'pass', message: `proxy snapshotter at ${addr} is listening` });
    return check({ ...base, status: 'warn', message: `proxy snapshotter ${name}: nothing listens on ${addr}`, fix: `start the ${name} daemon before containerd (else images cannot be unpacked with it)` });
  }
  switch (name) {
    case 'overlayfs': {
      const o = has('overlay');
      if (o === 'no') {
        return check({ ...base, status: 'fail', message: 'the kernel offers no overlay filesystem (not in /proc/filesystems, no module)', fix: 'load the overlay module (modprobe overlay) or use another snapshotter (native)' });
      }
      if (rootFs === 'overlayfs' || rootFs === 'overlay') {
        return check({ ...base, status: 'fail', message: `containerd's root ${facts.root} is itself on overlayfs, which overlayfs cannot use as upper layer`, fix: 'put root on ext4/xfs (a volume) or use the native or fuse-overlayfs snapshotter' });
      }
      if (o === 'unknown') return check({ ...base, status: 'warn', message: 'cannot tell whether the kernel offers overlay', fix: 'check /proc/filesystems' });
      return check({ ...base, status: 'pass', message: o === 'yes' ? `kernel has overlay${rootFs ? `; root on ${rootFs}` : ''}` : 'overlay module available (loaded on first mount)' });
    }
    case 'btrfs':
      if (rootFs && rootFs !== 'btrfs') return check({ ...base, status: 'fail', message: `root ${facts.root} is on ${rootFs}, not btrfs`, fix: 'put containerd\'s root on a btrfs filesystem or use overlayfs' });
      return check({ ...base, status: has('btrfs') === 'no' ? 'fail' : 'pass', message: has('btrfs') === 'no' ? 'the kernel offers no btrfs' : 'btrfs available', fix: has('btrfs') === 'no' ? 'load the btrfs module or use overlayfs' : undefined });
    case 'zfs':
      if (rootFs && rootFs !== 'zfs') return check({ ...base, status: 'fail', message: `root ${facts.root} is on ${rootFs}, not zfs`, fix: 'put containerd\'s root on a ZFS dataset or use overlayfs' });
      return check({ ...base, status: has('zfs') === 'no' ? 'fail' : 'pass', message: has('zfs') === 'no' ? 'the kernel offers no zfs' : 'zfs available', fix: has('zfs') === 'no' ? 'install ZFS (zfsutils-linux) or use overlayfs' : undefined });
    case 'aufs':
      if (major !== undefined && major >= 2) return check({ ...base, status: 'fail', message: 'containerd 2.x has no aufs snapshotter', fix: 'use overlayfs' });
      return check({ ...base, status: has('aufs') === 'no' ? 'fail' : 'pass', message: has('aufs') === 'no' ? 'the kernel offers no aufs' : 'aufs available', fix: has('aufs') === 'no' ? 'use overlayfs' : undefined });
    case 'devmapper':
      if (!facts.devmapperPool) return check({ ...base, status: 'fail', message: 'devmapper is not configured (no pool_name): the plugin does not load', fix: 'configure plugins."io.containerd.snapshotter.v1.devmapper" (pool_name, base_image_size) or use overlayfs' });
      if (!host.devmapperControl) return check({ ...base, status: 'fail', message: 'no /dev/mapper/control on the host', fix: 'load dm_thin_pool / device-mapper, or use overlayfs' });
      return check({ ...base, status: 'pass', message: `device-mapper present, pool ${facts.devmapperPool}` });
    case 'native':
      return check({ ...base, status: 'pass', message: 'native needs no kernel support' });
    default:
      return check({ ...base, status: 'warn', message: `not checked: "${name}" is no built-in snapshotter and no proxy plugin of this config`, fix: 'make sure a plugin of that name exists, or images cannot be unpacked' });
  }
}

// ---------------------------------------------------------------------------------------------
// crictl.yaml

export function checkCrictl(crictl: CrictlFacts | undefined, source: string | undefined, address: string): PreflightCheck {
  const base = { id: 'crictl' as const, title: 'crictl.yaml' };
  if (!crictl) {
    return check({ ...base, status: 'pass', message: `no crictl.yaml on the host${address === '/run/containerd/containerd.sock' ? ' (crictl tries containerd\'s default socket)' : ''}` });
  }
  if (crictl.error) return check({ ...base, status: 'warn', message: `${source} does not parse: ${crictl.error}`, fix: 'fix the YAML or let the taskserv render it' });
  const want = `unix://${address}`;
  const norm = (e: string) => (e.startsWith('unix://') ? e : e.startsWith('/') ? `unix://${e}` : e);
  const bad: string[] = [];
  if (!crictl.runtimeEndpoint) {
    if (address !== '/run/containerd/containerd.sock') bad.push('runtime-endpoint is not set (crictl tries its default sockets, not this one)');
  } else if (norm(crictl.runtimeEndpoint) !== want) bad.push(`runtime-endpoint is ${crictl.runtimeEndpoint}`);
  if (crictl.imageEndpoint && norm(crictl.imageEndpoint) !== want) bad.push(`image-endpoint is ${crictl.imageEndpoint}`);
  if (bad.length) {
    return check({ ...base, status: 'warn', message: `${source}: ${bad.join(', ')}, but containerd listens on ${address}`, fix: `set runtime-endpoint and image-endpoint to ${want} (crictl.runtime_endpoint/image_endpoint in the taskserv)` });
  }
  return check({ ...base, status: 'pass', message: `${source} points at ${want}` });
}
