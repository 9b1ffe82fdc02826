// Audit records (CHECKLIST 2.4): RFC 5424 messages with structured data, shipped over TCP+TLS
// with RFC 5425 octet-counting framing, or over UDP (one datagram per message).
//
// Delivery over TLS is at-least-once within a bound: records wait in a bounded queue; once
// written they stay "in flight" for `resendWindowMs`, and when the connection drops (receiver
// restart) the in-flight records are queued again ahead of the rest and resent after reconnect.
// A receiver therefore may see a record twice (same `meta sequenceId`) but loses none while the
// queue plus in-flight records stay under `bufferRecords`. Overflow drops the new record and is
// counted (onDropped), never silent. UDP is best effort (no acknowledgement exists to retry on).

import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { hostname } from 'node:os';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { type Clock, systemClock } from './clock.js';

export const AUDIT_SD_ID = 'audit@32473';

export interface AuditEvent {
  action: string;
  outcome: 'success' | 'failure';
  decision: 'allow' | 'deny';
  subject: string;
  path: string;
  status: number;
  modelDigest: string;
  group: string;
  envId: string;
  traceId: string;
  requestId: string;
  reason?: string;
}

export interface Rfc5424Fields {
  facility: number;
  severity: number;
  timestamp: Date;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  structuredData: { id: string; params: Record<string, string> }[];
  message: string;
}

function headerField(v: string, max: number): string {
  const clean = v.replace(/[^!-~]/g, '').slice(0, max);
  return clean.length === 0 ? '-' : clean;
}

