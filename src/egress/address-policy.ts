import ipaddr from 'ipaddr.js';

/** Why an address is not a target for requests a client chose: the metric's `reason` label. */
export type RefusalReason = 'loopback' | 'private' | 'link_local' | 'unique_local' | 'multicast' | 'unspecified' | 'broadcast' | 'reserved' | 'not_allowed';

const IPV4_REASONS: Record<string, RefusalReason> = {
  unspecified: 'unspecified',
  broadcast: 'broadcast',
  multicast: 'multicast',
  linkLocal: 'link_local',
  loopback: 'loopback',
  carrierGradeNat: 'private',
  private: 'private',
};

const IPV6_REASONS: Record<string, RefusalReason> = {
  unspecified: 'unspecified',
  linkLocal: 'link_local',
  multicast: 'multicast',
  loopback: 'loopback',
  uniqueLocal: 'unique_local',
  deprecatedSiteLocal: 'unique_local',
};

/** The IPv4 address an IPv6 one carries (mapped, compatible, NAT64, 6to4), if any. */
function embeddedIpv4(v6: ipaddr.IPv6): ipaddr.IPv4 | undefined {
  const p = v6.parts;
  const v4 = (hi: number, lo: number) => new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address();
  if (p.slice(0, 6).every((x) => x === 0) && (p[6] !== 0 || p[7]! > 1)) return v4(p[6]!, p[7]!); // ::a.b.c.d
  const range = v6.range();
  if (range === 'rfc6052' || range === 'rfc6145') return v4(p[6]!, p[7]!);
  if (range === '6to4') return v4(p[1]!, p[2]!);
  return undefined;
}

/**
 * Where an address stands for a request a client chose: undefined when it is a public unicast
 * address, else the reason it is refused. Every form of an IPv4 address inside IPv6 is judged
 * as the IPv4 address it carries.
 */
export function addressRefusal(address: string): RefusalReason | undefined {
  if (!ipaddr.isValid(address)) return 'reserved';
  let ip = ipaddr.parse(address);
  if (ip.kind() === 'ipv6') ip = embeddedIpv4(ip as ipaddr.IPv6) ?? ip;
  const range = ip.range();
  if (range === 'unicast') return undefined;
  return (ip.kind() === 'ipv4' ? IPV4_REASONS : IPV6_REASONS)[range] ?? 'reserved';
}

/** The operator's own callback servers: CIDRs ("10.1.2.0/24", "fd00::/8") or host names. */
export class AllowList {
  private readonly cidrs: [ipaddr.IPv4 | ipaddr.IPv6, number][] = [];
  private readonly hosts = new Set<string>();

  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      if (entry.includes('/')) this.cidrs.push(ipaddr.parseCIDR(entry));
      else if (ipaddr.isValid(entry)) this.cidrs.push(ipaddr.parseCIDR(`${entry}/${ipaddr.parse(entry).kind() === 'ipv4' ? 32 : 128}`));
      else this.hosts.add(normalHost(entry));
    }
  }

  allowsHost(host: string): boolean {
    return this.hosts.has(normalHost(host));
  }

  allowsAddress(address: string): boolean {
    if (!ipaddr.isValid(address)) return false;
    const ip = ipaddr.process(address);
    return this.cidrs.some(([range, bits]) => range.kind() === ip.kind() && ip.match(range, bits));
  }
}

/** Host names compare without case, brackets or a trailing dot. */
export function normalHost(host: string): string {
  return host.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
}

/** Whether a callbackAllow entry is a CIDR, an address or a host name (for config validation). */
export function isAllowEntry(entry: string): boolean {
  if (entry.includes('/')) {
    try {
      ipaddr.parseCIDR(entry);
      return true;
    } catch {
      return false;
    }
  }
  return ipaddr.isValid(entry) || /^(?=.{1,253}\.?$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/i.test(entry);
}
