import { TextDocument } from 'vscode-languageserver-textdocument';
import type { Diagnostic } from 'vscode-languageserver-types';
import { LanguageService, type ServiceDocument } from '../../server/src/languageService';

export function prepare(text: string, defaultRelease?: string): ServiceDocument {
  return new LanguageService({ settings: { defaultRelease } }).prepare(TextDocument.create('file:///w/config.toml', 'containerd-toml', 1, text));
}

export function diagnose(text: string, defaultRelease?: string): Diagnostic[] {
  const sd = prepare(text, defaultRelease);
  return new LanguageService({ settings: { defaultRelease } }).validate(sd);
}

/** "line:code" pairs (1-based lines), sorted, for compact assertions. */
export function codes(ds: Diagnostic[]): string[] {
  return ds.map((d) => `${d.range.start.line + 1}:${String(d.code)}`).sort();
}
