/*
 * What the container-explorer tests put on a real test host (test/hosts/testHosts.ts), and how
 * they read back what the host has with `ctr` over ssh, to compare the tree against.
 *
 * On the host:
 *   - namespace default: busybox imported; `idle-a` running (ctr run -d), `created-b` created (no task);
 *   - namespace k8s.io: set up for offline CRI pods by test/helpers/criHost.ts (busybox as the
 *     sandbox image, restrict_oom_score_adj), and a CRI pod `explorer-pod` (host network, so no CNI
 *     is needed) running the container `talker`, which prints LOG_MARK once and then a line every
 *     2 s, created through the runtime core (gRPC CRI).
 */
import * as assert from 'node:assert/strict';
import { BUSYBOX, type TestHost } from '../../hosts/testHosts';
import type { RuntimeClient } from '../../../client/src/core/runtime/types';
import { prepareCriHost } from '../../helpers/criHost';

export const LOG_MARK = 'hello-from-the-explorer';
export const POD_NAME = 'explorer-pod';
export const CRI_CONTAINER = 'talker';
export const PLAIN_RUNNING = 'idle-a';
export const PLAIN_CREATED = 'created-b';
/** An image only the host's own registry has (127.0.0.1: `localhost` does not resolve on a test host). */
export const REGISTRY_IMAGE = '127.0.0.1:5000/explorer/busybox:pulled';

export const POD_CONFIG = {
  metadata: { name: POD_NAME, namespace: 'explorer-test', uid: 'explorer-pod-uid-1', attempt: 0 },
  log_directory: `/var/log/pods/explorer-test_${POD_NAME}_explorer-pod-uid-1`,
  labels: { app: 'explorer-test' },
  linux: { security_context: { namespace_options: { network: 2 } } }, // NODE: the host's network, no CNI
};

export const CONTAINER_CONFIG = {
  metadata: { name: CRI_CONTAINER, attempt: 0 },
  image: { image: BUSYBOX.ref },
  command: ['sh', '-c', `trap 'exit 0' TERM; echo ${LOG_MARK}; i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 2 & wait $!; done`],
  log_path: `${CRI_CONTAINER}/0.log`,
  labels: { app: 'explorer-test' },
};

async function root(h: TestHost, argv: string[], okCodes = [0]): Promise<string> {
  const r = await h.ssh(argv, { timeoutMs: 120_000 });
  assert.ok(okCodes.includes(r.code), `${argv.join(' ')} on ${h.name} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** CRI settings, images and plain containers (ctr over ssh). The CRI pod comes from runCriPod. */
export async function prepareHost(h: TestHost): Promise<void> {
  await prepareCriHost(h); // sandbox image = the local busybox, restrict_oom_score_adj (see test/helpers/criHost.ts)
  await root(h, ['ctr', '-n', 'default', ...BUSYBOX.importCmd.slice(1)]);
  // a clean default namespace: earlier runs on a reused host may have left these
  for (const c of [PLAIN_RUNNING, PLAIN_CREATED]) {
    await root(h, ['sh', '-c', `ctr -n default tasks kill -s KILL ${c} 2>/dev/null; sleep 0.5; ctr -n default tasks rm -f ${c} 2>/dev/null; ctr -n default containers rm ${c} 2>/dev/null; true`]);
  }
  await root(h, ['ctr', '-n', 'default', 'run', '-d', BUSYBOX.ref, PLAIN_RUNNING]);
  await root(h, ['ctr', '-n', 'default', 'containers', 'create', BUSYBOX.ref, PLAIN_CREATED]);
}

/**
 * Debian's docker-registry on the host's loopback, without its (broken: htpasswd path is a directory)
 * auth section, holding REGISTRY_IMAGE; the namespaces keep no trace of the push.
 */
export async function prepareRegistry(h: TestHost): Promise<void> {
  await root(h, ['sh', '-c', [
    'set -e',
    'sed -i "/^auth:/,/^    path:/d" /etc/docker/registry/config.yml',
    'systemctl restart docker-registry',
    'ctr -n default images tag --force "$1" "$2" >/dev/null',
    // the registry may take a moment to listen; every try is bounded
    'ok=; for i in $(seq 25); do timeout 20 ctr -n default images push --plain-http "$2" >/dev/null 2>&1 && ok=1 && break; sleep 0.4; done',
    'test "$ok" = 1 || timeout 20 ctr -n default images push --plain-http "$2" 2>&1 | tail -3',
    'test "$ok" = 1',
    'ctr -n default images rm "$2" >/dev/null',
  ].join('\n'), 'sh', BUSYBOX.ref, REGISTRY_IMAGE]);
}

export interface HostInventory {
  /** namespace → container ids (ctr containers ls -q), CRI sandboxes included */
  containers: Record<string, string[]>;
  /** namespace → image names (ctr images ls -q) */
  images: Record<string, string[]>;
  namespaces: string[];
}

/** What the host has, according to ctr. */
export async function ctrInventory(h: TestHost): Promise<HostInventory> {
  const lines = (s: string) => s.split('\n').map((l) => l.trim()).filter(Boolean).sort();
  const namespaces = lines(await root(h, ['ctr', 'namespaces', 'ls', '-q']));
  const containers: Record<string, string[]> = {};
  const images: Record<string, string[]> = {};
  for (const ns of namespaces) {
    containers[ns] = lines(await root(h, ['ctr', '-n', ns, 'containers', 'ls', '-q']));
    images[ns] = lines(await root(h, ['ctr', '-n', ns, 'images', 'ls', '-q']));
  }
  return { namespaces, containers, images };
}

/** The host's settings for VS Code (containerd.hosts entry + known_hosts). */
export function hostSettings(h: TestHost, knownHosts: string): Record<string, unknown> {
  return {
    'containerd.hosts': [{ name: `explorer-${h.name}`, host: h.address, port: h.port, user: 'root', identityFile: h.rootKey, group: 'explorer-test' }],
    'containerd.ssh.knownHostsFile': knownHosts,
  };
}

/** Remove every CRI pod, then run POD_CONFIG with CONTAINER_CONFIG started in it; returns the ids. */
export async function runCriPod(rt: RuntimeClient): Promise<{ podId: string; containerId: string }> {
  for (const p of await rt.listPods()) {
    await rt.stopPod(p.id);
    await rt.removePod(p.id);
  }
  const podId = await rt.runPod(POD_CONFIG);
  const containerId = await rt.createContainer(podId, CONTAINER_CONFIG, POD_CONFIG);
  await rt.startContainer('k8s.io', containerId);
  return { podId, containerId };
}
