/**
 * The runtime-access core's public API (no vscode import): connect once per host with
 * `connectRuntime(await pool.get(host))`, use the RuntimeClient, `close()` it when done (or when
 * the host's SSH connection dropped: then connect again with a fresh connection from the pool).
 */
export * from './types';
export { connectRuntime, DEFAULT_SOCKET } from './connect';
export { RuntimeError, type RuntimeErrorKind, checkId, checkNamespace, checkImageRef, checkSocketPath, checkShell } from './validate';
export { shortRuntime } from './map';
