import { signedGetQuery } from './oss-signature.js';

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
  const params = new URLSearchParams(signedGetQuery(o.bucket, o.objectKey, [['x-oss-process', 'hls/sign']], o.accessKeyId, o.accessKeySecret, o.expires));
  return `${o.url}?${params.toString()}`;
}
