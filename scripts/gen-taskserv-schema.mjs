#!/usr/bin/env node
// Generates schemas/taskserv-containerd.schema.json: the JSON Schema of the KCL value
// `containerd: Containerd = { ... }` of a taskserv file (see schemas/README.md, "The Containerd taskserv
// schema"; the field mapping table there is the contract this script implements).
//
//   node scripts/gen-taskserv-schema.mjs [--schemas DIR] [--out DIR]
//
// --schemas (where the committed containerd-config-v{2,3,4}.schema.json are read) defaults to
// <repo>/schemas, --out to <repo>/schemas. Builtins only; the output is deterministic.
//
// Every field whose target is config.toml takes its JSON type, default, enum, format/pattern, examples
// and description from the config schema node at its version-2 key, so the config schemas stay the
// single source of truth; the table below only adds what the taskserv changes (renderer defaults,
// limits, formats) and the words about what the field becomes on the host.

import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pathArgs } from './lib/args.mjs';
import { splitPath, unquote } from './lib/paths.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT_NAME = 'taskserv-containerd.schema.json';
const SERIES = ['1.5', '1.6', '1.7', '2.0', '2.1', '2.2', '2.3'];
const CONFIG_TOML = '/etc/containerd/config.toml';
const CRICTL_YAML = '/etc/crictl.yaml';
const SYSTEMD_DROPIN = '/etc/systemd/system/containerd.service.d/';

function parseArgs(argv) {
  return pathArgs('gen-taskserv-schema.mjs', { schemas: path.join(repoRoot, 'schemas'), out: path.join(repoRoot, 'schemas') }, argv);
}

// ---------------------------------------------------------------------------------------------
// config schema paths (same syntax as keys.json / scripts/gen-schemas.mjs: quoted segments, <name>)


/** The node of `schema` at a dotted path; `<x>` segments go through a map's additionalProperties. */
function resolveKey(schema, key) {
  let node = schema;
  for (const raw of splitPath(key)) {
    if (!node) return undefined;
    if (/^<[^>]+>$/.test(raw)) {
      node = node['x-map'] && typeof node.additionalProperties === 'object' ? node.additionalProperties : undefined;
    } else {
      node = node.properties?.[unquote(raw)];
    }
  }
  return node;
}

const CRI = 'plugins."io.containerd.grpc.v1.cri"';
const CRI_CONTAINERD = `${CRI}.containerd`;
const RUNTIME = `${CRI_CONTAINERD}.runtimes.<name>`;
const OVERLAYFS = 'plugins."io.containerd.snapshotter.v1.overlayfs"';
const GC = 'plugins."io.containerd.gc.v1.scheduler"';
const TRANSFER = 'plugins."io.containerd.transfer.v1.local"';

// ---------------------------------------------------------------------------------------------
// the field table
//
//   cfg(key, extra)            a field copied to config.toml `key` (type/default/enum/docs from the config schema)
//   leaf(type, dflt, target, doc, extra)   any other field (own words)
//   table(target, doc, fields, extra)      a closed KCL dict
//   extra: { key, note, notContainerd, since, listOf, default, minimum, maximum, format, pattern, doc, ... }
//     `doc` on a cfg field replaces the config schema's description (used when the taskserv changes its meaning).

const cfg = (key, extra = {}) => ({ kind: 'cfg', key, ...extra });
const leaf = (type, dflt, target, doc, extra = {}) => ({ kind: 'leaf', type, default: dflt, target, doc, ...extra });
const table = (target, doc, fields, extra = {}) => ({ kind: 'table', target, doc, fields, ...extra });

const PORT = '^([0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$';
const RUNTIME_NAME = '[A-Za-z0-9][A-Za-z0-9_.-]*';
const KNOWN_RUNTIMES = ['runc', 'crun', 'youki', 'kata', 'runsc', 'wasmtime'];
const GENERIC_OPTIONS = ['ConfigPath', 'TypeUrl'];

const runtimeOptionsDoc =
  'Shim options of this runtime handler, copied key by key into its `options` table. For runc-type shims ' +
  '(`io.containerd.runc.v2`) they are the runc options listed here; other shims (kata, runsc, …) take their ' +
  'own keys or `ConfigPath`/`TypeUrl`, so any key is accepted. containerd matches the keys case-insensitively.';

