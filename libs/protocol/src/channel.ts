import { SwitchboardError } from './errors';

/** Longest allowed channel name. */
export const MAX_CHANNEL_LENGTH = 128;

const CHANNEL_CHARS = /^[A-Za-z0-9_:@=./-]{1,128}$/;

/**
 * Why `name` is not a valid channel name, or `undefined` when it is.
 * Rules (SPEC "Channels"): 1–128 chars of `[A-Za-z0-9_:@=./-]`, no leading, trailing
 * or double `.` — so a name is always a valid sequence of NATS subject tokens.
 */
export function channelNameError(name: unknown): string | undefined {
  if (isValidChannel(name)) return undefined;
  if (typeof name !== 'string') return 'channel must be a string';
  if (name.length === 0) return 'channel must not be empty';
  if (name.length > MAX_CHANNEL_LENGTH) return `channel is longer than ${MAX_CHANNEL_LENGTH} characters`;
  if (!CHANNEL_CHARS.test(name)) return 'channel may only contain A-Z a-z 0-9 and _ : @ = . / -';
  if (name.startsWith('.') || name.endsWith('.')) return 'channel must not start or end with "."';
  if (name.includes('..')) return 'channel must not contain ".."';
  return undefined;
}

/** The same rules as a yes/no (no messages: what the SDK's bundle and hot paths need). */
export function isValidChannel(name: unknown): name is string {
  return typeof name === 'string' && CHANNEL_CHARS.test(name) && !name.startsWith('.') && !name.endsWith('.') && !name.includes('..');
}

/** Returns `name` if valid, else throws `bad_request` naming the problem. */
export function assertChannel(name: unknown): string {
  const problem = channelNameError(name);
  if (problem !== undefined) {
    const shown = typeof name === 'string' ? JSON.stringify(name.slice(0, MAX_CHANNEL_LENGTH + 1)) : typeof name;
    throw new SwitchboardError('bad_request', `invalid channel ${shown}: ${problem}`);
  }
  return name as string;
}

/**
 * Permission patterns from token claims: an exact channel name, or a prefix ending
 * in `*` (`orders:*` allows `orders:42`; `*` alone allows everything).
 */
export function matchesChannelPattern(pattern: string, channel: string): boolean {
  if (pattern.endsWith('*')) return channel.startsWith(pattern.slice(0, -1));
  return pattern === channel;
}

export function matchesAnyPattern(patterns: readonly string[], channel: string): boolean {
  for (const p of patterns) if (matchesChannelPattern(p, channel)) return true;
  return false;
}
