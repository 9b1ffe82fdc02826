// One of bench.ts's or grpc.ts's servers in a process of its own: `bare` (node:http, the REST
// reference), `express` (the bare handler behind express.json + one route), `chain` or
// `chain-tls` (the sidecar app as main.ts runs it, auth on, with main.ts's default connection
// limits), `grpc-bare` (grpc-js on the sidecar's .proto, grpc-bare.ts: the gRPC reference) or
// `grpc-chain` (the sidecar's gRPC front end over the same app, the same limits). Each loads
// its own MLP predictor (the same fixture, one CPU thread). A process per server, so no server's CPU figure or throughput carries another's
// garbage collection, timers or JIT state: with all of them in one process the bare reference ran
// beside an idle full chain (its timers, its heap), which is not what a user deploys instead.
//
// Started by forkServer (common.ts) over IPC: it sends {type: 'ready', url, headers, caCert?},
// then answers {type: 'cpu'} with this process's CPU time (us, every thread), {type: 'info'} with
// the chain's figures (log lines validated, the run queue's short-run line, batching), and exits
// on {type: 'close'}.
//
// For gRPC kinds `url` is host:port and `headers.token` the bearer token (grpc-load.ts's argument).
//
//   (child) npx tsx bench/sidecar/serve-one.ts bare|express|chain|chain-tls|grpc-bare|grpc-chain [maxInFlight]

import { createServer } from 'node:http';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Registry } from 'prom-client';
import { createApp } from '../../sidecar/src/app.js';
import { createGrpcFrontEnd } from '../../sidecar/src/grpc/server.js';
import { inferenceServiceDefinition } from '../../sidecar/src/grpc/service.js';
import { createLoggers } from '../../sidecar/src/logging.js';
import { createSidecarServer } from '../../sidecar/src/server.js';
import { ReloadableTracing } from '../../sidecar/src/tracing.js';
import { createPki } from '../../sidecar/test/helpers/pki.js';
import { bareModelInfer } from './grpc-bare.js';
import { bareInferHandler, bareRunner, benchAuth, benchInlineRunUs, benchConfig, inferOnce, loadMlpPredictor, mainLimits, shortRunLine, type InferRequest } from './common.js';

const kind = process.argv[2] ?? '';
const maxInFlight = Number(process.argv[3] ?? 1);
if (!['bare', 'express', 'chain', 'chain-tls', 'grpc-bare', 'grpc-chain'].includes(kind) || !process.send) {
  console.error('usage (from forkServer): serve-one.ts bare|express|chain|chain-tls|grpc-bare|grpc-chain [maxInFlight]');
  process.exit(2);
}
const send = (m: Record<string, unknown>): void => void process.send?.(m);

const predictor = await loadMlpPredictor();
let url: string;
let headers: Record<string, string> = {};
let caCert: string | undefined;
let info: () => Record<string, unknown> = () => ({});
let close: () => Promise<void> = async () => undefined;

if (kind === 'bare') {
  const bare = createServer(bareInferHandler(predictor));
  bare.keepAliveTimeout = 65000;
  await new Promise<void>((r) => bare.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(bare.address() as AddressInfo).port}/`;
  close = () => new Promise((r) => bare.close(() => r()));
} else if (kind === 'grpc-bare') {
  const bare = new Server();
  bare.addService(inferenceServiceDefinition(), { ModelInfer: bareModelInfer(predictor) });
  const port = await new Promise<number>((ok, fail) => bare.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? fail(e) : ok(p))));
  url = `127.0.0.1:${port}`;
  close = async () => bare.forceShutdown();
} else if (kind === 'express') {
  const ex = express();
  ex.use(express.json({ limit: 1024 * 1024 }));
  const run = bareRunner(predictor);
  ex.post('/infer', async (req, res) => {
    res.json(await inferOnce(run, req.body as InferRequest));
  });
  const server = createSidecarServer({ handler: ex });
  url = `http://127.0.0.1:${await server.listen(0, '127.0.0.1')}/infer`;
  close = () => server.close();
} else {
  const creds = await benchAuth('sidecar-bench-');
  let logLines = 0;
  const loggers = createLoggers({ service: 'paddle-sidecar', sinks: { out: { write: () => void logLines++ }, deadLetter: { write: () => undefined } } });
  // What main.ts runs without an OTLP endpoint.
  const tracing = new ReloadableTracing({ serviceName: 'bench' });
  const config = benchConfig(creds);
  // As main.ts runs it: queue.maxInFlight from the CPU threads (1), admission with the memory budget on.
  const sidecar = await createApp({ config, predictor, registry: new Registry(), loggers, tracer: tracing.tracer, device: 'cpu', defaultMaxInFlight: maxInFlight, inlineRunMicros: benchInlineRunUs(), memoryBudgetBytes: 2048 * 1024 * 1024 - process.memoryUsage().rss });
  sidecar.start();
  const limits = mainLimits();
  if (kind === 'grpc-chain') {
    // The calls' pace: BODY_PACE_DEFAULTS when not given, as main.ts's --min-body-rate default.
    const front = createGrpcFrontEnd({ core: sidecar.core, limits });
    url = `127.0.0.1:${await front.listen(0, '127.0.0.1')}`;
    headers = { token: creds.token };
    close = async () => {
      await front.close();
      sidecar.close();
      await tracing.shutdown(1000);
    };
  } else {
    const tls = kind === 'chain-tls';
    const pki = tls ? createPki() : undefined;
    const server = createSidecarServer({ handler: sidecar.handler, limits, ...(pki ? { tls: { certFile: pki.serverCert, keyFile: pki.serverKey, mutual: false } } : {}) });
    const port = await server.listen(0, '127.0.0.1');
    url = `${tls ? 'https://localhost' : 'http://127.0.0.1'}:${port}/v2/models/mlp/infer`;
    caCert = pki?.caCert;
    headers = { authorization: `Bearer ${creds.token}`, 'x-env-id': 'bench', 'x-test-group': 'control' };
    close = async () => {
      sidecar.close();
      await server.close();
      await tracing.shutdown();
    };
  }
  info = () => ({ logLines, shortRun: shortRunLine(sidecar.queue), batching: config.batching.enabled });
}

process.on('message', (m: { type?: string }) => {
  if (m.type === 'cpu') {
    const c = process.cpuUsage();
    send({ type: 'cpu', us: c.user + c.system });
  } else if (m.type === 'info') {
    send({ type: 'info', info: info() });
  } else if (m.type === 'close') {
    void (async () => {
      await close();
      // autocannon stops mid-request: let the last runs finish before disposing.
      for (let i = 0; i < 50; i++) {
        try {
          predictor.dispose();
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      process.exit(0);
    })();
  }
});
send({ type: 'ready', url, headers, caCert });
