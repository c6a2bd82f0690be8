import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { addressRefusal, AllowList, normalHost, type RefusalReason } from './address-policy.js';
import { post, type PostAnswer } from './http-post.js';

/** A URL whose host was resolved once and every address found allowed. */
export interface CheckedTarget {
  url: URL;
  addresses: LookupAddress[];
  /** Why the host did not resolve; posting to it then fails with this. */
  lookupError?: Error;
}

export class TargetRefused extends Error {
  constructor(readonly reason: RefusalReason) {
    super('The callback target is not allowed.');
    this.name = 'TargetRefused';
  }
}

export type Resolve = (host: string) => Promise<LookupAddress[]>;

const resolveAll: Resolve = (host) =>
  new Promise((resolve, reject) => dnsLookup(host, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))));

/**
 * The one way the gateway connects to a URL that a client chose (upload callbacks): the host
 * is resolved once, every address must be public unicast or in the operator's allow list
 * (CIDRs, or the host by name), and the connection goes to an address that was checked, so a
 * second resolution cannot point it elsewhere. Redirects are never followed (node:http does
 * not follow them).
 */
export class GuardedClient {
  private readonly allow: AllowList;

  constructor(allow: readonly string[], private readonly resolve: Resolve = resolveAll) {
    this.allow = new AllowList(allow);
  }

  async check(url: URL): Promise<CheckedTarget> {
    const host = normalHost(url.hostname);
    let addresses: LookupAddress[];
    if (isIP(host)) addresses = [{ address: host, family: isIP(host) }];
    else {
      try {
        addresses = await this.resolve(host);
      } catch (err) {
        return { url, addresses: [], lookupError: err as Error };
      }
    }
    if (!this.allow.allowsHost(host)) {
      for (const { address } of addresses) {
        const refusal = addressRefusal(address);
        if (refusal && !this.allow.allowsAddress(address)) throw new TargetRefused(refusal);
      }
    }
    return { url, addresses };
  }

  post(target: CheckedTarget, headers: Record<string, string>, body: string | Buffer, timeoutMs: number, maxAnswerBytes: number): Promise<PostAnswer> {
    const { lookupError, addresses } = target;
    if (lookupError) return Promise.reject(lookupError);
    const pinned: LookupFunction = (_host, options, callback) => {
      if (options.all) callback(null, addresses);
      else callback(null, addresses[0]!.address, addresses[0]!.family);
    };
    return post(target.url, headers, body, timeoutMs, maxAnswerBytes, pinned);
  }
}
