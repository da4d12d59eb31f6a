import { matchesAnyPattern } from '@switchboard/protocol';

/** The verified identity of a client connection, from its token's claims. */
export interface Principal {
  /** `sub` claim. */
  readonly sub: string;
  /** Subscribe patterns (`channels` claim): exact names or prefixes ending in `*`. */
  readonly channels: readonly string[];
  /** Publish patterns (`publish` claim); none by default. */
  readonly publish: readonly string[];
  /** Token expiry, ms since the epoch (undefined: no `exp`). */
  readonly expiresAt?: number;
  /** `info` claim: what presence shows of this user (a JSON object of at most 1 KiB). */
  readonly info?: Readonly<Record<string, unknown>>;
}

/** `user:<sub>` is always subscribable; other channels need a matching `channels` pattern. */
export function canSubscribe(principal: Principal, channel: string): boolean {
  return channel === 'user:' + principal.sub || matchesAnyPattern(principal.channels, channel);
}

export function canPublish(principal: Principal, channel: string): boolean {
  return matchesAnyPattern(principal.publish, channel);
}
