/**
 * A shell in a container as a VS Code terminal: a Pseudoterminal over a pty channel of the host's
 * pooled SSH connection (`conn.spawn(argv, { pty })`), with the argv the runtime core gives for an
 * interactive shell (`RuntimeClient.shellArgv`). Keystrokes go to the channel's stdin, output comes
 * back as UTF-8 (decoded across chunk boundaries), window size changes are forwarded. What is typed
 * while the channel opens is kept and sent once it is up.
 */
import { StringDecoder } from 'node:string_decoder';
import * as vscode from 'vscode';
import type { HostConnection, RemoteProcess } from '../core/ssh/types';

export interface ShellTarget {
  conn: HostConnection;
  argv: string[];
  sudo: boolean;
  /** terminal title, e.g. "web @ node1" */
  title: string;
}

const EARLY_INPUT_MAX = 64 * 1024;

export class ExecPseudoterminal implements vscode.Pseudoterminal {
  private readonly writeEmitter = new vscode.EventEmitter<string>();
  readonly onDidWrite = this.writeEmitter.event;
  private readonly closeEmitter = new vscode.EventEmitter<number | void>();
  readonly onDidClose = this.closeEmitter.event;
  private proc: RemoteProcess | undefined;
  private closed = false;
  private failed = false;
  private pending: { rows: number; cols: number } | undefined;
  /** keystrokes typed while the channel opens (sent once it is up; capped) */
  private early = '';

  constructor(private readonly target: ShellTarget) {}

  open(dims: vscode.TerminalDimensions | undefined): void {
    const rows = dims?.rows ?? 24;
    const cols = dims?.columns ?? 80;
    void this.start(rows, cols);
  }

  private async start(rows: number, cols: number): Promise<void> {
    try {
      const proc = await this.target.conn.spawn(this.target.argv, { pty: { rows, cols, term: 'xterm-256color' }, sudo: this.target.sudo });
      if (this.closed) {
        proc.kill();
        return;
      }
      this.proc = proc;
      if (this.pending) proc.resize(this.pending.rows, this.pending.cols);
      if (this.early) proc.stdin.write(this.early);
      this.early = '';
      const out = new StringDecoder('utf8');
      const err = new StringDecoder('utf8');
      proc.stdout.on('data', (b: Buffer | string) => this.writeEmitter.fire(typeof b === 'string' ? b : out.write(b)));
      proc.stderr.on('data', (b: Buffer | string) => this.writeEmitter.fire(typeof b === 'string' ? b : err.write(b)));
      const { code, signal } = await proc.exited;
      if (this.closed) return;
      this.writeEmitter.fire(`\r\n${vscode.l10n.t('[shell exited: {0}]', code ?? signal ?? '?')}\r\n`);
      this.closed = true;
      this.closeEmitter.fire(code ?? undefined);
    } catch (e) {
      if (this.closed) return;
      this.failed = true;
      this.writeEmitter.fire(`\r\n\x1b[31m${vscode.l10n.t('Cannot open a shell: {0}', e instanceof Error ? e.message : String(e)).replace(/\n/g, '\r\n')}\x1b[0m\r\n${vscode.l10n.t('Press any key to close.')}\r\n`);
      // keep the terminal open so the message can be read; any key closes it
    }
  }

  /** Keystrokes go to the shell; before the channel is up they wait (up to 64 KB); after a failure a key closes the terminal. */
  handleInput(data: string): void {
    if (this.proc) this.proc.stdin.write(data);
    else if (this.failed) {
      if (this.closed) return;
      this.closed = true;
      this.closeEmitter.fire(1);
    } else if (!this.closed && this.early.length + data.length <= EARLY_INPUT_MAX) this.early += data;
  }

  setDimensions(dims: vscode.TerminalDimensions): void {
    if (this.proc) this.proc.resize(dims.rows, dims.columns);
    else this.pending = { rows: dims.rows, cols: dims.columns };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.proc?.kill();
  }
}

export function openShellTerminal(target: ShellTarget): vscode.Terminal {
  const pty = new ExecPseudoterminal(target);
  const terminal = vscode.window.createTerminal({ name: target.title, pty, iconPath: new vscode.ThemeIcon('vm-connect') });
  terminal.show();
  return terminal;
}
