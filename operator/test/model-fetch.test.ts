// s3 / https model sources: the model-fetch init container the Deployment gets (args, mounts,
// the Secret mounted into it alone, the emptyDir sized by maxSizeMB), the pod cache keeping how
// it ended, and the ModelFetched condition (and Ready) quoting its termination message.
import assert from 'node:assert/strict';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { MODEL_FETCH, PATHS, type PaddleService } from '../../crds/src/index.js';
import { buildDeployment, DEFAULT_OPERATOR_CONFIG } from '../src/builders/index.js';
import { podForCache } from '../src/cache-transform.js';
import { modelFetchCondition } from '../src/status/model-fetch.js';
import { variant } from './fixtures.js';

const s3Service = (mutate: (src: NonNullable<PaddleService['spec']['model']['source']['s3']>) => void = () => undefined) =>
  variant('minimal.yaml', (ps) => {
    const s3 = { endpoint: 'http://minio.storage.svc:9000', bucket: 'models', prefix: 'mnist/v1', credentialsSecretRef: { name: 'store' } };
    mutate(s3);
    ps.spec.model.source = { s3 };
  });

const deploy = (ps: PaddleService): V1Deployment => buildDeployment(ps, DEFAULT_OPERATOR_CONFIG, { replicas: 1, restartHash: 'h' });

function pod(name: string, fetch?: V1Pod['status']): V1Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'ml', labels: { a: 'b' } }, ...(fetch ? { status: fetch } : {}) };
}
const ended = (exitCode: number, message: string) => ({
  initContainerStatuses: [{ name: MODEL_FETCH.container, image: 'x', imageID: 'y', ready: exitCode === 0, restartCount: 0, state: { terminated: { exitCode, message, reason: exitCode ? 'Error' : 'Completed' } } }],
});

