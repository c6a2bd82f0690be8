import { isIP } from 'node:net';

export interface PublicEndpoints {
  publicHost: string;
  httpPort: () => number;
  rtmpPort: () => number;
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

  rtmpBase(bucket: string): string {
    const host = isLocalName(this.e.publicHost) ? this.e.publicHost : `${bucket}.${this.e.publicHost}`;
    return `rtmp://${withPort(host, this.e.rtmpPort(), 1935)}`;
  }

  /** A URL of the gateway itself (not of a bucket), e.g. its signing key's. */
  gatewayUrl(path: string): string {
    return `http://${withPort(this.e.publicHost, this.e.httpPort(), 80)}${path}`;
  }

  publishUrl(bucket: string, channel: string): string {
    return `${this.rtmpBase(bucket)}/live/${encodeURIComponent(channel)}`;
  }

  objectUrl(bucket: string, key: string): string {
    const base = this.e.objectBase?.(bucket);
    if (base) return `${base}/${encodeSegments(key)}`;
    if (isLocalName(this.e.publicHost)) {
      return `http://${withPort(this.e.publicHost, this.e.httpPort(), 80)}/${bucket}/${encodeSegments(key)}`;
    }
    return `http://${withPort(`${bucket}.${this.e.publicHost}`, this.e.httpPort(), 80)}/${encodeSegments(key)}`;
  }

  playUrl(bucket: string, channel: string, playlistName: string): string {
    return this.objectUrl(bucket, `${channel}/${playlistName}`);
  }
}
