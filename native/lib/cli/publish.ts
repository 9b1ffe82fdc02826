// push and pack: getting a signed model directory to where the cluster reads it.
//   push (--s3-bucket B [--s3-endpoint URL] [--s3-prefix P] [--s3-region R] [--credentials-dir D])
//        [--key PUB.pem] DIR
//     uploads every file signature.json lists, then signature.json itself (a reader that sees
//     the signature finds the files it lists); the digests are checked first, and with --key
//     the signature too, so a model that would be refused is never uploaded.
//   pack --output LAYOUT [--ref NAME] DIR
//     writes an OCI image layout (oci-layout, index.json, blobs/sha256/...) of one image whose
//     single uncompressed layer holds the model files at its root: what the `image` source
//     (an image volume) mounts. Copy it to a registry with any OCI tool, e.g.
//     `skopeo copy oci:LAYOUT:NAME docker://REGISTRY/REPO:TAG`.

import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { create as createTar } from 'tar';
import { UsageError, flag, oneDir, required, type Args, type CliIo } from './args.js';
import { ModelRefusedError, SIGNATURE_FILE, parseSignature, readPublicKey, sha256Hex, verifySignature, type SignatureDoc } from './manifest.js';
import { storeFromArgs } from './store.js';

/** signature.json of DIR, checked against the files on disk (and the key when given). */
export function checkedSignature(dir: string, keyPath: string | undefined): SignatureDoc {
  let bytes: Buffer;
  try {
    bytes = readFileSync(join(dir, SIGNATURE_FILE));
  } catch {
    throw new UsageError(`${dir} has no ${SIGNATURE_FILE}: sign it first (paddle-model sign --key PRIV.pem ${dir})`);
  }
  const doc = parseSignature(bytes);
  if (keyPath) verifySignature(doc, readPublicKey(keyPath));
  for (const [name, digest] of Object.entries(doc.files)) {
    let got: string;
    try {
      got = sha256Hex(readFileSync(join(dir, name)));
    } catch {
      throw new ModelRefusedError(`${name} is listed in ${SIGNATURE_FILE} but missing from ${dir}`, name);
    }
    if (got !== digest) throw new ModelRefusedError(`${name}: SHA-256 ${got} does not match ${digest} in ${SIGNATURE_FILE}: re-sign after changing the model`, name);
  }
  return doc;
}

export async function pushCommand(args: Args, io: CliIo): Promise<number> {
  const dir = oneDir(args);
  const doc = checkedSignature(dir, flag(args, 'key'));
  const store = storeFromArgs(args);
  try {
    const names = Object.keys(doc.files).sort();
    let bytes = 0;
    for (const name of [...names, SIGNATURE_FILE]) {
      const data = readFileSync(join(dir, name));
      await store.put(name, data);
      bytes += data.length;
      io.out(`pushed ${name} (${data.length} bytes)`);
    }
    io.out(`pushed ${names.length + 1} files (${bytes} bytes) to ${store.describe()}`);
    return 0;
  } finally {
    (store as { destroy?: () => void }).destroy?.();
  }
}

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

const MEDIA = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar',
};

function writeBlob(layout: string, bytes: Buffer, mediaType: string): Descriptor {
  const hex = sha256Hex(bytes);
  writeFileSync(join(layout, 'blobs', 'sha256', hex), bytes);
  return { mediaType, digest: `sha256:${hex}`, size: bytes.length };
}

const json = (v: unknown) => Buffer.from(JSON.stringify(v));

/** Builds the layout; returns the manifest descriptor. Same files in, same digests out. */
export function packLayout(dir: string, layout: string, ref: string, doc: SignatureDoc): Descriptor {
  mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true });
  const names = [...Object.keys(doc.files).sort(), SIGNATURE_FILE];
  const tarPath = join(layout, '.layer.tar');
  // Portable, mtime 0, fixed modes: the layer digest depends on the files only.
  createTar({ cwd: dir, file: tarPath, sync: true, portable: true, mtime: new Date(0), noDirRecurse: true, noPax: true }, names);
  const layerBytes = readFileSync(tarPath);
  rmSync(tarPath);
  const layer = writeBlob(layout, layerBytes, MEDIA.layer);
  const config = writeBlob(
    layout,
    json({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [layer.digest] }, history: [{ created_by: 'paddle-model pack' }] }),
    MEDIA.config,
  );
  const manifest = writeBlob(
    layout,
    json({ schemaVersion: 2, mediaType: MEDIA.manifest, config, layers: [layer], annotations: { 'io.paddle.model.keyId': doc.keyId ?? '', 'io.paddle.model.algorithm': doc.algorithm } }),
    MEDIA.manifest,
  );
  const described = { ...manifest, annotations: { 'org.opencontainers.image.ref.name': ref } };
  writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [described] }));
  return described;
}

export function packCommand(args: Args, io: CliIo): number {
  const dir = oneDir(args);
  const layout = required(args, 'output', 'LAYOUT_DIR');
  const ref = flag(args, 'ref') ?? 'latest';
  if (!/^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/.test(ref)) throw new UsageError(`--ref ${JSON.stringify(ref)} is not a valid tag`);
  try {
    if (statSync(layout).isDirectory() && readdirSync(layout).length > 0) throw new UsageError(`--output ${layout} exists and is not empty`);
  } catch (err) {
    if (err instanceof UsageError) throw err;
  }
  const doc = checkedSignature(dir, flag(args, 'key'));
  const d = packLayout(dir, layout, ref, doc);
  io.out(`packed ${Object.keys(doc.files).length + 1} files into the OCI image layout ${layout} (ref ${ref}, manifest ${d.digest})`);
  return 0;
}
