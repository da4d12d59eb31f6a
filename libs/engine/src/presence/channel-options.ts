import { matchesChannelPattern } from '@switchboard/protocol';

/** What a channel does beyond messages (SPEC "Presence, join/leave and channel lifecycle"). */
export interface ChannelOptions {
  /** Presence queries are answered (else `not_found`). */
  readonly presence: boolean;
  /** Subscribers receive join/leave. */
  readonly joinLeave: boolean;
  /** Transitions become CloudEvents on EVENTS. */
  readonly lifecycleEvents: boolean;
}

/** One CHANNEL_CONFIG rule (`ChannelRule` of @switchboard/config). */
export interface ChannelOptionsRule {
  /** Exact channel name, or a prefix ending in `*`. */
  match: string;
  presence?: boolean;
  joinLeave?: boolean;
  lifecycleEvents?: boolean;
}

export const NO_CHANNEL_OPTIONS: ChannelOptions = Object.freeze({ presence: false, joinLeave: false, lifecycleEvents: false });

/** True when anything about the channel needs the presence store. */
export function tracksPresence(o: ChannelOptions): boolean {
  return o.presence || o.joinLeave || o.lifecycleEvents;
}

/** Results remembered for prefix-matched and unmatched channels at most; then the cache starts over. */
const CACHE_LIMIT = 10_000;

/**
 * `channelOptions(channel)` for CHANNEL_CONFIG's rules (first match wins, default all off).
 * Exact rules are one Map lookup; prefix rules are scanned only up to the first exact
 * match's position, and the answer is cached per channel.
 */
export class ChannelOptionsResolver {
  private readonly exact = new Map<string, { index: number; options: ChannelOptions }>();
  private readonly prefixes: Array<{ index: number; pattern: string; options: ChannelOptions }> = [];
  private readonly cache = new Map<string, ChannelOptions>();
  /** True when no rule turns anything on: every channel is NO_CHANNEL_OPTIONS. */
  readonly allOff: boolean;

  constructor(rules: readonly ChannelOptionsRule[] = []) {
    rules.forEach((rule, index) => {
      const options: ChannelOptions = Object.freeze({
        presence: rule.presence === true,
        joinLeave: rule.joinLeave === true,
        lifecycleEvents: rule.lifecycleEvents === true,
      });
      if (rule.match.endsWith('*')) this.prefixes.push({ index, pattern: rule.match, options });
      else if (!this.exact.has(rule.match)) this.exact.set(rule.match, { index, options });
    });
    this.allOff = rules.every((r) => r.presence !== true && r.joinLeave !== true && r.lifecycleEvents !== true);
  }

  channelOptions(channel: string): ChannelOptions {
    if (this.allOff) return NO_CHANNEL_OPTIONS;
    const cached = this.cache.get(channel);
    if (cached !== undefined) return cached;
    const exact = this.exact.get(channel);
    let found = exact?.options ?? NO_CHANNEL_OPTIONS;
    const before = exact?.index ?? Infinity;
    for (const p of this.prefixes) {
      if (p.index > before) break;
      if (matchesChannelPattern(p.pattern, channel)) {
        found = p.options;
        break;
      }
    }
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(channel, found);
    return found;
  }
}
