/**
 * `deploy FILE --host NAME|user@host[:port] [--group G --inventory hosts.json] [--yes]`:
 * the same deploy core as the editor, with terminal prompts for host keys and secrets.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { DiagnosticSeverity } from 'vscode-languageserver-types';
import { LanguageService } from '../../server/src/languageService';
import { createSshPool, resolveHost, type Credentials, type HostConfig } from '../../client/src/core/ssh';
import { mergeInventory, parseHostSpec, type SettingsHost } from '../../client/src/core/hosts/inventory';
import { deployGroup } from '../../client/src/core/deploy/group';
import type { DeployPlan } from '../../client/src/core/deploy/pipeline';
import { formatChecks } from '../../client/src/core/preflight';

export interface DeployArgs {
  file: string;
  hosts: string[];
  group?: string;
  inventory?: string;
  yes: boolean;
  acceptNewHostKeys: boolean;
  knownHosts?: string;
  concurrency?: number;
  /** Private key for every target (else ~/.ssh/config's IdentityFile, ssh-agent, ~/.ssh/id_*). */
  identity?: string;
  /** --force-preflight: 'override' (run, report, go on); --skip-preflight: 'skip'; default 'run' (a failure stops the host). */
  preflight?: 'run' | 'override' | 'skip';
}

/** The host-selection and SSH options of deploy, preflight, install and upgrade. */
export type HostArgs = Pick<DeployArgs, 'hosts' | 'group' | 'inventory' | 'knownHosts' | 'identity' | 'concurrency' | 'acceptNewHostKeys'>;

/** Takes `x` when it is one of the shared host options (reading its value with `val`); false otherwise. */
export function hostOption(a: HostArgs, x: string, val: () => string): boolean {
  switch (x) {
    case '--host':
      a.hosts.push(val());
      return true;
    case '--group':
      a.group = val();
      return true;
    case '--inventory':
      a.inventory = val();
      return true;
    case '--known-hosts':
      a.knownHosts = val();
      return true;
    case '-i':
    case '--identity':
      a.identity = val();
      return true;
    case '--concurrency':
      a.concurrency = Number(val());
      return true;
    case '--accept-new-host-keys':
      a.acceptNewHostKeys = true;
      return true;
    default:
      return false;
  }
}

export function ask(question: string, hidden = false): Promise<string | undefined> {
  if (!process.stdin.isTTY) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const rl = readline.createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    if (hidden) (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => { if (s.includes(question)) process.stderr.write(s); };
    rl.question(question, (a) => {
      rl.close();
      if (hidden) process.stderr.write('\n');
      resolve(a);
    });
  });
}

export function terminalCredentials(acceptNew: boolean): Credentials {
  return {
    async confirmHostKey(p) {
      process.stderr.write(`The authenticity of host '${p.port === 22 ? p.host : `[${p.host}]:${p.port}`}' can't be established.\n${p.keyType} key fingerprint is ${p.fingerprint}.\n`);
      if (acceptNew) return true;
      const a = await ask('Are you sure you want to continue connecting (yes/no)? ');
      return a?.trim().toLowerCase() === 'yes';
    },
    passphrase: (_h, key) => (process.env.CONTAINERD_TASKSERV_SSH_PASSPHRASE !== undefined ? Promise.resolve(process.env.CONTAINERD_TASKSERV_SSH_PASSPHRASE) : ask(`Enter passphrase for key '${key}': `, true)),
    password: (h) => (process.env.CONTAINERD_TASKSERV_SSH_PASSWORD !== undefined ? Promise.resolve(process.env.CONTAINERD_TASKSERV_SSH_PASSWORD) : ask(`${h.user ?? 'root'}@${h.host}'s password: `, true)),
    sudoPassword: (h) => (process.env.CONTAINERD_TASKSERV_SUDO_PASSWORD !== undefined ? Promise.resolve(process.env.CONTAINERD_TASKSERV_SUDO_PASSWORD) : ask(`[sudo] password for ${h.user ?? 'root'} on ${h.name}: `, true)),
    async forget() {},
  };
}

