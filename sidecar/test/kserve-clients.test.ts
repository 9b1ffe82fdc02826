// KServe's own Python SDK clients (kserve.InferenceRESTClient over httpx, OIP v2 with the binary
// tensor extension on and off; kserve.InferenceGRPCClient over grpc.aio) against the in-process
// sidecar running the real native predictor on the signed MLP fixture, both front ends on mutual
// TLS with a client certificate: live, ready, model ready and inference, every result equal
// element for element to the sidecar's plain JSON path and within float tolerance of the outputs
// real Paddle produced, the request id echoed; no token and a token without the inference scope
// refused as REST refuses them; a client without a certificate refused at the handshake.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { MLP_CASES, runClientScript, startClientsTarget, type ClientsTarget } from './helpers/clients.js';
import { MODEL, pki, type Harness } from './helpers/harness.js';

interface KserveCase {
  case: string;
  binary: boolean | null;
  output: string;
  shape: number[];
  dtype: string;
  equal_to_json_path: boolean;
  max_abs_diff_paddle: number;
  id: string;
  sent_id: string;
}

interface KserveRun {
  live: boolean;
  ready: boolean;
  model_ready: boolean;
  cases: KserveCase[];
  no_token_error: string | null;
  wrong_scope_error: string | null;
  no_certificate_error?: string | null;
}

describe('KServe SDK clients (REST binary on/off, gRPC) against the sidecar on mutual TLS', function () {
  this.timeout(300_000); // above the Python client run's 120 s bound: a safety net on a loaded machine
  let t: ClientsTarget;
  let h: Harness;
  let grpcPort: number;
  before(async () => {
    t = await startClientsTarget('mtls', true);
    ({ h, grpcPort } = t);
  });
  after(async () => {
    await t.close();
  });

  it('health and inference equal to the JSON path and to Paddle; refusals as REST', async () => {
    const p = pki();
    const out = (await runClientScript('kserve_clients.py', h.dir, {
      rest: h.url,
      grpc: `localhost:${grpcPort}`,
      tls: { ca: p.caCert, cert: p.clientCert, key: p.clientKey },
      token: await h.token('model_inference'),
      wrong_scope_token: await h.token('data_protection'),
      model: MODEL,
      cases: MLP_CASES,
      max_cases: 3,
    })) as { rest?: KserveRun; grpc?: KserveRun };
    // The MLP has one output: one row per case (up to max_cases) and mode (REST binary and JSON).
    const cases = Math.min(3, (JSON.parse(readFileSync(MLP_CASES, 'utf8')) as { cases: unknown[] }).cases.length);
    assert.ok(cases >= 2, `fixture cases: ${cases}`);
    for (const kind of ['rest', 'grpc'] as const) {
      const r = out[kind];
      assert.ok(r, `${kind} ran`);
      assert.deepEqual([r.live, r.ready, r.model_ready], [true, true, true], `${kind}: live, ready, model ready`);
      assert.equal(r.cases.length, kind === 'rest' ? 2 * cases : cases, `${kind}: one output per case and mode`);
      for (const c of r.cases) {
        const what = `${kind} ${c.case} binary=${String(c.binary)}`;
        assert.equal(c.equal_to_json_path, true, `${what}: equal to the JSON path`);
        assert.equal(c.dtype, 'float32', what);
        assert.ok(c.max_abs_diff_paddle < 1e-5, `${what}: ${c.max_abs_diff_paddle} from Paddle's output`);
        assert.equal(c.id, c.sent_id, `${what}: the request id is echoed`);
      }
      // The sidecar's message reaches the KServe user (its REST client reads the JSON `error` of an
      // answer typed exactly `application/json`).
      assert.match(r.no_token_error ?? '', kind === 'rest' ? /bearer token.*'401 Unauthorized'/i : /UNAUTHENTICATED.*bearer token/i, `${kind}: no token`);
      assert.match(r.wrong_scope_error ?? '', kind === 'rest' ? /insufficient permissions, '403 Forbidden'/ : /PERMISSION_DENIED.*insufficient permissions/, `${kind}: wrong scope`);
      assert.match(r.no_certificate_error ?? '', kind === 'rest' ? /SSL|certificate|handshake|ConnectError|ReadError|RemoteProtocolError/i : /UNAVAILABLE|handshake|certificate/i, `${kind}: no client certificate`);
    }
    assert.ok(out.rest?.cases.some((c) => c.binary === true) && out.rest.cases.some((c) => c.binary === false), 'REST ran binary and JSON');
    // The same telemetry for both front ends: audit records per call, allow and deny.
    const audits = h.audits.filter((a) => a.path === '/v2/models/{model}/infer');
    assert.ok(audits.filter((a) => a.action === 'infer' && a.status === 200).length >= 3 * cases, 'every inference audited');
    assert.ok(audits.some((a) => a.status === 401 && a.decision === 'deny'));
    assert.ok(audits.some((a) => a.status === 403 && a.decision === 'deny'));
  });
});
