import OSS from 'ali-oss';
import { isIP } from 'node:net';
import { ConfigError, loadConfig, type Config } from '../config.js';

/** Where the channel commands send their signed requests, and with which key. */
export interface ApiTarget {
  endpoint: string;
  accessKeyId: string;
  accessKeySecret: string;
}

export interface ApiOptions {
  config?: string;
  endpoint?: string;
  accessKeyId?: string;
  accessKeySecret?: string;
}

/** Where a gateway's own config says its API listens, as a client on this machine reaches it. */
export function gatewayEndpoint(config: Config): string {
  const host = config.http.host === '0.0.0.0' || config.http.host === '::' ? '127.0.0.1' : config.http.host;
  return `http://${isIP(host) === 6 ? `[${host}]` : host}:${config.http.port}`;
}

/**
 * Flags first, then LIVECHANNEL_ENDPOINT / LIVECHANNEL_ACCESS_KEY_ID / LIVECHANNEL_ACCESS_KEY_SECRET,
 * then the gateway's config file (its HTTP address and first key).
 */
export function resolveApiTarget(opts: ApiOptions, env: NodeJS.ProcessEnv = process.env): ApiTarget {
  // an empty value counts as not given
  let endpoint = opts.endpoint || env.LIVECHANNEL_ENDPOINT || undefined;
  let accessKeyId = opts.accessKeyId || env.LIVECHANNEL_ACCESS_KEY_ID || undefined;
  let accessKeySecret = opts.accessKeySecret || env.LIVECHANNEL_ACCESS_KEY_SECRET || undefined;
  if (!endpoint || !accessKeyId || !accessKeySecret) {
    const config = loadConfig(opts.config, env);
    endpoint ??= gatewayEndpoint(config);
    const key = accessKeyId ? config.credentials.find((c) => c.accessKeyId === accessKeyId) : config.credentials[0];
    if (!key && !accessKeySecret) throw new ConfigError(`access key "${accessKeyId}" is not configured`);
    accessKeyId ??= key!.accessKeyId;
    accessKeySecret ??= key!.accessKeySecret;
  }
  if (!/^https?:\/\/[^/]+\/?$/.test(endpoint)) throw new ConfigError(`--endpoint must be http(s)://host[:port], not "${endpoint}"`);
  return { endpoint: endpoint.replace(/\/$/, ''), accessKeyId, accessKeySecret };
}

/**
 * An ali-oss client for one bucket: the commands speak the OSS API, so they drive a remote
 * gateway or OSS itself the same way. Hosts that cannot take a bucket label (an IP address,
 * localhost) are addressed path-style.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function ossClient(target: ApiTarget, bucket: string): any {
  const host = new URL(target.endpoint).hostname.replace(/^\[|\]$/g, '');
  const pathStyle = isIP(host) !== 0 || host === 'localhost';
  const options = { endpoint: target.endpoint, bucket, accessKeyId: target.accessKeyId, accessKeySecret: target.accessKeySecret, sldEnable: pathStyle, timeout: 30_000 };
  return new OSS(options as OSS.Options); // sldEnable (path-style) is missing from the typings
}
