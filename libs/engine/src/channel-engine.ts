import { StreamPosition } from '@switchboard/protocol';
import { StoredMessage } from './stored-message';

/** A publish into one channel. */
export interface PublishRequest {
  channel: string;
  /** Any JSON value. */
  data: unknown;
  /** Same key on the same channel within IDEMPOTENCY_WINDOW_SECONDS → the first offset, nothing new delivered. */
  idempotencyKey?: string;
  /** Event id (CloudEvent id for routed events). */
  id?: string;
  /** Event type (CloudEvent type for routed events). */
  type?: string;
  /** `sub` of the publishing client; set by the gateway from the verified token only. */
  from?: string;
  /** When the event first entered Switchboard, ms; defaults to now. Feeds the end-to-end latency metric. */
  receivedAt?: number;
}

export interface PublishResult {
  channel: string;
  offset: number;
  epoch: string;
  /** True when the idempotency key was already seen: `offset` is the original one. */
  duplicate: boolean;
}

export interface HistoryResult {
  /** The channel's current position (its last offset and epoch). */
  position: StreamPosition;
  /** Messages after `since` (or all of history without `since`), in offset order. */
  messages: StoredMessage[];
  /**
   * With `since`: true when `messages` holds every message after it (same epoch, none
   * trimmed; or `since` is at offset 0 and history still starts at offset 1, whatever
   * the epoch). Without `since`: always true.
   */
  recovered: boolean;
  /** Present when this read created the channel's metadata (fixed its epoch). */
  created?: true;
}

/** A channel's position as a read returns it. */
export type ChannelPosition = StreamPosition & {
  /** Present when this read created the channel's metadata (fixed its epoch). */
  created?: true;
};

/** Options of every read (`subscribe`, `history`, `positions`). */
export interface ReadOptions {
  /**
   * Whether a read of a channel that was never touched (no metadata) creates it, fixing its
   * epoch; default true. With false such a read creates nothing and rejects with
   * `ChannelNotFoundError`: the gateway uses it once a client has spent its
   * READ_CREATE_RATE budget. Metadata created by a read lives HISTORY_TTL_SECONDS after
   * the last read until the channel is first published to.
   */
  create?: boolean;
}

/** A read with `create: false` found no metadata for `channel` (it was never touched, or expired). */
export class ChannelNotFoundError extends Error {
  override readonly name = 'ChannelNotFoundError';
  constructor(readonly channel: string) {
    super(`channel ${channel} does not exist yet and the read may not create it`);
  }
}

/** What a subscriber learns once, before any message (the WS `subscribed` reply). */
export interface SubscribeOutcome {
  channel: string;
  /** The channel's current offset. */
  offset: number;
  epoch: string;
  /** Only when `since` was given: whether every missed message follows. */
  recovered?: boolean;
  /** Present when this subscribe created the channel's metadata (fixed its epoch). */
  created?: true;
}

/**
 * Receives one channel's messages for one local subscriber. The engine calls
 * `onSubscribed` once, then `onMessage` with missed messages and live ones in strict
 * offset order with no duplicates, and `onLost` only when this subscriber really missed
 * something: messages it lacks left history and never arrived live, or the channel's
 * epoch changed while it held a message of the old one (a subscriber still at offset 0
 * is not told when the new epoch's history starts at offset 1).
 * Calls are synchronous and must not throw; a listener that needs async work queues it.
 */
export interface ChannelListener {
  onSubscribed(outcome: SubscribeOutcome): void;
  onMessage(message: StoredMessage): void;
  onLost(channel: string): void;
}

export interface SubscribeOptions extends ReadOptions {
  /** Resume after this position: every message after it is delivered before live ones. */
  since?: StreamPosition;
  /**
   * When this is the last local subscriber of the channel to leave, the process keeps its
   * fan-out subscription (the feed) this long before it ends it (default 0: at once). A
   * long-poll's channels are held between its polls so: the next poll joins at the feed's
   * head (`joinAtLocalHead`) instead of resubscribing and reading the store.
   */
  lingerMs?: number;
}

