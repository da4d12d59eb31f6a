/** Longest channel name Switchboard accepts. */
export const MAX_CHANNEL_LENGTH = 128;

const CHANNEL_CHARS = /^[A-Za-z0-9_:@=./-]{1,128}$/;

/**
 * Why `name` is not a valid Switchboard channel name, or undefined when it is: 1–128
 * characters of `A-Z a-z 0-9 _ : @ = . / -`, no leading, trailing or double `.`.
 * (The same rule as the gateway's; a test in the Switchboard repository keeps them equal.)
 */
export function channelNameError(name: unknown): string | undefined {
  if (typeof name !== 'string') return 'channel must be a string';
  if (name.length === 0) return 'channel must not be empty';
  if (name.length > MAX_CHANNEL_LENGTH) return `channel is longer than ${MAX_CHANNEL_LENGTH} characters`;
  if (!CHANNEL_CHARS.test(name)) return 'channel may only contain A-Z a-z 0-9 and _ : @ = . / -';
  if (name.startsWith('.') || name.endsWith('.')) return 'channel must not start or end with "."';
  if (name.includes('..')) return 'channel must not contain ".."';
  return undefined;
}
