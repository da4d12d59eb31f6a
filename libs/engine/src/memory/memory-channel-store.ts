import { StreamPosition } from '@switchboard/protocol';
import { ChannelNotFoundError, ChannelPosition, HistoryResult, PublishRequest, ReadOptions } from '../channel-engine';
import { ChannelStore, isCompleteRecovery, joinJson, JsonParts, RetentionOptions, StoreWriteResult } from '../channel-store';
import { newEpoch } from '../epoch';
import { StoredMessage } from '../stored-message';

interface ChannelState {
  epoch: string;
  offset: number;
  /** Retained messages, oldest first, at most `historySize`. */
  history: StoredMessage[];
  historyExpiresAt: number;
  metaExpiresAt: number;
  idempotency: Map<string, { offset: number; expiresAt: number }>;
}

/** How often expired channels and idempotency keys are swept, at most. */
const SWEEP_INTERVAL_MS = 30_000;

/**
 * The store of the embedded engine: the same semantics as Redis (offsets, epochs, history
 * size and TTL, idempotency window, metadata TTL, read-only channels expiring a history
 * TTL after their last read), in this process's memory. Expired channels are swept, so
 * reads of random names cannot grow the map without bound.
 */
export class MemoryChannelStore implements ChannelStore {
  private readonly channels = new Map<string, ChannelState>();
  private readonly sweeper: NodeJS.Timeout;
  /** Channels created so far: a read compares it before and after to report `created`. */
  private creations = 0;

  constructor(
    private readonly retention: RetentionOptions,
    /** The clock of every expiry (ms since the epoch); the sweep still runs on a real timer. */
    private readonly now: () => number = Date.now,
  ) {
    const interval = Math.min(SWEEP_INTERVAL_MS, Math.max(1000, retention.historyTtlSeconds * 1000));
    this.sweeper = setInterval(() => this.sweep(this.now()), interval);
    this.sweeper.unref();
  }

  /** Channels held, expired ones included until the next sweep. */
  get size(): number {
    return this.channels.size;
  }

  publish(request: PublishRequest, parts: JsonParts, receivedAt: number): Promise<StoreWriteResult> {
    const now = this.now();
    const state = this.touch(request.channel, now, true)!;
    const key = request.idempotencyKey;
    if (key !== undefined) {
      const seen = state.idempotency.get(key);
      if (seen !== undefined && seen.expiresAt > now) {
        const message = state.history.find((m) => m.offset === seen.offset);
        return Promise.resolve({
          result: { channel: request.channel, offset: seen.offset, epoch: state.epoch, duplicate: true },
          message,
        });
      }
    }
    const offset = ++state.offset;
    const message = new StoredMessage(request.channel, offset, state.epoch, joinJson(parts, offset, state.epoch), receivedAt);
    state.history.push(message);
    if (state.history.length > this.retention.historySize) state.history.shift();
    state.historyExpiresAt = now + this.retention.historyTtlSeconds * 1000;
    state.metaExpiresAt = now + this.retention.channelMetaTtlSeconds * 1000;
    if (key !== undefined) {
      state.idempotency.set(key, { offset, expiresAt: now + this.retention.idempotencyWindowSeconds * 1000 });
    }
    return Promise.resolve({ result: { channel: request.channel, offset, epoch: state.epoch, duplicate: false }, message });
  }

  history(channel: string, since?: StreamPosition, options?: ReadOptions): Promise<HistoryResult> {
    const wasCreated = this.creations;
    const state = this.touch(channel, this.now(), options?.create !== false);
    if (state === undefined) return Promise.reject(new ChannelNotFoundError(channel));
    const position = { offset: state.offset, epoch: state.epoch };
    let result: HistoryResult;
    if (since === undefined) {
      result = { position, messages: [...state.history], recovered: true };
    } else {
      const from = since.epoch === state.epoch ? since.offset : 0;
      const messages = state.history.slice(firstAfter(state.history, from));
      result = { position, messages, recovered: isCompleteRecovery(since, position, messages[0]?.offset) };
    }
    if (this.creations !== wasCreated) result.created = true;
    return Promise.resolve(result);
  }

  positions(channels: readonly string[], options?: ReadOptions): Promise<ChannelPosition[]> {
    const now = this.now();
    const create = options?.create !== false;
    if (!create) {
      // A missing channel fails the whole read before anything is created.
      const missing = channels.find((c) => this.live(c, now) === undefined);
      if (missing !== undefined) return Promise.reject(new ChannelNotFoundError(missing));
    }
    return Promise.resolve(
      channels.map((c) => {
        const wasCreated = this.creations;
        const state = this.touch(c, now, true)!;
        const position: ChannelPosition = { offset: state.offset, epoch: state.epoch };
        if (this.creations !== wasCreated) position.created = true;
        return position;
      }),
    );
  }

  /** Forgets a channel as if its Redis keys were deleted (tests of epoch change). */
  forget(channel: string): void {
    this.channels.delete(channel);
  }

  isReady(): boolean {
    return true;
  }

  close(): Promise<void> {
    clearInterval(this.sweeper);
    return Promise.resolve();
  }

  /** The channel's state if it exists and has not expired. */
  private live(channel: string, now: number): ChannelState | undefined {
    const state = this.channels.get(channel);
    return state !== undefined && state.metaExpiresAt > now ? state : undefined;
  }

  /**
   * The channel's live state, created (new epoch; counted in `creations`) if absent or
   * expired and `create` allows. Like the Redis read script: a channel never published to
   * lives a history TTL after its last touch, a published one the metadata TTL.
   */
  private touch(channel: string, now: number, create: boolean): ChannelState | undefined {
    let state = this.live(channel, now);
    if (state === undefined) {
      if (!create) return undefined;
      state = { epoch: newEpoch(), offset: 0, history: [], historyExpiresAt: 0, metaExpiresAt: 0, idempotency: new Map() };
      this.channels.set(channel, state);
      this.creations++;
    }
    const ttlSeconds = state.offset > 0 ? this.retention.channelMetaTtlSeconds : this.retention.historyTtlSeconds;
    state.metaExpiresAt = now + ttlSeconds * 1000;
    if (state.history.length > 0 && state.historyExpiresAt <= now) state.history = [];
    return state;
  }

  private sweep(now: number): void {
    for (const [channel, state] of this.channels) {
      if (state.metaExpiresAt <= now) {
        this.channels.delete(channel);
        continue;
      }
      if (state.history.length > 0 && state.historyExpiresAt <= now) state.history = [];
      for (const [key, entry] of state.idempotency) if (entry.expiresAt <= now) state.idempotency.delete(key);
    }
  }
}

/** Index of the first message of `history` (in offset order) with an offset above `offset`. */
function firstAfter(history: readonly StoredMessage[], offset: number): number {
  let lo = 0;
  let hi = history.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (history[mid].offset > offset) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
