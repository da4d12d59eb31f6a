import { parseCidr } from '@switchboard/config';
import { BlockList, isIP } from 'node:net';

/** `::ffff:192.0.2.1` (an IPv4 client on a dual-stack socket) is the IPv4 address. */
export function normalizeAddress(address: string): string {
  const trimmed = address.trim();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(trimmed);
  return mapped === null ? trimmed : mapped[1];
}

/** A set of CIDRs (validated by the config schema) that answers "is this address in it". */
export class AddressList {
  private readonly list = new BlockList();
  /** No CIDR (e.g. no TRUSTED_PROXIES, asked of every webhook): nothing to parse per lookup. */
  private readonly empty: boolean;

  constructor(cidrs: readonly string[]) {
    this.empty = cidrs.length === 0;
    for (const text of cidrs) {
      const cidr = parseCidr(text);
      if (cidr === undefined) throw new Error(`not a CIDR: ${text}`);
      this.list.addSubnet(cidr.address, cidr.prefix, cidr.family);
    }
  }

  /** False for anything that is not an IP address. */
  includes(address: string): boolean {
    if (this.empty) return false;
    const normalized = normalizeAddress(address);
    const version = isIP(normalized);
    if (version === 0) return false;
    return this.list.check(normalized, version === 4 ? 'ipv4' : 'ipv6');
  }
}

/** The bucket of non-addresses (an X-Forwarded-For hop that is not an IP): one, shared. */
export const NOT_AN_ADDRESS_BUCKET = '_invalid';

/**
 * The key a client address is budgeted under: an IPv4 address as is, an IPv6 address by
 * its /64 (one subscriber line, one host's SLAAC addresses: a client that owns a /64 gets
 * no more budget by changing address), anything else in one shared bucket, so a sender
 * cannot mint keys.
 */
export function clientBucket(address: string): string {
  const normalized = normalizeAddress(address);
  switch (isIP(normalized)) {
    case 4:
      return normalized;
    case 6: {
      const groups = ipv6Groups(normalized);
      return groups === undefined ? NOT_AN_ADDRESS_BUCKET : `${groups.slice(0, 4).join(':')}::/64`;
    }
    default:
      return NOT_AN_ADDRESS_BUCKET;
  }
}

/** The eight 16-bit groups of a valid IPv6 address, in lower-case hex without leading zeros. */
function ipv6Groups(address: string): string[] | undefined {
  const withoutZone = address.split('%')[0];
  const [left, right] = withoutZone.includes('::') ? withoutZone.split('::') : [withoutZone, undefined];
  const part = (text: string): string[] => {
    if (text === '') return [];
    const pieces = text.split(':');
    const last = pieces[pieces.length - 1];
    // An embedded IPv4 tail (::ffff:1.2.3.4, 64:ff9b::1.2.3.4) is two groups.
    if (last.includes('.')) {
      const bytes = last.split('.').map(Number);
      pieces.splice(-1, 1, ((bytes[0] << 8) | bytes[1]).toString(16), ((bytes[2] << 8) | bytes[3]).toString(16));
    }
    return pieces;
  };
  const head = part(left);
  const tail = right === undefined ? [] : part(right);
  const groups = right === undefined ? head : [...head, ...Array<string>(8 - head.length - tail.length).fill('0'), ...tail];
  if (groups.length !== 8) return undefined;
  return groups.map((g) => parseInt(g, 16).toString(16));
}
