// Connection limits (src/connections.ts): the cap per listener and the idle timeout, on node:http
// (createSidecarServer, as the REST and metrics ports use it) and on the gRPC front end's own
// listener. Before them a connection that sent nothing, or never read its answer, was held
// forever, and enough of them exhausted the process's descriptors (the health port included).

import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { type ClientHttp2Session, connect as http2Connect } from 'node:http2';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { credentials, makeGenericClientConstructor, type Client, type ServiceError } from '@grpc/grpc-js';
import { unsentBytes } from '../../native/lib/index.js';
import { API_CONNECTIONS_DEFAULT, defaultApiConnections, openFileLimit } from '../src/connections.js';
import { createGrpcFrontEnd, type GrpcFrontEnd } from '../src/grpc/server.js';
import { inferenceServiceDefinition } from '../src/grpc/service.js';
import { createSidecarServer, type RunningServer } from '../src/server.js';
import { startHarness, type Harness } from './helpers/harness.js';
import { createPki } from './helpers/pki.js';
import { ScriptedPredictor } from './helpers/predictors.js';
import { until } from './helpers/until.js';

/** A raw client connection and whether the server has closed it (seen as end or close). */
function rawClient(port: number, read = true): { socket: Socket; closed: () => boolean; received: () => string } {
  const socket = connect(port, '127.0.0.1');
  let closed = false;
  let text = '';
  socket.on('close', () => void (closed = true));
  socket.on('end', () => void (closed = true));
  socket.on('error', () => void (closed = true));
  if (read) socket.on('data', (d: Buffer) => void (text += d.toString('latin1')));
  return { socket, closed: () => closed, received: () => text };
}

const GET = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n';

/** The kernel's TCP sockets on local port `port` other than the listener (state and send queue), from /proc/net/tcp and tcp6. */
function serverSideSockets(port: number): Array<{ state: string; sendQueue: number }> {
  const found: Array<{ state: string; sendQueue: number }> = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      const [local, , state, queues] = [f[1], f[2], f[3], f[4]];
      if (!local || !state || !queues || state === '0A' /* LISTEN */) continue;
      if (Number.parseInt(local.split(':')[1] ?? '', 16) !== port) continue;
      found.push({ state, sendQueue: Number.parseInt(queues.split(':')[0] ?? '0', 16) });
    }
  }
  return found;
}

describe('connection limits: parsing the open-file limit and the default cap', () => {
  it('reads the soft limit from /proc/self/limits, and sizes the API caps below it', () => {
    const text = 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n';
    assert.equal(openFileLimit(text), 1024);
    assert.equal(openFileLimit(text.replace('1024 ', 'unlimited ')), undefined);
    assert.equal(openFileLimit('no such line'), undefined);
    // Two API listeners, the metrics port's 64 and a reserve of 256 within 1024.
    assert.equal(defaultApiConnections(1024), 352);
    assert.equal(defaultApiConnections(1_048_576), API_CONNECTIONS_DEFAULT);
    assert.equal(defaultApiConnections(undefined), API_CONNECTIONS_DEFAULT);
    assert.equal(defaultApiConnections(300), 16);
    // This process's own limit parses (Linux).
    assert.ok((openFileLimit() ?? 1) > 0);
  });
});

