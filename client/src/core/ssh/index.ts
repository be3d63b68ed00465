/** The SSH core's public API (no vscode import). */
export * from './types';
export { shellQuote, commandLine, sudoArgv } from './quote';
export {
  KnownHosts,
  defaultKnownHostsPath,
  fingerprint,
  keyTypeOfBlob,
  knownHostsName,
  hostFieldMatches,
  parseKnownHosts,
  type HostKeyVerdict,
  type HostKeyCheck,
  type KnownHostEntry,
} from './knownHosts';
export { SshConfigFile, loadSshConfig, resolveHost, defaultSshConfigPath, parseJumpSpec, type SshConfigOptions } from './sshConfig';
export { createSshPool, effectiveSudoMode, type SshPoolOptions, type LogLevel } from './pool';
