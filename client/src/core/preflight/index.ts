/**
 * Preflight checks before a deploy (and on demand): does this host offer what the config to be
 * deployed needs? containerd installed and new enough for the config's version, every runtime's
 * binaries, a cgroup driver that agrees with the host and kubelet, a free socket path, disk
 * space for root/state, the kernel support of the snapshotter, crictl pointing at the socket.
 *
 * One remote exec gathers the host facts (probe.ts); the decisions are pure (checks.ts). A check
 * that cannot run is a warn with the reason, never an exception — except cancellation, which
 * is passed on. No vscode import: the deploy pipeline, the CLI and the editor call this.
 */
import type { HostConnection } from '../ssh/types';
import { withDefaults } from '../hosts/inventory';
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
  ROOT_DISK,
  STATE_DISK,
  worst,
  type HostFacts,
} from './checks';
import { configFacts, crictlFacts, kubeletCgroupDriver, type ConfigFacts } from './config';
import { probeHost, type ProbeRequest } from './probe';
import { STATUS_ICON, type PreflightCheck, type PreflightInput, type PreflightOptions, type PreflightReport, type PreflightStatus } from './types';

export * from './types';
export { configFacts, crictlFacts } from './config';

export const HOST_CRICTL = '/etc/crictl.yaml';

/** What the probe must look at for this config. */
export function probeRequest(facts: ConfigFacts, service: string, input: PreflightInput): ProbeRequest {
  const bins = new Map<string, boolean>();
  const want = (name: string, version: boolean) => bins.set(name, (bins.get(name) ?? false) || version);
  for (const r of facts.runtimes) {
    want(r.shim, false);
    const bin = r.runcLike ? r.binaryName ?? 'runc' : r.binaryName;
    if (bin) want(bin, true);
  }
  const modules = new Set<string>();
  for (const s of facts.snapshotters) {
    if (s === 'overlayfs') modules.add('overlay');
    else if (s === 'btrfs' || s === 'zfs' || s === 'aufs') modules.add(s);
  }
  const sockets = [facts.address, facts.ttrpcAddress];
  for (const s of facts.snapshotters) {
    const a = facts.proxySnapshotters[s];
    if (a) sockets.push(a);
  }
  return {
    service,
    bins: [...bins].map(([name, version]) => ({ name, version })),
    disks: [...new Set([facts.root, facts.state])],
    sockets: [...new Set(sockets)],
    uids: facts.uid ? [facts.uid] : [],
    gids: facts.gid ? [facts.gid] : [],
    modules: [...modules],
    files: input.crictl === undefined ? [HOST_CRICTL] : [],
  };
}

/** The decisions for gathered facts (pure). */
export function evaluate(
  facts: ConfigFacts,
  host: HostFacts,
  input: PreflightInput,
  opts: Pick<PreflightOptions, 'rootDisk' | 'stateDisk'> & { currentSocket?: string; configSource?: string } = {},
): PreflightCheck[] {
  const checks: PreflightCheck[] = [];
  checks.push(checkConfigSyntax(facts, opts.configSource ?? input.configSource ?? 'the config'));
  const cd = checkContainerd(host, input.taskservRelease);
  checks.push(cd);
  const version = host.containerd.rc === 0 ? parseContainerdVersion(host.containerd.output) : undefined;
  checks.push(checkConfigVersion(facts, version));
  for (const r of facts.runtimes) checks.push(checkRuntime(r, host));
  const kubelet = host.kubeletConfig !== undefined ? kubeletCgroupDriver(host.kubeletConfig) : undefined;
  checks.push(checkCgroupDriver(facts, host, kubelet));
  checks.push(checkSocket(facts, host, { currentSocket: opts.currentSocket }));
  checks.push(checkDisk('root', facts.root, host.disks[facts.root], { ...ROOT_DISK, ...opts.rootDisk }));
  checks.push(checkDisk('state', facts.state, host.disks[facts.state], { ...STATE_DISK, ...opts.stateDisk }));
  for (const s of facts.snapshotters) checks.push(checkSnapshotter(s, facts, host, version));
  let crictl;
  let crictlSource: string | undefined;
  if (input.crictl !== undefined) {
    crictl = crictlFacts(input.crictl);
    crictlSource = 'the rendered crictl.yaml';
  } else {
    const text = host.files[HOST_CRICTL];
    if (typeof text === 'string') {
      crictl = crictlFacts(text);
      crictlSource = `the host's ${HOST_CRICTL}`;
    }
  }
  checks.push(checkCrictl(crictl, crictlSource, facts.address));
  return checks;
}

/** $1 = path: the file, or exit 44 when it does not exist. */
const CAT_SCRIPT = `if [ -e "$1" ]; then exec cat -- "$1"; else exit 44; fi`;

