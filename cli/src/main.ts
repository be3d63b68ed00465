/**
 * containerd-taskserv CLI: the same cores as the editor, outside it.
 *   lint [--format text|json] [--containerd-version X] FILE...
 *   lsp --stdio
 */
import { lint, formatText, type LintResult } from './lint';
import { render } from './render';
import { hostOption, runDeploy, type DeployArgs } from './deploy';
import { INSTALL_USAGE, parseInstallArgs, runInstall } from './install';
import { PREFLIGHT_USAGE, parsePreflightArgs, runPreflightCli } from './preflight';
import { RUNTIME_USAGE, parseRuntimeArgs, runRuntimeCli, type RuntimeCommand } from './runtime';
import * as path from 'node:path';
import { VERSION } from '../../server/src/version';

const USAGE = `usage: containerd-taskserv <command> [options]

commands:
  lint [--format text|json] [--containerd-version X] FILE...
        check containerd config.toml files and taskserv (.k) files; prints file:line:col: severity code message.
        Exit status: 1 when any file has an error, 2 on a usage or I/O problem, 0 otherwise.
  render FILE.k [--out DIR]
        render a Containerd taskserv into the files it installs: /etc/containerd/config.toml,
        /etc/crictl.yaml and the containerd.service drop-in. Without --out they are printed;
        with --out they are written below DIR (DIR/etc/containerd/config.toml, ...).
  deploy FILE (--host NAME|user@host[:port] ... | --group G --inventory hosts.json) [--yes]
        [-i|--identity KEY] [--accept-new-host-keys] [--known-hosts FILE] [--concurrency N]
        [--force-preflight | --skip-preflight]
        deploy a taskserv (.k, rendered) or a config.toml: preflight checks first (see preflight; a
        failed check stops that host before anything is uploaded — asked on a terminal without --yes;
        --force-preflight goes on despite failures, --skip-preflight does not run the checks), then
        validated by the host's own containerd, backed up, swapped atomically, containerd restarted
        and health-checked, rolled back on failure.
        Host keys are checked against known_hosts (unknown: asked; changed: refused).
        Exit status 1 when any host failed.
${PREFLIGHT_USAGE}${INSTALL_USAGE}${RUNTIME_USAGE}  lsp --stdio
        serve the Language Server Protocol on stdin/stdout (neovim, helix, emacs, ...)
  version
        print the version
`;

function fail(msg: string): never {
  process.stderr.write(`containerd-taskserv: ${msg}\n\n${USAGE}`);
  process.exit(2);
}

function main(argv: string[]): void {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'lint':
      return runLint(rest);
    case 'render':
      return runRender(rest);
    case 'deploy':
      return deployCmd(rest);
    case 'preflight':
      return preflightCmd(rest);
    case 'ps':
    case 'pods':
    case 'images':
    case 'logs':
      return runtimeCmd(cmd, rest);
    case 'install':
    case 'upgrade':
      return installCmd(cmd, rest);
    case 'lsp':
      if (!rest.includes('--stdio')) fail('lsp needs --stdio');
      // The server bundle starts itself on load and reads --stdio from argv.
      require(path.join(__dirname, 'server.js'));
      return;
    case 'version':
    case '--version':
      process.stdout.write(`containerd-taskserv ${VERSION}\n`);
      return;
    case 'help':
    case '--help':
    case '-h':
    case undefined:
      process.stdout.write(USAGE);
      return;
    default:
      fail(`unknown command "${cmd}"`);
  }
}

function runLint(args: string[]): void {
  let format: 'text' | 'json' = 'text';
  let release: string | undefined;
  const files: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--format') {
      const f = args[++i];
      if (f !== 'text' && f !== 'json') fail('--format takes text or json');
      format = f;
    } else if (a.startsWith('--format=')) {
      const f = a.slice(9);
      if (f !== 'text' && f !== 'json') fail('--format takes text or json');
      format = f;
    } else if (a === '--containerd-version') {
      release = args[++i];
      if (!release) fail('--containerd-version needs a release such as 1.7 or 2.1.3');
    } else if (a.startsWith('--containerd-version=')) {
      release = a.slice(21);
    } else if (a.startsWith('-') && a !== '-') {
      fail(`unknown option ${a}`);
    } else files.push(a);
  }
  if (!files.length) fail('lint needs at least one FILE');
  let results: LintResult[];
  try {
    results = lint(files, { release });
  } catch (e) {
    process.stderr.write(`containerd-taskserv: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(2);
  }
  if (format === 'json') process.stdout.write(JSON.stringify(results.flatMap((r) => r.problems), null, 2) + '\n');
  else {
    const text = formatText(results);
    if (text) process.stdout.write(text + '\n');
  }
  const errors = results.some((r) => r.problems.some((p) => p.severity === 'error'));
  process.exitCode = errors ? 1 : 0;
}

function deployCmd(args: string[]): void {
  const a: DeployArgs = { file: '', hosts: [], yes: false, acceptNewHostKeys: false };
  for (let i = 0; i < args.length; i++) {
    const x = args[i];
    const val = (): string => {
      const v = args[++i];
      if (v === undefined) fail(`${x} needs a value`);
      return v;
    };
    if (hostOption(a, x, val)) continue;
    if (x === '--yes' || x === '-y') a.yes = true;
    else if (x === '--force-preflight' || x === '--skip-preflight') {
      if (a.preflight) fail('--force-preflight and --skip-preflight exclude each other');
      a.preflight = x === '--skip-preflight' ? 'skip' : 'override';
    } else if (x.startsWith('-')) fail(`unknown option ${x}`);
    else if (!a.file) a.file = x;
    else fail('deploy takes one FILE');
  }
  if (!a.file) fail('deploy needs a FILE');
  runDeploy(a).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`containerd-taskserv: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 2;
    },
  );
}

function preflightCmd(args: string[]): void {
  runPreflightCli(parsePreflightArgs(args, fail)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`containerd-taskserv: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 2;
    },
  );
}

function runtimeCmd(cmd: RuntimeCommand, args: string[]): void {
  const a = parseRuntimeArgs(cmd, args, fail);
  runRuntimeCli(a).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`containerd-taskserv: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}

function installCmd(op: 'install' | 'upgrade', args: string[]): void {
  const a = parseInstallArgs(op, args, fail);
  runInstall(a).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`containerd-taskserv: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 2;
    },
  );
}

function runRender(args: string[]): void {
  let out: string | undefined;
  const files: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--out') {
      out = args[++i];
      if (!out) fail('--out needs a directory');
    } else if (a.startsWith('--out=')) out = a.slice(6);
    else if (a.startsWith('-')) fail(`unknown option ${a}`);
    else files.push(a);
  }
  if (files.length !== 1) fail('render needs exactly one taskserv FILE');
  try {
    const r = render(files[0], out);
    process.stdout.write(r.output);
    process.exitCode = r.errors ? 1 : 0;
  } catch (e) {
    process.stderr.write(`containerd-taskserv: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(2);
  }
}

main(process.argv.slice(2));
