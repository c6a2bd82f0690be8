import OSS from 'ali-oss';
import { isIP } from 'node:net';
import { ConfigError, loadConfig, type Config } from '../config.js';

/** Where the channel commands send their signed requests, and with which key. */
export interface ApiTarget {
  endpoint: string;
  accessKeyId: string;
  accessKeySecret: string;
  /** Where the endpoint came from, for the hint when it cannot be reached. */
  source?: 'flag' | 'env' | 'config' | 'defaults';
  /** The config file read, if any. */
  configFile?: string;
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
  let source: ApiTarget['source'] = opts.endpoint ? 'flag' : endpoint ? 'env' : undefined;
  let configFile: string | undefined;
  let accessKeyId = opts.accessKeyId || env.LIVECHANNEL_ACCESS_KEY_ID || undefined;
  let accessKeySecret = opts.accessKeySecret || env.LIVECHANNEL_ACCESS_KEY_SECRET || undefined;
  if (!endpoint || !accessKeyId || !accessKeySecret) {
    const config = loadConfig(opts.config, env);
    configFile = config.file;
    source ??= config.file ? 'config' : 'defaults';
    endpoint ??= gatewayEndpoint(config);
    const key = accessKeyId ? config.credentials.find((c) => c.accessKeyId === accessKeyId) : config.credentials[0];
    if (!key && !accessKeySecret) throw new ConfigError(`access key "${accessKeyId}" is not configured`);
    accessKeyId ??= key!.accessKeyId;
    accessKeySecret ??= key!.accessKeySecret;
  }
  if (!/^https?:\/\/[^/]+\/?$/.test(endpoint)) throw new ConfigError(`--endpoint must be http(s)://host[:port], not "${endpoint}"`);
  return { endpoint: endpoint.replace(/\/$/, ''), accessKeyId, accessKeySecret, source, configFile };
}

/** What to add when the API cannot be reached: where the address came from, how to point elsewhere. */
export function unreachableHint(target: ApiTarget): string {
  switch (target.source) {
    case 'defaults':
      return `no config was found (-c <file>, LIVECHANNEL_CONFIG, ./livechannel.json), so the CLI tried the default address ${target.endpoint}; point it at your gateway with -c <its config file>, LIVECHANNEL_CONFIG=<file>, or --endpoint http://host:port`;
    case 'config':
      return `the address comes from ${target.configFile}: is that gateway running? (or pass --endpoint http://host:port)`;
    default:
      return `the address comes from ${target.source === 'flag' ? '--endpoint' : 'LIVECHANNEL_ENDPOINT'}: is a gateway listening there?`;
  }
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
