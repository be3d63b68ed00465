/**
 * Building remote command lines from argument vectors. The remote side runs the line through the
 * login user's shell, so every argument is wrapped in POSIX single quotes (inside which nothing is
 * special) and embedded single quotes become `'\''`. Nothing is ever pasted in as text.
 */
import type { Argv, SudoMode } from './types';

/** Quote one argument for a POSIX shell: always single-quoted, `'` → `'\''`. */
export function shellQuote(arg: string): string {
  if (typeof arg !== 'string') throw new TypeError(`argument is not a string: ${String(arg)}`);
  if (arg.includes('\0')) throw new Error('an argument cannot contain a NUL byte');
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** The whole command line: each argument quoted, joined by single spaces. */
export function commandLine(argv: Argv): string {
  if (!argv.length) throw new Error('empty command');
  return argv.map(shellQuote).join(' ');
}

/**
 * The argv prefixed for sudo according to the host's mode:
 *  - `none` (or a root login): unchanged;
 *  - `nopasswd`: `sudo -n -- …` (fails instead of prompting);
 *  - `password`: `sudo -S -p <prompt> -- …`, the password is written on stdin (prompt '' by default;
 *    the pool passes a marker so that it knows when sudo actually asks).
 */
export function sudoArgv(argv: Argv, mode: SudoMode, opts: { prompt?: string } = {}): string[] {
  switch (mode) {
    case 'none':
      return [...argv];
    case 'nopasswd':
      return ['sudo', '-n', '--', ...argv];
    case 'password':
      return ['sudo', '-S', '-p', opts.prompt ?? '', '--', ...argv];
    default:
      throw new Error(`unknown sudo mode: ${String(mode)}`);
  }
}
