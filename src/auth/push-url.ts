import { stringify } from 'node:querystring';
import { hmacSha1, pushStringToSign } from './oss-signature.js';

export interface PushUrlOptions {
  /** `rtmp://host[:port]` the publisher connects to. */
  base: string;
  bucket: string;
  channel: string;
  accessKeyId: string;
  accessKeySecret: string;
  /** Unix seconds. */
  expires: number;
  params?: Record<string, string>;
}

/** A signed RTMP push URL, laid out as ali-oss `getRtmpUrl` lays it out. */
export function signPushUrl(o: PushUrlOptions): string {
  const params = Object.entries(o.params ?? {});
  const signature = hmacSha1(o.accessKeySecret, pushStringToSign(o.bucket, o.channel, String(o.expires), params));
  // querystring escaping, as ali-oss (url.format) uses, so the URLs come out identical
  const query = stringify({ OSSAccessKeyId: o.accessKeyId, Expires: o.expires, Signature: signature, ...o.params });
  return `${o.base}/live/${encodeURIComponent(o.channel)}?${query}`;
}

/**
 * A push URL split into OBS's Settings → Stream fields: Server is everything up to the
 * application (`rtmp://host:port/live`), Stream Key the rest, query included.
 */
export function obsFields(pushUrl: string): { server: string; streamKey: string } {
  const m = /^(rtmp[st]?:\/\/[^/]+\/live)\/(.+)$/i.exec(pushUrl);
  if (!m) throw new Error(`not a push URL of the form rtmp://host/live/<channel>?…: ${pushUrl}`);
  return { server: m[1]!, streamKey: m[2]! };
}
