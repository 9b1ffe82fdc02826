// The model-fetch init container for s3 and https model sources: the sidecar image's
// `paddle-model fetch` downloads the files into the model emptyDir and checks each one against
// the signed manifest before the serving container starts (it then mounts the emptyDir
// read-only and verifies again). The source's Secret (credentials, headers, CA) is mounted into
// this container only: never into the serving container, never as environment.

import type { V1Container, V1SecurityContext, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { MODEL_FETCH, PATHS, type PaddleService } from '../../../crds/src/index.js';
import { must } from './resolved.js';

/** Whether the model comes from storage the pod downloads (s3 or https). */
export function fetchesModel(ps: PaddleService): boolean {
  return Boolean(ps.spec.model.source.s3 ?? ps.spec.model.source.https);
}

/** The emptyDir the init container fills, sized by the source's maxSizeMB. */
export function modelEmptyDir(ps: PaddleService): V1Volume {
  const src = ps.spec.model.source.s3 ?? ps.spec.model.source.https;
  const mb = must(src?.maxSizeMB, 'spec.model.source.*.maxSizeMB');
  return { name: 'model', emptyDir: { sizeLimit: `${mb}Mi` } };
}

function sourceVolume(ps: PaddleService): V1Volume | undefined {
  const { s3, https } = ps.spec.model.source;
  const f = MODEL_FETCH.files;
  if (s3) {
    const ref = s3.credentialsSecretRef;
    return {
      name: 'model-source',
      secret: {
        secretName: ref.name,
        items: [
          { key: must(ref.accessKeyIdKey, 'spec.model.source.s3.credentialsSecretRef.accessKeyIdKey'), path: f.accessKeyId },
          { key: must(ref.secretAccessKeyKey, 'spec.model.source.s3.credentialsSecretRef.secretAccessKeyKey'), path: f.secretAccessKey },
        ],
        defaultMode: 0o440,
      },
    };
  }
  const sources = [];
  if (https?.headersSecretRef) sources.push({ secret: { name: https.headersSecretRef.name, items: [{ key: https.headersSecretRef.key ?? 'headers', path: f.headers }] } });
  if (https?.caSecretRef) sources.push({ secret: { name: https.caSecretRef.name, items: [{ key: https.caSecretRef.key ?? 'ca.crt', path: f.ca }] } });
  return sources.length > 0 ? { name: 'model-source', projected: { sources, defaultMode: 0o440 } } : undefined;
}

function fetchArgs(ps: PaddleService): string[] {
  const { s3, https } = ps.spec.model.source;
  const src = s3 ?? https;
  const maxBytes = must(src?.maxSizeMB, 'spec.model.source.*.maxSizeMB') * 1024 * 1024;
  const verify = ps.spec.model.verification?.required !== false ? ['--key', PATHS.publicKey] : ['--unsigned'];
  const common = ['--dest', PATHS.modelDir, ...verify, '--max-bytes', String(maxBytes), '--termination-log', PATHS.terminationLog];
  const dir = PATHS.sourceDir;
  if (s3) {
    return [
      'fetch',
      ...(s3.endpoint ? ['--s3-endpoint', s3.endpoint] : []),
      '--s3-bucket',
      s3.bucket,
      '--s3-prefix',
      s3.prefix ?? '',
      '--s3-region',
      must(s3.region, 'spec.model.source.s3.region'),
      '--credentials-dir',
      dir,
      ...common,
    ];
  }
  const h = must(https, 'spec.model.source.https');
  return [
    'fetch',
    '--url',
    h.url,
    ...(h.headersSecretRef ? ['--headers-file', `${dir}/${MODEL_FETCH.files.headers}`] : []),
    ...(h.caSecretRef ? ['--ca-file', `${dir}/${MODEL_FETCH.files.ca}`] : []),
    ...common,
  ];
}

/**
 * The init container and the volume it alone mounts. `modelMount` and `keyMount` are the
 * serving container's mounts of the model emptyDir and the public key, reused read-write /
 * read-only here.
 */
export function buildModelFetch(
  ps: PaddleService,
  image: string,
  pullPolicy: string,
  securityContext: V1SecurityContext,
  mounts: { model: V1VolumeMount; key?: V1VolumeMount; tmp: V1VolumeMount },
): { container: V1Container; volumes: V1Volume[] } {
  const volume = sourceVolume(ps);
  const volumeMounts: V1VolumeMount[] = [{ ...mounts.model, readOnly: false }, mounts.tmp];
  if (mounts.key) volumeMounts.push(mounts.key);
  if (volume) volumeMounts.push({ name: volume.name, mountPath: PATHS.sourceDir, readOnly: true });
  return {
    container: {
      name: MODEL_FETCH.container,
      image,
      imagePullPolicy: pullPolicy,
      command: [MODEL_FETCH.command],
      args: fetchArgs(ps),
      // The SDK's notice about future Node releases is noise in a pod's log.
      env: [{ name: 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED', value: 'true' }],
      resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } },
      volumeMounts,
      securityContext,
      // The reason for a refusal is what fetch writes there, not its log's tail.
      terminationMessagePath: PATHS.terminationLog,
      terminationMessagePolicy: 'File',
    },
    volumes: volume ? [volume] : [],
  };
}
