import { signedGetQuery } from '../auth/oss-signature.js';

/**
 * OSS's `x-oss-process=hls/sign`: a playlist fetched with a signed URL comes back with
 * every segment URI signed too (same key, same expiry), so players can play private buckets
 * although they fetch each segment on its own. URIs in tag attributes are signed as well: the
 * init segment (`EXT-X-MAP`), LL-HLS parts (`EXT-X-PART`, `EXT-X-PRELOAD-HINT`), keys.
 */
export function signPlaylistUris(
  text: string,
  playlistKey: string,
  bucket: string,
  key: { accessKeyId: string; accessKeySecret: string },
  expires: string,
): string {
  const folder = playlistKey.includes('/') ? playlistKey.slice(0, playlistKey.lastIndexOf('/') + 1) : '';
  const sign = (uri: string): string => {
    if (uri === '' || /^[a-z][a-z0-9+.-]*:/i.test(uri) || uri.includes('?')) return uri;
    const decoded = decodeUri(uri);
    if (decoded === undefined) return uri; // not a URI any object has (a stray '%'): nothing to sign
    const objectKey = resolveKey(folder, decoded);
    if (objectKey === undefined) return uri;
    return `${uri}?${new URLSearchParams(signedGetQuery(bucket, objectKey, [], key.accessKeyId, key.accessKeySecret, expires)).toString()}`;
  };
  return text
    .split('\n')
    .map((line) => {
      const trimmed = line.trim();
      if (trimmed.startsWith('#')) return line.replace(/(?<=[:,]URI=")[^"]*(?=")/g, sign);
      return trimmed === '' ? line : sign(trimmed);
    })
    .join('\n');
}

function decodeUri(uri: string): string | undefined {
  try {
    return decodeURIComponent(uri);
  } catch {
    return undefined;
  }
}

/** Resolves a relative URI against the playlist's folder; undefined if it leaves the bucket. */
function resolveKey(folder: string, relative: string): string | undefined {
  const parts = (relative.startsWith('/') ? relative.slice(1) : folder + relative).split('/');
  const out: string[] = [];
  for (const p of parts) {
    if (p === '..') {
      if (out.length === 0) return undefined;
      out.pop();
    } else if (p !== '.') {
      out.push(p);
    }
  }
  return out.join('/');
}
