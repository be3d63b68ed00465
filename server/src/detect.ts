/**
 * Is this TOML text a containerd config? Used to claim `*.toml` files that are not under a
 * containerd/ folder (a plain config.toml is also Hugo's, Cargo's, Helix's…): a file is ours
 * when it has containerd plugin tables, or a `version` with containerd's top-level tables,
 * or a `# containerd: X.Y` pin comment.
 */
const SCAN = 64 * 1024;
const PLUGIN_TABLE = /^[ \t]*\[\[?[ \t]*plugins[ \t]*\.[ \t]*(["']io\.containerd\.|(cri|linux|cgroups|scheduler|bolt|opt|restart|overlayfs|native|devmapper|zfs|btrfs|aufs|task|diff-service|tasks-service)[ \t]*[.\]])/m;
const DOTTED_PLUGIN = /^[ \t]*plugins[ \t]*\.[ \t]*["']io\.containerd\./m;
const VERSION = /^[ \t]*version[ \t]*=[ \t]*[1-4][ \t]*(#.*)?$/m;
const TOP_TABLE = /^[ \t]*\[[ \t]*(grpc|ttrpc|debug|metrics|cgroup|timeouts|proxy_plugins|stream_processors)[ \t]*[.\]]/m;
const PIN = /^[ \t]*#[ \t]*containerd[ \t]*:[ \t]*v?\d+\.\d+/m;

export function looksLikeContainerdConfig(text: string): boolean {
  const t = text.length > SCAN ? text.slice(0, SCAN) : text;
  return PLUGIN_TABLE.test(t) || DOTTED_PLUGIN.test(t) || PIN.test(t) || (VERSION.test(t) && TOP_TABLE.test(t));
}