describe('connection limits on node:http (REST and metrics ports)', () => {
  let server: RunningServer | undefined;
  let port = 0;
  const closed: string[] = [];
  const clients: Socket[] = [];
  /** Answers held by `/hold` until the test lets them go. */
  let held: Array<() => void> = [];
  /** Answers `/slow` after 800 ms, `/hold` when released, `/big` with 32 MiB, anything else at once. */
  const handler = (req: { url?: string }, res: ServerResponse): void => {
    if (req.url === '/slow') setTimeout(() => res.end('computed'), 800);
    else if (req.url === '/hold') held.push(() => res.end('released'));
    else if (req.url === '/big') res.end(Buffer.alloc(32 * 1024 * 1024, 0x61));
    else res.end('ok');
  };

  /** A server with a cap of 3 and the given idle timeout (short where idleness is what is tested). */
  const start = async (idleTimeoutMs: number, headerTimeoutMs?: number): Promise<void> => {
    closed.length = 0;
    server = createSidecarServer({ handler, limits: { maxConnections: 3, idleTimeoutMs, ...(headerTimeoutMs ? { headerTimeoutMs } : {}) }, onConnectionClosed: (r) => void closed.push(r) });
    port = await server.listen(0, '127.0.0.1');
  };
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await server?.close();
  });

  const open = (read = true): ReturnType<typeof rawClient> => {
    const c = rawClient(port, read);
    clients.push(c.socket);
    return c;
  };

  it('closes a connection that sends nothing once the idle timeout passes, and counts it', async () => {
    await start(300);
    const c = open();
    await until('the silent connection closed by the server', c.closed);
    assert.deepEqual(closed, ['idle']);
  });

  it('past the cap, closes the newcomer when every connection held has a request in progress, and keeps serving those', async () => {
    // An idle timeout no loaded machine reaches between these steps: only the cap closes here.
    await start(60_000);
    held = [];
    const busy = [open(), open(), open()];
    for (const b of busy) b.socket.write('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n');
    await until('three requests held', () => held.length === 3);
    const fourth = open();
    await until('the fourth connection closed', fourth.closed);
    assert.equal(fourth.received(), '');
    assert.deepEqual(closed, ['limit']);
    for (const release of held.splice(0)) release();
    await until('three answers', () => busy.every((b) => b.received().includes('released')));
    // The held connections still answer (keep-alive).
    const first = busy[0]!;
    const before = first.received().length;
    first.socket.write(GET);
    await until('a second answer on a held connection', () => first.received().length > before);
  });

  it('past the cap, closes the oldest connection that holds no request to let the newcomer in', async () => {
    await start(60_000);
    held = [];
    // The oldest: a keep-alive connection between requests; then one with a request in progress; then a silent one.
    const keptAlive = open();
    keptAlive.socket.write(GET);
    await until('the first answer', () => keptAlive.received().includes('\r\n\r\nok'));
    const busy = open();
    busy.socket.write('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n');
    await until('a request held', () => held.length === 1);
    const silent = open();
    // Three held (the cap): a newcomer takes the oldest idle one's place and is served.
    const second = open();
    second.socket.write(GET);
    await until('the newcomer answered', () => second.received().includes('\r\n\r\nok'));
    await until('the kept-alive connection closed', keptAlive.closed);
    assert.deepEqual(closed, ['evicted']);
    // The next newcomer: the connection with a request in progress is passed over, the silent one closed.
    const third = open();
    third.socket.write(GET);
    await until('the third newcomer answered', () => third.received().includes('\r\n\r\nok'));
    await until('the silent connection closed', silent.closed);
    assert.deepEqual(closed, ['evicted', 'evicted']);
    assert.equal(busy.closed(), false, 'the connection with a request in progress is kept');
    for (const release of held.splice(0)) release();
    await until('the held request answered', () => busy.received().includes('released'));
  });

  it('does not cut a request being computed for longer than the idle timeout', async () => {
    await start(300);
    const c = open();
    c.socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
    await until('the computed answer', () => c.received().includes('computed'));
    assert.deepEqual(closed, [], 'nothing closed while computing');
  });

  it('closes a connection whose client stopped reading its answer', async () => {
    await start(300);
    const c = open(false);
    c.socket.pause();
    c.socket.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
    await until('the stalled connection closed by the server', () => closed.includes('idle'));
    // Reset, not closed with a FIN behind the unsent answer: the server's kernel keeps no socket
    // for it (a FIN would wait in FIN-WAIT-1, its send queue full, while the client stays paused).
    await until('no server-side socket left in the kernel', () => serverSideSockets(port).length === 0);
    // The client, reading again, finds the connection cut short of the 32 MiB.
    let got = 0;
    c.socket.on('data', (d: Buffer) => void (got += d.length));
    c.socket.resume();
    await until('the client sees the close', c.closed);
    assert.ok(got < 32 * 1024 * 1024, `received ${got} bytes`);
  });

  it('resets a connection whose client takes an answer the process holds more slowly than the floor, and keeps a reader', async () => {
    // The idle timeout is far away: only the answer's pace acts (a floor of 1 KiB/s over 300 ms).
    const server2 = createSidecarServer({ handler, limits: { maxConnections: 3, idleTimeoutMs: 60_000, answerPace: { minRateBytesPerSecond: 1024, windowMs: 300 } }, onConnectionClosed: (r) => void closed.push(r) });
    const port2 = await server2.listen(0, '127.0.0.1');
    closed.length = 0;
    try {
      const stalled = rawClient(port2, false);
      clients.push(stalled.socket);
      stalled.socket.pause();
      stalled.socket.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
      const reader = rawClient(port2, false);
      clients.push(reader.socket);
      let got = 0;
      reader.socket.on('data', (d: Buffer) => void (got += d.length));
      reader.socket.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
      await until('the stalled connection closed by the server', () => closed.includes('slow'));
      await until('no server-side socket left in the kernel but the reader', () => serverSideSockets(port2).length <= 1);
      await until('the reader got the whole answer', () => got > 32 * 1024 * 1024);
      assert.deepEqual(closed, ['slow'], 'only the stalled connection');
      assert.equal(reader.closed(), false);
    } finally {
      await server2.close();
    }
  });

  /**
   * A server with the answer pace (1 KiB/s over 1 s windows) and a held-answer budget of `budgetMiB`.
   * The window is 1 s: the kernel asks for more of an answer only once a good part of its send
   * buffer is free, so a reader of a few MB/s can move nothing to the kernel for a few hundred ms.
   */
  const budgetServer = async (budgetMiB: number): Promise<{ port: number; close: () => Promise<void> }> => {
    const s = createSidecarServer({
      handler,
      limits: { maxConnections: 8, idleTimeoutMs: 60_000, answerPace: { minRateBytesPerSecond: 1024, windowMs: 1000 }, maxHeldAnswerBytes: budgetMiB * 1024 * 1024 },
      onConnectionClosed: (r) => void closed.push(r),
    });
    const p = await s.listen(0, '127.0.0.1');
    closed.length = 0;
    return { port: p, close: () => s.close() };
  };
  const timers: NodeJS.Timeout[] = [];
  afterEach(() => {
    for (const t of timers.splice(0)) clearInterval(t);
  });
  /** A client asking for /big that takes one chunk every 10 ms (a few MB/s, far above the floor). */
  const trickle = (p: number): { got: () => number; closed: () => boolean } => {
    const c = rawClient(p, false);
    clients.push(c.socket);
    let got = 0;
    c.socket.on('data', (d: Buffer) => {
      got += d.length;
      c.socket.pause();
    });
    timers.push(setInterval(() => c.socket.resume(), 10));
    c.socket.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
    return { got: () => got, closed: c.closed };
  };

  it('past the held-answer budget, resets the connections taking their answers the slowest until the rest fit, above the pace floor too, and keeps a fast reader', async () => {
    // Three 32 MiB answers held by slow readers against a budget of 32 MiB: the kernel's buffers
    // take up to ~10 MiB of each, the process holds the rest, more than the budget together.
    const server2 = await budgetServer(32);
    try {
      const slow = [trickle(server2.port), trickle(server2.port), trickle(server2.port)];
      const fast = rawClient(server2.port, false);
      clients.push(fast.socket);
      let got = 0;
      fast.socket.on('data', (d: Buffer) => void (got += d.length));
      fast.socket.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
      await until('a slow reader reset for the budget', () => closed.includes('held'));
      await until('the fast reader got its whole answer', () => got > 32 * 1024 * 1024);
      assert.ok(slow.every((r) => r.got() > 0), 'every slow reader was reading');
      assert.ok(!closed.includes('slow'), `none below the pace floor: ${closed.join(',')}; slow got ${slow.map((r) => r.got()).join(',')}, fast got ${got}`);
      assert.equal(fast.closed(), false);
      await until('the reset seen by its client', () => slow.some((r) => r.closed()));
      assert.ok(slow.some((r) => !r.closed()), 'the fastest of the readers ranked is never reset for the budget');
    } finally {
      await server2.close();
    }
  });

  it('one answer above the held-answer budget, taken at a few MB/s, is not reset: the budget never resets the fastest reader', async () => {
    const server2 = await budgetServer(8);
    try {
      const r = trickle(server2.port);
      await until('the whole 32 MiB answer read', () => r.got() > 32 * 1024 * 1024 || r.closed());
      assert.equal(r.closed(), false, `closed as ${closed.join(',')} after ${r.got()} bytes`);
      assert.deepEqual(closed, []);
    } finally {
      await server2.close();
    }
  });

  it('at the keep-alive timeout, resets a connection whose answer the kernel still holds unsent, and closes a quiet one as node does', async () => {
    // The answer left the process (node's keep-alive timer runs), part of it is still in the
    // kernel's send queue: a FIN would leave it there in FIN-WAIT-1 while the client stays
    // paused; a reset drops it. An idle timeout the test never reaches: only the timer acts.
    const server2 = createSidecarServer({ handler: (_req, res) => res.end(Buffer.alloc(512 * 1024, 0x61)), limits: { maxConnections: 3, idleTimeoutMs: 60_000, unsentBytes }, onConnectionClosed: (r) => void closed.push(r) });
    const accepted: Array<Socket & { _httpMessage?: unknown }> = [];
    server2.server.on('connection', (s: Socket) => void accepted.push(s));
    const port2 = await server2.listen(0, '127.0.0.1');
    closed.length = 0;
    const stalled = rawClient(port2, false);
    clients.push(stalled.socket);
    try {
      stalled.socket.pause();
      stalled.socket.write(GET);
      await until('the answer handed to the kernel, part of it unsent', () => accepted[0] !== undefined && !accepted[0]._httpMessage && serverSideSockets(port2).some((k) => k.sendQueue > 0));
      accepted[0]!.emit('timeout'); // what node's keep-alive timer does
      await until('no server-side socket left in the kernel', () => serverSideSockets(port2).length === 0);
      assert.deepEqual(closed, ['idle']);
      // A client that read its answer: closed as node closes it (a FIN, uncounted).
      const reader = rawClient(port2);
      clients.push(reader.socket);
      reader.socket.write(GET);
      await until('the whole answer read', () => reader.received().length > 512 * 1024);
      await until('the second connection between requests', () => accepted[1] !== undefined && !accepted[1]._httpMessage);
      let reset = false;
      reader.socket.on('error', (e: NodeJS.ErrnoException) => void (reset ||= e.code === 'ECONNRESET'));
      accepted[1]!.emit('timeout');
      await until('the reader sees the close', reader.closed);
      assert.equal(reset, false, 'closed with a FIN');
      assert.deepEqual(closed, ['idle'], 'a keep-alive close is not counted');
    } finally {
      await server2.close();
    }
  });

  it('answers 408 and closes a connection whose headers trickle in past the header deadline (never idle)', async () => {
    // node's own deadline was 60 s, checked every 30 s: a header trickler was held ~90 s.
    // A 1 s deadline: the split request below must not miss it on a loaded machine (a timer
    // that late would let the server's deadline check run before it parsed the rest).
    await start(60_000, 1000);
    const c = open();
    c.socket.write('GET / HTTP/1.1\r\nHost: x\r\n');
    let n = 0;
    const t = setInterval(() => c.socket.writable && c.socket.write(`x-slow-${n++}: y\r\n`), 50);
    try {
      await until('the trickler answered and closed', c.closed);
    } finally {
      clearInterval(t);
    }
    assert.match(c.received(), /^HTTP\/1\.1 408 /);
    assert.match(c.received(), /\r\n\r\n\{"error":"request not received in time \(its line and headers must arrive within 1 s\)"\}$/);
    assert.deepEqual(closed, ['header_timeout'], 'counted as a header timeout, not an idle close: bytes kept moving');
    // Headers that arrive in parts within the deadline are served.
    const ok = open();
    ok.socket.write('GET / HTTP/1.1\r\nHost: x\r\n');
    setTimeout(() => ok.socket.write('x-late: y\r\n\r\n'), 50);
    await until('the split request answered', () => ok.received().endsWith('ok'));
    assert.match(ok.received(), /^HTTP\/1\.1 200 /);
    // Between requests the deadline does not run: a keep-alive connection quiet for longer than
    // it (well within the idle timeout) still serves its next request.
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(ok.closed(), false, 'the keep-alive connection survived a quiet spell past the header deadline');
    ok.socket.write(GET);
    await until('the next request on it answered', () => ok.received().split('HTTP/1.1 200').length === 3);
  });

  it('answers a request it cannot parse as node does, with the problem named, counts it, and keeps serving', async () => {
    await start(60_000);
    const bad = open();
    bad.socket.write('GET / HTTP/1.1\r\nHost: x\r\nbad header line\r\n\r\n');
    await until('the malformed request answered and closed', bad.closed);
    assert.match(bad.received(), /^HTTP\/1\.1 400 Bad Request\r\nConnection: close\r\n/);
    assert.match(bad.received(), /\{"error":"malformed HTTP request \(HPE_[A-Z_]+: [^"]+\)"\}$/);
    const big = open();
    big.socket.write(`GET / HTTP/1.1\r\nHost: x\r\nx-big: ${'a'.repeat(64 * 1024)}\r\n\r\n`);
    await until('the oversized headers answered and closed', big.closed);
    assert.match(big.received(), /^HTTP\/1\.1 431 /);
    assert.deepEqual(closed, ['malformed', 'malformed']);
    const ok = open();
    ok.socket.write(GET);
    await until('a good request answered', () => ok.received().endsWith('ok'));
  });

  it('closes a connection whose client stopped sending its body', async () => {
    await start(300);
    const c = open();
    c.socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nhalf');
    await until('the stalled upload closed by the server', c.closed);
    assert.deepEqual(closed, ['idle']);
  });
});

