import { BlockList, isIP } from 'node:net';

/**
 * Ranges an endpoint may never reach (SPEC "SSRF-safe"): loopback, private, link-local
 * (cloud metadata at 169.254.169.254), CGNAT, "this network", multicast and reserved,
 * documentation and benchmark nets; in IPv6 also unspecified, ULA, link- and site-local,
 * IPv4-mapped and -compatible addresses and the translation prefixes (NAT64, 6to4, Teredo)
 * that embed an IPv4 address.
 */
const BLOCKED_V4: ReadonlyArray<[string, number]> = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
];
const BLOCKED_V6: ReadonlyArray<[string, number]> = [
  ['::', 96], // unspecified, loopback and IPv4-compatible
  ['::ffff:0:0', 96], // IPv4-mapped
  ['64:ff9b::', 96], // NAT64
  ['64:ff9b:1::', 48],
  ['100::', 64], // discard
  ['2001::', 32], // Teredo
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
];

function blockList(ranges: ReadonlyArray<[string, number]>, family: 'ipv4' | 'ipv6'): BlockList {
  const list = new BlockList();
  for (const [address, prefix] of ranges) list.addSubnet(address, prefix, family);
  return list;
}

/** URL hostname → the address it spells, or undefined for a name (`[::1]` → `::1`). */
export function literalAddress(hostname: string): string | undefined {
  const bare = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  return isIP(bare) === 0 ? undefined : bare;
}

/** Why a URL may not be registered or dialed. */
export interface UrlProblem {
  code: 'invalid_url' | 'scheme_not_allowed' | 'blocked_address';
  message: string;
}

/**
 * Which URLs and addresses outbound requests may reach: https only (http with
 * OUTBOUND_ALLOW_HTTP), no address in a blocked range unless OUTBOUND_ALLOW_CIDRS names it.
 */
export class AddressPolicy {
  private readonly blockedV4 = blockList(BLOCKED_V4, 'ipv4');
  private readonly blockedV6 = blockList(BLOCKED_V6, 'ipv6');
  private readonly allowed = new BlockList();

  constructor(options: { allowCidrs: readonly string[]; allowHttp: boolean }) {
    this.allowHttp = options.allowHttp;
    for (const cidr of options.allowCidrs) {
      const [address, prefix] = cidr.trim().split('/');
      const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
      this.allowed.addSubnet(address, prefix === undefined ? (family === 'ipv6' ? 128 : 32) : Number(prefix), family);
    }
  }

  readonly allowHttp: boolean;

  /** Why `address` (an IP) may not be dialed, or undefined when it may. */
  blockedReason(address: string): string | undefined {
    const family = isIP(address);
    if (family === 0) return `${address} is not an IP address`;
    // The allow list matches IPv4-mapped IPv6 against IPv4 rules too (Node's BlockList does).
    if (this.allowed.check(address, family === 4 ? 'ipv4' : 'ipv6')) return undefined;
    const blocked = family === 4 ? this.blockedV4.check(address, 'ipv4') : this.blockedV6.check(address, 'ipv6');
    return blocked ? `${address} is in a blocked range (loopback, private, link-local, …); allow it with OUTBOUND_ALLOW_CIDRS` : undefined;
  }

  /**
   * Checks what can be known without DNS: the URL parses, its scheme is allowed, and a
   * literal address (any spelling: `127.1`, `2130706433`, `0x7f000001`, `[::ffff:127.0.0.1]`,
   * which the URL parser normalises) is not blocked. Names are checked when dialed.
   */
  checkUrl(text: string): { url: URL } | { problem: UrlProblem } {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      return { problem: { code: 'invalid_url', message: 'is not an absolute URL' } };
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && this.allowHttp)) {
      return {
        problem: {
          code: 'scheme_not_allowed',
          message: this.allowHttp ? 'must be an http or https URL' : 'must be an https URL (http only with OUTBOUND_ALLOW_HTTP=true)',
        },
      };
    }
    if (url.username !== '' || url.password !== '') {
      return { problem: { code: 'invalid_url', message: 'must not carry credentials (user:password@)' } };
    }
    if (url.hash !== '') return { problem: { code: 'invalid_url', message: 'must not have a #fragment' } };
    const literal = literalAddress(url.hostname);
    if (literal !== undefined) {
      const reason = this.blockedReason(literal);
      if (reason !== undefined) return { problem: { code: 'blocked_address', message: reason } };
    }
    return { url };
  }
}
