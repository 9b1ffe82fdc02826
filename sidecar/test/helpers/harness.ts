// Starts the real sidecar app in-process on 127.0.0.1:0 (HTTPS, optionally mutual TLS), with
// real key files, a real JWT secret/JWKS, a captured log stream (every line schema-checked) and
// an in-memory span exporter.

import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Registry } from 'prom-client';
import { createApp, type AppDeps, type AuditSink, type SidecarApp } from '../../src/app.js';
import type { AuditEvent } from '../../src/audit.js';
import { parseSidecarConfig, type SidecarConfig } from '../../src/config.js';
import { createLoggers, type SidecarLoggers } from '../../src/logging.js';
import type { PredictorLike } from '../../src/predictor.js';
import { createSidecarServer, type RunningServer } from '../../src/server.js';
import { metricsListener } from '../../src/listeners.js';
import { HealthPort } from '../../src/health-port.js';
import { createTracerProvider } from '../../src/tracing.js';
import { createPki, type Pki } from './pki.js';
import { testDir } from './tmp.js';

export const ISSUER = 'https://issuer.test';
export const AUDIENCE = 'paddle-sidecar-test';
export const MODEL = 'mlp';

let sharedPki: Pki | undefined;
export function pki(): Pki {
  sharedPki ??= createPki();
  return sharedPki;
}

/** Every dead letter any harness saw; test files assert it stays empty. */
export const deadLetters: string[] = [];
export const validLogLines: string[] = [];

/** The access lines written for one request id (any harness in this process). */
export const accessLinesOf = (requestId: string): Record<string, unknown>[] =>
  validLogLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.request_id === requestId && l['@log.kind'] === 'access');

export interface Harness {
  url: string;
  port: number;
  /** The plain-HTTP metrics port (GET /metrics only), as main.ts runs it. */
  metricsUrl: string;
  /** The plain-HTTP health port (the two probe paths only), as main.ts runs it. */
  healthUrl: string;
  dir: string;
  configFile: string;
  sidecar: SidecarApp;
  server: RunningServer;
  loggers: SidecarLoggers;
  spans: InMemorySpanExporter;
  registry: Registry;
  audits: AuditEvent[];
  hmacSecret: Uint8Array;
  rsaKey: CryptoKey;
  ecKey: CryptoKey;
  encryptionKey: Buffer;
  predictor: PredictorLike;
  token(scope: string | string[], o?: { sub?: string; alg?: 'HS256' | 'RS256' | 'ES256'; expSeconds?: number; issuer?: string; audience?: string }): Promise<string>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  predictor: PredictorLike;
  tls?: 'tls' | 'mtls' | 'none';
  config?: Record<string, unknown>;
  deps?: Partial<AppDeps>;
  modelDir?: string;
  audit?: AuditSink;
}

export function writeConfig(path: string, c: Record<string, unknown>): SidecarConfig {
  const text = JSON.stringify(c, null, 2);
  const parsed = parseSidecarConfig(text);
  if (!parsed.ok) throw new Error(parsed.error);
  writeFileSync(path, text);
  return parsed.config;
}

export function baseConfig(dir: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    version: 1,
    model: { name: MODEL },
    auth: {
      enabled: true,
      issuer: ISSUER,
      audience: AUDIENCE,
      clockSkewSeconds: 5,
      hmacSecretFile: join(dir, 'hmac.key'),
      jwksFile: join(dir, 'jwks.json'),
      policies: [
        { path: '/v2/models/{model}/infer', domain: 'model_inference', callsPerMinute: 60 },
        { path: '/v1/predict', domain: 'model_inference', callsPerMinute: 60 },
        { path: '/v1/encrypt_input', domain: 'data_protection', callsPerMinute: 20 },
        { path: '/v1/export_model', domain: 'model_admin', callsPerMinute: 5 },
      ],
    },
    cors: { allowedOrigins: ['https://console.example.com'] },
    ...extra,
  };
}

/**
 * A random HS256 secret as a Secret would hold it: 64 base64url characters. Raw random bytes
 * would sometimes end in CR or LF, which the sidecar strips as a trailing newline, leaving 31
 * bytes and a refused key: a 1-in-128 flaky start.
 */
export function newHmacSecret(): Buffer {
  return Buffer.from(randomBytes(48).toString('base64url'));
}

