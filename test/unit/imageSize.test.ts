/*
 * imageSize: the size of an image outside CRI from its index/manifest blobs (the same sum as
 * `ctr images ls`). The content store here is a Map of blobs (the real-host check is in
 * test/runtime/runtime.test.ts, against CRI and ctr).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { imageSize, type BlobReader } from '../../client/src/core/runtime/imageSize';

const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';

function store(blobs: Record<string, unknown>): { read: BlobReader; reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    read: async (d) => {
      reads.push(d);
      const b = blobs[d];
      if (b === undefined) return undefined;
      return Buffer.from(typeof b === 'string' ? b : JSON.stringify(b));
    },
  };
}

const manifest = (config: number, ...layers: number[]) => ({
  schemaVersion: 2,
  mediaType: OCI_MANIFEST,
  config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: 'sha256:cfg', size: config },
  layers: layers.map((size, i) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:l${i}`, size })),
});

describe('imageSize', () => {
  test('a manifest: its own size + config + layers (sizes as int64 strings too)', async () => {
    const { read } = store({ 'sha256:m': manifest(1500, 700_000, 30_000) });
    assert.equal(await imageSize({ mediaType: OCI_MANIFEST, digest: 'sha256:m', size: '400' }, read), 400 + 1500 + 700_000 + 30_000);
    const docker = store({ 'sha256:d': { ...manifest(10, 20), mediaType: DOCKER_MANIFEST } });
    assert.equal(await imageSize({ mediaType: DOCKER_MANIFEST, digest: 'sha256:d', size: 5 }, docker.read), 35);
  });

  test('an index: the first present platform manifest, attestations skipped', async () => {
    const index = {
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [
        { mediaType: OCI_MANIFEST, digest: 'sha256:arm', size: 300, platform: { os: 'linux', architecture: 'arm64' } },
        { mediaType: OCI_MANIFEST, digest: 'sha256:att', size: 100, platform: { os: 'unknown', architecture: 'unknown' } },
        { mediaType: OCI_MANIFEST, digest: 'sha256:amd', size: 200, platform: { os: 'linux', architecture: 'amd64' } },
      ],
    };
    // only amd64 was fetched (containerd keeps the platform it pulled): arm64 is missing, attestation ignored
    const s1 = store({ 'sha256:i': index, 'sha256:amd': manifest(10, 1000), 'sha256:att': manifest(1, 999_999) });
    assert.equal(await imageSize({ mediaType: OCI_INDEX, digest: 'sha256:i', size: 50 }, s1.read), 50 + 200 + 10 + 1000);
    assert.ok(!s1.reads.includes('sha256:att'), 'the attestation manifest is not read');
    // both present: the index's first
    const s2 = store({ 'sha256:i': index, 'sha256:amd': manifest(10, 1000), 'sha256:arm': manifest(20, 2000) });
    assert.equal(await imageSize({ mediaType: OCI_INDEX, digest: 'sha256:i', size: 50 }, s2.read), 50 + 300 + 20 + 2000);
    // a Docker manifest list whose type is only in the document
    const s3 = store({ 'sha256:dl': { ...index, mediaType: DOCKER_LIST }, 'sha256:arm': manifest(1, 2) });
    assert.equal(await imageSize({ digest: 'sha256:dl', size: 9 }, s3.read), 9 + 300 + 1 + 2);
  });

  test('unknown, never a guess: missing target, no present manifest, broken JSON, endless nesting', async () => {
    assert.equal(await imageSize({ mediaType: OCI_MANIFEST, digest: 'sha256:gone', size: 10 }, store({}).read), undefined);
    assert.equal(await imageSize({ mediaType: OCI_MANIFEST, size: 10 }, store({}).read), undefined);
    const lonely = { mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: 'sha256:x', size: 1, platform: { os: 'linux', architecture: 'amd64' } }] };
    assert.equal(await imageSize({ mediaType: OCI_INDEX, digest: 'sha256:i', size: 1 }, store({ 'sha256:i': lonely }).read), undefined);
    assert.equal(await imageSize({ mediaType: OCI_MANIFEST, digest: 'sha256:b', size: 1 }, store({ 'sha256:b': '{"layers": [' }).read), undefined);
    assert.equal(await imageSize({ mediaType: OCI_MANIFEST, digest: 'sha256:b', size: 1 }, store({ 'sha256:b': '[1,2]' }).read), undefined);
    // an index naming itself: bounded, not a loop
    const self = { mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_INDEX, digest: 'sha256:self', size: 1 }] };
    const s = store({ 'sha256:self': self });
    assert.equal(await imageSize({ mediaType: OCI_INDEX, digest: 'sha256:self', size: 1 }, s.read), undefined);
    assert.ok(s.reads.length <= 4, `reads: ${s.reads.length}`);
    // negative or garbage sizes count as 0
    const odd = store({ 'sha256:m': { mediaType: OCI_MANIFEST, config: { size: -5 }, layers: [{ size: 'x' }, { size: 7 }] } });
    assert.equal(await imageSize({ mediaType: OCI_MANIFEST, digest: 'sha256:m', size: 3 }, odd.read), 10);
  });

  test('a plain blob target is its own size, without a read', async () => {
    const s = store({});
    assert.equal(await imageSize({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: 'sha256:z', size: 42 }, s.read), 42);
    assert.deepEqual(s.reads, []);
  });
});