const FIELDS = {
  name: leaf('string', 'containerd', 'none',
    'Name of this taskserv instance, used by the provisioning tool to tell taskservs apart. It is not written to any file on the host.'),
  version: leaf('string', '1.7.18', 'install',
    'containerd release (X.Y.Z) the taskserv installs. It also picks the config.toml layout: config version 2 for 1.x, 3 for 2.0–2.2 and 4 for 2.3 and later, and decides which keys the rendered files may use.',
    { pattern: '^[0-9]+\\.[0-9]+\\.[0-9]+$', examples: ['1.7.18', '2.0.5', '2.1.4'],
      note: 'Selects the release tarball (containerd-<version>-linux-<arch>.tar.gz) and the config version of the rendered config.toml.' }),
  runtime_default: cfg(`${CRI_CONTAINERD}.default_runtime_name`, {
    default: 'runc',
    doc: 'Runtime handler CRI uses for pods that name no RuntimeClass. It must be one of `runtimes` (or a `runtime_configs` entry that is rendered).',
    listOf: KNOWN_RUNTIMES,
    note: 'Copied as is; it must name a runtime in `runtimes`, otherwise the rendered default_runtime_name points at no runtimes table and containerd 1.7 refuses to load the CRI plugin.',
  }),
  runtimes: leaf('string', 'runc', 'config.toml',
    'Comma-separated list of runtime handlers to install and configure, e.g. `runc,crun,youki`. Each name becomes a RuntimeClass handler; any name is valid (the known ones are offered for completion).',
    {
      key: `${CRI_CONTAINERD}.runtimes`,
      pattern: `^\\s*${RUNTIME_NAME}(\\s*,\\s*${RUNTIME_NAME})*\\s*$`,
      examples: ['runc', 'runc,crun,youki'],
      listOf: KNOWN_RUNTIMES,
      note: 'Split on commas: one `runtimes.<name>` table per item, unless `runtime_configs.<name>` gives it: runtime_type `io.containerd.runc.v2`, `options.BinaryName` = `<install.prefix>/bin/<name>` (not written for runc) and `options.SystemdCgroup` from `plugins.cri.systemd_cgroup`.',
    }),
  runtime_configs: table('config.toml',
    'Explicit runtime handler tables, keyed by runtime name. An entry replaces the table `runtimes` would generate for that name; a name that is not in `runtimes` is not rendered.',
    null,
    {
      key: `${CRI_CONTAINERD}.runtimes`,
      map: table('config.toml', 'One runtime handler (the RuntimeClass handler name is the key).', {
        runtime_type: cfg(`${RUNTIME}.runtime_type`, {
          default: 'io.containerd.runc.v2',
          defaultNote: 'the taskserv writes io.containerd.runc.v2 when the field is absent (containerd itself would fail at pod creation with an empty runtime_type)',
        }),
        options: table('config.toml', runtimeOptionsDoc, 'RUNC_OPTIONS', { key: `${RUNTIME}.options`, freeForm: true }),
        privileged_without_host_devices: cfg(`${RUNTIME}.privileged_without_host_devices`),
        pod_annotations: cfg(`${RUNTIME}.pod_annotations`),
        container_annotations: cfg(`${RUNTIME}.container_annotations`),
        snapshotter: cfg(`${RUNTIME}.snapshotter`),
        sandbox_mode: cfg(`${RUNTIME}.sandbox_mode`),
      }, { key: RUNTIME }),
    }),
  config: table('config.toml', 'Top-level settings of /etc/containerd/config.toml (the daemon, its gRPC, debug and metrics endpoints).', {
    version: cfg('version', {
      default: 2,
      enum: [2, 3, 4],
      minimum: 2,
      maximum: 4,
      defaultNote: 'when absent the renderer uses the native version of the installed release: 2 for 1.x, 3 for 2.0–2.2, 4 for 2.3+ (2 for the default release 1.7.18)',
      note: 'Written as is; version 1 is not supported (the taskserv renders full plugin IDs). Keys are mapped from their version-2 path to version 3/4 with the config schemas\' migration data.',
    }),
    root: cfg('root', { format: 'absolute-path' }),
    state: cfg('state', { format: 'absolute-path' }),
    plugin_dir: cfg('plugin_dir', { format: 'absolute-path' }),
    disabled_plugins: cfg('disabled_plugins'),
    required_plugins: cfg('required_plugins'),
    oom_score: cfg('oom_score', { minimum: -1000, maximum: 1000 }),
    imports: cfg('imports'),
    grpc: table('config.toml', 'The `[grpc]` table: containerd\'s main API socket.', {
      address: cfg('grpc.address', { format: 'absolute-path' }),
      tcp_address: cfg('grpc.tcp_address'),
      tcp_tls_cert: cfg('grpc.tcp_tls_cert', { format: 'absolute-path' }),
      tcp_tls_key: cfg('grpc.tcp_tls_key', { format: 'absolute-path' }),
      uid: cfg('grpc.uid'),
      gid: cfg('grpc.gid'),
      max_recv_message_size: cfg('grpc.max_recv_message_size', { minimum: 1 }),
      max_send_message_size: cfg('grpc.max_send_message_size', { minimum: 1 }),
    }, { key: 'grpc' }),
    debug: table('config.toml', 'The `[debug]` table: the debug socket and the daemon\'s log level and format.', {
      address: cfg('debug.address', { format: 'absolute-path' }),
      uid: cfg('debug.uid'),
      gid: cfg('debug.gid'),
      level: cfg('debug.level'),
      format: cfg('debug.format'),
    }, { key: 'debug' }),
    metrics: table('config.toml', 'The `[metrics]` table: the Prometheus endpoint.', {
      address: cfg('metrics.address'),
      grpc_histogram: cfg('metrics.grpc_histogram'),
    }, { key: 'metrics' }),
  }),
  plugins: table('config.toml',
    'Plugin settings, under the short names the taskserv uses (`cri`, `snapshots.overlayfs`, `gc`); each is rendered to the full plugin ID of config.toml. `content` is accepted for compatibility but is not a containerd plugin.', {
      cri: table('config.toml', 'Settings of the CRI plugin (the flat containerd 1.x CRI keys).', {
        disable_tcp_service: cfg(`${CRI}.disable_tcp_service`),
        stream_server_address: cfg(`${CRI}.stream_server_address`),
        stream_server_port: cfg(`${CRI}.stream_server_port`, { pattern: PORT }),
        stream_idle_timeout: cfg(`${CRI}.stream_idle_timeout`),
        enable_selinux: cfg(`${CRI}.enable_selinux`),
        selinux_category_range: cfg(`${CRI}.selinux_category_range`, { minimum: 1 }),
        sandbox_image: cfg(`${CRI}.sandbox_image`, { format: 'image-reference' }),
        stats_collect_period: cfg(`${CRI}.stats_collect_period`),
        systemd_cgroup: leaf('boolean', false, 'config.toml',
          'Selects the systemd cgroup driver for the runc-type runtimes (it must match the kubelet\'s `cgroupDriver`). This is NOT containerd\'s legacy `systemd_cgroup` key, which only worked with the removed v1 shim and makes 1.x unload the CRI plugin when the runtime is `io.containerd.runc.v2`.',
          {
            key: `${RUNTIME}.options.SystemdCgroup`,
            note: 'Not copied: written as `options.SystemdCgroup = <value>` of every runc-type runtime (runtime_type io.containerd.runc.v2) that does not set SystemdCgroup itself; the legacy `systemd_cgroup` key is never rendered.',
          }),
        enable_tls_streaming: cfg(`${CRI}.enable_tls_streaming`),
        max_container_log_line_size: cfg(`${CRI}.max_container_log_line_size`),
        disable_cgroup: cfg(`${CRI}.disable_cgroup`),
        disable_apparmor: cfg(`${CRI}.disable_apparmor`),
        restrict_oom_score_adj: cfg(`${CRI}.restrict_oom_score_adj`),
        max_concurrent_downloads: cfg(`${CRI}.max_concurrent_downloads`),
        disable_proc_mount: cfg(`${CRI}.disable_proc_mount`),
        unset_seccomp_profile: cfg(`${CRI}.unset_seccomp_profile`),
        tolerate_missing_hugetlb_controller: cfg(`${CRI}.tolerate_missing_hugetlb_controller`),
        disable_hugetlb_controller: cfg(`${CRI}.disable_hugetlb_controller`),
        ignore_image_defined_volumes: cfg(`${CRI}.ignore_image_defined_volumes`),
        enable_unprivileged_ports: cfg(`${CRI}.enable_unprivileged_ports`),
        enable_unprivileged_icmp: cfg(`${CRI}.enable_unprivileged_icmp`),
        enable_cdi: cfg(`${CRI}.enable_cdi`),
        device_ownership_from_security_context: cfg(`${CRI}.device_ownership_from_security_context`),
        seccomp_profile_root: leaf('string', '', 'none',
          'Folder of seccomp profiles. containerd has no such setting: this was the kubelet flag `--seccomp-profile-root`.',
          {
            notContainerd: {
              message: '`seccomp_profile_root` is not a containerd setting: it was a kubelet flag (`--seccomp-profile-root`, removed in Kubernetes 1.23).',
              equivalent: 'put seccomp profiles in the kubelet root\'s `seccomp/` folder (/var/lib/kubelet/seccomp) and select them per pod with `securityContext.seccompProfile` (type Localhost, localhostProfile relative to that folder); `unset_seccomp_profile` sets containerd\'s profile for pods that name none.',
            },
          }),
        registry: table('config.toml', 'Registry settings of the CRI plugin.', {
          config_path: cfg(`${CRI}.registry.config_path`, { format: 'absolute-path' }),
        }, { key: `${CRI}.registry` }),
        cni: table('config.toml', 'CNI settings of the CRI plugin.', {
          bin_dir: cfg(`${CRI}.cni.bin_dir`, { format: 'absolute-path' }),
          conf_dir: cfg(`${CRI}.cni.conf_dir`, { format: 'absolute-path' }),
          max_conf_num: cfg(`${CRI}.cni.max_conf_num`),
          conf_template: cfg(`${CRI}.cni.conf_template`, { format: 'absolute-path' }),
        }, { key: `${CRI}.cni` }),
      }, { key: CRI }),
      snapshots: table('config.toml', 'Snapshotter plugins.', {
        overlayfs: table('config.toml', 'The overlayfs snapshotter (the default snapshotter on Linux).', {
          root_path: cfg(`${OVERLAYFS}.root_path`, { format: 'absolute-path' }),
          upperdir_label: cfg(`${OVERLAYFS}.upperdir_label`),
          sync_remove: cfg(`${OVERLAYFS}.sync_remove`),
          slow_chown: cfg(`${OVERLAYFS}.slow_chown`),
          mount_options: cfg(`${OVERLAYFS}.mount_options`),
        }, { key: OVERLAYFS }),
      }),
      content: table('none', 'Not a containerd plugin: containerd\'s content store has no settings here. Its fields are accepted for compatibility and not rendered.', {
        gc: table('none', 'Not a containerd setting: garbage collection is configured with `plugins.gc` (the `io.containerd.gc.v1.scheduler` plugin).', {
          schedule: leaf('string', '', 'none',
            'A cron schedule for garbage collection. containerd has no such setting: its GC is event-driven.',
            {
              examples: ['*/5 * * * *'],
              notContainerd: {
                message: '`content.gc.schedule` is not a containerd setting: containerd\'s garbage collector does not run on a cron schedule, it is triggered by deletions and mutations of metadata.',
                equivalent: 'tune `plugins.gc` (rendered as `plugins."io.containerd.gc.v1.scheduler"`): `pause_threshold`, `deletion_threshold`, `mutation_threshold`, `schedule_delay`, `startup_delay`; to prune images on a schedule use the kubelet\'s image GC or a timer running `crictl rmi --prune`.',
              },
            }),
          threshold: leaf('integer', 0, 'none',
            'A disk-usage percentage that triggers garbage collection. containerd has no such setting.',
            {
              minimum: 0,
              maximum: 100,
              notContainerd: {
                message: '`content.gc.threshold` is not a containerd setting: containerd has no disk-usage threshold for garbage collection.',
                equivalent: 'the nearest knob is `plugins.gc.pause_threshold` (the fraction of time GC may pause the metadata store, default 0.02); disk-usage based image cleanup is the kubelet\'s `imageGCHighThresholdPercent` / `imageGCLowThresholdPercent`.',
              },
            }),
        }),
      }),
      gc: table('config.toml', 'The garbage-collection scheduler (`io.containerd.gc.v1.scheduler`): the real GC knobs.', {
        pause_threshold: cfg(`${GC}.pause_threshold`, { minimum: 0 }),
        deletion_threshold: cfg(`${GC}.deletion_threshold`, { minimum: 0 }),
        mutation_threshold: cfg(`${GC}.mutation_threshold`, { minimum: 0 }),
        schedule_delay: cfg(`${GC}.schedule_delay`),
        startup_delay: cfg(`${GC}.startup_delay`),
      }, { key: GC }),
    }, { key: 'plugins' }),
  crictl: table('crictl.yaml', `Settings of crictl, written to ${CRICTL_YAML}.`, {
    runtime_endpoint: leaf('string', '/run/containerd/containerd.sock', 'crictl.yaml',
      'Socket crictl uses for the CRI runtime service: a path or a `unix://` URL. It should be containerd\'s gRPC socket (`config.grpc.address`).',
      {
        key: 'runtime-endpoint',
        pattern: '^(unix://)?/\\S+$',
        note: 'Written as `unix://<path>` (a value that already starts with `unix://` is kept); when absent the renderer uses `config.grpc.address`.',
      }),
    image_endpoint: leaf('string', '/run/containerd/containerd.sock', 'crictl.yaml',
      'Socket crictl uses for the CRI image service: a path or a `unix://` URL. It should be containerd\'s gRPC socket (`config.grpc.address`).',
      {
        key: 'image-endpoint',
        pattern: '^(unix://)?/\\S+$',
        note: 'Written as `unix://<path>` (a value that already starts with `unix://` is kept); when absent the renderer writes the runtime endpoint.',
      }),
    timeout: leaf('integer', 2, 'crictl.yaml', 'Timeout of crictl\'s connection to the endpoints, in seconds.', { key: 'timeout', minimum: 0 }),
    debug: leaf('boolean', false, 'crictl.yaml', 'Makes crictl log debug output.', { key: 'debug' }),
    pull_image_on_create: leaf('boolean', false, 'crictl.yaml',
      'Makes `crictl create` pull the container image first.', { key: 'pull-image-on-create' }),
    disable_pull_on_run: leaf('boolean', false, 'crictl.yaml',
      'Stops `crictl run` from pulling the container image first.', { key: 'disable-pull-on-run' }),
  }),
  security: table('config.toml',
    'Security options. Only `selinux_enabled` reaches containerd (CRI\'s `enable_selinux`); the other fields are per-pod settings in Kubernetes and are not rendered.', {
      selinux_enabled: cfg(`${CRI}.enable_selinux`, {
        doc: 'Enables SELinux labelling of containers by the CRI plugin.',
        note: 'Rendered as `enable_selinux` only when `plugins.cri.enable_selinux` is not set (that field wins).',
      }),
      apparmor_profile: leaf('string', '', 'none',
        'An AppArmor profile name. containerd has no setting for it: profiles are chosen per container.',
        {
          notContainerd: {
            message: '`security.apparmor_profile` is not a containerd setting: containerd applies the profile each container asks for (its own `cri-containerd.apparmor.d` profile for RuntimeDefault).',
            equivalent: 'set `securityContext.appArmorProfile` in the pod spec (Kubernetes 1.30+; earlier the `container.apparmor.security.beta.kubernetes.io/<container>` annotation) and load the profile on the host with apparmor_parser; `plugins.cri.disable_apparmor` turns AppArmor off in containerd.',
          },
        }),
      seccomp_profile: leaf('string', '', 'none',
        'A seccomp profile file. containerd has no setting for it: profiles are chosen per pod.',
        {
          notContainerd: {
            message: '`security.seccomp_profile` is not a containerd setting: containerd applies the seccomp profile the pod or container asks for.',
            equivalent: 'use `securityContext.seccompProfile` (RuntimeDefault, or Localhost with a profile under /var/lib/kubelet/seccomp); `plugins.cri.unset_seccomp_profile` sets the profile used when a pod names none, and the kubelet\'s `seccompDefault: true` makes RuntimeDefault the default.',
          },
        }),
      no_new_privileges: leaf('boolean', false, 'none',
        'Forbid privilege escalation. containerd has no global setting for it: it is per container.',
        {
          notContainerd: {
            message: '`security.no_new_privileges` is not a containerd setting: no_new_privs is set per container by the CRI request.',
            equivalent: 'set `securityContext.allowPrivilegeEscalation: false` on the containers (or enforce it with Pod Security Admission, `restricted` level).',
          },
        }),
      user_namespaces: leaf('boolean', false, 'none',
        'Run pods in user namespaces. containerd has no switch for it: it is requested per pod.',
        {
          notContainerd: {
            message: '`security.user_namespaces` is not a containerd setting: user namespaces are requested per pod.',
            equivalent: 'set `hostUsers: false` in the pod spec (Kubernetes UserNamespacesSupport; needs containerd 2.0+ and a kernel and filesystem with idmapped mounts).',
          },
        }),
    }),
  limits: table('none', 'Object-count limits. containerd has no such limits; the fields are not rendered.', {
    max_containers: leaf('integer', 0, 'none', 'A maximum number of containers. containerd has no such limit.', {
      minimum: 0,
      notContainerd: {
        message: '`limits.max_containers` is not a containerd setting: containerd does not limit the number of containers.',
        equivalent: 'limit pods per node with the kubelet\'s `maxPods` (default 110) and per namespace with a ResourceQuota (`count/pods`).',
      },
    }),
    max_images: leaf('integer', 0, 'none', 'A maximum number of images. containerd has no such limit.', {
      minimum: 0,
      notContainerd: {
        message: '`limits.max_images` is not a containerd setting: containerd does not limit the number of images.',
        equivalent: 'the kubelet\'s image garbage collection (`imageGCHighThresholdPercent`, `imageGCLowThresholdPercent`, `imageMaximumGCAge`) removes unused images; `crictl rmi --prune` does it by hand.',
      },
    }),
    max_snapshots: leaf('integer', 0, 'none', 'A maximum number of snapshots. containerd has no such limit.', {
      minimum: 0,
      notContainerd: {
        message: '`limits.max_snapshots` is not a containerd setting: containerd does not limit the number of snapshots.',
        equivalent: 'snapshots are removed by containerd\'s garbage collector once no image or container uses them (tuned by `plugins.gc`); removing unused images (kubelet image GC, `crictl rmi --prune`) frees them.',
      },
    }),
  }),
  performance: table('config.toml', 'Performance settings, rendered to the matching CRI and transfer keys.', {
    max_concurrent_downloads: cfg(`${CRI}.max_concurrent_downloads`, {
      note: 'Rendered as `max_concurrent_downloads` only when `plugins.cri.max_concurrent_downloads` is not set (that field wins).',
    }),
    max_concurrent_uploads: cfg(`${TRANSFER}.max_concurrent_uploaded_layers`),
    disable_snapshot_annotations: cfg(`${CRI_CONTAINERD}.disable_snapshot_annotations`),
    snapshotter: cfg(`${CRI_CONTAINERD}.snapshotter`, {
      examples: ['overlayfs', 'native', 'btrfs', 'zfs', 'devmapper', 'stargz'],
    }),
  }),
  resources: table('systemd', `Resource limits of the containerd service, written to a systemd drop-in in ${SYSTEMD_DROPIN} ([Service] section).`, {
    cpu_quota: leaf('integer', 0, 'systemd', 'CPU limit of the containerd service, in percent of one CPU (200 = two CPUs); 0 means unlimited.', {
      key: 'CPUQuota',
      minimum: 0,
      note: 'Written as `CPUQuota=<n>%`; 0 writes no CPUQuota directive (unlimited).',
    }),
    memory_limit: leaf(['integer', 'string'], 0, 'systemd',
      'Memory limit of the containerd service: bytes, or a string with a K, M, G or T suffix (1024-based); 0 means unlimited.',
      {
        key: 'MemoryMax',
        minimum: 0,
        pattern: '^[0-9]+[KMGT]?$',
        examples: [0, '2G', '512M'],
        note: 'Written as `MemoryMax=<value>` (the suffix is passed to systemd as is); 0 means unlimited: no MemoryMax= is written, and containerd.service sets none.',
      }),
    pid_limit: leaf('integer', 0, 'systemd', 'Maximum number of tasks (processes and threads) of the containerd service; 0 means unlimited.', {
      key: 'TasksMax',
      minimum: 0,
      note: 'Written as `TasksMax=<n>`; 0 means unlimited (infinity): no TasksMax= is written, so containerd.service\'s own `TasksMax=infinity` applies.',
    }),
    oom_score_adj: leaf('integer', -999, 'systemd',
      'OOM score adjustment of the containerd service, −1000 (never killed) to 1000. containerd\'s own unit sets −999 so the kernel kills containers before containerd.',
      {
        key: 'OOMScoreAdjust',
        minimum: -1000,
        maximum: 1000,
        defaultNote: 'when absent no directive is written and containerd.service\'s own OOMScoreAdjust=-999 applies',
        note: 'Copied as is: `OOMScoreAdjust=<n>`.',
      }),
  }),
  install: table('install', 'How containerd and the runtimes get onto the host.', {
    source: leaf('string', 'release-tarball', 'install',
      'How containerd is installed: `release-tarball` downloads the official release archive, `package` installs the distribution package, `file` uploads a local archive.',
      { enum: ['release-tarball', 'package', 'file'] }),
    url: leaf('string', '', 'install',
      'Download URL of the release archive (source `release-tarball`). Empty: the official archive https://github.com/containerd/containerd/releases/download/v<version>/containerd-<version>-linux-<arch>.tar.gz.',
      { pattern: '^$|^(https?|file)://\\S+$' }),
    sha256: leaf('string', '', 'install',
      'Expected sha256 of the downloaded or uploaded archive (64 hex digits); empty skips the check for a custom url and uses the official .sha256sum file otherwise.',
      { pattern: '^([A-Fa-f0-9]{64})?$' }),
    prefix: leaf('string', '/usr/local', 'install',
      'Install prefix: binaries go to <prefix>/bin (also the runtimes\' BinaryName) and the systemd unit runs <prefix>/bin/containerd.',
      { format: 'absolute-path' }),
    arch: leaf('string', 'amd64', 'install', 'CPU architecture of the archive to install.', { enum: ['amd64', 'arm64'] }),
    package_version: leaf('string', '', 'install',
      'Distribution package version to pin (source `package`), e.g. `1.7.18-1`; empty installs the version the repository offers for `version`.'),
    file: leaf('string', '', 'install', 'Local archive uploaded to the host and installed (source `file`).'),
    runtimes: table('install', 'How each runtime binary in `runtimes` is installed, keyed by runtime name (runc, crun, youki, …).', null, {
      map: table('install', 'Installation of one runtime binary, written to <install.prefix>/bin/<name>.', {
        version: leaf('string', '', 'install', 'Release of the runtime to install; empty: the version the taskserv pins for this containerd release.'),
        url: leaf('string', '', 'install', 'Download URL of the runtime binary or archive; empty: the project\'s official release for `version`.',
          { pattern: '^$|^(https?|file)://\\S+$' }),
        sha256: leaf('string', '', 'install', 'Expected sha256 of the download (64 hex digits); empty skips the check.',
          { pattern: '^([A-Fa-f0-9]{64})?$' }),
      }),
    }),
  }),
};

