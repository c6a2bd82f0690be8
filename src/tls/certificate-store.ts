import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync, unwatchFile, watchFile } from 'node:fs';

/** A certificate chain and its key, checked to belong together and to be valid now. */
export interface CertificatePair {
  cert: Buffer;
  key: Buffer;
  /** The leaf certificate's serial (hex) and the end of its validity. */
  serial: string;
  notAfter: Date;
  subject: string;
}

/** Reads and checks a PEM pair; throws with what is wrong (unreadable, not PEM, key does not match, expired). */
export function loadCertificatePair(certFile: string, keyFile: string, now = Date.now()): CertificatePair {
  const read = (file: string, what: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(`cannot read the TLS ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  const cert = read(certFile, 'certificate');
  const key = read(keyFile, 'key');
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch {
    throw new Error(`${certFile} is not a PEM certificate`);
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new Error(`${keyFile} is not a PEM private key (or it is encrypted)`);
  }
  if (!leaf.checkPrivateKey(privateKey)) throw new Error(`the key in ${keyFile} does not belong to the certificate in ${certFile}`);
  const notAfter = new Date(leaf.validTo);
  if (notAfter.getTime() <= now) throw new Error(`the certificate in ${certFile} expired on ${notAfter.toISOString()}`);
  return { cert, key, serial: leaf.serialNumber, notAfter, subject: leaf.subject.replace(/\n/g, ', ') };
}

export interface CertificateStoreOptions {
  certFile: string;
  keyFile: string;
  /** How often the files are looked at for a change (certbot, cert-manager replace them). */
  pollMs?: number;
  onReload(pair: CertificatePair): void;
  onError(message: string): void;
}

/**
 * The one certificate every TLS listener serves. reload() (SIGHUP, or a change of either file)
 * reads the pair again and hands it on to the listeners for their new connections; a pair that
 * does not load keeps the one in use and says why. Live connections keep the certificate they
 * were made with.
 */
export class CertificateStore {
  private current: CertificatePair;
  private readonly listeners: ((pair: CertificatePair) => void)[] = [];
  private watching = false;
  private settle: NodeJS.Timeout | undefined;
  private readonly changed = () => {
    clearTimeout(this.settle);
    this.settle = setTimeout(() => this.reload(), 500);
    this.settle.unref();
  };

  /** Throws when the pair does not load: a start with a broken certificate stops. */
  constructor(private readonly o: CertificateStoreOptions) {
    this.current = loadCertificatePair(o.certFile, o.keyFile);
  }

  get pair(): CertificatePair {
    return this.current;
  }

  /** Calls `use` with the pair now and after each reload. */
  serve(use: (pair: CertificatePair) => void): void {
    this.listeners.push(use);
    use(this.current);
  }

  /** Reads the files again; true when the new pair is in use. */
  reload(): boolean {
    let pair: CertificatePair;
    try {
      pair = loadCertificatePair(this.o.certFile, this.o.keyFile);
    } catch (err) {
      this.o.onError(`${(err as Error).message}; still serving serial ${this.current.serial}`);
      return false;
    }
    if (pair.cert.equals(this.current.cert) && pair.key.equals(this.current.key)) return true;
    this.current = pair;
    for (const use of this.listeners) use(pair);
    this.o.onReload(pair);
    return true;
  }

  /** Reloads when either file changes (after a short pause: the two are rarely written at once). */
  watch(): void {
    if (this.watching) return;
    this.watching = true;
    for (const file of [this.o.certFile, this.o.keyFile]) watchFile(file, { interval: this.o.pollMs ?? 2000, persistent: false }, this.changed);
  }

  close(): void {
    clearTimeout(this.settle);
    if (!this.watching) return;
    for (const file of [this.o.certFile, this.o.keyFile]) unwatchFile(file, this.changed);
    this.watching = false;
  }
}