export async function startHarness(o: HarnessOptions): Promise<Harness> {
  const dir = testDir('sidecar-test-');
  const hmacSecret = newHmacSecret();
  writeFileSync(join(dir, 'hmac.key'), hmacSecret);
  const rsa = await generateKeyPair('RS256', { extractable: true });
  const ec = await generateKeyPair('ES256', { extractable: true });
  const jwks = {
    keys: [
      { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
      { ...(await exportJWK(ec.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' },
    ],
  };
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify(jwks));
  const encryptionKey = randomBytes(32);
  writeFileSync(join(dir, 'enc.key'), encryptionKey.toString('hex'));
  const configFile = join(dir, 'config.json');
  const config = writeConfig(configFile, baseConfig(dir, o.config));

  const loggers = createLoggers({
    service: 'paddle-sidecar',
    level: 'debug',
    sinks: { out: { write: (l) => void validLogLines.push(l) }, deadLetter: { write: (l) => void deadLetters.push(l) } },
  });
  const spans = new InMemorySpanExporter();
  const provider = createTracerProvider({ serviceName: 'paddle-sidecar-test', spanProcessors: [new SimpleSpanProcessor(spans)] });
  const registry = new Registry();
  const audits: AuditEvent[] = [];
  const audit: AuditSink = o.audit ?? { record: (e) => audits.push(e) };
  const sidecar = await createApp({
    config,
    predictor: o.predictor,
    registry,
    loggers,
    tracer: provider.getTracer('test'),
    device: 'cpu',
    ...(o.modelDir ? { modelDir: o.modelDir } : {}),
    encryptionKey: () => encryptionKey,
    audit,
    ...o.deps,
  });
  sidecar.start();
  const p = pki();
  const tlsMode = o.tls ?? 'tls';
  const server = createSidecarServer({
    handler: sidecar.handler,
    ...(tlsMode === 'none' ? {} : { tls: { certFile: p.serverCert, keyFile: p.serverKey, caFile: p.caCert, mutual: tlsMode === 'mtls' } }),
  });
  const port = await server.listen(0, '127.0.0.1');
  const metricsServer = createSidecarServer({ handler: metricsListener(registry) });
  const healthServer = new HealthPort({ readiness: sidecar.readyAnswer });
  const metricsPort = await metricsServer.listen(0, '127.0.0.1');
  const healthPort = await healthServer.listen(0, '127.0.0.1');
  const scheme = tlsMode === 'none' ? 'http' : 'https';
  return {
    url: `${scheme}://localhost:${port}`,
    port,
    metricsUrl: `http://127.0.0.1:${metricsPort}`,
    healthUrl: `http://127.0.0.1:${healthPort}`,
    dir,
    configFile,
    sidecar,
    server,
    loggers,
    spans,
    registry,
    audits,
    hmacSecret,
    rsaKey: rsa.privateKey,
    ecKey: ec.privateKey,
    encryptionKey,
    predictor: o.predictor,
    token: async (scope, t = {}) => {
      const alg = t.alg ?? 'HS256';
      const jwt = new SignJWT({ scope: Array.isArray(scope) ? scope.join(' ') : scope })
        .setProtectedHeader({ alg, ...(alg === 'RS256' ? { kid: 'rsa-1' } : alg === 'ES256' ? { kid: 'ec-1' } : {}) })
        .setSubject(t.sub ?? 'user-1')
        .setIssuer(t.issuer ?? ISSUER)
        .setAudience(t.audience ?? AUDIENCE)
        .setIssuedAt()
        .setExpirationTime(Math.floor(Date.now() / 1000) + (t.expSeconds ?? 300));
      return jwt.sign(alg === 'HS256' ? hmacSecret : alg === 'RS256' ? rsa.privateKey : ec.privateKey);
    },
    close: async () => {
      sidecar.close();
      await Promise.all([server.close(), metricsServer.close(), healthServer.close()]);
      await provider.shutdown();
    },
  };
}

/** One MLP input row of `rows` x 64 floats. */
export function mlpBody(rows = 1, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const data = Array.from({ length: rows * 64 }, (_, i) => ((i % 13) - 6) / 10);
  return { inputs: [{ name: 'x', shape: [rows, 64], datatype: 'FP32', data }], ...extra };
}
