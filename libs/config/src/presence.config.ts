import { channelNameError } from '@switchboard/protocol';
import { z } from 'zod';
import { envInt, envOptionalString } from './env';
import { ConfigError, readConfigFile } from './load-config';

/** Settings of presence, join/leave and lifecycle events (SPEC "Presence, join/leave and channel lifecycle"). */
export const presenceEnv = {
  /**
   * Channel options: a YAML/JSON file path, or inline JSON (starts with `[` or `{`). A list of
   * `{match, presence?, joinLeave?, lifecycleEvents?}` (or `channels: [...]`); `match` is an
   * exact channel or a prefix ending in `*`; the first matching rule wins; default: all off.
   */
  CHANNEL_CONFIG: envOptionalString(),
  /**
   * Seconds within which the members of a gateway that died (no clean leave) disappear and
   * their `leave` / `member.removed` / `channel.vacated` fire. Gateways renew one lease each
   * every TTL/6 seconds, whatever their number of connections.
   */
  PRESENCE_TTL_SECONDS: envInt(30, 1, 3600),
  /** Members listed by a presence query at most (the count stays exact; `truncated: true` beyond). */
  PRESENCE_MAX_MEMBERS: envInt(1000, 1, 100_000),
};

/** Where a channel pattern's characters come from: exact channel names, or a prefix and `*`. */
const PREFIX_CHARS = /^[A-Za-z0-9_:@=./-]*$/;

/** Why `pattern` is not an exact channel name or a `<prefix>*` pattern, or undefined. */
export function channelPatternError(pattern: string): string | undefined {
  if (pattern.endsWith('*')) {
    const prefix = pattern.slice(0, -1);
    if (!PREFIX_CHARS.test(prefix)) return 'a prefix pattern may only contain A-Z a-z 0-9 and _ : @ = . / - before its final *';
    if (prefix.length > 127) return 'is longer than a channel name';
    return undefined;
  }
  const problem = channelNameError(pattern);
  return problem === undefined ? undefined : `must be a channel name or a prefix ending in * (${problem})`;
}

/** One rule of CHANNEL_CONFIG. */
export const channelRuleSchema = z.strictObject({
  /** Exact channel name, or a prefix ending in `*` (`*` alone matches every channel). */
  match: z.string().superRefine((m, ctx) => {
    const problem = channelPatternError(m);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  }),
  /** Presence queries answer for these channels (else `not_found`). */
  presence: z.boolean().default(false),
  /** Subscribers receive `join` / `leave` for a user's first / last connection. */
  joinLeave: z.boolean().default(false),
  /** `switchboard.channel.occupied|vacated`, `switchboard.member.added|removed` CloudEvents on EVENTS. */
  lifecycleEvents: z.boolean().default(false),
});

export type ChannelRule = z.output<typeof channelRuleSchema>;

/**
 * The rules of CHANNEL_CONFIG (none when unset). Throws a ConfigError of one line naming
 * the variable, the file and the bad entry.
 */
export function loadChannelConfig(value: string | undefined): ChannelRule[] {
  const result = parseChannelConfig(value);
  if ('problem' in result) throw new ConfigError(`CHANNEL_CONFIG ${result.problem}`);
  return result.rules;
}

/** Cross-field rule: CHANNEL_CONFIG is valid, so a bad rule stops the process at startup. */
export function refinePresence(c: { CHANNEL_CONFIG?: string }, ctx: z.RefinementCtx): void {
  const result = parseChannelConfig(c.CHANNEL_CONFIG);
  if ('problem' in result) ctx.addIssue({ code: 'custom', path: ['CHANNEL_CONFIG'], message: result.problem });
}

function parseChannelConfig(value: string | undefined): { rules: ChannelRule[] } | { problem: string } {
  if (value === undefined) return { rules: [] };
  const inline = /^\s*[[{]/.test(value);
  // `CHANNEL_CONFIG /etc/channels.yaml: channels[1] (…): …`, as for the other config files.
  const where = inline ? '' : `${value}: `;
  let raw: unknown;
  if (inline) {
    try {
      raw = JSON.parse(value);
    } catch (err) {
      return { problem: `is not valid JSON: ${(err as Error).message.split('\n')[0]}` };
    }
  } else {
    try {
      raw = readConfigFile(value, 'CHANNEL_CONFIG');
    } catch (err) {
      return { problem: (err as Error).message.replace(/^CHANNEL_CONFIG:? /, '') };
    }
  }
  const list = listOf(raw);
  if (!Array.isArray(list)) return { problem: where + list.message };
  const rules: ChannelRule[] = [];
  for (const [index, item] of list.entries()) {
    const parsed = channelRuleSchema.safeParse(item);
    if (!parsed.success) return { problem: where + `${entryName(index, item)}: ${describe(parsed.error)}` };
    const shadow = rules.findIndex((earlier) => covers(earlier.match, parsed.data.match));
    if (shadow >= 0) {
      return {
        problem:
          where + `${entryName(index, item)}: never applies, ${entryName(shadow, rules[shadow])} matches every channel it matches first`,
      };
    }
    rules.push(parsed.data);
  }
  return { rules };
}

/** A bare list, or `{channels: [...]}`; an empty file is no rules. */
function listOf(raw: unknown): unknown[] | { message: string } {
  if (raw === null || raw === undefined) return [];
  if (Array.isArray(raw)) return raw;
  if (typeof raw === 'object' && 'channels' in raw) {
    const { channels, ...rest } = raw;
    const unknownKeys = Object.keys(rest);
    if (unknownKeys.length > 0) return { message: `has unknown top-level keys: ${unknownKeys.join(', ')} (expected "channels")` };
    if (channels === null) return [];
    if (Array.isArray(channels)) return channels;
  }
  return { message: 'must be a list of {match, presence?, joinLeave?, lifecycleEvents?} (or "channels:" with that list)' };
}

/** `channels[2] ("orders:*")` */
function entryName(index: number, item: unknown): string {
  const match = typeof item === 'object' && item !== null ? (item as { match?: unknown }).match : undefined;
  return `channels[${index}]` + (typeof match === 'string' ? ` (${JSON.stringify(match.slice(0, 140))})` : '');
}

function describe(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.map(String).join('.');
      const message = issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.join(', ')}` : issue.message;
      return path === '' ? message : `${path}: ${message}`;
    })
    .join('; ');
}

/** True when every channel `later` matches is matched by `earlier` (so `later` is dead). */
function covers(earlier: string, later: string): boolean {
  if (earlier.endsWith('*')) return later.startsWith(earlier.slice(0, -1));
  return earlier === later;
}
