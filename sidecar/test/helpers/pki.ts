// Test PKI made with the openssl CLI: a trusted CA, a server certificate for localhost, client
// certificates from the trusted CA and from an untrusted one. Everything lives in a temp dir.

import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { testDir } from './tmp.js';

export interface Pki {
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  rogueCaCert: string;
  rogueClientCert: string;
  rogueClientKey: string;
  /** Issues another server certificate from the trusted CA (rotation); returns [cert, key] paths. */
  issueServer(name: string, cn: string): [string, string];
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): void {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`], dir);
}

function issue(dir: string, ca: string, name: string, cn: string, ext: string): void {
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`], dir);
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`], dir);
}

const SERVER_EXT = 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n';
const CLIENT_EXT = 'extendedKeyUsage=clientAuth\n';

export function createPki(): Pki {
  const dir = testDir('sidecar-pki-');
  makeCa(dir, 'ca');
  makeCa(dir, 'rogue-ca');
  issue(dir, 'ca', 'server', 'localhost', SERVER_EXT);
  issue(dir, 'ca', 'client', 'test-client', CLIENT_EXT);
  issue(dir, 'rogue-ca', 'rogue-client', 'rogue-client', CLIENT_EXT);
  const p = (f: string): string => join(dir, f);
  return {
    dir,
    caCert: p('ca.crt'),
    caKey: p('ca.key'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    clientCert: p('client.crt'),
    clientKey: p('client.key'),
    rogueCaCert: p('rogue-ca.crt'),
    rogueClientCert: p('rogue-client.crt'),
    rogueClientKey: p('rogue-client.key'),
    issueServer: (name, cn) => {
      issue(dir, 'ca', name, cn, SERVER_EXT);
      return [p(`${name}.crt`), p(`${name}.key`)];
    },
  };
}
