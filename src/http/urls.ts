import { isIP } from 'node:net';

export interface PublicEndpoints {
  publicHost: string;
  httpPort: () => number;
  rtmpPort: () => number;
  /** RTMPS and HTTPS ports, when those listeners are on. */
  rtmpsPort?: () => number | undefined;
  httpsPort?: () => number | undefined;
  /** Where a bucket's objects are played from when not from this gateway (OSS bucket, CDN). */
  objectBase?: (bucket: string) => string | undefined;
}

function isLocalName(host: string): boolean {
  return isIP(host) !== 0 || host === 'localhost';
}

function withPort(host: string, port: number, standard: number): string {
  const h = isIP(host) === 6 ? `[${host}]` : host;
  return port === standard ? h : `${h}:${port}`;
}

const encodeSegments = (path: string) => path.split('/').map(encodeURIComponent).join('/');

/**
 * Publish and play URLs as OSS builds them: rtmp://bucket.host/live/channel and
 * http://bucket.host/channel/playlist. When the public host is an IP address or
 * "localhost" a bucket label cannot be prepended, so play URLs are path-style
 * (http://host/bucket/channel/playlist) and publish URLs name no bucket (pushes there
 * go to the default bucket).
 */
export class UrlBuilder {
  constructor(private readonly e: PublicEndpoints) {}

  /** Which secure listeners are on. */
  get secure(): { rtmps: boolean; https: boolean } {
    return { rtmps: this.e.rtmpsPort?.() !== undefined, https: this.e.httpsPort?.() !== undefined };
  }

  /** rtmp://host[:port], or with `secure` rtmps://host[:port] (throws when RTMPS is off). */
  rtmpBase(bucket: string, secure = false): string {
    const host = isLocalName(this.e.publicHost) ? this.e.publicHost : `${bucket}.${this.e.publicHost}`;
    if (!secure) return `rtmp://${withPort(host, this.e.rtmpPort(), 1935)}`;
    const port = this.e.rtmpsPort?.();
    if (port === undefined) throw new Error('RTMPS is off: set "tls" (and "rtmps") in the config');
    return `rtmps://${withPort(host, port, 443)}`;
  }

  /** A URL of the gateway itself (not of a bucket), e.g. its signing key's. */
  gatewayUrl(path: string): string {
    return `http://${withPort(this.e.publicHost, this.e.httpPort(), 80)}${path}`;
  }

  publishUrl(bucket: string, channel: string): string {
    return `${this.rtmpBase(bucket)}/live/${encodeURIComponent(channel)}`;
  }

  /** An object's URL on this gateway (or its bucket's CDN); `secure`: over HTTPS (throws when it is off). */
  objectUrl(bucket: string, key: string, secure = false): string {
    const base = this.e.objectBase?.(bucket);
    if (base) return `${secure ? base.replace(/^http:/, 'https:') : base}/${encodeSegments(key)}`;
    const httpsPort = secure ? this.e.httpsPort?.() : undefined;
    if (secure && httpsPort === undefined) throw new Error('HTTPS is off: set "tls" (and "https") in the config');
    const origin = (host: string) => (secure ? `https://${withPort(host, httpsPort!, 443)}` : `http://${withPort(host, this.e.httpPort(), 80)}`);
    if (isLocalName(this.e.publicHost)) return `${origin(this.e.publicHost)}/${bucket}/${encodeSegments(key)}`;
    return `${origin(`${bucket}.${this.e.publicHost}`)}/${encodeSegments(key)}`;
  }

  playUrl(bucket: string, channel: string, playlistName: string): string {
    return this.objectUrl(bucket, `${channel}/${playlistName}`);
  }
}
