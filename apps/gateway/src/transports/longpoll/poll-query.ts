import { Cursor, decodeCursor, StreamPosition, SwitchboardError } from '@switchboard/protocol';
import { requestedChannels } from '../http/channel-request';

/** Upper bound of `timeout` (SPEC). */
const MAX_TIMEOUT_SECONDS = 60;
/** Parsed queries remembered (the oldest beyond it are forgotten). */
const CACHE_SIZE = 512;
/** Longer query strings are parsed every time (they are not what a fan-out repeats, and would hold more memory). */
const MAX_CACHED_LENGTH = 2048;

/**
 * A long-poll query, parsed and validated: a pure function of the query string, so the
 * polls of one fan-out (every client of a channel re-polls with the same channels and the
 * same cursor) share one parse. Nothing in it is mutated after it is made.
 */
export interface PollQuery {
  /** Requested channels, deduplicated, in request order, each a valid name. */
  readonly channels: readonly string[];
  /** Positions from the cursor for the requested channels (others ignored); shared: read, never changed. */
  readonly cursor: Cursor | undefined;
  /**
   * The cursor's position of each channel, in `channels` order (undefined: a channel absent
   * from the cursor, which starts at its current position); the same frozen objects as `cursor`'s.
   */
  readonly since: readonly (StreamPosition | undefined)[];
  /** Requested channels absent from the cursor: they start at their current position. */
  readonly fresh: readonly string[];
  /** `timeout`, seconds. */
  readonly timeout: number;
  /**
   * Polls of the same channels from the same cursor answer the same body (`PollAnswer`):
   * defined when every channel's position comes from the cursor.
   */
  readonly key: string | undefined;
}

/** The `token` parameter and either the parsed query or why it is invalid (reported after the token is checked). */
export interface ParsedPollQuery {
  readonly token: string | undefined;
  readonly query: PollQuery | undefined;
  readonly problem: SwitchboardError | undefined;
}

/**
 * Parses long-poll query strings, remembering the last CACHE_SIZE valid ones. Errors are
 * returned, not thrown: SPEC has the token checked first, so an anonymous caller learns
 * nothing about channels, and the caller throws `problem` only after the token passed.
 */
export class PollQueryCache {
  private readonly cache = new Map<string, ParsedPollQuery>();

  constructor(private readonly defaultTimeoutSeconds: number) {}

  /** `raw`: the request target's query, without `?` and fragment. */
  parse(raw: string): ParsedPollQuery {
    const cached = this.cache.get(raw);
    if (cached !== undefined) return cached;
    const params = new URLSearchParams(raw);
    const token = params.get('token') ?? undefined;
    let query: PollQuery;
    try {
      query = parsePollQuery(params, this.defaultTimeoutSeconds);
    } catch (err) {
      if (!(err instanceof SwitchboardError)) throw err;
      return { token, query: undefined, problem: err };
    }
    const parsed: ParsedPollQuery = { token, query, problem: undefined };
    if (raw.length <= MAX_CACHED_LENGTH) {
      if (this.cache.size >= CACHE_SIZE) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(raw, parsed);
    }
    return parsed;
  }

  get size(): number {
    return this.cache.size;
  }
}

/** Validates a poll's parameters in the order the errors are reported: channels, their names, the cursor, the timeout. */
function parsePollQuery(params: URLSearchParams, defaultTimeoutSeconds: number): PollQuery {
  const channels = requestedChannels(params);
  const raw = params.get('cursor') ?? '';
  const cursor = raw === '' ? undefined : decodeCursor(raw, new Set(channels));
  if (cursor !== undefined) for (const position of cursor.values()) Object.freeze(position);
  const timeout = parseTimeout(params.get('timeout'), defaultTimeoutSeconds);
  const since = channels.map((c) => cursor?.get(c));
  const fresh = channels.filter((_, i) => since[i] === undefined);
  const key = fresh.length === 0 ? channels.join('\n') + '\n' + raw : undefined;
  return { channels, cursor, since, fresh, timeout, key };
}

function parseTimeout(value: string | null, fallback: number): number {
  if (value === null || value === '') return fallback;
  if (!/^\d{1,2}$/.test(value) || Number(value) > MAX_TIMEOUT_SECONDS) {
    throw new SwitchboardError('bad_request', `timeout must be an integer number of seconds from 0 to ${MAX_TIMEOUT_SECONDS}`);
  }
  return Number(value);
}
