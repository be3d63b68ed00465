import * as path from 'node:path';
import * as fs from 'node:fs';

/** The repository root (tests are bundled into out/test/<area>/). */
export const ROOT = path.resolve(__dirname, '../../..');
/** The research data shared with the project (tests may read it; the product never does). */
export const RESEARCH = path.resolve(ROOT, '../shared/research');

export function research(...parts: string[]): string {
  const p = path.join(RESEARCH, ...parts);
  if (!fs.existsSync(p)) throw new Error(`research data missing: ${p} (tests need ../shared/research beside the checkout)`);
  return p;
}
