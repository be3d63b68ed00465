/**
 * The language service facade: one object the LSP wiring (server.ts), the CLI and the
 * tests call. It owns parsing (picking the front end by language) and hands a
 * ServiceDocument to the per-feature services, which never see LSP connections.
 */
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type {
  CodeAction,
  CompletionList,
  Diagnostic,
  DocumentSymbol,
  FoldingRange,
  Hover,
  Position,
  Range,
} from 'vscode-languageserver-types';
import { parseToml } from './parser/toml';
import { parseKcl } from './parser/kcl';
import { taskservContext, validateTaskserv } from './services/taskserv';
import { renderTaskserv } from './render/render';
import type { RenderResult } from './render/types';
import type { ParsedDocument } from './tree/model';
import { detectContext, type ContextSettings, type ServiceDocument } from './services/context';
import { validate } from './services/diagnostics';
import { complete } from './services/completion';
import { hover } from './services/hover';
import { documentSymbols, foldingRanges } from './services/symbols';
import { codeActions } from './services/codeActions';
import { taskservComplete } from './services/taskservCompletion';
import { taskservHover } from './services/taskservHover';
import { taskservFolding, taskservSymbols } from './services/taskservSymbols';

export type { ServiceDocument, ContextSettings };

export interface LanguageServiceOptions {
  settings?: ContextSettings;
}

/** KCL language ids: the official KCL extension's, and ours when it is absent. */
export const KCL_LANGUAGE_IDS = ['KCL', 'kcl', 'containerd-taskserv'];

export function isTaskservDocument(uri: string, languageId: string): boolean {
  return KCL_LANGUAGE_IDS.includes(languageId) || /\.k$/i.test(uri);
}

export class LanguageService {
  private settings: ContextSettings;

  constructor(opts: LanguageServiceOptions = {}) {
    this.settings = opts.settings ?? {};
  }

  configure(settings: ContextSettings): void {
    this.settings = settings;
  }

  /** Parse and analyse a document once; every feature call below takes the result. */
  prepare(td: TextDocument): ServiceDocument {
    if (isTaskservDocument(td.uri, td.languageId)) {
      const parsed = parseKcl(td.getText());
      return { text: td, parsed, ctx: taskservContext(parsed) };
    }
    const parsed = parseToml(td.getText());
    return { text: td, parsed, ctx: detectContext(parsed, this.settings) };
  }

  validate(sd: ServiceDocument): Diagnostic[] {
    if (sd.parsed.language === 'kcl') return validateTaskserv(sd, { suppressSyntax: this.settings.kclExtension });
    return validate(sd);
  }

  /** What a taskserv installs on a host: config.toml, crictl.yaml and a systemd drop-in. */
  render(sd: ServiceDocument): RenderResult | undefined {
    return sd.parsed.language === 'kcl' ? renderTaskserv(sd.parsed) : undefined;
  }

  complete(sd: ServiceDocument, pos: Position): CompletionList {
    if (sd.parsed.language === 'kcl') return taskservComplete(sd, pos);
    return complete(sd, pos);
  }

  hover(sd: ServiceDocument, pos: Position): Hover | null {
    if (sd.parsed.language === 'kcl') return taskservHover(sd, pos);
    return hover(sd, pos);
  }

  documentSymbols(sd: ServiceDocument): DocumentSymbol[] {
    if (sd.parsed.language === 'kcl') return taskservSymbols(sd);
    return documentSymbols(sd);
  }

  foldingRanges(sd: ServiceDocument): FoldingRange[] {
    if (sd.parsed.language === 'kcl') return taskservFolding(sd);
    return foldingRanges(sd);
  }

  codeActions(sd: ServiceDocument, range: Range, diagnostics: Diagnostic[]): CodeAction[] {
    return codeActions(sd, range, diagnostics);
  }
}
