import { createHash } from 'node:crypto';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import OSS from 'ali-oss';
import { contentTypeFor, joinData, type ListQuery, type ListResult, type ObjectData, type ObjectInfo, type ObjectStore } from './object-store.js';

export interface OssStoreConfig {
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  accessKeySecret: string;
  stsToken?: string;
  /** Prepended to every key ("live/" puts channel "show" at live/show/…). */
  prefix?: string;
  region?: string;
  /** Per request. */
  timeoutMs?: number;
}

interface OssHeaders {
  etag?: string;
  'content-type'?: string;
  'content-length'?: string;
  'content-range'?: string;
  'last-modified'?: string;
}

const notFound = (err: unknown) => (err as { status?: number }).status === 404;

/**
 * Objects in an OSS bucket (or anything that speaks the OSS API) through ali-oss. Retries
 * are the upload pipeline's job, so the SDK's own are off; connections are kept alive.
 */
export class OssObjectStore implements ObjectStore {
  private readonly client: OSS;
  private readonly prefix: string;

  constructor(cfg: OssStoreConfig) {
    this.prefix = cfg.prefix ?? '';
    const keepAlive = { keepAlive: true, maxSockets: 64, keepAliveMsecs: 10_000 };
    this.client = new OSS({
      endpoint: cfg.endpoint,
      bucket: cfg.bucket,
      accessKeyId: cfg.accessKeyId,
      accessKeySecret: cfg.accessKeySecret,
      // undefined options would override ali-oss's defaults (its IP-endpoint path needs a region)
      ...(cfg.stsToken ? { stsToken: cfg.stsToken } : {}),
      ...(cfg.region ? { region: cfg.region } : {}),
      timeout: cfg.timeoutMs ?? 30_000,
      retryMax: 0,
      agent: new HttpAgent(keepAlive),
      httpsAgent: new HttpsAgent(keepAlive),
      secure: cfg.endpoint.startsWith('https:'),
    } as OSS.Options);
  }

  private info(key: string, h: OssHeaders, size?: number): ObjectInfo {
    return {
      key,
      size: size ?? Number(h['content-length'] ?? 0),
      etag: h.etag ?? '',
      contentType: h['content-type'] ?? contentTypeFor(key),
      lastModified: h['last-modified'] ? Date.parse(h['last-modified']) : Date.now(),
    };
  }

  async put(key: string, data: ObjectData, contentType?: string): Promise<ObjectInfo> {
    const body = joinData(data); // one body: Content-MD5 and the SDK want it whole
    const md5 = createHash('md5').update(body).digest('base64');
    const res = await this.client.put(this.prefix + key, body, {
      headers: { 'Content-MD5': md5, 'Content-Type': contentType ?? contentTypeFor(key) },
    } as OSS.PutObjectOptions);
    return this.info(key, (res.res.headers ?? {}) as OssHeaders, body.length);
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const res = await this.client.head(this.prefix + key);
      return this.info(key, res.res.headers as OssHeaders);
    } catch (err) {
      if (notFound(err)) return undefined;
      throw err;
    }
  }

  async get(key: string, range?: { start: number; end: number }) {
    try {
      const headers = range ? { Range: `bytes=${range.start}-${range.end}` } : undefined;
      const res = await this.client.getStream(this.prefix + key, { headers } as OSS.GetStreamOptions);
      const h = res.res.headers as OssHeaders;
      const total = h['content-range'] ? Number(h['content-range'].split('/')[1]) : undefined;
      return { info: this.info(key, h, total), body: res.stream as NodeJS.ReadableStream };
    } catch (err) {
      if (notFound(err)) return undefined;
      throw err;
    }
  }

  async delete(key: string): Promise<boolean> {
    await this.client.delete(this.prefix + key);
    return true;
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      await this.client.deleteMulti(keys.slice(i, i + 1000).map((k) => this.prefix + k), { quiet: true });
    }
  }

  async list(q: ListQuery): Promise<ListResult> {
    const res = await this.client.list(
      { prefix: this.prefix + q.prefix, marker: q.marker ? this.prefix + q.marker : '', 'max-keys': q.maxKeys, delimiter: q.delimiter || undefined },
      {},
    );
    const strip = (k: string) => k.slice(this.prefix.length);
    return {
      objects: (res.objects ?? []).map((o) => ({
        key: strip(o.name),
        size: o.size,
        etag: o.etag,
        contentType: contentTypeFor(o.name),
        lastModified: Date.parse(o.lastModified),
      })),
      commonPrefixes: (res.prefixes ?? []).map(strip),
      truncated: res.isTruncated,
      nextMarker: res.nextMarker ? strip(res.nextMarker) : undefined,
    };
  }
}