/** Escapes an SD-PARAM value: `"`, `\` and `]` get a backslash (RFC 5424 6.3.3). */
export function escapeSdValue(v: string): string {
  return v.replace(/[\\"\]]/g, (c) => `\\${c}`);
}

function sdName(v: string): string {
  return v.replace(/[^!-~]|[= \]"]/g, '').slice(0, 32);
}

/** Formats one RFC 5424 message (without transport framing). */
export function formatRfc5424(f: Rfc5424Fields): string {
  const pri = f.facility * 8 + f.severity;
  const sd =
    f.structuredData.length === 0
      ? '-'
      : f.structuredData
          .map((e) => `[${sdName(e.id)}${Object.entries(e.params).map(([k, v]) => ` ${sdName(k)}="${escapeSdValue(v)}"`).join('')}]`)
          .join('');
  const msg = f.message.length > 0 ? ` \uFEFF${f.message}` : '';
  return `<${pri}>1 ${f.timestamp.toISOString()} ${headerField(f.hostname, 255)} ${headerField(f.appName, 48)} ${headerField(f.procId, 128)} ${headerField(f.msgId, 32)} ${sd}${msg}`;
}

/** RFC 5425 / 6587 octet counting: "<byte length> <message>". */
export function frameOctetCounted(message: string): Buffer {
  const body = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `, 'ascii'), body]);
}

export function buildAuditMessage(e: AuditEvent, seq: number, appName: string, now: Date, host = hostname()): string {
  const params: Record<string, string> = {
    action: e.action,
    outcome: e.outcome,
    decision: e.decision,
    subject: e.subject,
    path: e.path,
    status: String(e.status),
    modelDigest: e.modelDigest,
    group: e.group,
    envId: e.envId,
    traceId: e.traceId,
    requestId: e.requestId,
    ...(e.reason ? { reason: e.reason } : {}),
  };
  return formatRfc5424({
    facility: 13, // log audit
    severity: e.decision === 'deny' || e.outcome === 'failure' ? 4 : 5, // warning / notice
    timestamp: now,
    hostname: host,
    appName,
    procId: String(process.pid),
    msgId: e.action,
    structuredData: [
      { id: AUDIT_SD_ID, params },
      { id: 'meta', params: { sequenceId: String(seq) } },
    ],
    message: `${e.action} ${e.decision} ${e.outcome}`,
  });
}

export interface AuditShipperOptions {
  protocol: 'tls' | 'udp';
  host: string;
  port: number;
  /** PEM CA bundle trusted for the receiver's certificate (TLS). */
  ca?: string | Buffer;
  appName: string;
  bufferRecords: number;
  resendWindowMs?: number;
  clock?: Clock;
  onDepth?: (depth: number) => void;
  onDropped?: () => void;
  onSent?: () => void;
  onConnectionError?: (err: Error) => void;
}

interface InFlight {
  message: string;
  writtenAt: number;
}

export class AuditShipper {
  private queue: string[] = [];
  private inflight: InFlight[] = [];
  private socket: TLSSocket | undefined;
  private udp: UdpSocket | undefined;
  private connected = false;
  private connecting = false;
  private closed = false;
  private backoffMs = 100;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private seq = 0;
  dropped = 0;
  sent = 0;
  private readonly clock: Clock;
  private readonly resendWindowMs: number;

  constructor(private readonly o: AuditShipperOptions) {
    this.clock = o.clock ?? systemClock;
    this.resendWindowMs = o.resendWindowMs ?? 5000;
  }

  get depth(): number {
    return this.queue.length + this.inflight.length;
  }

  /** Records one audit event; returns its sequence id (or -1 when dropped on overflow). */
  record(e: AuditEvent): number {
    if (this.closed) return -1;
    this.pruneInflight();
    if (this.depth >= this.o.bufferRecords) {
      // In-flight records were already written; give their room up before dropping new data.
      if (this.inflight.length > 0) this.inflight.shift();
      else {
        this.dropped++;
        this.o.onDropped?.();
        return -1;
      }
    }
    const seq = ++this.seq;
    this.queue.push(buildAuditMessage(e, seq, this.o.appName, new Date(this.clock.now())));
    this.o.onDepth?.(this.depth);
    this.flush();
    return seq;
  }

  private pruneInflight(): void {
    const cutoff = this.clock.now() - this.resendWindowMs;
    let i = 0;
    while (i < this.inflight.length && (this.inflight[i]?.writtenAt ?? 0) < cutoff) i++;
    if (i > 0) this.inflight.splice(0, i);
  }

  private flush(): void {
    if (this.o.protocol === 'udp') {
      this.flushUdp();
      return;
    }
    if (!this.connected) {
      this.ensureConnected();
      return;
    }
    const socket = this.socket;
    if (!socket) return;
    while (this.queue.length > 0 && this.connected) {
      const message = this.queue.shift() as string;
      socket.write(frameOctetCounted(message));
      this.inflight.push({ message, writtenAt: this.clock.now() });
      this.sent++;
      this.o.onSent?.();
    }
    this.o.onDepth?.(this.depth);
  }

  private flushUdp(): void {
    if (!this.udp) {
      this.udp = createSocket(this.o.host.includes(':') ? 'udp6' : 'udp4');
      this.udp.on('error', (err) => this.o.onConnectionError?.(err));
      this.udp.unref();
    }
    while (this.queue.length > 0) {
      const message = this.queue.shift() as string;
      this.udp.send(Buffer.from(message, 'utf8'), this.o.port, this.o.host, (err) => {
        if (err) this.o.onConnectionError?.(err);
      });
      this.sent++;
      this.o.onSent?.();
    }
    this.o.onDepth?.(this.depth);
  }

  private ensureConnected(): void {
    if (this.connecting || this.connected || this.closed || this.reconnectTimer) return;
    this.connecting = true;
    const socket = tlsConnect({
      host: this.o.host,
      port: this.o.port,
      servername: /^[\d.]+$|:/.test(this.o.host) ? undefined : this.o.host,
      ...(this.o.ca ? { ca: this.o.ca } : {}),
      rejectUnauthorized: true,
    });
    this.socket = socket;
    socket.setNoDelay(true);
    socket.once('secureConnect', () => {
      this.connecting = false;
      this.connected = true;
      this.backoffMs = 100;
      this.flush();
    });
    // The receiver never sends data; a read means nothing, but reading keeps 'end' events flowing.
    socket.on('data', () => undefined);
    const lost = (err?: Error): void => {
      if (this.socket !== socket) return;
      if (err) this.o.onConnectionError?.(err);
      this.socket = undefined;
      this.connected = false;
      this.connecting = false;
      socket.destroy();
      // Resend what may not have reached the receiver, ahead of newer records.
      this.pruneInflight();
      this.queue = this.inflight.map((r) => r.message).concat(this.queue);
      this.inflight = [];
      this.o.onDepth?.(this.depth);
      if (this.closed) return;
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = undefined;
        this.ensureConnected();
      }, this.backoffMs);
      this.reconnectTimer.unref();
      this.backoffMs = Math.min(this.backoffMs * 2, 5000);
    };
    socket.on('error', (err) => lost(err));
    socket.on('end', () => lost());
    socket.on('close', () => lost());
  }

  /** Waits until every queued record was written (or timeoutMs), then closes the transport. */
  async close(timeoutMs = 2000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length > 0 && Date.now() < deadline) {
      this.flush();
      await new Promise((r) => setTimeout(r, 20));
    }
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const s = this.socket;
    this.socket = undefined;
    if (s) await new Promise<void>((r) => s.end(() => r()));
    this.udp?.close();
  }
}