describe('model sources from storage (s3, https)', () => {
  it('an s3 source gets the model-fetch init container writing the emptyDir the sidecar reads', () => {
    const d = deploy(s3Service());
    const spec = d.spec?.template.spec;
    const init = spec?.initContainers?.[0];
    assert.ok(init, 'an init container');
    assert.equal(init.name, MODEL_FETCH.container);
    assert.deepEqual(init.command, ['paddle-model']);
    assert.equal(init.image, spec?.containers[0]?.image, 'the same image as the sidecar');
    assert.deepEqual(init.args, [
      'fetch',
      '--s3-endpoint',
      'http://minio.storage.svc:9000',
      '--s3-bucket',
      'models',
      '--s3-prefix',
      'mnist/v1',
      '--s3-region',
      'us-east-1',
      '--credentials-dir',
      PATHS.sourceDir,
      '--dest',
      PATHS.modelDir,
      '--key',
      PATHS.publicKey,
      '--max-bytes',
      String(4096 * 1024 * 1024),
      '--termination-log',
      PATHS.terminationLog,
    ]);
    assert.equal(init.terminationMessagePolicy, 'File');
    assert.equal(init.securityContext?.readOnlyRootFilesystem, true);
    const model = spec?.volumes?.find((v) => v.name === 'model');
    assert.deepEqual(model, { name: 'model', emptyDir: { sizeLimit: '4096Mi' } });
    assert.equal(init.volumeMounts?.find((m) => m.name === 'model')?.readOnly, false);
    assert.equal(spec?.containers[0]?.volumeMounts?.find((m) => m.name === 'model')?.readOnly, true);
    // The credentials: a Secret volume mapped to fixed file names, in the init container only.
    const source = spec?.volumes?.find((v) => v.name === 'model-source');
    assert.deepEqual(source?.secret?.items, [
      { key: 'accessKeyId', path: 'accessKeyId' },
      { key: 'secretAccessKey', path: 'secretAccessKey' },
    ]);
    assert.equal(source?.secret?.secretName, 'store');
    assert.ok(init.volumeMounts?.some((m) => m.name === 'model-source' && m.mountPath === PATHS.sourceDir && m.readOnly));
    assert.ok(!spec?.containers[0]?.volumeMounts?.some((m) => m.name === 'model-source'), 'the sidecar never mounts the store credentials');
    assert.ok(!JSON.stringify(spec?.containers).includes('store'), 'no credential reference in the serving container');
    assert.ok(!init.env?.some((e) => e.valueFrom?.secretKeyRef), 'credentials are files, never environment');
  });

  it('maps custom Secret keys, maxSizeMB and verification off', () => {
    const ps = s3Service((s3) => {
      s3.credentialsSecretRef = { name: 'aws', accessKeyIdKey: 'AWS_ACCESS_KEY_ID', secretAccessKeyKey: 'AWS_SECRET_ACCESS_KEY' };
      s3.maxSizeMB = 10;
      delete (s3 as { endpoint?: string }).endpoint;
    });
    ps.spec.model.verification = { required: false };
    const spec = deploy(ps).spec?.template.spec;
    const init = spec?.initContainers?.[0];
    assert.ok(init?.args?.includes('--unsigned') && !init.args.includes('--key'));
    assert.ok(!init?.args?.includes('--s3-endpoint'), 'AWS: no endpoint flag');
    assert.equal(init?.args?.[init.args.indexOf('--max-bytes') + 1], String(10 * 1024 * 1024));
    assert.deepEqual(spec?.volumes?.find((v) => v.name === 'model')?.emptyDir, { sizeLimit: '10Mi' });
    assert.deepEqual(
      spec?.volumes?.find((v) => v.name === 'model-source')?.secret?.items?.map((i) => i.key),
      ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'],
    );
  });

  it('an https source passes the URL, the headers file and the CA from a projected Secret volume', () => {
    const ps = variant('minimal.yaml', (p) => {
      p.spec.model.source = { https: { url: 'https://models.internal/mnist/v1', headersSecretRef: { name: 'hdr' }, caSecretRef: { name: 'ca', key: 'bundle.pem' } } };
    });
    const spec = deploy(ps).spec?.template.spec;
    const args = spec?.initContainers?.[0]?.args ?? [];
    assert.deepEqual(args.slice(0, 7), ['fetch', '--url', 'https://models.internal/mnist/v1', '--headers-file', `${PATHS.sourceDir}/headers`, '--ca-file', `${PATHS.sourceDir}/ca.crt`]);
    const sources = spec?.volumes?.find((v) => v.name === 'model-source')?.projected?.sources ?? [];
    assert.deepEqual(
      sources.map((s) => [s.secret?.name, s.secret?.items?.[0]?.key, s.secret?.items?.[0]?.path]),
      [
        ['hdr', 'headers', 'headers'],
        ['ca', 'bundle.pem', 'ca.crt'],
      ],
    );
  });

  it('pvc, image and configMap sources get no init container', () => {
    for (const source of [{ pvc: { claimName: 'm' } }, { configMap: { name: 'c' } }, { image: { reference: 'r/m@sha256:00' } }]) {
      const ps = variant('minimal.yaml', (p) => {
        p.spec.model.source = source;
      });
      assert.equal(deploy(ps).spec?.template.spec?.initContainers, undefined);
      assert.equal(modelFetchCondition(ps, [pod('p')]), undefined);
    }
  });

  it('the pod cache keeps how model-fetch ended (and nothing else of the status)', () => {
    const full: V1Pod = pod('p', {
      phase: 'Pending',
      conditions: [{ type: 'Initialized', status: 'False' }],
      initContainerStatuses: [
        {
          name: MODEL_FETCH.container,
          image: 'img',
          imageID: 'id',
          ready: false,
          restartCount: 2,
          state: { waiting: { reason: 'CrashLoopBackOff' } },
          lastState: { terminated: { exitCode: 1, message: 'model refused: model.pdiparams: SHA-256 ...', reason: 'Error', containerID: 'c', startedAt: new Date(0) } },
        },
      ],
    });
    const cached = podForCache(full);
    assert.deepEqual(cached.status?.initContainerStatuses?.[0]?.lastState?.terminated, { exitCode: 1, message: 'model refused: model.pdiparams: SHA-256 ...', reason: 'Error' });
    assert.equal(cached.status?.phase, undefined);
    assert.equal(podForCache(pod('q', { phase: 'Running' })).status, undefined);
  });

  it('ModelFetched: False naming the pod and the file, True with what was fetched, Unknown while fetching', () => {
    const ps = s3Service();
    assert.deepEqual(modelFetchCondition(ps, [pod('a')]), { type: 'ModelFetched', status: 'Unknown', reason: 'Fetching', message: 'no pod has finished downloading the model yet' });
    const ok = modelFetchCondition(ps, [pod('a', ended(0, 'fetched model.pdiparams, model.pdmodel (1 bytes)'))]);
    assert.equal(ok?.status, 'True');
    assert.match(ok?.message ?? '', /^fetched model\.pdiparams/);
    const bad = modelFetchCondition(ps, [pod('a', ended(0, 'fetched')), pod('b', ended(1, 'model refused: model.pdiparams: SHA-256 aa does not match bb in signature.json'))]);
    assert.deepEqual(bad, { type: 'ModelFetched', status: 'False', reason: 'ModelFetchFailed', message: 'pod b: model refused: model.pdiparams: SHA-256 aa does not match bb in signature.json' });
    const silent = modelFetchCondition(ps, [pod('c', ended(137, ''))]);
    assert.match(silent?.message ?? '', /^pod c: exit code 137 \(Error\), no termination message$/);
  });
});