/** A local subscription; `unsubscribe` is idempotent. */
export interface ChannelSubscription {
  readonly channel: string;
  unsubscribe(): void;
}

/**
 * The channel engine: per-channel offsets, epochs, bounded history and idempotent
 * publish, with fan-out to subscribers in every process ("pod") that holds the channel.
 *
 * Guarantees (both implementations; `engine.conformance.ts` checks them):
 * - offsets are 1, 2, 3, … per channel and epoch, with no gaps, under concurrent publishers;
 * - every subscriber sees messages in offset order, each once, including across the seam
 *   between recovered history and live delivery;
 * - a gap in live delivery (reordering, a publisher that died before fan-out, a lost
 *   fan-out connection) is filled from history, or reported through `onLost`;
 * - a process receives fan-out traffic only for channels it has subscribers for (and, after
 *   a subscriber that asked for `lingerMs` leaves, that long).
 */
export interface ChannelEngine {
  publish(request: PublishRequest): Promise<PublishResult>;
  /**
   * History after `since` (or all retained history). Fixes the channel's epoch if the
   * channel was never touched (unless `create: false`, which rejects with `ChannelNotFoundError`).
   */
  history(channel: string, since?: StreamPosition, options?: ReadOptions): Promise<HistoryResult>;
  /**
   * Current positions of channels, in order, fixing the epoch of untouched ones. With
   * `create: false`, rejects with `ChannelNotFoundError` for the first untouched channel
   * and creates none.
   */
  positions(channels: readonly string[], options?: ReadOptions): Promise<ChannelPosition[]>;
  /**
   * Subscribes a local listener. With `create: false` and no local holder of the channel,
   * an untouched channel rejects with `ChannelNotFoundError` before anything is created.
   */
  subscribe(channel: string, listener: ChannelListener, options?: SubscribeOptions): Promise<ChannelSubscription>;
  /**
   * Subscribes at once, reading nothing, when this process's feed of `channel` is exactly at
   * `since` (`isAtLocalHead`): `onSubscribed` runs (with `recovered: true`) before this
   * returns, and what the store has beyond the feed reaches the listener through the feed,
   * as it reaches every live subscriber — a message as a message, a lost channel state
   * through `onLost`. Undefined, with nothing done, otherwise: then `subscribe`, whose store
   * read makes its outcome reflect what has not reached this process yet. A long-poll's next
   * poll subscribes so (with `lingerMs`, see SubscribeOptions).
   */
  joinAtLocalHead(channel: string, listener: ChannelListener, since: StreamPosition, lingerMs?: number): ChannelSubscription | undefined;
  /**
   * True when this process holds a started fan-out feed of `channel` that has delivered
   * exactly up to `since` (same epoch and offset) and is not repairing a hole: nothing
   * after `since` has reached this process yet. A long-poll at the head skips its backlog
   * read then and joins the feed there (`joinAtLocalHead`). Synchronous, reads nothing.
   */
  isAtLocalHead(channel: string, since: StreamPosition): boolean;
  /**
   * The messages after `since` up to this process's feed head, when the feed (under
   * `isAtLocalHead`'s conditions, but behind its head) delivered them all and still holds
   * them (`EngineOptions.recentMessages`, kept once a long-poll subscribed); undefined
   * otherwise, and then the store is read. As at the head, what has not reached this process
   * yet is not in it. A long-poll's next poll a message or a few behind answers with them.
   * Synchronous, reads nothing.
   */
  recentAfter(channel: string, since: StreamPosition): readonly StoredMessage[] | undefined;
  /** True while the engine's backends are reachable. */
  isReady(): boolean;
  /** Backend readiness by name (`nats`, `redis`, or `memory`), for /readyz and metrics. */
  readiness(): Record<string, boolean>;
  close(): Promise<void>;
}
