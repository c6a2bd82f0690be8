import { createDecipheriv, pbkdf2Sync } from 'node:crypto';

/** SRT's key material (HaiCrypt KM message): the stream keys, unwrapped with the passphrase. */
export interface StreamKeys {
  salt: Uint8Array;
  keyLength: number;
  even?: Buffer;
  odd?: Buffer;
}

const KM_HEADER = 16;
const PBKDF2_ITERATIONS = 2048;
const PBKDF2_SALT = 8;
const CIPHER_AES_CTR = 2;
const WRAP_IV = Buffer.from('a6a6a6a6a6a6a6a6', 'hex');

export type KeyMaterialResult = { ok: true; keys: StreamKeys } | { ok: false; reason: 'malformed' | 'bad-secret' | 'unsupported'; detail: string };

/**
 * Reads a KM message (KMREQ, or the key refresh a sender announces mid-stream) and unwraps its
 * stream keys with the key derived from `passphrase` (PBKDF2-HMAC-SHA1, 2048 rounds, over the
 * salt's last 8 bytes; AES key wrap, RFC 3394). A passphrase that is not the sender's fails the
 * wrap's integrity check: 'bad-secret'.
 */
export function unwrapKeyMaterial(msg: Uint8Array, passphrase: string): KeyMaterialResult {
  if (msg.length < KM_HEADER) return { ok: false, reason: 'malformed', detail: `KM message of ${msg.length} bytes` };
  if (msg[0] !== 0x12 || msg[1] !== 0x20 || msg[2] !== 0x29) return { ok: false, reason: 'malformed', detail: 'not a HaiCrypt KM message' };
  const kk = msg[3]! & 3;
  if (msg[8] !== CIPHER_AES_CTR) return { ok: false, reason: 'unsupported', detail: `cipher ${msg[8]} (AES-CTR only)` };
  const saltLength = msg[14]! * 4;
  const keyLength = msg[15]! * 4;
  const keys = kk === 3 ? 2 : 1;
  if (![16, 24, 32].includes(keyLength) || saltLength < PBKDF2_SALT || KM_HEADER + saltLength + 8 + keys * keyLength > msg.length || kk === 0) {
    return { ok: false, reason: 'malformed', detail: 'KM message sizes do not add up' };
  }
  const salt = msg.slice(KM_HEADER, KM_HEADER + saltLength);
  const wrapped = msg.subarray(KM_HEADER + saltLength, KM_HEADER + saltLength + 8 + keys * keyLength);
  const kek = pbkdf2Sync(passphrase, salt.subarray(saltLength - PBKDF2_SALT), PBKDF2_ITERATIONS, keyLength, 'sha1');
  let plain: Buffer;
  try {
    const d = createDecipheriv(`id-aes${keyLength * 8}-wrap`, kek, WRAP_IV);
    plain = Buffer.concat([d.update(wrapped), d.final()]);
  } catch {
    return { ok: false, reason: 'bad-secret', detail: 'the passphrase does not unwrap the stream key' };
  }
  const first = plain.subarray(0, keyLength);
  const second = plain.subarray(keyLength, 2 * keyLength);
  return {
    ok: true,
    keys: { salt, keyLength, ...(kk & 1 ? { even: Buffer.from(first) } : {}), ...(kk === 2 ? { odd: Buffer.from(first) } : kk === 3 ? { odd: Buffer.from(second) } : {}) },
  };
}

/** Decrypts a data packet's payload (AES-CTR; the IV is the salt XOR the packet index). */
export function decryptPayload(keys: StreamKeys, keyIndex: number, packetIndex: Uint8Array, payload: Uint8Array): Uint8Array | undefined {
  const key = keyIndex === 1 ? keys.even : keyIndex === 2 ? keys.odd : undefined;
  if (!key) return undefined;
  const iv = Buffer.alloc(16);
  iv.set(packetIndex.subarray(0, 4), 10);
  for (let i = 0; i < 14; i++) iv[i] = iv[i]! ^ keys.salt[i]!;
  const d = createDecipheriv(`aes-${keys.keyLength * 8}-ctr`, key, iv);
  return d.update(payload);
}