describe('connection limits on node:https (the REST port with TLS)', () => {
  it('closes a connection that finished its handshake and sends nothing', async () => {
    const pki = createPki();
    const closed: string[] = [];
    const server = createSidecarServer({ handler: (_req, res) => res.end('ok'), tls: { certFile: pki.serverCert, keyFile: pki.serverKey, mutual: false }, limits: { maxConnections: 8, idleTimeoutMs: 300 }, onConnectionClosed: (r) => void closed.push(r) });
    const port = await server.listen(0, '127.0.0.1');
    let ended = false;
    let secure = false;
    const socket = tlsConnect({ port, host: '127.0.0.1', servername: 'localhost', ca: readFileSync(pki.caCert) }, () => void (secure = true));
    socket.on('close', () => void (ended = true));
    socket.on('error', () => void (ended = true));
    try {
      await until('the silent TLS connection closed by the server', () => ended);
      assert.ok(secure, 'the handshake completed first');
      assert.deepEqual(closed, ['idle']);
    } finally {
      socket.destroy();
      await server.close();
    }
  });
});

describe('connection limits on node:https: past the cap', () => {
  it('passes over a TLS connection with a request in progress, and closes a handshake not begun to let the newcomer in', async () => {
    const pki = createPki();
    const closed: string[] = [];
    const held: Array<() => void> = [];
    const handler = (req: { url?: string }, res: ServerResponse): void => {
      if (req.url === '/hold') held.push(() => res.end('released'));
      else res.end('ok');
    };
    const server = createSidecarServer({ handler, tls: { certFile: pki.serverCert, keyFile: pki.serverKey, mutual: false }, limits: { maxConnections: 2, idleTimeoutMs: 60_000 }, onConnectionClosed: (r) => void closed.push(r) });
    const port = await server.listen(0, '127.0.0.1');
    const tlsClient = (path: string): { socket: Socket; received: () => string; closed: () => boolean } => {
      let text = '';
      let ended = false;
      const socket = tlsConnect({ port, host: '127.0.0.1', servername: 'localhost', ca: readFileSync(pki.caCert) }, () => socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`));
      socket.on('data', (d: Buffer) => void (text += d.toString('latin1')));
      socket.on('close', () => void (ended = true));
      socket.on('error', () => void (ended = true));
      return { socket, received: () => text, closed: () => ended };
    };
    const busy = tlsClient('/hold');
    const silent = rawClient(port);
    let newcomer: ReturnType<typeof tlsClient> | undefined;
    try {
      await until('a request held', () => held.length === 1);
      await until('the silent connection accepted', () => silent.socket.remotePort !== undefined);
      // Two held (the cap), the oldest with a request in progress over TLS: the newcomer closes the
      // connection that never began its handshake, and is served.
      newcomer = tlsClient('/');
      await until('the newcomer answered', () => newcomer!.received().includes('\r\n\r\nok'));
      await until('the silent connection closed', silent.closed);
      assert.deepEqual(closed, ['evicted']);
      assert.equal(busy.closed(), false, 'the TLS connection with a request in progress is kept');
      for (const release of held.splice(0)) release();
      await until('the held request answered', () => busy.received().includes('released'));
    } finally {
      for (const s of [busy.socket, silent.socket, newcomer?.socket]) s?.destroy();
      await server.close();
    }
  });
});

describe('connection limits on node:https: a handshake that never completes', () => {
  it('closes a TCP connection that never starts its TLS handshake, or stops it after one byte, by the header deadline', async () => {
    // node's own handshake timeout is 120 s; the idle sweep watches only connections past their handshake.
    const pki = createPki();
    const server = createSidecarServer({ handler: (_req, res) => res.end('ok'), tls: { certFile: pki.serverCert, keyFile: pki.serverKey, mutual: false }, limits: { maxConnections: 8, idleTimeoutMs: 60_000, headerTimeoutMs: 400 } });
    const port = await server.listen(0, '127.0.0.1');
    const c = rawClient(port);
    const partial = rawClient(port);
    partial.socket.write(Buffer.from([0x16]));
    try {
      await until('the silent TCP connection closed by the server', c.closed);
      assert.equal(c.received(), '', 'nothing was answered');
      await until('the stalled TLS handshake closed by the server', partial.closed, 20_000);
      assert.equal(partial.received(), '', 'nothing was answered');
    } finally {
      c.socket.destroy();
      partial.socket.destroy();
      await server.close();
    }
  });
});

describe('connection limits on the gRPC port with TLS: a connection that never starts', () => {
  it('closes a TCP connection that sends no byte (no ClientHello), or a TLS handshake that stops after one, by the header deadline', async () => {
    // grpc-js's idle timeout starts with an HTTP/2 session; the TLS handshake's own limit is 120 s.
    const h = await startHarness({ predictor: new ScriptedPredictor(), tls: 'none' });
    const pki = createPki();
    const closed: string[] = [];
    const g = createGrpcFrontEnd({ core: h.sidecar.core, tls: { certFile: pki.serverCert, keyFile: pki.serverKey, mutual: false }, limits: { maxConnections: 8, idleTimeoutMs: 60_000, headerTimeoutMs: 400 }, onConnectionClosed: (r) => void closed.push(r) });
    const port = await g.listen(0, '127.0.0.1');
    // grpc-js loads the certificate files after listen: until it has, it drops new connections.
    const handshake = (): Promise<boolean> =>
      new Promise((resolve) => {
        const t = tlsConnect({ port, host: '127.0.0.1', servername: 'localhost', ca: readFileSync(pki.caCert), ALPNProtocols: ['h2'] }, () => {
          t.destroy();
          resolve(true);
        });
        t.on('error', () => resolve(false));
      });
    while (!(await handshake())) await new Promise((r) => setTimeout(r, 50));
    const c = rawClient(port);
    // The first byte of a TLS record (a handshake record's type), then nothing: node's TLS server
    // would wait 120 s for the rest of the ClientHello.
    const partial = rawClient(port);
    partial.socket.write(Buffer.from([0x16]));
    try {
      await until('the silent TCP connection closed by the server', c.closed);
      assert.deepEqual(closed, ['idle']);
      await until('the stalled TLS handshake closed by the server', partial.closed, 20_000);
      assert.equal(partial.received(), '', 'nothing was answered');
    } finally {
      c.socket.destroy();
      partial.socket.destroy();
      await g.close();
      await h.close();
    }
  });
});

describe('connection limits on the gRPC port without TLS: a preface that never completes', () => {
  it('closes an h2c connection whose preface is not whole by the header deadline, and counts it; a whole one is served', async () => {
    const h = await startHarness({ predictor: new ScriptedPredictor(), tls: 'none' });
    const closed: string[] = [];
    const g = createGrpcFrontEnd({ core: h.sidecar.core, limits: { maxConnections: 8, idleTimeoutMs: 60_000, headerTimeoutMs: 400 }, onConnectionClosed: (r) => void closed.push(r) });
    const port = await g.listen(0, '127.0.0.1');
    // 10 of the preface's 24 bytes, then nothing: nghttp2 would wait for the rest until the idle timeout.
    const partial = rawClient(port);
    partial.socket.write('PRI * HTTP');
    const Ctor = makeGenericClientConstructor(inferenceServiceDefinition(), 'GRPCInferenceService');
    const client = new Ctor(`127.0.0.1:${port}`, credentials.createInsecure());
    const live = (): Promise<unknown> =>
      new Promise<unknown>((resolve, reject) =>
        (client as unknown as { ServerLive: (r: object, cb: (e: Error | null, v: unknown) => void) => void }).ServerLive({}, (e, v) => (e ? reject(e) : resolve(v))),
      );
    try {
      // A client's connection, its preface whole, opened before the deadline and used after it.
      assert.deepEqual(await live(), { live: true });
      await until('the partial preface closed by the server', partial.closed, 20_000);
      assert.deepEqual(await live(), { live: true });
      assert.deepEqual(closed, ['header_timeout'], 'only the partial preface was closed');
    } finally {
      client.close();
      partial.socket.destroy();
      await g.close();
      await h.close();
    }
  });
});

describe('connection limits on the gRPC port', () => {
  let h: Harness;
  let g: GrpcFrontEnd;
  let port = 0;
  const closed: string[] = [];
  const sockets: Socket[] = [];
  let client: Client | undefined;

  before(async () => {
    h = await startHarness({ predictor: new ScriptedPredictor(), tls: 'none' });
    g = createGrpcFrontEnd({ core: h.sidecar.core, limits: { maxConnections: 2, idleTimeoutMs: 1000 }, onConnectionClosed: (r) => void closed.push(r) });
    port = await g.listen(0, '127.0.0.1');
  });
  after(async () => {
    client?.close();
    for (const s of sockets) s.destroy();
    await g.close();
    await h.close();
  });

  it('serves calls on its own listener, and closes a connection without calls once the idle timeout passes', async () => {
    const Ctor = makeGenericClientConstructor(inferenceServiceDefinition(), 'GRPCInferenceService');
    client = new Ctor(`127.0.0.1:${port}`, credentials.createInsecure());
    const live = await new Promise<unknown>((resolve, reject) =>
      (client as unknown as { ServerLive: (r: object, cb: (e: ServiceError | null, v: unknown) => void) => void }).ServerLive({}, (e, v) => (e ? reject(e) : resolve(v))),
    );
    assert.deepEqual(live, { live: true });
    const raw = rawClient(port);
    sockets.push(raw.socket);
    await until('the raw connection accepted (the server greets it with SETTINGS)', () => raw.received().length > 0);
    // Silent, it is closed once idle (grpc-js's GOAWAY, then the close; not counted: grpc-js closes it).
    await until('the idle connection closed', raw.closed);
  });

  it('past the cap, closes the oldest connection without a call open to let the newcomer in, else the newcomer', async () => {
    const g2 = createGrpcFrontEnd({ core: h.sidecar.core, limits: { maxConnections: 2, idleTimeoutMs: 60_000 }, onConnectionClosed: (r) => void closed.push(r) });
    const port2 = await g2.listen(0, '127.0.0.1');
    closed.length = 0;
    const sessions: ClientHttp2Session[] = [];
    /** A connection with one call open: its message's first bytes sent, the rest never. */
    const withCall = async (): Promise<ClientHttp2Session> => {
      const before = g2.openCalls();
      const session = http2Connect(`http://127.0.0.1:${port2}`);
      session.on('error', () => undefined);
      sessions.push(session);
      const st = session.request({ ':method': 'POST', ':path': '/inference.GRPCInferenceService/ServerLive', 'content-type': 'application/grpc', te: 'trailers' });
      st.on('error', () => undefined);
      st.resume();
      st.write(Buffer.from([0, 0, 0, 0, 10]));
      await until('the call open on the server', () => g2.openCalls() > before);
      return session;
    };
    try {
      const busy = await withCall();
      // An HTTP/2 connection that started (its preface and SETTINGS read) and opened no call.
      const silent = rawClient(port2);
      sockets.push(silent.socket);
      silent.socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]));
      await until('the silent connection accepted', () => silent.received().length > 0);
      // Two held (the cap): the newcomer passes over the one with a call open and closes the one without.
      const newcomer = rawClient(port2);
      sockets.push(newcomer.socket);
      await until('the silent connection closed', silent.closed);
      await until('the newcomer accepted', () => newcomer.received().length > 0);
      assert.deepEqual(closed, ['evicted']);
      assert.equal(busy.closed || busy.destroyed, false, 'the connection with a call open is kept');
      // A second connection with a call takes the silent newcomer's place; then both held have a
      // call open, and the next newcomer is closed.
      await withCall();
      await until('the newcomer closed for the second call', newcomer.closed);
      const refused = rawClient(port2);
      sockets.push(refused.socket);
      await until('the last newcomer closed', refused.closed);
      assert.deepEqual(closed, ['evicted', 'evicted', 'limit']);
      assert.equal(busy.closed || busy.destroyed, false, 'the first connection with a call open is still kept');
    } finally {
      for (const session of sessions) session.destroy();
      await g2.close();
    }
  });
});
