/**
 * `preflight [FILE] (--host H ... | --group G --inventory hosts.json) [--json]`: the deploy's
 * preflight checks on their own, against what FILE would deploy (a taskserv .k is rendered; a
 * config.toml goes as is) or, without FILE, against each host's current config.
 * Exit 1 when any check failed (or a host could not be reached), 2 on a usage or I/O problem.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { DiagnosticSeverity } from 'vscode-languageserver-types';
import { LanguageService } from '../../server/src/languageService';
import { createSshPool, type HostConfig } from '../../client/src/core/ssh';
import { formatReport, runPreflight, type PreflightInput, type PreflightReport } from '../../client/src/core/preflight';
import { hostOption, resolveTargets, terminalCredentials, type DeployArgs } from './deploy';

export interface PreflightArgs extends Omit<DeployArgs, 'file' | 'yes'> {
  /** What would be deployed; '' = each host's current config. */
  file: string;
  json: boolean;
}

/** The preflight input for FILE: a rendered taskserv (config.toml, crictl.yaml, its version) or a config.toml. */
export function preflightInputFor(file: string): { input: PreflightInput; notes: string[] } {
  const text = fs.readFileSync(file, 'utf8');
  const service = new LanguageService();
  const notes: string[] = [];
  if (/\.k$/i.test(file)) {
    const sd = service.prepare(TextDocument.create('file://' + path.resolve(file), 'KCL', 1, text));
    const errors = service.validate(sd).filter((d) => d.severity === DiagnosticSeverity.Error);
    if (errors.length) notes.push(`${file} has ${errors.length} error(s) (\`containerd-taskserv lint ${file}\`); a deploy would refuse it`);
    const r = service.render(sd);
    if (!r) throw new Error(`${file}: no Containerd taskserv value`);
    const config = r.files.find((f) => f.kind === 'config.toml');
    const crictl = r.files.find((f) => f.kind === 'crictl.yaml');
    return { input: { config: config?.content, configSource: `${file} (rendered)`, crictl: crictl?.content, taskservRelease: r.release || undefined }, notes };
  }
  const sd = service.prepare(TextDocument.create('file://' + path.resolve(file), 'containerd-toml', 1, text));
  const errors = service.validate(sd).filter((d) => d.severity === DiagnosticSeverity.Error);
  if (errors.length) notes.push(`${file} has ${errors.length} error(s) (\`containerd-taskserv lint ${file}\`); a deploy would refuse it`);
  return { input: { config: text, configSource: file }, notes };
}

function unreachable(host: HostConfig, e: unknown): PreflightReport {
  const msg = e instanceof Error ? e.message : String(e);
  return {
    host: host.name,
    ok: false,
    status: 'fail',
    checks: [{ id: 'containerd', title: 'connect', status: 'fail', message: `cannot connect: ${msg}`, fix: 'check the address, the user, the key and known_hosts' }],
    ms: 0,
    at: new Date().toISOString(),
  };
}

export async function runPreflightCli(args: PreflightArgs): Promise<number> {
  const { input, notes } = args.file ? preflightInputFor(args.file) : { input: {} as PreflightInput, notes: [] };
  for (const n of notes) process.stderr.write(`containerd-taskserv: note: ${n}\n`);
  const hosts = resolveTargets({ ...args, yes: true });
  const pool = createSshPool({ credentials: terminalCredentials(args.acceptNewHostKeys), knownHostsPath: args.knownHosts });
  const abort = new AbortController();
  const onSig = () => abort.abort();
  process.once('SIGINT', onSig);
  try {
    const reports: PreflightReport[] = new Array(hosts.length);
    let next = 0;
    const worker = async () => {
      for (;;) {
        const i = next++;
        if (i >= hosts.length) return;
        const h = hosts[i];
        try {
          const conn = await pool.get(h, abort.signal);
          reports[i] = await runPreflight(conn, input, { signal: abort.signal });
        } catch (e) {
          if (abort.signal.aborted) throw e;
          reports[i] = unreachable(h, e);
        }
        if (!args.json) process.stdout.write(`${formatReport(reports[i])}\n`);
      }
    };
    await Promise.all(Array.from({ length: Math.min(Math.max(1, args.concurrency ?? 4), hosts.length) }, worker));
    if (args.json) process.stdout.write(JSON.stringify(reports, null, 2) + '\n');
    return reports.every((r) => r.ok) ? 0 : 1;
  } finally {
    process.off('SIGINT', onSig);
    pool.closeAll();
  }
}

export const PREFLIGHT_USAGE = `  preflight [FILE] (--host NAME|user@host[:port] ... | --group G --inventory hosts.json) [--json]
        [-i|--identity KEY] [--accept-new-host-keys] [--known-hosts FILE] [--concurrency N]
        check that each host offers what FILE (a taskserv .k, rendered, or a config.toml) needs — or,
        without FILE, what its current config needs: containerd installed and new enough for the
        config version, runtime binaries, cgroup driver (host, kubelet), a free socket path, disk
        space for root/state, kernel support for the snapshotter, crictl.yaml endpoints.
        Prints ✔/⚠/✖ per check (--json: the reports). Exit status 1 when any check failed.
`;

export function parsePreflightArgs(args: string[], fail: (msg: string) => never): PreflightArgs {
  const a: PreflightArgs = { file: '', hosts: [], acceptNewHostKeys: false, json: false };
  for (let i = 0; i < args.length; i++) {
    const x = args[i];
    const val = (): string => {
      const v = args[++i];
      if (v === undefined) fail(`${x} needs a value`);
      return v;
    };
    if (hostOption(a, x, val)) continue;
    if (x === '--json') a.json = true;
    else if (x.startsWith('-')) fail(`unknown option ${x}`);
    else if (!a.file) a.file = x;
    else fail('preflight takes at most one FILE');
  }
  if (!a.hosts.length && !a.group) fail('preflight needs --host or --group');
  return a;
}
