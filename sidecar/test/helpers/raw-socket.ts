// Raw client connections for tests that speak HTTP by hand (half-sent bodies, floods, trickles):
// what each received, whether the server ended or closed it; a suite's connections are destroyed
// after each test.

import { readFileSync } from 'node:fs';
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';

export interface Raw {
  socket: Socket;
  /** Everything received so far (latin1). */
  answer: () => string;
  /** The server ended its side (FIN) or the connection closed. */
  ended: () => boolean;
  /** The connection closed. */
  closed: () => boolean;
}

/** A connection to 127.0.0.1:`port`, over TLS when `caFile` names the CA to trust (server name localhost). */
export async function rawConnection(port: number, caFile?: string): Promise<Raw> {
  const socket: Socket = caFile === undefined ? connectTcp(port, '127.0.0.1') : connectTls({ host: '127.0.0.1', port, ca: readFileSync(caFile), servername: 'localhost' });
  socket.on('error', () => undefined);
  let text = '';
  let ended = false;
  let closed = false;
  socket.on('data', (d: Buffer) => void (text += d.toString('latin1')));
  socket.on('end', () => void (ended = true));
  socket.on('close', () => {
    ended = true;
    closed = true;
  });
  await new Promise<void>((r) => socket.once(caFile === undefined ? 'connect' : 'secureConnect', () => r()));
  return { socket, answer: () => text, ended: () => ended, closed: () => closed };
}

/** A suite's raw connections: `open()` one, `destroyAll()` after each test. */
export function rawConnections(port: () => number, caFile?: () => string): { open: () => Promise<Raw>; destroyAll: () => void } {
  const live: Raw[] = [];
  return {
    open: async () => {
      const r = await rawConnection(port(), caFile?.());
      live.push(r);
      return r;
    },
    destroyAll: () => {
      for (const r of live.splice(0)) r.socket.destroy();
    },
  };
}
