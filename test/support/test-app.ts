import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OSS from 'ali-oss';
import { createApp, type App } from '../../src/app.js';
import { parseConfig, type ConfigInput } from '../../src/config.js';

export const KEY = { accessKeyId: 'LTAITESTKEY0000001', accessKeySecret: 'test-secret-0000000000000000001' };
export const OTHER_KEY = { accessKeyId: 'LTAITESTKEY0000002', accessKeySecret: 'test-secret-0000000000000000002' };

/**
 * ali-oss as the tests use it. @types/ali-oss does not match the library here (results carry
 * `data`, list queries take 'max-keys', channel configs are sent as strings), so it is loose.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AliOss = any;

export interface TestApp {
  app: App;
  endpoint: string;
  /** rtmp://127.0.0.1[:port], as publish URLs start. */
  rtmpBase: string;
  dataDir: string;
  /** An ali-oss client for `bucket` (path-style: IP endpoint). */
  client(bucket?: string, key?: { accessKeyId: string; accessKeySecret: string }, extra?: Record<string, unknown>): AliOss;
  close(): Promise<void>;
}

/** A gateway on 127.0.0.1:0 with its own data dir: buckets "media" (private), "open" (public-read-write), "pub" (public-read). */
export async function startTestApp(overrides: Partial<ConfigInput> = {}, options: { now?: () => number } = {}): Promise<TestApp> {
  const dataDir = mkdtempSync(join(tmpdir(), 'lc-app-'));
  const config = parseConfig({
    dataDir,
    http: { host: '127.0.0.1', port: 0 },
    rtmp: { host: '127.0.0.1', port: 0 },
    logLevel: 'silent',
    credentials: [KEY, OTHER_KEY],
    buckets: [
      { name: 'media', acl: 'private' },
      { name: 'open', acl: 'public-read-write' },
      { name: 'pub', acl: 'public-read' },
    ],
    ...overrides,
    // tests make hundreds of requests a second from one key, and share the gateway's event
    // loop (its busy share is not the gateway's alone); limit tests set their own
    limits: { apiRequestsPerSecond: 100_000, apiBurst: 100_000, overloadEventLoopUtilization: 1, ...overrides.limits },
  });
  const app = createApp(config, options);
  await app.start();
  const endpoint = `http://127.0.0.1:${app.httpPort()}`;
  const rtmpPort = app.rtmpPort();
  return {
    app,
    endpoint,
    rtmpBase: `rtmp://127.0.0.1${rtmpPort === 1935 ? '' : `:${rtmpPort}`}`,
    dataDir,
    client: (bucket = 'media', key = KEY, extra = {}) => new OSS({ ...key, bucket, endpoint, ...extra }) as AliOss,
    close: () => app.stop(),
  };
}

/** The OSS error an ali-oss call rejected with (fails the test if it resolved). */
export async function ossError(p: Promise<unknown>): Promise<{ status: number; code: string; message: string; params?: unknown }> {
  try {
    await p;
  } catch (err) {
    const e = err as { status: number; code: string; message: string; params?: unknown };
    return { status: e.status, code: e.code, message: e.message, params: e.params };
  }
  throw new Error('expected the call to fail');
}
