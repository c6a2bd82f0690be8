import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A certificate authority of the test's own, made with openssl. */
export interface TestCa {
  dir: string;
  certFile: string;
  keyFile: string;
  pem: string;
}

const openssl = (args: string[], cwd: string) => execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });

export function makeCa(name = 'livechannel test CA'): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'lc-ca-'));
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  return { dir, certFile: join(dir, 'ca.pem'), keyFile: join(dir, 'ca.key'), pem: readFileSync(join(dir, 'ca.pem'), 'utf8') };
}

export interface ServerCert {
  certFile: string;
  keyFile: string;
  /** The serial as openssl prints it (hex, upper case). */
  serial: string;
}

/** A server certificate for 127.0.0.1 and localhost signed by `ca`, with the given serial (hex), into `dir` under `name`. */
export function makeServerCert(ca: TestCa, dir: string, name: string, serial: string): ServerCert {
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n');
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', '/CN=127.0.0.1'], dir);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-set_serial', `0x${serial}`, '-days', '2', '-extfile', ext, '-out', `${name}.pem`], dir);
  // a full chain, as certbot's fullchain.pem
  writeFileSync(join(dir, `${name}.pem`), readFileSync(join(dir, `${name}.pem`), 'utf8') + ca.pem);
  return { certFile: join(dir, `${name}.pem`), keyFile: join(dir, `${name}.key`), serial: serial.toUpperCase() };
}

/** The serial of the certificate a TLS server presents (openssl s_client), upper-case hex. */
export function servedSerial(port: number): string {
  const pem = execFileSync('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost'], { input: '', stdio: ['pipe', 'pipe', 'pipe'], timeout: 10_000 }).toString();
  const cert = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)?.[0];
  if (!cert) throw new Error(`no certificate from 127.0.0.1:${port}`);
  const serial = execFileSync('openssl', ['x509', '-noout', '-serial'], { input: cert }).toString();
  return /serial=([0-9A-F]+)/i.exec(serial)![1]!.toUpperCase();
}
