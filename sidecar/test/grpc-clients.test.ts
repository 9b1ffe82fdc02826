// tritonclient.grpc against the in-process sidecar's gRPC front end (grpc/server.ts) running the
// real native predictor on the signed MLP fixture: insecure, and mutual TLS with a client
// certificate (a client without one, or with one from another CA, is refused at the handshake).
// Live, ready, metadata, config and ModelInfer (raw_input_contents / raw_output_contents) equal
// to the sidecar's JSON path and within tolerance of Paddle's outputs; no token ->
// UNAUTHENTICATED, wrong scope -> PERMISSION_DENIED, as REST refuses them; audit, access lines,
// metrics and spans as for REST.

import assert from 'node:assert/strict';
import { MODEL, pki, type Harness } from './helpers/harness.js';
import { checkClientRun, MLP_CASES, runTritonClients, startClientsTarget, type ClientsTarget } from './helpers/clients.js';

for (const mode of ['insecure', 'mtls'] as const) {
  describe(`tritonclient.grpc against the sidecar (${mode})`, function () {
    this.timeout(300_000); // above the Python client run's 120 s bound: a safety net on a loaded machine
    let t: ClientsTarget;
    let h: Harness;
    let port: number;
    before(async () => {
      t = await startClientsTarget('none', mode === 'mtls');
      ({ h, grpcPort: port } = t);
    });
    after(async () => {
      await t.close();
    });

    it('live, ready, metadata, config and infer match the JSON path; refusals as REST', async () => {
      const p = pki();
      const out = await runTritonClients(h.dir, {
        grpc: `localhost:${port}`,
        ...(mode === 'mtls'
          ? {
              grpc_tls: { ca: p.caCert, cert: p.clientCert, key: p.clientKey },
              grpc_refused: [{ name: 'no_certificate' }, { name: 'untrusted_ca', cert: p.rogueClientCert, key: p.rogueClientKey }],
            }
          : {}),
        json_url: h.url,
        token: await h.token('model_inference'),
        wrong_scope_token: await h.token('data_protection'),
        model: MODEL,
        cases: MLP_CASES,
        max_cases: 3,
      });
      checkClientRun(out.grpc, 'grpc');
      if (mode === 'mtls') {
        const refused = (out.grpc as { refused?: Record<string, string | null> }).refused ?? {};
        assert.match(refused.no_certificate ?? '', /UNAVAILABLE|handshake|certificate|UNAUTHENTICATED/i, 'no client certificate: refused');
        assert.match(refused.untrusted_ca ?? '', /UNAVAILABLE|handshake|certificate|UNAUTHENTICATED/i, 'untrusted client certificate: refused');
      }
      // The same telemetry as REST: audit records, access lines and request metrics per call.
      const audits = h.audits.filter((a) => a.path === '/v2/models/{model}/infer');
      assert.ok(audits.some((a) => a.action === 'infer' && a.status === 200 && a.subject === 'user-1'));
      assert.ok(audits.some((a) => a.status === 401 && a.decision === 'deny'));
      assert.ok(audits.some((a) => a.status === 403 && a.decision === 'deny'));
      const metrics = await h.registry.metrics();
      assert.match(metrics, /paddle_requests_total\{model="mlp",path="\/inference.GRPCInferenceService\/ModelInfer",code="200"\} [1-9]/);
      assert.match(metrics, /paddle_requests_total\{model="mlp",path="\/inference.GRPCInferenceService\/ModelInfer",code="401"\} 1/);
      const spans = h.spans.getFinishedSpans().filter((s) => s.name === 'POST /inference.GRPCInferenceService/ModelInfer');
      assert.ok(spans.length >= 3, `server spans for ModelInfer: ${spans.length}`);
      assert.ok(h.spans.getFinishedSpans().some((s) => s.name === 'predictor.run' && spans.some((p) => p.spanContext().spanId === s.parentSpanContext?.spanId)));
    });
  });
}
