import type { IncomingHttpHeaders } from 'node:http';
import { AddressList, normalizeAddress } from './address-list';

/**
 * What a request says about its sender, believing forwarding headers only from
 * TRUSTED_PROXIES: the client address (for allow-lists) and the URL the sender used
 * (Twilio signs it).
 */
export class Forwarding {
  private readonly trusted: AddressList;

  constructor(trustedProxies: readonly string[]) {
    this.trusted = new AddressList(trustedProxies);
  }

  /** True when the TCP peer is a trusted proxy (its forwarding headers are believed). */
  trusts(peer: string | undefined): boolean {
    return this.trusted.includes(normalizeAddress(peer ?? ''));
  }

  /**
   * The peer address, or, when the peer is a trusted proxy, the right-most
   * X-Forwarded-For entry that is not itself a trusted proxy (entries left of it could
   * have been written by the client). An entry that is not an address is returned as is
   * and matches no allow-list.
   */
  clientAddress(peer: string | undefined, headers: IncomingHttpHeaders): string {
    const remote = normalizeAddress(peer ?? '');
    if (!this.trusted.includes(remote)) return remote;
    const hops = headerList(headers['x-forwarded-for']);
    for (let i = hops.length - 1; i >= 0; i--) {
      if (!this.trusted.includes(hops[i])) return normalizeAddress(hops[i]);
    }
    return hops.length > 0 ? normalizeAddress(hops[0]) : remote;
  }

  /** `scheme://host/path?query` as the sender requested it: X-Forwarded-Proto/Host only from a trusted peer. */
  requestUrl(peer: string | undefined, headers: IncomingHttpHeaders, encrypted: boolean, originalUrl: string): string {
    const trusted = this.trusted.includes(normalizeAddress(peer ?? ''));
    const proto = (trusted ? headerList(headers['x-forwarded-proto'])[0]?.toLowerCase() : undefined) ?? (encrypted ? 'https' : 'http');
    const host = (trusted ? headerList(headers['x-forwarded-host'])[0] : undefined) ?? headers.host ?? 'localhost';
    return `${proto === 'https' ? 'https' : 'http'}://${host}${originalUrl}`;
  }
}

/** Comma-separated header values, in order, trimmed, empties dropped. */
function headerList(value: string | string[] | undefined): string[] {
  const text = Array.isArray(value) ? value.join(',') : (value ?? '');
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
