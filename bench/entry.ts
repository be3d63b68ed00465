/**
 * What bench/run.mjs needs from the TypeScript sources, bundled by the script itself with
 * esbuild to out/bench/entry.js: the in-process language service and the stdio test client.
 */
export { TextDocument } from 'vscode-languageserver-textdocument';
export { LanguageService } from '../server/src/languageService';
export { LspClient, itemsOf } from '../test/protocol/lspClient';
