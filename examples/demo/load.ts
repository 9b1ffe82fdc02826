// Demo load generator: sends OIP v2 inference requests for the MLP fixture to the sidecar over
// HTTPS (trusting the CA that issued its certificate, checking the Service DNS name it was issued
// for) at a steady rate, and prints a line of counts every few seconds.
// Usage: npx tsx examples/demo/load.ts URL CA_FILE SERVER_NAME [RPS]

import { readFileSync } from 'node:fs';
import { request } from 'node:https';

const [url, caFile, servername, rpsArg] = process.argv.slice(2);
if (!url || !caFile || !servername) {
  console.error('usage: load.ts URL CA_FILE SERVER_NAME [RPS]');
  process.exit(2);
}
const ca = readFileSync(caFile);
const rps = Number(rpsArg ?? 20);
let ok = 0;
let failed = 0;
let lastError = '';

function body(): string {
  const data = Array.from({ length: 64 }, () => Math.round((Math.random() * 2 - 1) * 1000) / 1000);
  return JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 64], data }] });
}

function send(): void {
  const payload = body();
  const req = request(
    `${url}/v2/models/mlp/infer`,
    { method: 'POST', ca, servername, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }, timeout: 5_000 },
    (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode === 200) ok++;
        else {
          failed++;
          lastError = `HTTP ${res.statusCode}`;
        }
      });
    },
  );
  req.on('error', (err) => {
    failed++;
    lastError = err.message;
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.end(payload);
}

setInterval(send, Math.max(1, Math.round(1000 / rps)));
setInterval(() => {
  console.log(`[load] ${ok} ok, ${failed} failed${failed > 0 ? ` (last: ${lastError})` : ''}`);
}, 5_000);