// ---------------------------------------------------------------------------------------------
// building nodes

const TARGET_FILE = {
  'config.toml': CONFIG_TOML,
  'crictl.yaml': CRICTL_YAML,
  systemd: `a systemd drop-in in ${SYSTEMD_DROPIN}`,
};

function code(s) {
  const str = String(s);
  return str.includes('`') ? `\`\` ${str} \`\`` : `\`${str}\``;
}

function valueText(v) {
  return JSON.stringify(v);
}

/** `[table]` + leaf of a TOML path, or top-level. */
function place(key) {
  const segs = splitPath(key);
  const leafName = unquote(segs.at(-1));
  const parent = segs.slice(0, -1).join('.');
  return { leafName, parent };
}

function placeText(key, isTable) {
  const { leafName, parent } = place(key);
  if (isTable) return `the table ${code(`[${key}]`)}`;
  if (!parent) return `the top-level key ${code(leafName)}`;
  return `${code(leafName)} in ${code(`[${parent}]`)}`;
}

/** v3 and v4 paths of a v2 key: from the v2 node's migration (v3) and the v4 node's deprecation (v4). */
function laterPaths(key, v2node, cfgs) {
  const mig = v2node['x-containerd']?.migration;
  let v3;
  if (mig && 'v3Path' in mig) v3 = mig.v3Path; // may be null: no v3 equivalent
  else v3 = resolveKey(cfgs[3], key) ? key : null;
  let v4 = null;
  if (v3) {
    const n4 = resolveKey(cfgs[4], v3);
    if (n4) {
      const dep = n4['x-containerd']?.deprecated;
      v4 = n4.deprecated && dep?.replacement && /^plugins\./.test(dep.replacement) && /version 4/.test(dep.since ?? '')
        ? dep.replacement
        : v3;
    }
  }
  return { v3, v4 };
}

