import { createVerify } from 'node:crypto';

const publicKeys = new Map();

/** True when a POST was signed by the gateway whose key URLs start with `trustedKeyUrlPrefix`. */
export async function verifyOssCallback({ url, headers, body }, trustedKeyUrlPrefix) {
  const keyUrl = Buffer.from(headers['x-oss-pub-key-url'] ?? '', 'base64').toString();
  if (!keyUrl.startsWith(trustedKeyUrlPrefix)) return false; // never fetch a key from elsewhere
  if (!publicKeys.has(keyUrl)) publicKeys.set(keyUrl, await (await fetch(keyUrl)).text());
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const query = q < 0 ? '' : url.slice(q);
  const signed = Buffer.concat([Buffer.from(`${decodeURIComponent(path)}${query}\n`), Buffer.from(body)]);
  return createVerify('RSA-MD5').update(signed).verify(publicKeys.get(keyUrl), headers.authorization ?? '', 'base64');
}
