/*
 * Prepare a test host (test/hosts/testHosts.ts) for CRI pods, and the CRI configs that run there.
 *
 *   const [h] = await bootHosts(1);
 *   await prepareCriHost(h);                       // idempotent; restarts containerd only when it changed something
 *   const pod = criPodConfig('logs-1');            // host network, log directory under /var/log/pods
 *   const podId = await rt.runPod(pod);
 *   const id = await rt.createContainer(podId, criContainerConfig('printer', ['sh', '-c', 'echo hi; exec sleep 1000']), pod);
 *
 * Test hosts have no network: the pod sandbox ("pause") image is the local busybox (its default
 * command is a TERM-aware idle loop), imported into containerd's k8s.io namespace; pods use the
 * host's network (no CNI needed). Inside systemd-nspawn, CAP_SYS_RESOURCE is not in the bounding
 * set, so runc cannot lower a sandbox's oom_score_adj to CRI's -998: `restrict_oom_score_adj = true`
 * (containerd's knob for exactly this, meant for rootless/nested setups) keeps it at containerd's own.
 */
import { BUSYBOX, type TestHost } from '../hosts/testHosts';

const CONFIG = '/etc/containerd/config.toml';

/** Lines set under [plugins."io.containerd.grpc.v1.cri"] (config version 2, containerd 1.6/1.7). */
export const CRI_TEST_SETTINGS: readonly string[] = [`sandbox_image = "${BUSYBOX.ref}"`, 'restrict_oom_score_adj = true'];

/**
 * $1 = config file, then the `key = value` lines. Makes sure the CRI section exists and holds exactly
 * these values (other lines setting the same keys are removed); prints "changed" when it wrote.
 */
export const EDIT_SCRIPT = `f=$1; shift
[ -f "$f" ] || printf 'version = 2\\n' > "$f"
hdr='[plugins."io.containerd.grpc.v1.cri"]'
changed=
awk -v hdr="$hdr" '{ t = $0; gsub(/^[ \\t]+|[ \\t]+$/, "", t); if (t == hdr) found = 1 } END { exit !found }' "$f" || { printf '\\n%s\\n' "$hdr" >> "$f"; changed=1; }
for kv in "$@"; do
  k=\${kv%% *}
  if ! grep -qx "[[:space:]]*$kv" "$f"; then
    sed -i "/^[[:space:]]*$k[[:space:]]*=/d" "$f"
    awk -v hdr="$hdr" -v line="    $kv" '{ print } !done { t = $0; gsub(/^[ \\t]+|[ \\t]+$/, "", t); if (t == hdr) { print line; done = 1 } }' "$f" > "$f.cts-tmp" && cat "$f.cts-tmp" > "$f" && rm -f "$f.cts-tmp"
    changed=1
  fi
done
[ -n "$changed" ] && echo changed
exit 0`;

async function must(host: TestHost, cmd: string[], what: string, timeoutMs = 120_000): Promise<string> {
  const r = await host.ssh(cmd, { timeoutMs });
  if (r.code !== 0) throw new Error(`${host.name}: ${what} failed (${r.code}): ${r.stderr || r.stdout}`);
  return r.stdout;
}

/** Make `host` able to run CRI pods offline (see the file comment). Safe to call again. */
export async function prepareCriHost(host: TestHost): Promise<void> {
  const out = await must(host, ['sh', '-c', EDIT_SCRIPT, 'sh', CONFIG, ...CRI_TEST_SETTINGS], 'editing config.toml');
  if (out.includes('changed')) {
    await must(host, ['systemctl', 'restart', 'containerd'], 'restarting containerd');
  }
  // the CRI plugin is up once `ctr plugins ls` lists it as ok (bounded wait)
  await must(
    host,
    ['sh', '-c', 'for i in $(seq 1 60); do ctr plugins ls 2>/dev/null | grep -q "io.containerd.grpc.v1 *cri .* ok" && exit 0; sleep 0.5; done; echo "CRI plugin not ok" >&2; ctr plugins ls >&2; exit 1'],
    'waiting for the CRI plugin',
  );
  await must(
    host,
    ['sh', '-c', 'ctr -n k8s.io images ls -q | grep -qxF "$1" || ctr -n k8s.io images import --base-name "$2" "$3"', 'sh', BUSYBOX.ref, 'docker.io/library/busybox', BUSYBOX.tar],
    'importing busybox into k8s.io',
  );
}

let seq = 0;

export interface CriPodOptions {
  /** Kubernetes namespace of the pod (metadata.namespace); default "default" */
  namespace?: string;
  uid?: string;
  /** default /var/log/pods/<namespace>_<name>_<uid>; '' = no log directory (containers get no log file) */
  logDirectory?: string;
  labels?: Record<string, string>;
}

/** A PodSandboxConfig (crictl's JSON, snake_case field names) with host networking. */
export function criPodConfig(name: string, o: CriPodOptions = {}): Record<string, unknown> {
  const namespace = o.namespace ?? 'default';
  const uid = o.uid ?? `${name}-${process.pid}-${++seq}`;
  const logDirectory = o.logDirectory ?? `/var/log/pods/${namespace}_${name}_${uid}`;
  return {
    metadata: { name, namespace, uid, attempt: 0 },
    ...(logDirectory ? { log_directory: logDirectory } : {}),
    labels: o.labels ?? {},
    annotations: {},
    linux: { security_context: { namespace_options: { network: 2 /* NODE */ } } },
  };
}

/** A ContainerConfig running `command` in busybox, logging to `<name>/0.log` below the pod's log directory. */
export function criContainerConfig(name: string, command: string[], o: { logPath?: string; image?: string; labels?: Record<string, string> } = {}): Record<string, unknown> {
  return {
    metadata: { name, attempt: 0 },
    image: { image: o.image ?? BUSYBOX.ref },
    command,
    log_path: o.logPath ?? `${name}/0.log`,
    labels: o.labels ?? {},
    annotations: {},
    linux: {},
  };
}
