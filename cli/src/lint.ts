/** `lint`: run the language service's diagnostics over files, outside any editor. */
import * as fs from 'node:fs';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { DiagnosticSeverity } from 'vscode-languageserver-types';
import { LanguageService } from '../../server/src/languageService';
import { parseRelease } from '../../server/src/schema/releases';

export type Severity = 'error' | 'warning' | 'information' | 'hint';

export interface Problem {
  file: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  severity: Severity;
  code: string;
  message: string;
}

export interface LintResult {
  file: string;
  problems: Problem[];
}

const SEVERITY: Record<number, Severity> = {
  [DiagnosticSeverity.Error]: 'error',
  [DiagnosticSeverity.Warning]: 'warning',
  [DiagnosticSeverity.Information]: 'information',
  [DiagnosticSeverity.Hint]: 'hint',
};

export function lintText(file: string, text: string, opts: { release?: string } = {}): LintResult {
  if (opts.release && !parseRelease(opts.release)) throw new Error(`not a containerd release: "${opts.release}" (try 1.7 or 2.1.3)`);
  const service = new LanguageService({ settings: { defaultRelease: opts.release } });
  const sd = service.prepare(TextDocument.create(`file://${file}`, 'containerd-toml', 1, text));
  const problems = service.validate(sd).map((d): Problem => ({
    file,
    line: d.range.start.line + 1,
    column: d.range.start.character + 1,
    endLine: d.range.end.line + 1,
    endColumn: d.range.end.character + 1,
    severity: SEVERITY[d.severity ?? DiagnosticSeverity.Error],
    code: String(d.code ?? ''),
    message: typeof d.message === "string" ? d.message : d.message.value,
  }));
  problems.sort((a, b) => a.line - b.line || a.column - b.column);
  return { file, problems };
}

export function lint(files: string[], opts: { release?: string } = {}): LintResult[] {
  return files.map((f) => {
    let text: string;
    try {
      text = fs.readFileSync(f === '-' ? 0 : f, 'utf8');
    } catch (e) {
      throw new Error(`cannot read ${f}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    return lintText(f, text, opts);
  });
}

export function formatText(results: LintResult[]): string {
  return results
    .flatMap((r) => r.problems.map((p) => `${p.file}:${p.line}:${p.column}: ${p.severity} ${p.code} ${p.message}`))
    .join('\n');
}
