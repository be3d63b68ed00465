/**
 * LSP wiring only: documents in, the language service's answers out. No containerd
 * knowledge lives here. Started by the VS Code client (IPC) or `containerd-taskserv lsp --stdio`.
 */
import {
  CodeActionKind,
  createConnection,
  ProposedFeatures,
  TextDocuments,
  TextDocumentSyncKind,
  type Connection,
  type InitializeParams,
  type InitializeResult,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { LanguageService, type ServiceDocument } from './languageService';
import { formatRelease } from './schema/releases';
import { looksLikeContainerdConfig } from './detect';
import { VERSION } from './version';
import { RENDER_REQUEST } from './render/types';

export const DOCUMENT_INFO_REQUEST = 'containerd/documentInfo';

export function startServer(connection: Connection): void {
  const documents = new TextDocuments(TextDocument);
  const service = new LanguageService();
  const cache = new Map<string, { version: number; sd: ServiceDocument }>();
  const pending = new Map<string, NodeJS.Immediate>();
  /** Only validate what looks like containerd's config, unless the client says otherwise. */
  let validateAll = true;
  let kclExtension = false;

  const prepared = (uri: string): ServiceDocument | undefined => {
    const td = documents.get(uri);
    if (!td) return undefined;
    const hit = cache.get(uri);
    if (hit && hit.version === td.version) return hit.sd;
    const sd = service.prepare(td);
    cache.set(uri, { version: td.version, sd });
    return sd;
  };

  /** Run a handler; a failure is logged and answered with `fallback`, never a crash. */
  const safe = <T>(what: string, fallback: T, fn: () => T): T => {
    try {
      return fn();
    } catch (e) {
      connection.console.error(`${what} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      return fallback;
    }
  };

  const publish = (uri: string): void => {
    pending.delete(uri);
    const sd = safe('parse', undefined, () => prepared(uri));
    if (!sd) return;
    const diagnostics = safe('diagnostics', [], () =>
      validateAll || sd.parsed.language === 'kcl' || looksLikeContainerdConfig(sd.parsed.text) ? service.validate(sd) : []);
    void connection.sendDiagnostics({ uri, version: sd.text.version, diagnostics });
  };

  const schedule = (uri: string): void => {
    const p = pending.get(uri);
    if (p) clearImmediate(p);
    pending.set(uri, setImmediate(() => publish(uri)));
  };

  connection.onInitialize((params: InitializeParams): InitializeResult => {
    const opts = (params.initializationOptions ?? {}) as { defaultRelease?: string; validateAll?: boolean; kclExtension?: boolean };
    kclExtension = opts.kclExtension === true;
    service.configure({ defaultRelease: opts.defaultRelease, kclExtension });
    if (typeof opts.validateAll === 'boolean') validateAll = opts.validateAll;
    return {
      capabilities: {
        textDocumentSync: TextDocumentSyncKind.Incremental,
        completionProvider: { triggerCharacters: ['[', '.', '"', '=', ' ', ',', ':'], resolveProvider: false },
        hoverProvider: true,
        documentSymbolProvider: true,
        foldingRangeProvider: true,
        codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix, CodeActionKind.RefactorRewrite] },
      },
      serverInfo: { name: 'containerd-taskserv', version: VERSION },
    };
  });

  connection.onDidChangeConfiguration((change) => {
    const s = (change.settings as { containerd?: { defaultRelease?: string } } | undefined)?.containerd;
    if (s) service.configure({ defaultRelease: s.defaultRelease, kclExtension });
    cache.clear();
    for (const d of documents.all()) schedule(d.uri);
  });

  documents.onDidOpen((e) => schedule(e.document.uri));
  documents.onDidChangeContent((e) => schedule(e.document.uri));
  documents.onDidClose((e) => {
    cache.delete(e.document.uri);
    const p = pending.get(e.document.uri);
    if (p) clearImmediate(p);
    pending.delete(e.document.uri);
    void connection.sendDiagnostics({ uri: e.document.uri, diagnostics: [] });
  });

  connection.onCompletion((p) =>
    safe('completion', { isIncomplete: false, items: [] }, () => {
      const sd = prepared(p.textDocument.uri);
      return sd ? service.complete(sd, p.position) : { isIncomplete: false, items: [] };
    }));
  connection.onHover((p) =>
    safe('hover', null, () => {
      const sd = prepared(p.textDocument.uri);
      return sd ? service.hover(sd, p.position) : null;
    }));
  connection.onDocumentSymbol((p) =>
    safe('symbols', [], () => {
      const sd = prepared(p.textDocument.uri);
      return sd ? service.documentSymbols(sd) : [];
    }));
  connection.onFoldingRanges((p) =>
    safe('folding', [], () => {
      const sd = prepared(p.textDocument.uri);
      return sd ? service.foldingRanges(sd) : [];
    }));
  connection.onCodeAction((p) =>
    safe('code actions', [], () => {
      const sd = prepared(p.textDocument.uri);
      return sd ? service.codeActions(sd, p.range, p.context.diagnostics) : [];
    }));
  connection.onRequest(DOCUMENT_INFO_REQUEST, (p: { uri: string }) =>
    safe('documentInfo', null, () => {
      const sd = prepared(p.uri);
      if (!sd) return null;
      return {
        configVersion: sd.ctx.configVersion,
        versionExplicit: sd.ctx.versionExplicit,
        release: formatRelease(sd.ctx.release),
        releaseSource: sd.ctx.releaseSource,
      };
    }));

  connection.onRequest(RENDER_REQUEST, (p: { uri: string }) =>
    safe('render', null, () => {
      const sd = prepared(p.uri);
      return sd ? (service.render(sd) ?? null) : null;
    }));

  documents.listen(connection);
  connection.listen();
}

startServer(createConnection(ProposedFeatures.all));