function hostSentence(key, v2node, cfgs, isTable) {
  const { v3, v4 } = laterPaths(key, v2node, cfgs);
  let s = `Rendered as ${placeText(key, isTable)} of ${CONFIG_TOML} (config version 2)`;
  const later = (p) => {
    if (isTable) return code(`[${p}]`);
    const a = place(key);
    const b = place(p);
    if (!b.parent) return `the top-level key ${code(b.leafName)}`;
    return a.leafName === b.leafName ? code(`[${b.parent}]`) : `${code(b.leafName)} in ${code(`[${b.parent}]`)}`;
  };
  if (v3 === null) {
    s += '; containerd 2.x has no such key, so it is left out of version 3 and 4 files.';
  } else if (v3 === key && v4 === key) {
    s += '; the same key in version 3 and 4 files.';
  } else if (v3 === v4 || v4 === null) {
    s += v3 === key ? `; the same key in version 3${v4 ? ' and 4' : ''} files.` : `; in version 3${v4 ? ' and 4' : ''} files as ${later(v3)}.`;
    if (v4 === null) s += ' containerd 2.3 (config version 4) has no such key.';
  } else {
    s += v3 === key ? '; the same key in version 3 files' : `; in version 3 files as ${later(v3)}`;
    s += `; in version 4 files (containerd 2.3+) as ${later(v4)}.`;
  }
  return s;
}

