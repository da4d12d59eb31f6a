import { assertChannel, MAX_IDEMPOTENCY_KEY_LENGTH, StreamPosition, SwitchboardError } from '@switchboard/protocol';
import {
  ChannelEngine,
  ChannelListener,
  ChannelNotFoundError,
  ChannelPosition,
  ChannelSubscription,
  HistoryResult,
  PublishRequest,
  PublishResult,
  ReadOptions,
  SubscribeOptions,
  SubscribeOutcome,
} from './channel-engine';
import { ChannelFeed } from './channel-feed';
import { ChannelStore, messageJsonParts } from './channel-store';
import { DEFAULT_ENGINE_OPTIONS, EngineOptions } from './engine-options';
import { FanoutBus } from './fanout-bus';
import { StoredMessage } from './stored-message';

/** How many times a subscribe re-reads history while the feed catches up with an epoch change. */
const MAX_EPOCH_RETRIES = 3;
/** Channels per batched position read of the quiet-channel check. */
const SYNC_BATCH = 500;
/** Check interval while the fan-out bus is known to be down: the store is the only source. */
const OUTAGE_SYNC_MS = 250;

/**
 * The channel engine over a store (durable state) and a fan-out bus (live traffic).
 * Both implementations — memory, and Redis + NATS — are this class with different backends.
 */
