// Path options of the generators (`--name PATH` / `--name=PATH`, `-h`), via node's own parseArgs.
import { parseArgs } from 'node:util';
import path from 'node:path';

/** Every option is a path; values (given or default) come back absolute. */
export function pathArgs(script, defaults, argv = process.argv.slice(2)) {
  const options = { help: { type: 'boolean', short: 'h' } };
  for (const k of Object.keys(defaults)) options[k] = { type: 'string' };
  const { values } = parseArgs({ args: argv, options, strict: true });
  if (values.help) {
    console.log(`usage: node scripts/${script} ${Object.keys(defaults).map((k) => `[--${k} PATH]`).join(' ')}`);
    process.exit(0);
  }
  return Object.fromEntries(Object.entries(defaults).map(([k, d]) => [k, path.resolve(values[k] ?? d)]));
}