/** x-taskserv.since from a config key's versions record: the first release that has it (none when 1.5 has it). */
function sinceOf(versions) {
  if (!versions) return undefined;
  const first = SERIES.find((s) => versions[s] !== undefined);
  if (!first) return undefined;
  const spec = versions[first];
  if (first === SERIES[0] && spec === 'all') return undefined;
  if (spec === 'all') return first;
  if (spec.endsWith('+')) return spec.slice(0, -1);
  return spec.split('-')[0];
}

/** The releases that read a v2 key: its own versions record plus that of its version-3 path. */
function readBy(key, v2node, cfgs) {
  const out = { ...(v2node['x-containerd']?.versions ?? {}) };
  const { v3 } = laterPaths(key, v2node, cfgs);
  const n3 = v3 ? resolveKey(cfgs[3], v3) : undefined;
  for (const [s, spec] of Object.entries(n3?.['x-containerd']?.versions ?? {})) if (!(s in out)) out[s] = spec;
  return out;
}

function versionsText(versions) {
  const parts = SERIES.filter((s) => versions[s] !== undefined).map((s) => {
    const v = versions[s];
    if (v === 'all') return s;
    if (v.endsWith('+')) return `${s} (from ${v.slice(0, -1)})`;
    return `${s} (${v.replace('-', '–')} only)`;
  });
  return parts.length ? parts.join(', ') : 'no release';
}

