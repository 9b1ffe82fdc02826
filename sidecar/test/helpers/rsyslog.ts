// A real rsyslogd (Debian package rsyslog + rsyslog-gnutls) in the foreground with its own
// config: imtcp over TLS (gtls driver, RFC 5425) on a loopback port, and imudp; every received
// message is appended raw (%rawmsg%) to a file the test reads.

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { testDir } from './tmp.js';

export const RSYSLOGD = ['/usr/sbin/rsyslogd', '/sbin/rsyslogd'].find((p) => existsSync(p));

/** The first port of the kernel's ephemeral range (what bind(0) and outgoing connections use). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 21_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

/**
 * A port free on 127.0.0.1 now, for a process that binds it later. Chosen at random below the
 * ephemeral range: until the other process binds it, the kernel never hands it to an outgoing
 * connection or to another process's bind(0) (a busy machine makes many), as it could a port
 * taken from bind(0) and closed.
 */
export async function freePort(): Promise<number> {
  const high = ephemeralLow() - 1;
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * (high - 20_000));
    const free = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

export class Rsyslog {
  private proc: ChildProcess | undefined;
  readonly dir = testDir('sidecar-rsyslog-');
  readonly outFile = join(this.dir, 'received.log');
  stderr = '';

  constructor(
    readonly tlsPort: number,
    readonly udpPort: number,
    tls: { ca: string; cert: string; key: string },
  ) {
    mkdirSync(join(this.dir, 'work'));
    writeFileSync(
      join(this.dir, 'rsyslog.conf'),
      [
        `global(workDirectory="${this.dir}/work" defaultNetstreamDriverCAFile="${tls.ca}" defaultNetstreamDriverCertFile="${tls.cert}" defaultNetstreamDriverKeyFile="${tls.key}")`,
        'module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")',
        'module(load="imudp")',
        `input(type="imtcp" port="${tlsPort}" address="127.0.0.1")`,
        `input(type="imudp" port="${udpPort}" address="127.0.0.1")`,
        'template(name="raw" type="string" string="%rawmsg%\\n")',
        `action(type="omfile" file="${this.outFile}" template="raw" flushOnTXEnd="on" asyncWriting="off")`,
        '',
      ].join('\n'),
    );
  }

  /** Starts rsyslogd and waits until its TLS port accepts connections. */
  async start(): Promise<void> {
    if (!RSYSLOGD) throw new Error('rsyslogd is not installed (apt-get install rsyslog rsyslog-gnutls)');
    this.proc = spawn(RSYSLOGD, ['-n', '-f', join(this.dir, 'rsyslog.conf'), '-i', join(this.dir, 'rsyslog.pid')], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc.stderr?.on('data', (d: Buffer) => (this.stderr += d.toString()));
    const deadline = Date.now() + 60_000; // a bound on a hang: a loaded machine starts it slowly
    while (Date.now() < deadline) {
      if (this.proc.exitCode !== null) throw new Error(`rsyslogd exited ${this.proc.exitCode}: ${this.stderr}`);
      if (await canConnect(this.tlsPort)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`rsyslogd did not listen on ${this.tlsPort}: ${this.stderr}`);
  }

  /** Stops rsyslogd (SIGTERM: it flushes its queues; SIGKILL: a crash) and waits for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill(signal);
    });
  }

  lines(): string[] {
    if (!existsSync(this.outFile)) return [];
    return readFileSync(this.outFile, 'utf8').split('\n').filter((l) => l.length > 0);
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    import('node:net').then(({ connect }) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    }, () => resolve(false));
  });
}
