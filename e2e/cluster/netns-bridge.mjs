// Byte pipes between the host's loopback and the real node's network namespace, through unix
// sockets in the cluster directory (a file is reachable from both namespaces; no address of the
// host's namespace is added, no route or iptables rule changes anywhere). Plain Node.js, no
// dependencies, so it starts fast and runs inside the node's namespace as it is.
//
//   host <socket> <port>       (host namespace) every connection on <socket> is piped to
//                              127.0.0.1:<port>: the API server, for the node and its pods.
//   node <ip:port> <socket> <proxy-socket>
//                              (node namespace) listens on <ip:port> (the `kubernetes` Service
//                              address there) and pipes each connection to <socket>; and on
//                              <proxy-socket> answers HTTP CONNECT <ip:port> with a tunnel to
//                              that address inside the node namespace (tests reach pod IPs so).
//   forward <proxy-socket> <ip:port>
//                              (host namespace) listens on a free 127.0.0.1 port (printed in its
//                              "listening" line) and tunnels each connection through the proxy
//                              to <ip:port> (make demo: curl and the load generator reach a pod).
import { request } from 'node:http';
import { createConnection, createServer } from 'node:net';
import { rmSync } from 'node:fs';

const [mode, ...args] = process.argv.slice(2);

function log(message, extra = {}) {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), message, ...extra })}\n`);
}

function pipeBoth(a, b) {
  a.on('error', () => b.destroy());
  b.on('error', () => a.destroy());
  a.pipe(b);
  b.pipe(a);
}

function listenUnix(server, path) {
  rmSync(path, { force: true });
  server.listen(path, () => log('listening', { path }));
}

function parseHostPort(text) {
  const i = text.lastIndexOf(':');
  const port = Number(text.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`not host:port: ${JSON.stringify(text)}`);
  return { host: text.slice(0, i), port };
}

/** The CONNECT proxy: reads one request head, opens the tunnel, then pipes bytes. */
function connectProxy(client) {
  let head = Buffer.alloc(0);
  const onData = (chunk) => {
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) {
      if (head.length > 8192) client.end('HTTP/1.1 431 Request Header Fields Too Large\r\n\r\n');
      return;
    }
    client.off('data', onData);
    const first = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
    const m = /^CONNECT (\S+) HTTP\/1\.[01]$/.exec(first);
    let target;
    try {
      if (!m) throw new Error(`expected CONNECT host:port, got ${JSON.stringify(first.slice(0, 100))}`);
      target = parseHostPort(m[1]);
    } catch (err) {
      client.end(`HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\n\r\n${err.message}\n`);
      return;
    }
    const rest = head.subarray(end + 4);
    const upstream = createConnection(target);
    upstream.once('connect', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (rest.length > 0) upstream.write(rest);
      pipeBoth(client, upstream);
    });
    upstream.once('error', (err) => {
      if (!client.destroyed) client.end(`HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain\r\n\r\n${err.message}\n`);
    });
  };
  client.on('data', onData);
  client.on('error', () => {});
}

if (mode === 'host' && args.length === 2) {
  const [socket, port] = args;
  listenUnix(createServer((c) => pipeBoth(c, createConnection({ host: '127.0.0.1', port: Number(port) }))), socket);
} else if (mode === 'node' && args.length === 3) {
  const [listen, socket, proxySocket] = args;
  const { host, port } = parseHostPort(listen);
  createServer((c) => pipeBoth(c, createConnection(socket))).listen(port, host, () => log('listening', { host, port }));
  listenUnix(createServer(connectProxy), proxySocket);
} else if (mode === 'forward' && args.length === 2) {
  const [proxySocket, target] = args;
  parseHostPort(target);
  const server = createServer((client) => {
    client.pause();
    const req = request({ socketPath: proxySocket, method: 'CONNECT', path: target });
    req.on('connect', (res, upstream) => {
      if (res.statusCode !== 200) {
        client.destroy();
        upstream.destroy();
        return;
      }
      pipeBoth(client, upstream);
      client.resume();
    });
    req.on('error', () => client.destroy());
    req.end();
  });
  server.listen(0, '127.0.0.1', () => log('listening', { host: '127.0.0.1', port: server.address().port, target }));
} else {
  process.stderr.write('usage: netns-bridge.mjs host <socket> <port> | node <ip:port> <socket> <proxy-socket> | forward <proxy-socket> <ip:port>\n');
  process.exit(2);
}
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
