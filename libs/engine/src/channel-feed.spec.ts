import { StreamPosition } from '@switchboard/protocol';
import { eventually, uniqueName } from '@switchboard/testing';
import { ChannelPosition, HistoryResult, PublishRequest, ReadOptions } from './channel-engine';
import { ChannelFeed } from './channel-feed';
import { ChannelStore, JsonParts, messageJsonParts, RetentionOptions, StoreWriteResult } from './channel-store';
import { RecordingListener } from './engine.conformance';
import { DEFAULT_ENGINE_OPTIONS, EngineOptions } from './engine-options';
import { MemoryChannelStore } from './memory/memory-channel-store';
import { MemoryFanoutBus } from './memory/memory-fanout-bus';
import { StoredMessage } from './stored-message';

/**
 * The memory store with controlled timing: a history read runs at once (as Redis runs
 * the script when it arrives), but while `holding` its answer reaches the feed only when
 * the test calls `release()` — the window in which the bus keeps delivering.
 */
class HeldReplyStore implements ChannelStore {
  holding = false;
  private readonly held: Array<() => void> = [];

  constructor(readonly inner: MemoryChannelStore) {}

  publish(request: PublishRequest, json: JsonParts, receivedAt: number): Promise<StoreWriteResult> {
    return this.inner.publish(request, json, receivedAt);
  }

  async history(channel: string, since?: StreamPosition, options?: ReadOptions): Promise<HistoryResult> {
    const result = await this.inner.history(channel, since, options);
    if (this.holding) await new Promise<void>((resolve) => this.held.push(resolve));
    return result;
  }

  positions(channels: readonly string[], options?: ReadOptions): Promise<ChannelPosition[]> {
    return this.inner.positions(channels, options);
  }

  get heldReplies(): number {
    return this.held.length;
  }

  /** Lets every held answer through; later reads answer at once. */
  release(): void {
    this.holding = false;
    for (const resolve of this.held.splice(0)) resolve();
  }

  isReady(): boolean {
    return true;
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

const RETENTION: RetentionOptions = { historySize: 3, historyTtlSeconds: 300, channelMetaTtlSeconds: 3600, idempotencyWindowSeconds: 120 };

/** Lets pending promise callbacks (a released reply and its apply) run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('ChannelFeed', () => {
  let store: HeldReplyStore;
  let feed: ChannelFeed | undefined;
  let channel: string;

  beforeEach(() => {
    store = new HeldReplyStore(new MemoryChannelStore(RETENTION));
    channel = uniqueName('feed') + ':c';
  });
  afterEach(async () => {
    feed?.close();
    feed = undefined;
    await store.close();
  });

  /** Stores a message without announcing it; the test hands it to the feed as the bus would. */
  const publish = async (data: unknown): Promise<StoredMessage> => {
    const now = Date.now();
    const { message } = await store.publish({ channel, data }, messageJsonParts({ channel, data }, now), now);
    return message!;
  };

  /** A started feed (reads are answered at once unless held) with one live subscriber at its position. */
  const start = async (options: Partial<EngineOptions> = {}): Promise<{ feed: ChannelFeed; sub: RecordingListener }> => {
    // Holes are read at once (no gap wait) and no timer reads on its own.
    const opts = { ...DEFAULT_ENGINE_OPTIONS, gapWaitMs: 60_000, gapImmediateCount: 1, syncIntervalMs: 0, ...options };
    feed = new ChannelFeed(channel, store, new MemoryFanoutBus(), opts, () => undefined);
    await feed.ready;
    const sub = new RecordingListener();
    const joining = feed.addJoining(sub);
    const { offset, epoch } = feed.position;
    joining.epoch = epoch;
    joining.last = offset;
    sub.onSubscribed({ channel, offset, epoch });
    feed.activate(joining);
    return { feed, sub };
  };

  it('judges a history answer against what the bus delivered while it was in flight: no false loss', async () => {
    const { feed, sub } = await start();
    const m = [undefined, ...(await Promise.all([1, 2, 3, 4, 5, 6].map(publish)))];
    store.holding = true;
    // 2 arrives before 1: the hole is read. The store answers for its top, 6, with a
    // history of 4..6 — 1..3 were trimmed since — but the answer is late...
    feed.onBusMessage(m[2]!);
    await settle();
    expect(store.heldReplies).toBe(1);
    // ...and meanwhile the bus brings 1..5.
    for (const i of [1, 3, 4, 5]) feed.onBusMessage(m[i]!);
    store.release();
    await settle();
    // Nothing the subscriber lacks is gone: 6 comes from history, and no loss is signalled.
    expect(sub.events).toEqual(['subscribed', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6']);
  });

  it('does not take a late answer whose top is below what the bus delivered for a store that went back', async () => {
    const { feed, sub } = await start();
    const m1 = await publish(1);
    const m2 = await publish(2);
    store.holding = true;
    // The hole at 1 is read while the store's top is 2; the answer is late.
    feed.onBusMessage(m2);
    await settle();
    expect(store.heldReplies).toBe(1);
    feed.onBusMessage(m1);
    for (const data of [3, 4]) feed.onBusMessage(await publish(data));
    store.release();
    await settle();
    feed.onBusMessage(await publish(5));
    await settle();
    // Offsets 3 and 4 are neither reported lost nor delivered twice.
    expect(sub.events).toEqual(['subscribed', 'm1', 'm2', 'm3', 'm4', 'm5']);
  });

  it('waits for the bus before declaring lost a hole that history no longer holds', async () => {
    const { feed, sub } = await start({ lossWaitMs: 60_000 });
    const m = [undefined, ...(await Promise.all([1, 2, 3, 4, 5, 6].map(publish)))];
    // The bus lags the store by more than the history (3): 5 comes first, history holds 4..6.
    feed.onBusMessage(m[5]!);
    await settle();
    expect(sub.events).toEqual(['subscribed']);
    // The hole was still on its way.
    for (const i of [1, 2, 3]) feed.onBusMessage(m[i]!);
    expect(sub.events).toEqual(['subscribed', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6']);
  });

  it('declares a hole lost once, after the wait, when neither history nor the bus has it', async () => {
    const { feed, sub } = await start({ lossWaitMs: 30 });
    const m = [undefined, ...(await Promise.all([1, 2, 3, 4, 5, 6].map(publish)))];
    feed.onBusMessage(m[5]!);
    await eventually(() => expect(sub.events).toEqual(['subscribed', 'lost', 'm4', 'm5', 'm6']));
    // A late arrival of the lost offsets is dropped, and a later check signals nothing new.
    feed.onBusMessage(m[2]!);
    await feed.resync();
    feed.onBusMessage(await publish(7));
    expect(sub.events).toEqual(['subscribed', 'lost', 'm4', 'm5', 'm6', 'm7']);
  });

  it('signals a hole whose history expired once, not on every later check', async () => {
    store = new HeldReplyStore(new MemoryChannelStore({ ...RETENTION, historyTtlSeconds: 0.05 }));
    await publish(1);
    const { feed, sub } = await start();
    await publish(2);
    await publish(3);
    await eventually(async () => expect((await store.history(channel)).messages).toEqual([]));
    await feed.resync();
    await feed.resync();
    expect(sub.events).toEqual(['subscribed', 'lost']);
    expect(feed.position.offset).toBe(3);
    feed.onBusMessage(await publish(4));
    expect(sub.events).toEqual(['subscribed', 'lost', 'm4']);
  });
});