function markdown(parts) {
  return parts.filter(Boolean).join('\n\n');
}

function xTaskserv(target, spec, extra = {}) {
  const x = { target };
  if (spec.key ?? extra.key) x.key = spec.key ?? extra.key;
  if (spec.note) x.note = spec.note;
  if (spec.notContainerd) x.notContainerd = spec.notContainerd;
  const since = extra.since ?? spec.since;
  if (since) x.since = since;
  if (spec.listOf) x.listOf = spec.listOf;
  return x;
}

const COPY_FROM_CONFIG = ['type', 'format', 'pattern', 'enum', 'minimum', 'maximum', 'items', 'examples'];
const OVERRIDES = ['enum', 'minimum', 'maximum', 'format', 'pattern', 'examples'];

function stripItems(items) {
  if (!items || typeof items !== 'object') return items;
  const out = {};
  for (const k of ['type', 'format', 'pattern', 'enum']) if (items[k] !== undefined) out[k] = items[k];
  return out;
}

function buildCfg(spec, cfgs, where) {
  const v2 = resolveKey(cfgs[2], spec.key);
  if (!v2) throw new Error(`${where}: config key ${spec.key} not found in the version-2 config schema`);
  const xc = v2['x-containerd'] ?? {};
  const node = {};
  for (const k of COPY_FROM_CONFIG) {
    if (v2[k] === undefined) continue;
    node[k] = k === 'items' ? stripItems(v2[k]) : structuredClone(v2[k]);
  }
  for (const k of OVERRIDES) if (spec[k] !== undefined) node[k] = structuredClone(spec[k]);
  const dflt = spec.default !== undefined ? spec.default : v2.default;
  const desc = spec.doc ?? v2.description ?? '';
  const host = hostSentence(spec.key, v2, cfgs, false);
  const since = sinceOf(xc.versions);
  node.description = `${desc} ${host}`;
  const defaultLine = dflt !== undefined
    ? `**Default:** ${code(valueText(dflt))}` +
      (spec.defaultNote ? ` — ${spec.defaultNote}` : spec.default !== undefined && v2.default !== undefined && JSON.stringify(v2.default) !== JSON.stringify(spec.default) ? ` (containerd's own default: ${code(valueText(v2.default))})` : '') +
      (xc.defaultNote && spec.default === undefined ? ` — ${xc.defaultNote}` : '')
    : '';
  node.markdownDescription = markdown([
    desc,
    `**On the host:** ${host}`,
    spec.note ? `**Rendering:** ${spec.note}` : '',
    defaultLine,
    xc.defaultHistory && spec.default === undefined
      ? `**Default by release:** ${xc.defaultHistory.map((h) => `${h.versions}: ${code(valueText(h.value))}`).join('; ')}`
      : '',
    node.enum ? `**Allowed values:** ${node.enum.map((e) => code(valueText(e))).join(', ')}` : '',
    node.format === 'duration' ? '**Format:** Go duration string, e.g. `10s`, `1h30m`, `300ms`.' : '',
    since ? `**Needs containerd:** ${since} or later.` : '',
    `**Read by containerd:** ${versionsText(readBy(spec.key, v2, cfgs))}`,
    xc.validation ? `**containerd checks:** ${xc.validation}` : '',
  ]);
  if (dflt !== undefined) node.default = structuredClone(dflt);
  node['x-taskserv'] = xTaskserv('config.toml', spec, { since });
  return order(node);
}

