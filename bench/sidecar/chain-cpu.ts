// The chain's own main-thread CPU per request, without sockets: the REST handler (the full
// chain, as bench.ts sets it up) and the bare reference handler are called in one process with
// in-memory request/response objects and a predictor that answers at once with the MLP's real
// output. What is left is the JavaScript each handler runs per request: the figure to A/B a
// change to the chain with (steadier than bench.ts on a busy machine, which also counts the
// sockets, the kernel and the predictor's thread hand-off that both servers share).
//
//   npx tsx bench/sidecar/chain-cpu.ts [--requests 40000] [--rounds 5] [--concurrency 8]
//     [--only bare|chain] [--level warn (no access/audit lines)] [--no-auth]
//   node --import tsx --cpu-prof ... bench/sidecar/chain-cpu.ts --only chain   (for a profile)
//
// It undercounts what the chain costs in a real server: at a fixed offered rate over sockets the
// chain's CPU per request was 2-3x its gap here (bench/sidecar/results-2026-12-06.md). Prints the
// median and the minimum over the rounds (the minimum is the least disturbed by other load).

import { EventEmitter } from 'node:events';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';
import { bareInferHandler, INFER_BODY, instantChain, median } from './common.js';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '40000' }, rounds: { type: 'string', default: '5' }, concurrency: { type: 'string', default: '8' }, only: { type: 'string' }, level: { type: 'string', default: 'info' }, 'no-auth': { type: 'boolean', default: false } } });
const REQUESTS = Number(values.requests);
const CONCURRENCY = Number(values.concurrency);

const { sidecar, predictor, token, lines, close } = await instantChain({ tmpPrefix: 'sidecar-chain-cpu-', level: values.level, authEnabled: !values['no-auth'] });

const BODY = Buffer.from(INFER_BODY);
const HEADERS = { host: '127.0.0.1', 'content-type': 'application/json', 'content-length': String(BODY.length), authorization: `Bearer ${token}`, 'x-env-id': 'bench', 'x-test-group': 'control' };

/** One keep-alive connection per concurrent caller (the token cache is per connection). */
const sockets = Array.from({ length: CONCURRENCY }, () => ({ remoteAddress: '127.0.0.1' }));

class FakeReq extends EventEmitter {
  url = '/v2/models/mlp/infer';
  method = 'POST';
  headers = { ...HEADERS };
  constructor(readonly socket: object) {
    super();
  }
  resume(): this {
    return this;
  }
  /**
   * The body arrives once the handler listens for it, as from a real socket's buffer: the chain
   * may start reading only after an asynchronous step (a body emitted at once would be lost).
   */
  override on(event: string | symbol, listener: (...args: unknown[]) => void): this {
    super.on(event, listener);
    if (event === 'end') {
      queueMicrotask(() => {
        this.emit('data', BODY);
        this.emit('end');
      });
    }
    return this;
  }
}

class FakeRes extends EventEmitter {
  statusCode = 200;
  headersSent = false;
  writableFinished = false;
  bytes = 0;
  constructor(private readonly done: (status: number) => void) {
    super();
  }
  setHeader(): this {
    return this;
  }
  writeHead(status: number, _headers?: unknown): this {
    this.statusCode = status;
    this.headersSent = true;
    return this;
  }
  end(body?: string | Buffer): this {
    this.headersSent = true;
    this.bytes = body === undefined ? 0 : body.length;
    this.writableFinished = true;
    setImmediate(() => {
      this.emit('finish');
      this.emit('close');
      this.done(this.statusCode);
    });
    return this;
  }
  destroy(): this {
    setImmediate(() => {
      this.emit('close');
      this.done(0);
    });
    return this;
  }
}

function one(handler: RequestListener, socket: object): Promise<number> {
  return new Promise((resolve) => {
    const req = new FakeReq(socket);
    const res = new FakeRes(resolve);
    handler(req as unknown as IncomingMessage, res as unknown as ServerResponse);
  });
}

async function drive(handler: RequestListener, n: number): Promise<{ usPerReq: number; bad: number }> {
  let next = 0;
  let bad = 0;
  const t = process.cpuUsage();
  await Promise.all(sockets.map(async (s) => {
    while (next < n) {
      next++;
      if ((await one(handler, s)) !== 200) bad++;
    }
  }));
  const c = process.cpuUsage(t);
  return { usPerReq: (c.user + c.system) / n, bad };
}

const handlers: Record<string, RequestListener> = { bare: bareInferHandler(predictor), chain: sidecar.handler };
const names = values.only ? [values.only] : Object.keys(handlers);
for (const name of names) await drive(handlers[name] as RequestListener, 2000); // warm up
console.log(`in-process, no sockets: ${REQUESTS} requests x ${values.rounds} interleaved rounds, ${CONCURRENCY} in flight; bare = bench.ts's bare node:http handler; chain = the full chain as bench.ts builds it (auth ${values['no-auth'] ? 'off' : 'on, HS256'}, log level ${values.level}); predictor answers at once with the MLP's output`);
const figures: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
for (let r = 0; r < Number(values.rounds); r++) {
  for (const name of names) {
    const f = await drive(handlers[name] as RequestListener, REQUESTS);
    if (f.bad > 0) throw new Error(`${name}: ${f.bad} answers were not 200`);
    figures[name]?.push(f.usPerReq);
  }
}
for (const name of names) console.log(`${name.padEnd(6)} cpu us/req median ${median(figures[name] ?? []).toFixed(2)} min ${Math.min(...(figures[name] ?? [])).toFixed(2)} (rounds ${(figures[name] ?? []).map((x) => x.toFixed(1)).join(', ')})`);
if (figures.bare && figures.chain) console.log(`chain - bare: ${(median(figures.chain) - median(figures.bare)).toFixed(2)} us/req; ${lines()} log lines`);
await close();
