/**
 * The `data` a diagnostic carries so that the code-action service can fix it without
 * re-deriving anything: the contract between diagnostics.ts and codeActions.ts.
 */
export type FixData =
  /** Replace the key text at the diagnostic's range with `newKey` (quoted as needed). */
  | { fix: 'rename'; newKey: string }
  /**
   * Move the `key = value` line at the diagnostic's range to `toPath` (a concrete key path
   * from the document root; the last segment is the key's new name, the rest its table).
   */
  | { fix: 'move'; toPath: string[] }
  /** Replace the value text at the diagnostic's range with `value` (already in the document's syntax). */
  | { fix: 'replace-value'; value: string };

export function isFixData(x: unknown): x is FixData {
  if (!x || typeof x !== 'object') return false;
  const f = (x as { fix?: unknown }).fix;
  return f === 'rename' || f === 'move' || f === 'replace-value';
}
