import { canonicalizedResource, hmacSha1, stringToSign } from './oss-signature.js';

export interface PlayUrlOptions {
  /** The playlist's unsigned URL (path-style or virtual-hosted). */
  url: string;
  bucket: string;
  /** The playlist's object key, `<channel>/<playlist>.m3u8`. */
  objectKey: string;
  accessKeyId: string;
  accessKeySecret: string;
  /** Unix seconds. */
  expires: number;
}

/**
 * A signed URL of a playlist with x-oss-process=hls/sign: the gateway answers it with every
 * segment URI inside signed alike, so a private channel plays in any player.
 */
export function signPlayUrl(o: PlayUrlOptions): string {
  const expires = String(o.expires);
  const query: [string, string][] = [['x-oss-process', 'hls/sign']];
  const toSign = stringToSign({ method: 'GET', contentMd5: '', contentType: '', date: expires, ossHeaders: '', resource: canonicalizedResource(o.bucket, o.objectKey, query) });
  const params = new URLSearchParams([...query, ['OSSAccessKeyId', o.accessKeyId], ['Expires', expires], ['Signature', hmacSha1(o.accessKeySecret, toSign)]]);
  return `${o.url}?${params.toString()}`;
}
