import { createHash } from 'node:crypto';
import type { ObjectStore } from '../storage/object-store.js';
import { InvalidObjectKeyError } from '../storage/object-store.js';
import { errors, OssError } from '../oss/errors.js';
import { parseXmlBody, toXml } from './xml.js';

function checkKey(key: string): void {
  if (Buffer.byteLength(key) > 1023) throw errors.invalidArgument('Object names must be at most 1023 bytes.', 'ObjectName', key);
}

function verifyMd5(body: Buffer, header: string | undefined): void {
  if (header === undefined) return;
  const given = Buffer.from(header, 'base64');
  if (given.length !== 16 || given.toString('base64') !== header) throw new OssError(400, 'InvalidDigest', 'The Content-MD5 you specified is not valid.');
  if (!createHash('md5').update(body).digest().equals(given)) {
    throw new OssError(400, 'BadDigest', 'The Content-MD5 you specified did not match what was received.');
  }
}

async function guard<T>(key: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    if (err instanceof InvalidObjectKeyError) throw errors.invalidArgument(`Invalid object name "${key}".`, 'ObjectName', key);
    throw err;
  }
}

/** PutObject: Content-MD5 is checked when given; the write is atomic. */
export async function putObject(store: ObjectStore, key: string, body: Buffer | undefined, contentMd5: string | undefined, contentType: string | undefined) {
  checkKey(key);
  const data = body ?? Buffer.alloc(0);
  verifyMd5(data, contentMd5);
  const info = await guard(key, () => store.put(key, data, contentType));
  return { status: 200, headers: { etag: info.etag } };
}

/** DeleteObject: 204 whether or not the object existed, as OSS answers. */
export async function deleteObject(store: ObjectStore, key: string) {
  await guard(key, () => store.delete(key));
  return { status: 204, headers: {} };
}

/** DeleteMultipleObjects: POST /?delete with <Delete><Quiet/><Object><Key/></Object>…</Delete>. */
export async function deleteMultipleObjects(store: ObjectStore, body: Buffer | undefined, contentMd5: string | undefined) {
  if (!contentMd5) throw errors.invalidArgument('DeleteMultipleObjects needs a Content-MD5 header.', 'Content-MD5', '');
  verifyMd5(body ?? Buffer.alloc(0), contentMd5);
  const doc = parseXmlBody(body).Delete as { Quiet?: unknown; Object?: unknown } | undefined;
  if (!doc || typeof doc !== 'object') throw errors.malformedXml('The root element must be <Delete>.');
  const objects: unknown[] = Array.isArray(doc.Object) ? doc.Object : doc.Object ? [doc.Object] : [];
  if (objects.length > 1000) throw errors.invalidArgument('At most 1000 objects can be deleted at once.', 'Object', String(objects.length));
  // every key checked before any object goes: a bad entry deletes nothing
  const keys = objects.map((o) => {
    const key = typeof o === 'object' && o !== null ? (o as { Key?: unknown }).Key : undefined;
    if (typeof key !== 'string' || key === '') throw errors.malformedXml('Every <Object> needs one <Key> holding the object name as text.');
    return key;
  });
  const deleted: string[] = [];
  for (const key of keys) {
    await guard(key, () => store.delete(key));
    deleted.push(key);
  }
  const quiet = doc.Quiet === 'true';
  return {
    status: 200,
    headers: { 'content-type': 'application/xml' },
    body: toXml({ DeleteResult: quiet || deleted.length === 0 ? '' : { Deleted: deleted.map((Key) => ({ Key })) } }),
  };
}

/** GetBucket (ListObjects v1). */
export async function listObjects(store: ObjectStore, bucket: string, query: ReadonlyMap<string, string>) {
  const prefix = query.get('prefix') ?? '';
  const marker = query.get('marker') ?? '';
  const delimiter = query.get('delimiter') ?? '';
  const rawMax = query.get('max-keys');
  let maxKeys = 100;
  if (rawMax !== undefined) {
    if (!/^\d+$/.test(rawMax) || Number(rawMax) < 1 || Number(rawMax) > 1000) {
      throw errors.invalidArgument('max-keys must be an integer from 1 to 1000.', 'max-keys', rawMax);
    }
    maxKeys = Number(rawMax);
  }
  const r = await store.list({ prefix, marker, maxKeys, delimiter });
  const result: Record<string, unknown> = {
    Name: bucket,
    Prefix: prefix,
    Marker: marker,
    MaxKeys: maxKeys,
    Delimiter: delimiter,
    IsTruncated: r.truncated,
  };
  if (r.truncated && r.nextMarker) result.NextMarker = r.nextMarker;
  if (r.objects.length) {
    result.Contents = r.objects.map((o) => ({
      Key: o.key,
      LastModified: new Date(o.lastModified).toISOString(),
      ETag: o.etag,
      Type: 'Normal',
      Size: o.size,
      StorageClass: 'Standard',
      Owner: { ID: 'livechannel', DisplayName: 'livechannel' },
    }));
  }
  if (r.commonPrefixes.length) result.CommonPrefixes = r.commonPrefixes.map((Prefix) => ({ Prefix }));
  return { status: 200, headers: { 'content-type': 'application/xml' }, body: toXml({ ListBucketResult: result }) };
}
