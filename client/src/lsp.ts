/**
 * The language client, in its own bundle (dist/lsp.js): extension.ts requires it with the first
 * containerd document, so activation does not load vscode-languageclient.
 */
import type * as vscode from 'vscode';
import { LanguageClient, TransportKind, type LanguageClientOptions, type ServerOptions } from 'vscode-languageclient/node';

export function createLanguageClient(
  context: vscode.ExtensionContext,
  log: vscode.LogOutputChannel,
  o: { languages: string[]; defaultRelease: string; kclExtension: boolean },
): LanguageClient {
  const serverModule = context.asAbsolutePath('dist/server.js');
  const serverOptions: ServerOptions = {
    run: { module: serverModule, transport: TransportKind.ipc },
    debug: { module: serverModule, transport: TransportKind.ipc, options: { execArgv: ['--nolazy', '--inspect=6019'] } },
  };
  const clientOptions: LanguageClientOptions = {
    // Files and unsaved editors only: the render preview and remote-config views are read-only
    // views of other files, and diagnostics on them would repeat the source's.
    documentSelector: o.languages.flatMap((language) => [
      { language, scheme: 'file' },
      { language, scheme: 'untitled' },
    ]),
    outputChannel: log,
    initializationOptions: { defaultRelease: o.defaultRelease, kclExtension: o.kclExtension },
    synchronize: { configurationSection: 'containerd' },
  };
  return new LanguageClient('containerd', 'containerd Language Server', serverOptions, clientOptions);
}
