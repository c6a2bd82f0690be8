import { createHash, createPrivateKey, createPublicKey, generateKeyPair, sign, type KeyObject } from 'node:crypto';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { threadId } from 'node:worker_threads';

const generateKeyPairAsync = promisify(generateKeyPair);
const signAsync = promisify(sign);

/**
 * The RSA key that signs notifications and upload callbacks, as OSS signs its upload
 * callbacks (MD5 with RSA, PKCS#1 v1.5). Receivers fetch the public half from the URL named
 * in each request's x-oss-pub-key-url header.
 */
export class SigningKey {
  readonly publicKeyPem: string;
  /** Names the key in its public URL, so that a node holding another key answers 404, not a wrong key. */
  readonly keyId: string;

  private constructor(private readonly privateKey: KeyObject) {
    const publicKey = createPublicKey(privateKey);
    this.publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    this.keyId = createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
  }

  /**
   * The configured key file, or `dataDir/events-signing-key.pem`, made on first start (off the
   * event loop: making a 2048-bit key takes a good part of a second). Workers starting at once
   * on a new data dir all end up with the one key that got there first.
   */
  static async load(dataDir: string, file?: string): Promise<SigningKey> {
    if (file) return new SigningKey(createPrivateKey(await readFile(file)));
    const path = join(dataDir, 'events-signing-key.pem');
    try {
      return new SigningKey(createPrivateKey(await readFile(path)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    await mkdir(dataDir, { recursive: true });
    const { privateKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
    const tmp = `${path}.${process.pid}.${threadId}.tmp`;
    await writeFile(tmp, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    try {
      await link(tmp, path); // atomic, and fails when another process's key got there first
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      await unlink(tmp);
    }
    return new SigningKey(createPrivateKey(await readFile(path)));
  }

  /** Base64 MD5-with-RSA signature of `data`, made on libuv's thread pool (an RSA signature takes ~0.4 ms). */
  async sign(data: Buffer): Promise<string> {
    return (await signAsync('md5', data, this.privateKey)).toString('base64');
  }
}

/** The string an OSS callback signs: the URL-decoded path, the query string (with its "?"), "\n", the body. */
export function callbackStringToSign(url: URL, body: string | Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${decodeURIComponent(url.pathname)}${url.search}\n`), Buffer.isBuffer(body) ? body : Buffer.from(body)]);
}

/** The headers that let a receiver check a callback with its OSS-callback verifier. */
export async function callbackSignatureHeaders(key: SigningKey, publicKeyUrl: string, url: URL, body: string | Buffer): Promise<Record<string, string>> {
  return {
    authorization: await key.sign(callbackStringToSign(url, body)),
    'x-oss-pub-key-url': Buffer.from(publicKeyUrl).toString('base64'),
  };
}
