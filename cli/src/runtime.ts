/**
 * `ps`, `pods`, `images`, `logs`: what runs on a host, over the same runtime core as the editor's
 * explorer (connectRuntime: gRPC through the SSH connection, or ctr/crictl) and the log core.
 *   ps     --host H [--namespace N] [--sandboxes] [--json]   containers of every (or one) namespace
 *   pods   --host H [--json]                                 CRI pod sandboxes (namespace k8s.io)
 *   images --host H [--namespace N] [--json]                 images of every (or one) namespace
 *   logs CONTAINER --host H [--namespace N] [--tail N] [--since D] [--follow] [--stream S] [--timestamps] [--json]
 * Tables for people by default, JSON with --json (`logs --json`: one JSON object per line).
 * Exit status: 0 ok, 1 failure (host unreachable, container unknown, no log file), 2 usage.
 */
import { createSshPool, type HostConfig, type HostConnection } from '../../client/src/core/ssh';
import { connectRuntime, checkNamespace, CRI_NAMESPACE, ID_PATTERN, type ContainerInfo, type RuntimeClient } from '../../client/src/core/runtime';
import { LogError, formatLogLine, parseSince, readContainerLogs, type LogLine, type StreamFilter } from '../../client/src/core/runtime/logs';
import { resolveTargets, terminalCredentials } from './deploy';

export type RuntimeCommand = 'ps' | 'pods' | 'images' | 'logs';
export const RUNTIME_COMMANDS: readonly RuntimeCommand[] = ['ps', 'pods', 'images', 'logs'];

export interface RuntimeArgs {
  cmd: RuntimeCommand;
  host: string;
  identity?: string;
  knownHosts?: string;
  acceptNewHostKeys: boolean;
  namespace?: string;
  json: boolean;
  /** ps: list the pods' sandbox (pause) containers too */
  sandboxes: boolean;
  /** logs */
  container?: string;
  tail?: number;
  since?: string;
  follow: boolean;
  stream: StreamFilter;
  timestamps: boolean;
}

export const RUNTIME_USAGE = `  ps --host NAME|user@host[:port] [--namespace N] [--sandboxes] [--json]
        containers of every containerd namespace (or of N): CRI ones and plain ones (ctr, nerdctl),
        running or not; --sandboxes adds the pods' sandbox containers.
  pods --host H [--json]
        CRI pod sandboxes (containerd namespace k8s.io), like crictl pods.
  images --host H [--namespace N] [--json]
        images of every namespace (or of N), like ctr images ls / crictl images.
  logs CONTAINER --host H [--namespace N] [--tail N] [--since 10m|RFC3339] [--follow]
        [--stream stdout|stderr] [--timestamps] [--json]
        a CRI container's log (CONTAINER: ID, unique ID prefix or name); its stdout goes to stdout and
        its stderr to stderr (--json: one {"time","stream","message"} object per line on stdout).
        --follow keeps printing new lines until Ctrl-C or the container exits. Containers started
        outside CRI have no log file (exit status 1).
        Common options of ps/pods/images/logs: [-i|--identity KEY] [--known-hosts FILE]
        [--accept-new-host-keys]. Exit status 1 when the host or the container cannot be reached.
`;

export function parseRuntimeArgs(cmd: RuntimeCommand, args: string[], fail: (msg: string) => never): RuntimeArgs {
  const a: RuntimeArgs = { cmd, host: '', acceptNewHostKeys: false, json: false, sandboxes: false, follow: false, stream: 'both', timestamps: false };
  const hosts: string[] = [];
  for (let i = 0; i < args.length; i++) {
    let x = args[i];
    let inline: string | undefined;
    const eq = x.startsWith('--') ? x.indexOf('=') : -1;
    if (eq > 0) {
      inline = x.slice(eq + 1);
      x = x.slice(0, eq);
    }
    const val = (): string => {
      if (inline !== undefined) return inline;
      const v = args[++i];
      if (v === undefined) fail(`${x} needs a value`);
      return v;
    };
    const logsOnly = () => {
      if (cmd !== 'logs') fail(`${x} is an option of logs, not of ${cmd}`);
    };
    if (x === '--host') hosts.push(val());
    else if (x === '--identity' || x === '-i') a.identity = val();
    else if (x === '--known-hosts') a.knownHosts = val();
    else if (x === '--accept-new-host-keys') a.acceptNewHostKeys = true;
    else if (x === '--json') a.json = true;
    else if (x === '--namespace' || x === '-n') {
      if (cmd === 'pods') fail('pods are always in namespace k8s.io (CRI); pods takes no --namespace');
      const ns = val();
      try {
        a.namespace = checkNamespace(ns);
      } catch {
        fail(`not a containerd namespace: ${JSON.stringify(ns)}`);
      }
    } else if (x === '--sandboxes') {
      if (cmd !== 'ps') fail('--sandboxes is an option of ps');
      a.sandboxes = true;
    } else if (x === '--tail') {
      logsOnly();
      const v = val();
      if (!/^-?\d+$/.test(v) || Number(v) < -1) fail('--tail takes a number of lines (-1: all)');
      a.tail = Number(v) === -1 ? undefined : Number(v);
    } else if (x === '--since') {
      logsOnly();
      a.since = val();
      try {
        parseSince(a.since);
      } catch (e) {
        fail(`--${(e as Error).message}`);
      }
    } else if (x === '--follow' || x === '-f') {
      logsOnly();
      a.follow = true;
    } else if (x === '--timestamps' || x === '-t') {
      logsOnly();
      a.timestamps = true;
    } else if (x === '--stream') {
      logsOnly();
      const s = val();
      if (s !== 'stdout' && s !== 'stderr' && s !== 'both') fail('--stream takes stdout, stderr or both');
      a.stream = s;
    } else if (x.startsWith('-')) fail(`unknown option ${x}`);
    else if (cmd === 'logs' && a.container === undefined) a.container = x;
    else fail(cmd === 'logs' ? 'logs takes one CONTAINER' : `${cmd} takes no arguments`);
  }
  if (hosts.length !== 1) fail(`${cmd} needs exactly one --host`);
  a.host = hosts[0];
  if (cmd === 'logs') {
    if (!a.container) fail('logs needs a CONTAINER (ID, ID prefix or name)');
    if (!ID_PATTERN.test(a.container)) fail(`not a container ID or name: ${JSON.stringify(a.container)}`);
  }
  return a;
}