/** What to deploy: a taskserv renders to its files; a config.toml goes as is. */
export function planFor(file: string): DeployPlan {
  const text = fs.readFileSync(file, 'utf8');
  const service = new LanguageService();
  if (/\.k$/i.test(file)) {
    const sd = service.prepare(TextDocument.create('file://' + path.resolve(file), 'KCL', 1, text));
    const errors = service.validate(sd).filter((d) => d.severity === DiagnosticSeverity.Error);
    if (errors.length) throw new Error(`${file} has ${errors.length} error(s); run \`containerd-taskserv lint ${file}\``);
    const r = service.render(sd);
    if (!r) throw new Error(`${file}: no Containerd taskserv value`);
    return { files: r.files.map((f) => ({ path: f.path, content: f.content, kind: f.kind })), taskservRelease: r.release || undefined };
  }
  const sd = service.prepare(TextDocument.create('file://' + path.resolve(file), 'containerd-toml', 1, text));
  const errors = service.validate(sd).filter((d) => d.severity === DiagnosticSeverity.Error);
  if (errors.length) throw new Error(`${file} has ${errors.length} error(s); run \`containerd-taskserv lint ${file}\``);
  return { files: [{ path: '/etc/containerd/config.toml', content: text, kind: 'config.toml' }] };
}

export function resolveTargets(args: DeployArgs): HostConfig[] {
  const out: HostConfig[] = [];
  if (args.group) {
    if (!args.inventory) throw new Error('--group needs --inventory FILE (a JSON array like the containerd.hosts setting)');
    const list = JSON.parse(fs.readFileSync(args.inventory, 'utf8')) as SettingsHost[];
    const { hosts, problems } = mergeInventory(list, []);
    if (problems.length) throw new Error(problems.map((p) => p.message).join('; '));
    const members = hosts.filter((h) => h.group === args.group);
    if (!members.length) throw new Error(`no host in group "${args.group}" in ${args.inventory}`);
    out.push(...members);
  }
  for (const h of args.hosts) {
    if (/[@:]/.test(h)) {
      const spec = parseHostSpec(h);
      if (!spec) throw new Error(`not a host: "${h}" (expected NAME or user@host[:port])`);
      out.push(spec);
    } else out.push({ ...resolveHost(h), name: h });
  }
  if (!out.length) throw new Error('deploy needs --host or --group');
  return args.identity ? out.map((h) => ({ ...h, identityFile: path.resolve(args.identity!) })) : out;
}

export async function runDeploy(args: DeployArgs): Promise<number> {
  const plan = planFor(args.file);
  const hosts = resolveTargets(args);
  if (!args.yes && !process.stdin.isTTY) throw new Error('not a terminal: pass --yes to deploy without confirming the diff');
  if (args.preflight === 'skip') process.stderr.write('containerd-taskserv: WARNING: --skip-preflight: the preflight checks do not run; the host may lack what the config needs\n');
  if (args.preflight === 'override') process.stderr.write('containerd-taskserv: WARNING: --force-preflight: failed preflight checks are reported but do not stop the deploy\n');
  const pool = createSshPool({ credentials: terminalCredentials(args.acceptNewHostKeys), knownHostsPath: args.knownHosts });
  const abort = new AbortController();
  const onSig = () => abort.abort();
  process.once('SIGINT', onSig);
  try {
    const reports = await deployGroup(hosts, pool, plan, {
      preflight: args.preflight ?? 'run',
      onPreflightFailed:
        args.yes || !process.stdin.isTTY
          ? undefined
          : async (h, pf) => {
              process.stderr.write(`${h.name}: preflight failed:\n${formatChecks(pf.checks, { only: ['fail'] }).map((l) => `  ${l}`).join('\n')}\n`);
              return (await ask(`Deploy to ${h.name} anyway? (yes/no) `))?.trim().toLowerCase() === 'yes';
            },
      concurrency: args.concurrency,
      signal: abort.signal,
      onHostProgress: (h, stage, detail) => process.stderr.write(`${h.name}: ${stage}${detail ? ` (${detail})` : ''}\n`),
      confirm: args.yes
        ? undefined
        : async (h, diff) => {
            process.stderr.write(diff ? `--- ${h.name}\n${diff}\n` : `${h.name}: no changes\n`);
            return (await ask(`Deploy to ${h.name}? (yes/no) `))?.trim().toLowerCase() === 'yes';
          },
    });
    for (const r of reports) {
      if (r.preflight && r.preflight.status !== 'pass') {
        process.stdout.write(`${r.host}: preflight${r.preflightOverridden ? ' (failures overridden)' : ''}\n${formatChecks(r.preflight.checks, { only: ['fail', 'warn'] }).map((l) => `  ${l}`).join('\n')}\n`);
      }
      const status = r.ok ? (r.unchanged ? 'unchanged' : 'deployed') : r.skipped ? 'skipped' : 'FAILED';
      process.stdout.write(`${r.host}: ${status}${r.error ? ` — ${r.error}` : ''}${r.rolledBack ? ' (rolled back)' : ''}${r.rollbackError ? ` (rollback failed: ${r.rollbackError})` : ''}\n`);
    }
    return reports.every((r) => r.ok) ? 0 : 1;
  } finally {
    process.off('SIGINT', onSig);
    pool.closeAll();
  }
}
