/**
 * connectRuntime: pick how to reach containerd on a host and hand back a RuntimeClient.
 * Order (unless ConnectOptions.access forces one): gRPC over an SSH streamlocal forward of the
 * socket → gRPC over a `sudo socat` (or python3 / nc -U) exec bridge → `ctr`/`crictl` CLI. Each
 * gRPC path is proven with a containerd Version call through it before it is taken; why the better
 * paths failed goes into RuntimeInfo.accessNote.
 */
import type { HostConnection } from '../ssh/types';
import { effectiveSudoMode } from '../ssh/pool';
import { CliRuntimeClient } from './cliClient';
import { CtrRunner, bridgeArgv } from './ctr';
import { GrpcRuntimeClient } from './grpcClient';
import { SocketProxy, bridgeConnector, streamlocalConnector } from './proxy';
import type { ConnectOptions, RuntimeAccess, RuntimeClient } from './types';
import { RuntimeError, checkSocketPath } from './validate';

export const DEFAULT_SOCKET = '/run/containerd/containerd.sock';

const ORDER: RuntimeAccess[] = ['grpc-streamlocal', 'grpc-bridge', 'cli'];

export async function connectRuntime(conn: HostConnection, opts: ConnectOptions = {}): Promise<RuntimeClient> {
  const socket = checkSocketPath(opts.socket ?? conn.host.socket ?? DEFAULT_SOCKET);
  if (opts.access && !ORDER.includes(opts.access)) throw new RuntimeError(`unknown access ${JSON.stringify(opts.access)}`, 'invalid');
  const log = opts.log ?? (() => undefined);
  const label = conn.host.name;
  const signal = opts.signal;
  const user = conn.host.user ?? 'the SSH user';
  const order = opts.access ? [opts.access] : ORDER;
  const notes: string[] = [];
  const ctr = new CtrRunner(conn, socket);
  let tools: Set<string> | undefined;
  const getTools = async () => (tools ??= await ctr.tools(signal));
  const cancelled = () => new RuntimeError(`connecting to containerd on ${label}: cancelled`, 'cancelled');

  let proxy: SocketProxy | undefined;
  const tryGrpc = async (access: 'grpc-streamlocal' | 'grpc-bridge', connector: Parameters<typeof SocketProxy.start>[0]): Promise<GrpcRuntimeClient | string> => {
    proxy ??= await SocketProxy.start(connector, log, label);
    proxy.setConnector(connector);
    const client = new GrpcRuntimeClient(conn, proxy, { access, socket, log });
    try {
      await client.probe(signal);
      return client;
    } catch (e) {
      client.rpc.close(); // keep the proxy for the next attempt
      if ((e as RuntimeError).kind === 'cancelled' || signal?.aborted) throw cancelled();
      return proxy.lastError ?? (e as Error).message;
    }
  };

  try {
    for (const access of order) {
      if (signal?.aborted) throw cancelled();
      if (access === 'grpc-streamlocal') {
        if (!conn.openUnixSocket) {
          notes.push('this SSH connection cannot forward unix sockets');
          continue;
        }
        const r = await tryGrpc(access, streamlocalConnector(conn, socket));
        if (typeof r !== 'string') {
          if (opts.access) r.accessNote = 'access forced to grpc-streamlocal';
          log('info', `runtime ${label}: gRPC over SSH streamlocal to ${socket}`);
          return r;
        }
        notes.push(`${user} cannot open ${socket} over SSH (${r})`);
      } else if (access === 'grpc-bridge') {
        const argv = bridgeArgv(await getTools(), socket);
        if (!argv) {
          notes.push(`no socat, python3 or nc on ${label} for a sudo bridge`);
          continue;
        }
        const r = await tryGrpc(access, bridgeConnector(conn, argv));
        if (typeof r !== 'string') {
          const how = `${effectiveSudoMode(conn.host) === 'none' ? '' : 'sudo '}${argv[0]}`;
          r.accessNote = [...notes, `gRPC through ${how} over an SSH exec channel`].join('; ');
          if (opts.access) r.accessNote = `access forced to grpc-bridge (${how})`;
          log('info', `runtime ${label}: gRPC over ${how} bridge to ${socket}`);
          return r;
        }
        notes.push(`${argv[0]} bridge under sudo failed (${r})`);
      } else {
        proxy?.close();
        proxy = undefined;
        const t = await getTools();
        if (!t.has('ctr') && !t.has('crictl')) {
          notes.push(`neither ctr nor crictl on ${label}`);
          continue;
        }
        const note = opts.access
          ? 'access forced to cli'
          : `${notes.join('; ')}; using ${t.has('crictl') ? 'ctr and crictl' : 'ctr'} over SSH (fewer details)`;
        const client = new CliRuntimeClient(conn, socket, t, note, log);
        try {
          await client.probe(signal);
        } catch (e) {
          if (signal?.aborted) throw cancelled();
          notes.push(`ctr cannot reach containerd either (${(e as Error).message})`);
          continue;
        }
        log('info', `runtime ${label}: ${note}`);
        return client;
      }
    }
  } catch (e) {
    proxy?.close();
    throw e;
  }
  proxy?.close();
  throw new RuntimeError(`cannot reach containerd on ${label}: ${notes.join('; ')}`, 'unavailable');
}
