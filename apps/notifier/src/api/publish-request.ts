import { channelNameError, MAX_CHANNEL_LENGTH, MAX_IDEMPOTENCY_KEY_LENGTH, SwitchboardError } from '@switchboard/protocol';

/** Most channels one publish API call may name. */
export const MAX_CHANNELS_PER_PUBLISH = 100;

/**
 * Deepest nesting of arrays and objects in a publish body (so `data` nests at most one
 * level less, and so does the message delivered around it): deeper is a 400, not a
 * stack-dependent failure, and every message stays within common parsers' limits.
 */
export const MAX_PUBLISH_DEPTH = 64;

/** Body of `POST /v1/publish` (SPEC "HTTP publish API"). */
export interface PublishBody {
  /** One target channel (or use `channels`). */
  channel?: string;
  /** Several target channels (or use `channel`). */
  channels?: string[];
  /** Any JSON value, delivered to subscribers as the message's `data`. */
  data: unknown;
  /** Same key on a channel within IDEMPOTENCY_WINDOW_SECONDS → the original offset, nothing delivered again. */
  idempotencyKey?: string;
}

/** A validated publish: distinct, valid channels. */
export interface PublishCommand {
  channels: string[];
  data: unknown;
  idempotencyKey?: string;
}

const KNOWN_FIELDS = new Set(['channel', 'channels', 'data', 'idempotencyKey']);

function bad(message: string): SwitchboardError {
  return new SwitchboardError('bad_request', message);
}

/**
 * Validates a parsed publish body, naming the first problem. Every channel is checked
 * before anything is published, so one invalid channel means nothing is published.
 */
export function parsePublishBody(body: unknown): PublishCommand {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad('body must be a JSON object');
  const b = body as Record<string, unknown>;
  const unknown = Object.keys(b).filter((k) => !KNOWN_FIELDS.has(k));
  if (unknown.length > 0) throw bad(`unknown field ${JSON.stringify(unknown[0])} (allowed: channel, channels, data, idempotencyKey)`);
  if (!('data' in b)) throw bad('data is required (any JSON value, null included)');
  if (b.channel !== undefined && b.channels !== undefined) throw bad('send either channel or channels, not both');

  let requested: unknown[];
  if (b.channel !== undefined) requested = [b.channel];
  else if (b.channels !== undefined) {
    if (!Array.isArray(b.channels)) throw bad('channels must be an array of channel names');
    if (b.channels.length === 0) throw bad('channels must not be empty');
    if (b.channels.length > MAX_CHANNELS_PER_PUBLISH) throw bad(`channels may name at most ${MAX_CHANNELS_PER_PUBLISH} channels`);
    requested = b.channels;
  } else throw bad('channel or channels is required');

  const channels: string[] = [];
  for (const c of requested) {
    const problem = channelNameError(c);
    if (problem !== undefined) {
      const shown = typeof c === 'string' ? JSON.stringify(c.slice(0, MAX_CHANNEL_LENGTH + 1)) : typeof c;
      throw bad(`invalid channel ${shown}: ${problem}`);
    }
    if (!channels.includes(c as string)) channels.push(c as string);
  }

  const key = b.idempotencyKey;
  if (key !== undefined && (typeof key !== 'string' || key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH)) {
    throw bad(`idempotencyKey must be a string of 1–${MAX_IDEMPOTENCY_KEY_LENGTH} characters`);
  }
  return { channels, data: b.data, ...(key === undefined ? {} : { idempotencyKey: key }) };
}
