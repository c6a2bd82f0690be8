import { isIP } from 'node:net';
import { errors } from './errors.js';

export interface ResolvedTarget {
  bucket: string;
  /** Object key (decoded), '' for the bucket itself. */
  key: string;
  style: 'virtual-host' | 'path' | 'default';
}

export interface BucketResolverOptions {
  buckets: ReadonlySet<string>;
  defaultBucket: string;
  publicHost: string;
}

function hostName(host: string | undefined): string {
  if (!host) return '';
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']'));
  const colon = h.lastIndexOf(':');
  return colon > 0 && h.indexOf(':') === colon ? h.slice(0, colon) : h;
}

/**
 * Which bucket a request is for, from its Host header and path:
 * 1. virtual-hosted: Host is "<bucket>.<anything>" and names a configured bucket
 *    (ali-oss sends "<bucket>.oss-<region>.aliyuncs.com" even to an IP endpoint);
 * 2. path-style: the first path segment is a configured bucket ("/bucket/key");
 * 3. otherwise the default bucket, with the whole path as the key.
 * A Host that plainly names an unknown bucket ("x.<publicHost>", "x.oss-…") is NoSuchBucket.
 */
export function resolveBucket(opts: BucketResolverOptions, hostHeader: string | undefined, decodedPath: string): ResolvedTarget {
  const host = hostName(hostHeader);
  const path = decodedPath.startsWith('/') ? decodedPath.slice(1) : decodedPath;
  const slash = path.indexOf('/');
  const firstSegment = slash < 0 ? path : path.slice(0, slash);

  if (host && !isIP(host) && host.includes('.')) {
    const label = host.slice(0, host.indexOf('.'));
    const rest = host.slice(label.length + 1);
    if (opts.buckets.has(label)) {
      // ali-oss with sldEnable puts the bucket in the path as well
      if (slash >= 0 && firstSegment === label) return { bucket: label, key: path.slice(slash + 1), style: 'path' };
      return { bucket: label, key: path, style: 'virtual-host' };
    }
    if (rest === opts.publicHost.toLowerCase() || rest.startsWith('oss-')) throw errors.noSuchBucket(label);
  }
  if (firstSegment && opts.buckets.has(firstSegment)) {
    return { bucket: firstSegment, key: slash < 0 ? '' : path.slice(slash + 1), style: 'path' };
  }
  return { bucket: opts.defaultBucket, key: path, style: 'default' };
}