function buildLeaf(spec, cfgs, where) {
  const node = { type: spec.type };
  for (const k of OVERRIDES) if (spec[k] !== undefined) node[k] = structuredClone(spec[k]);
  let host;
  let since;
  if (spec.target === 'config.toml') {
    const v2 = resolveKey(cfgs[2], spec.key);
    if (!v2) throw new Error(`${where}: config key ${spec.key} not found in the version-2 config schema`);
    since = sinceOf(v2['x-containerd']?.versions);
    host = spec.key.endsWith('.runtimes')
      ? `Rendered as tables ${code(`[${spec.key}.<name>]`)} of ${CONFIG_TOML} (config version 2); in version 3 and 4 files under ${code(`[${laterPaths(spec.key, v2, cfgs).v3}.<name>]`)}.`
      : hostSentence(spec.key, v2, cfgs, false);
  } else if (spec.target === 'crictl.yaml') {
    host = `Rendered as ${code(`${spec.key}:`)} in ${CRICTL_YAML}.`;
  } else if (spec.target === 'systemd') {
    host = `Rendered as the ${code(`${spec.key}=`)} directive in the [Service] section of a systemd drop-in in ${SYSTEMD_DROPIN} (containerd.service).`;
  } else if (spec.target === 'install') {
    host = 'Used when installing containerd on the host; it is not written to any configuration file.';
  } else {
    host = spec.notContainerd
      ? 'Not rendered: this is not a containerd setting, so it has no effect on the host.'
      : 'Not rendered: it has no effect on the host\'s containerd.';
  }
  node.description = `${spec.doc} ${host}`;
  const typeNames = Array.isArray(spec.type) ? spec.type : [spec.type];
  node.markdownDescription = markdown([
    spec.doc,
    `**On the host:** ${host}`,
    spec.note ? `**Rendering:** ${spec.note}` : '',
    spec.notContainerd ? `**Not a containerd setting:** ${spec.notContainerd.message}` : '',
    spec.notContainerd?.equivalent ? `**Instead:** ${spec.notContainerd.equivalent}` : '',
    spec.default !== undefined ? `**Default:** ${code(valueText(spec.default))}${spec.defaultNote ? ` — ${spec.defaultNote}` : ''}` : '',
    node.enum ? `**Allowed values:** ${node.enum.map((e) => code(valueText(e))).join(', ')}` : '',
    spec.listOf ? `**Known values:** ${spec.listOf.map(code).join(', ')} (any name is valid)` : '',
    since ? `**Needs containerd:** ${since} or later.` : '',
    typeNames.length > 1 ? `**Type:** ${typeNames.join(' or ')}` : '',
  ]);
  if (spec.default !== undefined) node.default = structuredClone(spec.default);
  node['x-taskserv'] = xTaskserv(spec.target, spec, { since });
  return order(node);
}

