import { StreamPosition } from '@switchboard/protocol';
import { ChannelPosition, HistoryResult, PublishRequest, PublishResult, ReadOptions } from './channel-engine';
import { StoredMessage } from './stored-message';

/** Retention settings shared by both stores (SPEC "Channels"). */
export interface RetentionOptions {
  historySize: number;
  /**
   * History lives this long after the last publish; so does the metadata of a channel that
   * was only read (after the last read), so reads of random names cannot fill the store.
   */
  historyTtlSeconds: number;
  /** The offset counter and epoch of a published channel live this long after the last publish or read. */
  channelMetaTtlSeconds: number;
  idempotencyWindowSeconds: number;
}

export interface StoreWriteResult {
  result: PublishResult;
  /**
   * The stored message to fan out. For a duplicate publish it is the original message
   * (when still in history): its first fan-out may never have happened, so it is
   * announced again and subscribers drop offsets they already have.
   */
  message?: StoredMessage;
}

/**
 * Durable half of the engine: offsets, epochs, history and idempotency keys. Each
 * operation is atomic per channel. Implementations: memory/ and nats-redis/ (Redis).
 * Reads create an untouched channel (and say so with `created`) unless `create: false`,
 * which rejects with `ChannelNotFoundError` instead.
 */
export interface ChannelStore {
  publish(request: PublishRequest, json: JsonParts, receivedAt: number): Promise<StoreWriteResult>;
  history(channel: string, since?: StreamPosition, options?: ReadOptions): Promise<HistoryResult>;
  positions(channels: readonly string[], options?: ReadOptions): Promise<ChannelPosition[]>;
  isReady(): boolean;
  close(): Promise<void>;
}

/**
 * The client-facing message JSON around the offset and epoch that only the store knows:
 * `head + ',"offset":' + offset + ',"epoch":"' + epoch + '"' + tail`.
 */
export interface JsonParts {
  head: string;
  tail: string;
}

/** Builds the JSON parts of a message once, in the field order of SPEC. */
export function messageJsonParts(request: PublishRequest, ts: number): JsonParts {
  const head = '{"channel":' + JSON.stringify(request.channel);
  let tail = ',"data":' + JSON.stringify(request.data ?? null);
  if (request.id !== undefined) tail += ',"id":' + JSON.stringify(request.id);
  if (request.type !== undefined) tail += ',"type":' + JSON.stringify(request.type);
  if (request.from !== undefined) tail += ',"from":' + JSON.stringify(request.from);
  tail += ',"ts":' + ts + '}';
  return { head, tail };
}

export function joinJson(parts: JsonParts, offset: number, epoch: string): string {
  return parts.head + ',"offset":' + offset + ',"epoch":"' + epoch + '"' + parts.tail;
}

/**
 * Decides `recovered` for a history read the same way in every store. `firstOffset` is
 * the first message the read returned: after `since` in the same epoch, else the first of
 * history. A reader at offset 0 missed nothing in any epoch whose history still starts at
 * offset 1 (or that has no message yet), even if the epoch it knew has expired since.
 */
export function isCompleteRecovery(since: StreamPosition, position: StreamPosition, firstOffset: number | undefined): boolean {
  if (since.offset === 0 && (position.offset === 0 || firstOffset === 1)) return true;
  if (since.epoch !== position.epoch) return false;
  if (since.offset > position.offset) return false;
  if (since.offset === position.offset) return true;
  return firstOffset === since.offset + 1;
}
