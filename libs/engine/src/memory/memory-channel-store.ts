import { StreamPosition } from '@switchboard/protocol';
import { HistoryResult, PublishRequest } from '../channel-engine';
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

/** How often expired channels and idempotency keys are swept. */
const SWEEP_INTERVAL_MS = 30_000;

/**
 * The store of the embedded engine: the same semantics as Redis (offsets, epochs, history
 * size and TTL, idempotency window, metadata TTL), in this process's memory.
 */
export class MemoryChannelStore implements ChannelStore {
  private readonly channels = new Map<string, ChannelState>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly retention: RetentionOptions) {
    this.sweeper = setInterval(() => this.sweep(Date.now()), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  publish(request: PublishRequest, parts: JsonParts, receivedAt: number): Promise<StoreWriteResult> {
    const now = Date.now();
    const state = this.touch(request.channel, now);
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

  history(channel: string, since?: StreamPosition): Promise<HistoryResult> {
    const state = this.touch(channel, Date.now());
    const position = { offset: state.offset, epoch: state.epoch };
    if (since === undefined) return Promise.resolve({ position, messages: [...state.history], recovered: true });
    const from = since.epoch === state.epoch ? since.offset : 0;
    const messages = state.history.filter((m) => m.offset > from);
    const recovered = isCompleteRecovery(since, position, messages[0]?.offset);
    return Promise.resolve({ position, messages, recovered });
  }

  positions(channels: readonly string[]): Promise<StreamPosition[]> {
    const now = Date.now();
    return Promise.resolve(
      channels.map((c) => {
        const state = this.touch(c, now);
        return { offset: state.offset, epoch: state.epoch };
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

  /** The channel's live state, created (new epoch) if absent or expired. */
  private touch(channel: string, now: number): ChannelState {
    let state = this.channels.get(channel);
    if (state !== undefined && state.metaExpiresAt <= now) state = undefined;
    if (state === undefined) {
      state = {
        epoch: newEpoch(),
        offset: 0,
        history: [],
        historyExpiresAt: 0,
        metaExpiresAt: now + this.retention.channelMetaTtlSeconds * 1000,
        idempotency: new Map(),
      };
      this.channels.set(channel, state);
    } else {
      state.metaExpiresAt = now + this.retention.channelMetaTtlSeconds * 1000;
    }
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
