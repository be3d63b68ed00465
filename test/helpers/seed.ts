import * as fs from 'node:fs';

export interface SeedBlock {
  /** The heading above the block ("Production Configuration"). */
  title: string;
  text: string;
}

/** The KCL blocks of the seed README: `containerd: Containerd = {` … the next `}` in column 0. */
export function seedBlocks(file: string): SeedBlock[] {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const out: SeedBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^containerd: Containerd = \{/.test(lines[i])) continue;
    let j = i;
    while (j < lines.length && lines[j] !== '}') j++;
    let t = i - 1;
    while (t >= 0 && lines[t].trim() === '') t--;
    out.push({ title: lines[t].trim(), text: lines.slice(i, j + 1).join('\n') + '\n' });
    i = j;
  }
  return out;
}