// ---- output ---------------------------------------------------------------------------------------

/** Remote text in a table cell: no control characters (no terminal escapes from a host). */
const cell = (s: string): string => s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');

export function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows.map((r) => r.map(cell))];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('   ').trimEnd()).join('\n') + '\n';
}

export function ago(ms: number | undefined, now = Date.now()): string {
  if (!ms) return '';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

export function humanSize(n: number): string {
  if (!n) return '0B';
  const u = ['B', 'kB', 'MB', 'GB', 'TB'];
  const e = Math.min(u.length - 1, Math.floor(Math.log10(n) / 3));
  const v = n / 1000 ** e;
  return `${e === 0 ? v : v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)}${u[e]}`;
}

const shortId = (id: string | undefined): string => (id ? id.replace(/^sha256:/, '').slice(0, 13) : '');

// ---- the commands -----------------------------------------------------------------------------------

async function namespacesOf(rt: RuntimeClient, a: RuntimeArgs, signal: AbortSignal): Promise<string[]> {
  return a.namespace ? [a.namespace] : (await rt.namespaces(signal)).sort();
}

async function ps(rt: RuntimeClient, a: RuntimeArgs, signal: AbortSignal): Promise<void> {
  const list: ContainerInfo[] = [];
  for (const ns of await namespacesOf(rt, a, signal)) list.push(...(await rt.listContainers(ns, signal)).filter((c) => a.sandboxes || !c.sandbox));
  list.sort((x, y) => x.namespace.localeCompare(y.namespace) || y.createdAt - x.createdAt || x.id.localeCompare(y.id));
  if (a.json) return void process.stdout.write(JSON.stringify(list, null, 2) + '\n');
  const rows = list.map((c) => [
    c.namespace,
    shortId(c.id),
    c.name || c.id,
    c.image,
    c.state + (c.state === 'exited' && c.exitCode !== undefined ? ` (${c.exitCode})` : ''),
    ago(c.createdAt),
    c.sandbox ? '(sandbox)' : shortId(c.podId),
  ]);
  process.stdout.write(table(['NAMESPACE', 'CONTAINER', 'NAME', 'IMAGE', 'STATE', 'CREATED', 'POD'], rows));
}

async function pods(rt: RuntimeClient, a: RuntimeArgs, signal: AbortSignal): Promise<void> {
  const list = (await rt.listPods(signal)).sort((x, y) => y.createdAt - x.createdAt || x.id.localeCompare(y.id));
  if (a.json) return void process.stdout.write(JSON.stringify(list, null, 2) + '\n');
  const rows = list.map((p) => [shortId(p.id), ago(p.createdAt), p.state, p.name, p.podNamespace, String(p.attempt), p.runtimeHandler || '(default)']);
  process.stdout.write(table(['POD ID', 'CREATED', 'STATE', 'NAME', 'NAMESPACE', 'ATTEMPT', 'RUNTIME'], rows));
}

async function images(rt: RuntimeClient, a: RuntimeArgs, signal: AbortSignal): Promise<void> {
  const list = [];
  for (const ns of await namespacesOf(rt, a, signal)) list.push(...(await rt.listImages(ns, signal)));
  list.sort((x, y) => x.namespace.localeCompare(y.namespace) || (x.repoTags[0] ?? '~').localeCompare(y.repoTags[0] ?? '~') || x.id.localeCompare(y.id));
  if (a.json) return void process.stdout.write(JSON.stringify(list, null, 2) + '\n');
  const rows = list.map((i) => [i.namespace, i.repoTags.join(', ') || i.repoDigests[0] || '<none>', shortId(i.id), humanSize(i.size)]);
  process.stdout.write(table(['NAMESPACE', 'IMAGE', 'IMAGE ID', 'SIZE'], rows));
}

class Failure extends Error {}

/** CONTAINER as an exact ID, an exact name, or a unique ID prefix, in one or every namespace. */
export async function findContainer(rt: RuntimeClient, spec: string, namespace: string | undefined, signal: AbortSignal): Promise<ContainerInfo> {
  const nss = namespace ? [namespace] : (await rt.namespaces(signal)).sort((x, y) => (x === CRI_NAMESPACE ? -1 : y === CRI_NAMESPACE ? 1 : x.localeCompare(y)));
  const all: ContainerInfo[] = [];
  for (const ns of nss) all.push(...(await rt.listContainers(ns, signal)));
  const byId = all.filter((c) => c.id === spec);
  const byName = all.filter((c) => !c.sandbox && c.name === spec);
  const byPrefix = all.filter((c) => c.id.startsWith(spec));
  for (const set of [byId, byName, byPrefix]) {
    if (set.length === 1) return set[0];
    if (set.length > 1) {
      // a restarted CRI container keeps its name: the newest attempt wins, as kubectl logs does
      if (set === byName && set.every((c) => c.source === 'cri' && c.namespace === set[0].namespace && c.podId === set[0].podId))
        return [...set].sort((x, y) => y.createdAt - x.createdAt)[0];
      throw new Failure(`"${spec}" is ambiguous: ${set.map((c) => `${c.namespace}/${shortId(c.id)} (${c.name || c.id})`).join(', ')}; give more of the ID or --namespace`);
    }
  }
  throw new Failure(`no container "${spec}" on ${rt.conn.host.name}${namespace ? ` in namespace ${namespace}` : ''}`);
}

async function logs(rt: RuntimeClient, conn: HostConnection, a: RuntimeArgs, signal: AbortSignal): Promise<void> {
  const c = await findContainer(rt, a.container!, a.namespace, signal);
  const write = (ls: LogLine[]) => {
    for (const l of ls) {
      if (a.json) {
        const o: Record<string, unknown> = { time: l.time, stream: l.stream, message: l.message };
        if (l.incomplete) o.incomplete = true;
        if (l.truncated) o.truncated = true;
        process.stdout.write(JSON.stringify(o) + '\n');
      } else (l.stream === 'stderr' ? process.stderr : process.stdout).write(formatLogLine(l, { timestamps: a.timestamps }) + '\n');
    }
  };
  const r = await readContainerLogs(conn, c, {
    tail: a.tail,
    // history is held until printed: 10 000 lines unless --tail asks for more (up to a million)
    limit: Math.min(1_000_000, Math.max(10_000, a.tail ?? 0)),
    since: a.since,
    stream: a.stream,
    follow: a.follow,
    signal,
    onLines: (ls) => write(ls),
    until: async () => {
      const now = (await rt.listContainers(c.namespace, signal)).find((x) => x.id === c.id);
      return !now || now.state === 'exited';
    },
  });
  if (r.limited && a.tail === undefined && !a.json) process.stderr.write(`containerd-taskserv: only the last ${r.lines.length} lines are shown (--tail N for more)\n`);
  if (a.follow && c.state !== 'running' && c.state !== 'created' && c.state !== 'unknown' && !a.json)
    process.stderr.write(`containerd-taskserv: ${c.name || c.id} is ${c.state}${c.exitCode !== undefined ? ` (exit code ${c.exitCode})` : ''}: nothing to follow\n`);
  if (r.ended === 'closed') throw new Failure(`following the log ended: ${r.detail ?? 'connection closed'}`);
}

export async function runRuntimeCli(a: RuntimeArgs): Promise<number> {
  let host: HostConfig;
  try {
    [host] = resolveTargets({ file: '', hosts: [a.host], yes: true, acceptNewHostKeys: a.acceptNewHostKeys, identity: a.identity });
  } catch (e) {
    process.stderr.write(`containerd-taskserv: ${(e as Error).message}\n`);
    return 2;
  }
  const pool = createSshPool({ credentials: terminalCredentials(a.acceptNewHostKeys), knownHostsPath: a.knownHosts });
  const abort = new AbortController();
  let interrupted = false;
  const onSig = () => {
    interrupted = true;
    abort.abort();
  };
  process.once('SIGINT', onSig);
  process.once('SIGTERM', onSig);
  // `containerd-taskserv logs … | head`: a closed pipe ends the command quietly
  const onPipe = (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') onSig();
  };
  process.stdout.on('error', onPipe);
  let rt: RuntimeClient | undefined;
  try {
    const conn = await pool.get(host, abort.signal);
    rt = await connectRuntime(conn, { signal: abort.signal });
    if (a.cmd === 'ps') await ps(rt, a, abort.signal);
    else if (a.cmd === 'pods') await pods(rt, a, abort.signal);
    else if (a.cmd === 'images') await images(rt, a, abort.signal);
    else await logs(rt, conn, a, abort.signal);
    return 0;
  } catch (e) {
    if (interrupted) return 0;
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`containerd-taskserv: ${host.name}: ${e instanceof LogError || e instanceof Failure ? '' : `${a.cmd}: `}${msg}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSig);
    process.off('SIGTERM', onSig);
    process.stdout.off('error', onPipe);
    rt?.close();
    pool.closeAll();
  }
}