function buildOptions(spec, cfgs, where) {
  const v2 = resolveKey(cfgs[2], spec.key);
  if (!v2) throw new Error(`${where}: config key ${spec.key} not found`);
  const props = {};
  for (const name of Object.keys(v2.properties ?? {}).sort()) {
    const opt = v2.properties[name];
    const rts = opt['x-containerd']?.runtimeTypes ?? [];
    if (!rts.includes('io.containerd.runc.v2') && !GENERIC_OPTIONS.includes(name)) continue;
    const extra = {};
    if (name === 'BinaryName') {
      extra.defaultNote = 'for runtimes generated from `runtimes` the renderer writes `<install.prefix>/bin/<name>` (nothing for runc, whose shim runs `runc` from PATH)';
    }
    if (name === 'SystemdCgroup') {
      extra.defaultNote = 'when absent the renderer writes the value of `plugins.cri.systemd_cgroup` for runc-type runtimes';
    }
    if (name === 'Root' || name === 'CriuPath' || name === 'CriuImagePath' || name === 'CriuWorkPath') extra.format = 'absolute-path';
    props[name] = buildCfg({ kind: 'cfg', key: `${spec.key}.${name}`, ...extra }, cfgs, `${where}.${name}`);
  }
  return props;
}

function buildTable(spec, cfgs, where) {
  const node = { type: 'object' };
  let host;
  if (spec.target === 'config.toml' && spec.key) {
    const v2 = resolveKey(cfgs[2], spec.key);
    if (!v2) throw new Error(`${where}: config key ${spec.key} not found`);
    host = spec.key === 'plugins' ? `Rendered under the ${code('[plugins]')} tables of ${CONFIG_TOML}.` : hostSentence(spec.key, v2, cfgs, true);
  } else if (spec.target === 'config.toml') {
    host = `Its fields are rendered into ${CONFIG_TOML}.`;
  } else if (spec.target === 'crictl.yaml') {
    host = `Its fields are rendered into ${CRICTL_YAML}.`;
  } else if (spec.target === 'systemd') {
    host = `Its fields are rendered as [Service] directives of a systemd drop-in in ${SYSTEMD_DROPIN}.`;
  } else if (spec.target === 'install') {
    host = 'Used when installing; not written to any configuration file.';
  } else {
    host = 'Not rendered: it has no effect on the host\'s containerd.';
  }
  node.description = `${spec.doc} ${host}`;
  node.markdownDescription = markdown([spec.doc, `**On the host:** ${host}`, spec.note ? `**Rendering:** ${spec.note}` : '']);
  if (spec.map) {
    node['x-map'] = 'name';
    node.additionalProperties = buildTable(spec.map, cfgs, `${where}.<name>`);
  } else if (spec.freeForm) {
    node['x-closed'] = false;
    node['x-free-form'] = true;
    node['x-key-matching'] = 'case-insensitive';
    node.properties = buildOptions(spec, cfgs, where);
  } else {
    node['x-closed'] = true;
    node.properties = buildFields(spec.fields, cfgs, where);
  }
  node['x-taskserv'] = xTaskserv(spec.target, spec);
  return order(node);
}

function buildFields(fields, cfgs, where) {
  const out = {};
  for (const [name, spec] of Object.entries(fields)) {
    const w = where ? `${where}.${name}` : name;
    if (spec.kind === 'cfg') out[name] = buildCfg(spec, cfgs, w);
    else if (spec.kind === 'leaf') out[name] = buildLeaf(spec, cfgs, w);
    else out[name] = buildTable(spec, cfgs, w);
  }
  return out;
}

const KEY_ORDER = [
  'type', 'format', 'pattern', 'minimum', 'maximum', 'enum', 'items', 'examples', 'default',
  'description', 'markdownDescription', 'deprecated', 'deprecationMessage',
  'x-closed', 'x-map', 'x-free-form', 'x-key-matching', 'x-taskserv', 'properties', 'additionalProperties',
];

function order(node) {
  const out = {};
  for (const k of KEY_ORDER) if (node[k] !== undefined) out[k] = node[k];
  for (const k of Object.keys(node)) if (!(k in out)) out[k] = node[k];
  return out;
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const cfgs = {};
  for (const v of [2, 3, 4]) {
    cfgs[v] = JSON.parse(readFileSync(path.join(args.schemas, `containerd-config-v${v}.schema.json`), 'utf8'));
  }
  const schema = {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'urn:containerd-taskserv:taskserv-containerd',
    title: 'Containerd taskserv',
    description:
      'The KCL value `containerd: Containerd = { ... }` of a taskserv file: which containerd release to install and how, ' +
      `and the settings rendered into ${CONFIG_TOML}, ${CRICTL_YAML} and a systemd drop-in for containerd.service. ` +
      'Generated by scripts/gen-taskserv-schema.mjs; do not edit.',
    type: 'object',
    'x-closed': true,
    properties: buildFields(FIELDS, cfgs, ''),
  };
  mkdirSync(args.out, { recursive: true });
  const file = path.join(args.out, OUT_NAME);
  writeFileSync(file, JSON.stringify(schema, null, 2) + '\n');
  let count = 0;
  const countNodes = (n) => {
    for (const c of Object.values(n.properties ?? {})) {
      count++;
      countNodes(c);
    }
    if (n.additionalProperties && typeof n.additionalProperties === 'object') {
      count++;
      countNodes(n.additionalProperties);
    }
  };
  countNodes(schema);
  console.log(`wrote ${path.relative(process.cwd(), file) || file} (${count} fields)`);
}

main();
