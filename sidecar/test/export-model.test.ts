// HEAD /v1/export_model answers GET's status and headers without reading the model's files: the
// body HEAD never sends is not built (a model of gigabytes would be read and base64-encoded for
// nothing). The process's read bytes (/proc/self/io rchar) show it: the model directory holds a
// 64 MiB sparse file, which GET reads whole.

import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pki, startHarness, type Harness } from './helpers/harness.js';
import { request } from './helpers/http.js';
import { InProcessMlp, MLP_DIR } from './helpers/predictors.js';

const BIG = 64 * 1024 * 1024;

/** Bytes this process has read through read(2) and its kin so far. */
function readBytes(): number {
  const m = /^rchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'));
  assert.ok(m, 'no rchar in /proc/self/io');
  return Number(m[1]);
}

describe('/v1/export_model with HEAD', function () {
  this.timeout(120000);
  let h: Harness;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'export-head-'));
    for (const name of readdirSync(MLP_DIR)) copyFileSync(join(MLP_DIR, name), join(dir, name));
    writeFileSync(join(dir, 'big.bin'), '');
    truncateSync(join(dir, 'big.bin'), BIG);
    h = await startHarness({ predictor: new InProcessMlp(), modelDir: dir });
  });
  after(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 200 with the JSON content type and no body, reads none of the files, and is audited; GET reads them all', async () => {
    const headers = { authorization: `Bearer ${await h.token('model_admin', { sub: 'header-only' })}` };
    const ca = pki().caCert;
    const before = readBytes();
    const head = await request(`${h.url}/v1/export_model`, { ca, headers, method: 'HEAD' });
    const headRead = readBytes() - before;
    assert.equal(head.status, 200);
    assert.match(String(head.headers['content-type']), /^application\/json/);
    assert.equal(head.text, '');
    assert.ok(headRead < BIG / 16, `HEAD read ${headRead} bytes`);
    assert.ok(h.audits.some((a) => a.action === 'export_model' && a.subject === 'header-only'));
    // The same measure sees GET's reads: the assertion above can fail.
    const start = readBytes();
    const get = await request(`${h.url}/v1/export_model`, { ca, headers });
    assert.equal(get.status, 200);
    assert.ok(readBytes() - start >= BIG, `GET read ${readBytes() - start} bytes`);
    assert.ok((get.json as { files: { name: string }[] }).files.some((f) => f.name === 'big.bin'));
  });
});
