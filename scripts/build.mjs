#!/usr/bin/env node
// Builds everything with esbuild:
//   dist/client.js  the VS Code extension (vscode external); it loads dist/lsp.js (the language
//                   client) and dist/hosts.js (SSH, deploy, explorer) on first use
//   dist/server.js  the language server (also what `containerd-taskserv lsp --stdio` runs)
//   dist/cli.js     the CLI behind bin/containerd-taskserv
//   out/test/**     every *.test.ts (and the helpers they import) as runnable CJS, for `node --test`
// `--production` minifies and drops source maps (what the .vsix ships); `--no-tests` skips the tests.
import * as esbuild from 'esbuild';
import { readdirSync, readFileSync, statSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const production = process.argv.includes('--production');
const withTests = !process.argv.includes('--no-tests') && !production;
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

const common = {
  bundle: true,
  // ssh2's optional native crypto and cpu-features bindings: ssh2 falls back to pure JS without them,
  // and a .vsix must not carry platform binaries.
  external: ['*.node'],
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  logLevel: 'warning',
  minify: production,
  sourcemap: production ? false : 'linked',
  legalComments: 'none',
  absWorkingDir: root,
  // proto/**/*.proto (the gRPC API subsets of client/src/core/runtime) are bundled as text
  loader: { '.proto': 'text' },
  // the one place the version is written is package.json (server/src/version.ts)
  define: { __CTS_VERSION__: JSON.stringify(version) },
};

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (name === 'node_modules' || name === 'workspace' || name === 'fixtures') continue;
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}

rmSync(join(root, 'dist'), { recursive: true, force: true });
const jobs = [
  // client.js is what activation loads (language client, detection, status bar, preview); hosts.js
  // (SSH, deploy, explorer, gRPC) is required by client.js on first use — see extension.ts.
  esbuild.build({ ...common, entryPoints: { client: 'client/src/extension.ts' }, outdir: 'dist', external: ['vscode', '*.node'] }),
  esbuild.build({ ...common, entryPoints: { hosts: 'client/src/hostsMain.ts' }, outdir: 'dist', external: ['vscode', '*.node'] }),
  esbuild.build({ ...common, entryPoints: { lsp: 'client/src/lsp.ts' }, outdir: 'dist', external: ['vscode'] }),
  esbuild.build({ ...common, entryPoints: { server: 'server/src/server.ts' }, outdir: 'dist' }),
  esbuild.build({ ...common, entryPoints: { cli: 'cli/src/main.ts' }, outdir: 'dist', external: ['vscode', '*.node'] }),
];
if (withTests) {
  rmSync(join(root, 'out'), { recursive: true, force: true });
  const tests = walk(join(root, 'test')).concat(walk(join(root, 'bench')));
  if (tests.length) {
    jobs.push(esbuild.build({
      ...common, entryPoints: tests, outdir: 'out', outbase: '.',
      sourcemap: 'inline',
      external: ['vscode', 'playwright-core', '@taplo/lib', '@vscode/vsce', 'mocha', '*.node'],
    }));
  }
}
await Promise.all(jobs);
