/** `render`: a taskserv file to the files it installs, printed or written below a folder. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { DiagnosticSeverity } from 'vscode-languageserver-types';
import { LanguageService } from '../../server/src/languageService';

export interface RenderOutput {
  /** What to print: the files (no --out) or the list of written paths, then problems. */
  output: string;
  /** The taskserv has errors (the files are still rendered). */
  errors: boolean;
}

export function render(file: string, outDir?: string): RenderOutput {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const service = new LanguageService();
  const uri = 'file://' + path.resolve(file).replace(/\.k$/i, '') + '.k';
  const sd = service.prepare(TextDocument.create(uri, 'KCL', 1, text));
  const result = service.render(sd);
  if (!result) throw new Error(`${file}: no Containerd taskserv value found (expected \`containerd: Containerd = { ... }\`)`);
  const problems = service.validate(sd).filter((d) => d.severity === DiagnosticSeverity.Error);
  const lines: string[] = [];
  if (outDir) {
    for (const f of result.files) {
      const dest = path.join(outDir, f.path);
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.writeFileSync(dest, f.content);
      lines.push(`wrote ${dest}`);
    }
  } else {
    for (const f of result.files) lines.push(`# ==> ${f.path} <==`, f.content.replace(/\n$/, ''), '');
  }
  for (const n of result.notes) lines.push(`note: ${n}`);
  for (const p of problems) {
    lines.push(`${file}:${p.range.start.line + 1}:${p.range.start.character + 1}: error ${String(p.code)} ${typeof p.message === 'string' ? p.message : p.message.value}`);
  }
  return { output: lines.join('\n') + '\n', errors: problems.length > 0 };
}