function isAbort(e: unknown, signal?: AbortSignal): boolean {
  return !!signal?.aborted || (e as { kind?: string })?.kind === 'cancelled' || (e as { name?: string })?.name === 'AbortError';
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Run every check against one host. Never throws, except when `signal` aborts it. */
export async function runPreflight(conn: HostConnection, input: PreflightInput = {}, opts: PreflightOptions = {}): Promise<PreflightReport> {
  const t0 = performance.now();
  const at = new Date().toISOString();
  const host = withDefaults(conn.host);
  let config = input.config;
  let configSource = input.configSource ?? (config !== undefined ? 'the config to deploy' : undefined);
  const checks: PreflightCheck[] = [];
  const finish = (list: PreflightCheck[], extra: Partial<PreflightReport> = {}): PreflightReport => {
    const status = worst(list.map((c) => c.status));
    return { host: conn.host.name, ok: status !== 'fail', status, checks: list, ms: Math.round(performance.now() - t0), at, configSource, ...extra };
  };
  if (config === undefined) {
    try {
      const r = await conn.exec(['sh', '-c', CAT_SCRIPT, 'containerd-taskserv', host.configPath], { sudo: true, signal: opts.signal, timeoutMs: 30_000 });
      if (r.code === 44) {
        config = '';
        configSource = `no ${host.configPath} on the host (containerd's defaults)`;
      } else if (r.code === 0) {
        config = r.stdout;
        configSource = `the host's ${host.configPath}`;
      } else throw new Error(r.stderr.trim() || `exit ${r.code}`);
    } catch (e) {
      if (isAbort(e, opts.signal)) throw e;
      return finish([{ id: 'config', title: 'config', status: 'warn', message: `cannot read ${host.configPath} on the host: ${errText(e)}`, fix: 'check the connection and sudo, then run the preflight again' }]);
    }
  }
  const facts = configFacts(config);
  let hostFacts: HostFacts & { complete?: boolean };
  try {
    hostFacts = await probeHost(conn, { ...probeRequest(facts, host.service, input), containerd: opts.containerdBinary }, { signal: opts.signal, timeoutMs: opts.timeoutMs });
  } catch (e) {
    if (isAbort(e, opts.signal)) throw e;
    checks.push(checkConfigSyntax(facts, configSource ?? 'the config'));
    checks.push({ id: 'containerd', title: 'host checks', status: 'warn', message: `could not run the host checks: ${errText(e)}`, fix: 'check the connection (and sudo) and run the preflight again' });
    return finish(checks, { configVersion: facts.version });
  }
  const list = evaluate(facts, hostFacts, input, { ...opts, currentSocket: host.socket, configSource });
  if (hostFacts.notes.length) {
    // facts that could not be gathered show as warnings on the checks that lack them; say why once
    const c = list.find((x) => x.id === 'containerd');
    if (c) c.detail = [c.detail, ...hostFacts.notes].filter(Boolean).join('\n');
    if (hostFacts.complete === false) {
      list.push({ id: 'containerd', title: 'host checks', status: 'warn', message: `the host checks did not finish: ${hostFacts.notes[hostFacts.notes.length - 1]}`, fix: 'run the preflight again' });
    }
  }
  return finish(list, {
    containerdVersion: hostFacts.containerd.rc === 0 ? parseContainerdVersion(hostFacts.containerd.output) : undefined,
    configVersion: facts.version,
  });
}

/** One line per check: `✔ containerd: containerd 1.6.20 installed` (+ `  → fix` for warn/fail). */
export function formatChecks(checks: PreflightCheck[], o: { fixes?: boolean; only?: PreflightStatus[] } = {}): string[] {
  const lines: string[] = [];
  for (const c of checks) {
    if (o.only && !o.only.includes(c.status)) continue;
    lines.push(`${STATUS_ICON[c.status]} ${c.title}: ${c.message}`);
    if (o.fixes !== false && c.fix && c.status !== 'pass') lines.push(`    → ${c.fix}`);
  }
  return lines;
}

export function summarize(r: PreflightReport): string {
  const n = (s: PreflightStatus) => r.checks.filter((c) => c.status === s).length;
  const parts = [`${n('pass')} passed`];
  if (n('warn')) parts.push(`${n('warn')} warning${n('warn') > 1 ? 's' : ''}`);
  if (n('fail')) parts.push(`${n('fail')} failed`);
  return parts.join(', ');
}

/** Text report for a terminal or an output channel. */
export function formatReport(r: PreflightReport): string {
  const head = `${STATUS_ICON[r.status]} ${r.host}: preflight ${r.status === 'fail' ? 'FAILED' : r.status === 'warn' ? 'passed with warnings' : 'passed'} (${summarize(r)})` +
    `${r.containerdVersion ? `, containerd ${r.containerdVersion}` : ''}${r.configSource ? `, checked ${r.configSource}` : ''}`;
  return [head, ...formatChecks(r.checks).map((l) => `  ${l}`)].join('\n');
}

/** Markdown report (the editor's preview). */
export function formatMarkdown(reports: PreflightReport[]): string {
  const out: string[] = ['# containerd preflight checks', ''];
  for (const r of reports) {
    out.push(`## ${STATUS_ICON[r.status]} ${r.host} — ${r.status === 'fail' ? 'failed' : r.status === 'warn' ? 'passed with warnings' : 'passed'}`, '');
    out.push(`${summarize(r)}${r.containerdVersion ? ` · containerd ${r.containerdVersion}` : ''}${r.configSource ? ` · checked ${r.configSource}` : ''} · ${r.at} (${r.ms} ms)`, '');
    out.push('| | check | result | what to do |', '|---|---|---|---|');
    const cell = (s: string | undefined) => (s ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');
    for (const c of r.checks) out.push(`| ${STATUS_ICON[c.status]} | ${cell(c.title)} | ${cell(c.message)} | ${c.status === 'pass' ? '' : cell(c.fix)} |`);
    const details = r.checks.filter((c) => c.detail && c.status !== 'pass');
    for (const c of details) out.push('', `**${c.title}**`, '', '```', c.detail!, '```');
    out.push('');
  }
  return out.join('\n');
}
