/** The install/upgrade core's public API (no vscode import). */
export * from './types';
export { installContainerd, upgradeContainerd, probeInstall, STATE_DIR, STAGE_ROOT, BACKUP_ROOT } from './install';
export { installGroup, summarize, type InstallGroupOptions } from './group';
export { installSettings, installSettingsFromText, planFromSettings, type TaskservInstallSettings, type PlanOverrides } from './taskserv';
export { checkConfigBoundary, parseSha256File, parseContainerdVersion, officialTarballUrl, systemdUnit, type BoundaryVerdict } from './versions';
