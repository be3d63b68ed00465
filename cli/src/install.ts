/**
 * `install` / `upgrade`: containerd (and the runtimes a taskserv names) onto hosts, then the
 * rendered taskserv deployed and containerd health-checked; an upgrade that fails its health
 * check is rolled back. Same SSH options and prompts as `deploy`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createSshPool } from '../../client/src/core/ssh';
import { installGroup, summarize } from '../../client/src/core/install/group';
import { installSettingsFromText, planFromSettings, type PlanOverrides } from '../../client/src/core/install/taskserv';
import type { InstallPlan } from '../../client/src/core/install/types';
import { ask, hostOption, planFor, resolveTargets, terminalCredentials, type DeployArgs } from './deploy';

export interface InstallArgs extends Omit<DeployArgs, 'file'> {
  operation: 'install' | 'upgrade';
  /** A taskserv (.k) or config.toml to deploy with the binaries (optional). */
  file?: string;
  overrides: PlanOverrides;
  keepBackup: boolean;
  allowConfigDowngrade: boolean;
}

export const INSTALL_USAGE = `  install [FILE.k|config.toml] (--host NAME|user@host[:port] ... | --group G --inventory hosts.json)
          [--source apt|dnf|package|tarball|file] [--file PATH] [--version X.Y.Z] [--url URL] [--sha256 HEX]
          [--fetch host|local] [--package NAME] [--package-version V] [--yes] [--keep-backup]
          [-i|--identity KEY] [--accept-new-host-keys] [--known-hosts FILE] [--concurrency N]
        install containerd on hosts that do not have it: from the distribution's packages (apt/dnf on the
        host, version pinned), an official release tarball (downloaded by the host, or with --fetch local by
        this machine and uploaded: air-gapped hosts), or a local .deb/.rpm/.tar.gz (uploaded). Checksums are
        checked on the host before anything is unpacked. Runtimes the taskserv names (runc, crun, youki) are
        installed too. Then FILE (rendered) is deployed, containerd enabled, started and health-checked.
        Defaults come from the taskserv's version and install block. Exit status 1 when any host failed.
  upgrade [FILE.k|config.toml] ... (same options, plus --allow-config-downgrade)
        replace an installed containerd: the previous binaries and config are backed up and put back (and
        containerd restarted on them) when the new one fails its health check. A downgrade the deployed
        config cannot follow (e.g. 2.x -> 1.x with a version 3 config) is refused unless FILE brings the
        migrated config (or --allow-config-downgrade).
`;

export function parseInstallArgs(operation: 'install' | 'upgrade', args: string[], fail: (msg: string) => never): InstallArgs {
  const a: InstallArgs = { operation, hosts: [], yes: false, acceptNewHostKeys: false, overrides: {}, keepBackup: false, allowConfigDowngrade: false };
  for (let i = 0; i < args.length; i++) {
    const x = args[i];
    const val = (): string => {
      const v = args[++i];
      if (v === undefined) fail(`${x} needs a value`);
      return v;
    };
    if (hostOption(a, x, val)) continue;
    if (x === '--yes' || x === '-y') a.yes = true;
    else if (x === '--keep-backup') a.keepBackup = true;
    else if (x === '--allow-config-downgrade' && operation === 'upgrade') a.allowConfigDowngrade = true;
    else if (x === '--source') {
      const s = val();
      if (s === 'apt' || s === 'dnf' || s === 'yum' || s === 'package') a.overrides.source = 'package';
      else if (s === 'tarball' || s === 'release-tarball') a.overrides.source = 'tarball';
      else if (s === 'file') a.overrides.source = 'file';
      else fail(`--source takes apt, dnf, package, tarball or file (not "${s}")`);
    } else if (x === '--file') a.overrides.file = path.resolve(val());
    else if (x === '--version') a.overrides.version = val().replace(/^v/, '');
    else if (x === '--url') a.overrides.url = val();
    else if (x === '--sha256') a.overrides.sha256 = val();
    else if (x === '--fetch') {
      const f = val();
      if (f !== 'host' && f !== 'local') fail('--fetch takes host or local');
      a.overrides.fetch = f;
    } else if (x === '--package') a.overrides.packageName = val();
    else if (x === '--package-version') a.overrides.packageVersion = val();
    else if (x.startsWith('-')) fail(`unknown option ${x}`);
    else if (!a.file) a.file = x;
    else fail(`${operation} takes at most one FILE`);
  }
  if (a.overrides.source === 'file' && !a.overrides.file) fail('--source file needs --file PATH');
  return a;
}

/** The plan: the taskserv's version/install block and rendered files (if FILE), overridden by the flags. */
export function installPlanFor(a: InstallArgs): InstallPlan {
  if (!a.file) return planFromSettings(undefined, undefined, a.overrides);
  const text = fs.readFileSync(a.file, 'utf8');
  const deployPlan = planFor(a.file);
  const settings = /\.k$/i.test(a.file) ? installSettingsFromText(text) : undefined;
  const dir = path.dirname(path.resolve(a.file));
  const plan = planFromSettings(settings, deployPlan, a.overrides, (p) => path.resolve(dir, p));
  return { ...plan, allowConfigVersionDowngrade: a.allowConfigDowngrade || undefined };
}

export async function runInstall(a: InstallArgs): Promise<number> {
  const plan = installPlanFor(a);
  const hosts = resolveTargets({ ...a, file: a.file ?? '' });
  if (!a.yes) {
    if (!process.stdin.isTTY) throw new Error(`not a terminal: pass --yes to ${a.operation} without confirming`);
    const what = plan.source.kind === 'file' ? path.basename(plan.source.path) : `containerd ${plan.version ?? '(newest)'} (${plan.source.kind})`;
    const ok = (await ask(`${a.operation === 'install' ? 'Install' : 'Upgrade to'} ${what} on ${hosts.map((h) => h.name).join(', ')}? (yes/no) `))?.trim().toLowerCase() === 'yes';
    if (!ok) {
      process.stderr.write('nothing done\n');
      return 1;
    }
  }
  const pool = createSshPool({ credentials: terminalCredentials(a.acceptNewHostKeys), knownHostsPath: a.knownHosts });
  const abort = new AbortController();
  const onSig = () => {
    process.stderr.write('cancelling: hosts stop at their next safe point (or finish / roll back)\n');
    abort.abort();
  };
  process.once('SIGINT', onSig);
  try {
    const reports = await installGroup(hosts, pool, plan, {
      operation: a.operation,
      concurrency: a.concurrency,
      signal: abort.signal,
      keepBackup: a.keepBackup,
      onHostStep: (h, step, detail) => process.stderr.write(`${h.name}: ${step}${detail ? ` (${detail})` : ''}\n`),
    });
    for (const r of reports) {
      process.stdout.write(`${summarize(r)}\n`);
      for (const st of r.steps) process.stdout.write(`  ${st.ok ? 'ok  ' : 'FAIL'} ${st.step} (${st.ms} ms)${st.detail ? `: ${st.detail.split('\n')[0].slice(0, 300)}` : ''}\n`);
      for (const n of r.notes) process.stdout.write(`  note: ${n}\n`);
      if (r.backup) process.stdout.write(`  previous files kept in ${r.backup}\n`);
    }
    return reports.every((r) => r.ok) ? 0 : 1;
  } finally {
    process.off('SIGINT', onSig);
    pool.closeAll();
  }
}
