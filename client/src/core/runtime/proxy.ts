/**
 * The local end of the gRPC tunnel. grpc-js can only dial addresses, not hand-made streams, so
 * each RuntimeClient listens on a unix socket of its own inside a private directory
 * (mkdtemp, mode 0700: other local users must not reach a root containerd through it) and pipes
 * every accepted connection to a fresh remote stream from its `Connector`:
 *  - streamlocal: `conn.openUnixSocket(socket)` (an SSH direct-streamlocal channel);
 *  - bridge: `conn.spawn(['socat', '-', 'UNIX-CONNECT:<socket>'], { sudo: true })` (an exec channel).
 * grpc-js normally keeps one connection per channel, so there is one remote stream per client;
 * after a drop grpc-js dials again and gets a new one. close() ends everything and removes the dir.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { HostConnection, RemoteProcess } from '../ssh/types';
import { RuntimeError } from './validate';

/** One remote byte stream: where grpc-js's bytes go and come from. */
export interface RemoteStream {
  readable: NodeJS.ReadableStream;
  writable: NodeJS.WritableStream;
  /** Resolves when the remote end is gone (with a reason when known). */
  closed: Promise<string | undefined>;
  destroy(): void;
}

export type Connector = (signal?: AbortSignal) => Promise<RemoteStream>;

type Log = (level: 'debug' | 'info' | 'warn', message: string) => void;

/** `conn.openUnixSocket(socket)` as a RemoteStream. */
export function streamlocalConnector(conn: HostConnection, socket: string): Connector {
  if (!conn.openUnixSocket) throw new RuntimeError('this SSH connection cannot forward unix sockets', 'unsupported');
  return async () => {
    const s = (await conn.openUnixSocket!(socket)) as NodeJS.ReadWriteStream & { destroy?: () => void; close?: () => void };
    const closed = new Promise<string | undefined>((resolve) => {
      s.once('close', () => resolve(undefined));
      s.once('error', (e: Error) => resolve(e.message));
    });
    return {
      readable: s,
      writable: s,
      closed,
      destroy: () => {
        try {
          if (s.destroy) s.destroy();
          else s.close?.();
        } catch {
          /* already gone */
        }
      },
    };
  };
}

/** A process whose stdin/stdout carry the socket's bytes (socat / nc -U / python3). */
export function bridgeConnector(conn: HostConnection, argv: readonly string[]): Connector {
  return async (signal) => {
    const p: RemoteProcess = await conn.spawn(argv, { sudo: true, signal, startTimeoutMs: 15_000 });
    let stderr = '';
    p.stderr.on('data', (b: Buffer | string) => {
      if (stderr.length < 4096) stderr += b.toString();
    });
    p.stdout.on('error', () => undefined);
    p.stdin.on('error', () => undefined);
    const closed = p.exited.then(({ code, signal: sig }) => {
      const why = stderr.trim().split('\n').slice(-3).join(' ').trim();
      return why || (code ? `${argv[0]} exited with ${code}` : sig ? `${argv[0]} killed by ${sig}` : undefined);
    });
    return { readable: p.stdout, writable: p.stdin, closed, destroy: () => p.kill() };
  };
}

const live = new Set<SocketProxy>();
let exitHook = false;
function installExitHook(): void {
  if (exitHook) return;
  exitHook = true;
  process.once('exit', () => {
    for (const p of live) p.removeDirSync();
  });
}

export class SocketProxy {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly remotes = new Set<RemoteStream>();
  private closedFlag = false;
  /** Why the last remote stream ended or could not be opened (for error messages). */
  lastError: string | undefined;
  /** Remote streams opened so far (a reconnect opens another). */
  opened = 0;

  private constructor(
    readonly dir: string | undefined,
    readonly address: string,
    private connector: Connector,
    private readonly log: Log,
    private readonly label: string,
  ) {
    this.server = net.createServer({ pauseOnConnect: true }, (sock) => this.onConnection(sock));
    this.server.on('error', (e) => this.log('warn', `runtime proxy ${label}: ${e.message}`));
  }

  /** Listen on a fresh private socket; `target` is what grpc-js dials (`unix:/…/grpc.sock`). */
  static async start(connector: Connector, log: Log, label: string): Promise<SocketProxy> {
    let dir: string | undefined;
    let address: string;
    if (process.platform === 'win32') {
      // Named pipe: no directory to protect; the name is unguessable.
      address = `\\\\?\\pipe\\containerd-taskserv-${process.pid}-${randomBytes(12).toString('hex')}`;
    } else {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cts-rt-'));
      fs.chmodSync(dir, 0o700);
      address = path.join(dir, 'grpc.sock');
    }
    const p = new SocketProxy(dir, address, connector, log, label);
    installExitHook();
    live.add(p);
    try {
      await new Promise<void>((resolve, reject) => {
        p.server.once('error', reject);
        p.server.listen(address, () => {
          p.server.off('error', reject);
          resolve();
        });
      });
      if (dir) fs.chmodSync(address, 0o600);
    } catch (e) {
      p.close();
      throw new RuntimeError(`cannot listen on a local socket for the gRPC tunnel: ${(e as Error).message}`, 'failed');
    }
    return p;
  }

  get target(): string {
    return `unix:${this.address}`;
  }

  /** Replace how remote streams are opened (used once the probe picked an access path). */
  setConnector(c: Connector): void {
    this.connector = c;
    this.lastError = undefined;
    for (const s of this.sockets) s.destroy(); // drops their remote streams too
  }

  private onConnection(sock: net.Socket): void {
    if (this.closedFlag) {
      sock.destroy();
      return;
    }
    this.sockets.add(sock);
    sock.on('error', () => undefined);
    const ac = new AbortController();
    let remote: RemoteStream | undefined;
    const done = () => {
      this.sockets.delete(sock);
      ac.abort();
      sock.destroy();
      if (remote) {
        this.remotes.delete(remote);
        remote.destroy();
      }
    };
    sock.once('close', done);
    const timer = setTimeout(() => ac.abort(), 20_000);
    this.connector(ac.signal).then(
      (r) => {
        clearTimeout(timer);
        if (sock.destroyed || this.closedFlag) {
          r.destroy();
          return;
        }
        remote = r;
        this.opened++;
        this.lastError = undefined;
        this.remotes.add(r);
        r.closed.then((why) => {
          if (why) this.lastError = why;
          this.log('debug', `runtime proxy ${this.label}: remote stream closed${why ? `: ${why}` : ''}`);
          done();
        });
        (r.readable as NodeJS.ReadableStream).on('error', () => done());
        (r.writable as NodeJS.WritableStream).on('error', () => done());
        r.readable.pipe(sock);
        sock.pipe(r.writable as NodeJS.WritableStream);
        sock.resume();
      },
      (e: Error) => {
        clearTimeout(timer);
        this.lastError = ac.signal.aborted && !sock.destroyed ? 'opening the remote socket timed out' : e.message;
        this.log('debug', `runtime proxy ${this.label}: cannot open the remote end: ${this.lastError}`);
        done();
      },
    );
  }

  /** Close the listener, every local connection and every remote stream (bridges get killed). */
  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    live.delete(this);
    this.server.close();
    for (const s of this.sockets) s.destroy();
    for (const r of this.remotes) r.destroy();
    this.sockets.clear();
    this.remotes.clear();
    this.removeDirSync();
  }

  removeDirSync(): void {
    if (!this.dir) return;
    try {
      fs.rmSync(this.dir, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
  }
}
