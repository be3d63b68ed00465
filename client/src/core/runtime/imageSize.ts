/**
 * The size of an image outside CRI, computed from its content the way `ctr images ls` and CRI do:
 * the sum of the declared sizes of the target (index or manifest), one platform manifest, its
 * config and its layers. containerd's Images API only gives the target descriptor, so the index
 * and the manifest are read from the content store (`read`, one small blob each).
 *
 * An index may name manifests for many platforms; containerd keeps only the ones it fetched. The
 * first manifest that is present and is not an attestation (platform unknown/unknown, as BuildKit
 * writes) is counted: with several platforms pulled (`ctr pull --all-platforms`) that is the index's
 * first, where ctr would take the host's. A missing target gives `undefined` (unknown), never a guess.
 */

export interface Descriptor {
  mediaType?: string;
  digest?: string;
  size?: number | string;
  platform?: { os?: string; architecture?: string };
}

/** Reads a blob; `undefined` when the content store does not have it. */
export type BlobReader = (digest: string) => Promise<Buffer | undefined>;

const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);
const MANIFEST_TYPES = new Set(['application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json']);
/** Indexes nest at most this deep here (an index of indexes is legal but rare). */
const MAX_DEPTH = 3;

const sizeOf = (d: Descriptor | undefined): number => {
  const n = Number(d?.size ?? 0);
  return Number.isFinite(n) && n > 0 ? n : 0;
};

function parseJson(buf: Buffer): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(buf.toString('utf8')) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** A manifest's or index's media type: the descriptor's, else the document's own `mediaType`, else by shape. */
function kindOf(desc: Descriptor, doc: Record<string, unknown>): 'index' | 'manifest' | undefined {
  for (const mt of [desc.mediaType, doc.mediaType]) {
    if (typeof mt !== 'string') continue;
    if (INDEX_TYPES.has(mt)) return 'index';
    if (MANIFEST_TYPES.has(mt)) return 'manifest';
  }
  if (Array.isArray(doc.manifests)) return 'index';
  if (Array.isArray(doc.layers)) return 'manifest';
  return undefined;
}

export async function imageSize(target: Descriptor, read: BlobReader, depth = 0): Promise<number | undefined> {
  if (!target.digest) return undefined;
  const mt = target.mediaType ?? '';
  if (mt && !INDEX_TYPES.has(mt) && !MANIFEST_TYPES.has(mt)) return sizeOf(target); // a plain blob
  const buf = await read(target.digest);
  if (!buf) return undefined;
  const doc = parseJson(buf);
  if (!doc) return undefined;
  const kind = kindOf(target, doc);
  if (kind === 'manifest') {
    const layers = Array.isArray(doc.layers) ? (doc.layers as Descriptor[]) : [];
    return sizeOf(target) + sizeOf(doc.config as Descriptor) + layers.reduce((s, l) => s + sizeOf(l), 0);
  }
  if (kind !== 'index' || depth >= MAX_DEPTH) return undefined;
  const children = (doc.manifests as Descriptor[]).filter((m) => m && typeof m === 'object' && m.platform?.os !== 'unknown');
  for (const child of children) {
    const s = await imageSize(child, read, depth + 1);
    if (s !== undefined) return sizeOf(target) + s;
  }
  return undefined;
}
