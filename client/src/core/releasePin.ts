/**
 * The `# containerd: X.Y` pin comment that fixes a config.toml's target release.
 * Pure text logic (no vscode import) so the CLI and tests can use it too.
 */
export const RELEASE_CHOICES = ['1.6', '1.7', '2.0', '2.1', '2.2', '2.3'] as const;

const PIN_LINE = /^[ \t]*#[ \t]*containerd[ \t]*:[ \t]*v?\d+\.\d+(\.\d+)?[^\n]*$/m;
const SCAN_LINES = 20;

export interface LineEdit {
  /** 0-based line to replace, or to insert before when `insert` is true. */
  line: number;
  insert: boolean;
  text: string;
}

/** The edit that pins `release` (or removes the pin when release is undefined). */
export function pinEdit(text: string, release: string | undefined): LineEdit | undefined {
  const lines = text.split('\n');
  for (let i = 0; i < Math.min(lines.length, SCAN_LINES); i++) {
    if (PIN_LINE.test(lines[i])) {
      return release === undefined
        ? { line: i, insert: false, text: '' }
        : { line: i, insert: false, text: `# containerd: ${release}` };
    }
  }
  if (release === undefined) return undefined;
  return { line: 0, insert: true, text: `# containerd: ${release}` };
}