export class Engine implements ChannelEngine {
  private readonly feeds = new Map<string, ChannelFeed>();
  private readonly options: EngineOptions;
  private syncTimer?: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly store: ChannelStore,
    private readonly bus: FanoutBus,
    options: Partial<EngineOptions> = {},
  ) {
    this.options = { ...DEFAULT_ENGINE_OPTIONS, ...options };
    // Announcements made while the bus was away are gone: every held channel catches up.
    bus.onResumed(() => {
      this.options.logger.info({ channels: this.feeds.size }, 'fan-out bus resumed: catching up held channels');
      for (const feed of this.feeds.values()) void feed.resync();
    });
    if (this.options.syncIntervalMs > 0) this.scheduleSync();
  }

  async publish(request: PublishRequest): Promise<PublishResult> {
    assertChannel(request.channel);
    const key = request.idempotencyKey;
    if (key !== undefined && (typeof key !== 'string' || key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH)) {
      throw new SwitchboardError('bad_request', `idempotencyKey must be a string of 1–${MAX_IDEMPOTENCY_KEY_LENGTH} characters`);
    }
    const ts = Date.now();
    let parts;
    try {
      parts = messageJsonParts(request, ts);
    } catch (err) {
      throw new SwitchboardError('bad_request', 'data is not serialisable as JSON', { cause: err });
    }
    const size = Buffer.byteLength(parts.head) + Buffer.byteLength(parts.tail) + 64;
    if (size > this.options.maxMessageBytes) {
      throw new SwitchboardError('too_large', `message is ${size} bytes, more than the ${this.options.maxMessageBytes} allowed`);
    }
    const { result, message } = await this.wrap(() => this.store.publish(request, parts, request.receivedAt ?? ts));
    if (message) {
      try {
        this.bus.announce(message);
      } catch (err) {
        // Stored but not announced: subscribers' feeds fill the hole from history
        // (next message, bus resume, or the quiet-channel check).
        this.options.logger.warn({ err, channel: message.channel, offset: message.offset }, 'fan-out announce failed');
      }
    }
    this.options.metrics.published(result.duplicate);
    return result;
  }

  history(channel: string, since?: StreamPosition, options?: ReadOptions): Promise<HistoryResult> {
    assertChannel(channel);
    return this.wrap(() => this.store.history(channel, since, options));
  }

  positions(channels: readonly string[], options?: ReadOptions): Promise<ChannelPosition[]> {
    for (const c of channels) assertChannel(c);
    return this.wrap(() => this.store.positions(channels, options));
  }

  async subscribe(channel: string, listener: ChannelListener, options: SubscribeOptions = {}): Promise<ChannelSubscription> {
    assertChannel(channel);
    if (this.closed) throw new SwitchboardError('unavailable', 'engine is closed');
    const since = options.since;
    const readOptions: ReadOptions = { create: options.create };
    if (options.create === false && !this.feeds.has(channel)) {
      // A feed would create the channel: make sure it exists first (rejects if not).
      await this.wrap(() => this.store.positions([channel], readOptions));
      if (this.closed) throw new SwitchboardError('unavailable', 'engine is closed');
    }
    const startsFeed = !this.feeds.has(channel);
    const feed = this.feedFor(channel);
    // Join before any await: whatever the feed delivers from now on is buffered for us.
    const sub = feed.addJoining(listener, options.lingerMs);
    try {
      await this.wrap(() => feed.ready);
      let outcome: SubscribeOutcome;
      if (since === undefined) {
        const position = feed.position;
        feed.markRead(sub);
        sub.epoch = position.epoch;
        sub.last = position.offset;
        outcome = { channel, offset: position.offset, epoch: position.epoch };
        if (startsFeed && feed.created) outcome.created = true;
        listener.onSubscribed(outcome);
      } else {
        feed.markRead(sub);
        let history = await this.wrap(() => this.store.history(channel, since, readOptions));
        let created = (startsFeed && feed.created) || history.created === true;
        for (let attempt = 0; history.position.epoch !== feed.position.epoch; attempt++) {
          // The store's epoch moved on and the feed has not seen it yet: let it catch up first,
          // so the seam below compares offsets of one epoch.
          if (attempt >= MAX_EPOCH_RETRIES) throw new SwitchboardError('unavailable', 'channel state is changing, retry');
          await feed.resync();
          feed.markRead(sub);
          history = await this.wrap(() => this.store.history(channel, since, readOptions));
          created ||= history.created === true;
        }
        sub.epoch = history.position.epoch;
        const sameEpoch = since.epoch === history.position.epoch;
        sub.last = sameEpoch ? Math.min(since.offset, history.position.offset) : 0;
        outcome = { channel, offset: history.position.offset, epoch: history.position.epoch, recovered: history.recovered };
        if (created) outcome.created = true;
        this.options.metrics.recovery(history.recovered);
        listener.onSubscribed(outcome);
        for (const m of history.messages) {
          if (m.offset > sub.last) {
            sub.last = m.offset;
            listener.onMessage(m);
          }
        }
      }
      feed.activate(sub);
    } catch (err) {
      sub.unsubscribe();
      throw err;
    }
    return sub;
  }

  joinAtLocalHead(channel: string, listener: ChannelListener, since: StreamPosition, lingerMs?: number): ChannelSubscription | undefined {
    const feed = this.closed ? undefined : this.feeds.get(channel);
    if (feed === undefined || !feed.isAt(since)) return undefined;
    // Nothing after `since` has reached the process, and the feed brings what follows (or
    // repairs it) as it does for every live subscriber.
    const sub = feed.addLive(listener, lingerMs);
    try {
      this.options.metrics.recovery(true);
      listener.onSubscribed({ channel, offset: since.offset, epoch: since.epoch, recovered: true });
    } catch (err) {
      sub.unsubscribe();
      throw err;
    }
    return sub;
  }

  isAtLocalHead(channel: string, since: StreamPosition): boolean {
    const feed = this.feeds.get(channel);
    return feed !== undefined && !this.closed && feed.isAt(since);
  }

  recentAfter(channel: string, since: StreamPosition): readonly StoredMessage[] | undefined {
    return this.closed ? undefined : this.feeds.get(channel)?.recentAfter(since);
  }

  isReady(): boolean {
    return !this.closed && this.store.isReady() && this.bus.isReady();
  }

  readiness(): Record<string, boolean> {
    return { store: this.store.isReady(), bus: this.bus.isReady() };
  }

  /** Channels this process holds a fan-out subscription for. */
  heldChannels(): number {
    return this.feeds.size;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.syncTimer);
    for (const feed of this.feeds.values()) feed.close();
    this.feeds.clear();
    await Promise.allSettled([this.bus.close(), this.store.close()]);
  }

  private feedFor(channel: string): ChannelFeed {
    let feed = this.feeds.get(channel);
    if (feed === undefined) {
      feed = new ChannelFeed(channel, this.store, this.bus, this.options, (empty) => this.dropFeed(empty));
      this.feeds.set(channel, feed);
      this.options.metrics.feeds(this.feeds.size);
      const created = feed;
      // A feed that cannot start is forgotten so the next subscribe tries afresh.
      created.ready.catch(() => this.dropFeed(created));
    }
    return feed;
  }

  private dropFeed(feed: ChannelFeed): void {
    if (this.feeds.get(feed.channel) === feed) {
      this.feeds.delete(feed.channel);
      this.options.metrics.feeds(this.feeds.size);
    }
    feed.close();
  }

  /** The next check: every SYNC_INTERVAL_MS, or every 250 ms while the bus is down. */
  private scheduleSync(): void {
    if (this.closed) return;
    const delay = this.bus.isReady() ? this.options.syncIntervalMs : Math.min(OUTAGE_SYNC_MS, this.options.syncIntervalMs);
    this.syncTimer = setTimeout(() => {
      void this.syncQuietChannels().finally(() => this.scheduleSync());
    }, delay);
    this.syncTimer.unref();
  }

  /**
   * Catches what the bus did not bring: a hole no later message reveals (a publisher that
   * died between the store and the bus, then a quiet channel), or everything while this
   * process is cut off from the bus (disconnected, or partitioned without knowing it). A
   * channel whose stored offset is ahead of its feed, and whose feed has not advanced for
   * a while (so the difference is not just messages in flight), is read from history.
   */
  private async syncQuietChannels(): Promise<void> {
    if (this.closed || !this.store.isReady() || this.feeds.size === 0) return;
    const staleMs = Math.max(250, this.options.gapWaitMs * 5);
    try {
      const feeds = [...this.feeds.values()];
      for (let i = 0; i < feeds.length; i += SYNC_BATCH) {
        const batch = feeds.slice(i, i + SYNC_BATCH);
        const positions = await this.store.positions(batch.map((f) => f.channel));
        const now = Date.now();
        batch.forEach((feed, j) => {
          const stored = positions[j];
          const mine = feed.position;
          if (feed.isRepairing || mine.epoch === '') return;
          if (stored.epoch !== mine.epoch || (stored.offset > mine.offset && now - feed.lastAdvanceAt >= staleMs)) void feed.resync();
        });
      }
    } catch (err) {
      this.options.logger.warn({ err }, 'quiet-channel check failed');
    }
  }

  /** Backend failures become `unavailable`; protocol errors and `ChannelNotFoundError` pass through. */
  private async wrap<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      if (err instanceof SwitchboardError || err instanceof ChannelNotFoundError) throw err;
      throw new SwitchboardError('unavailable', 'channel engine is unavailable', { cause: err });
    }
  }
}
