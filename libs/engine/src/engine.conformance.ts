import { isSwitchboardError, StreamPosition } from '@switchboard/protocol';
import { eventually, uniqueName } from '@switchboard/testing';
import { ChannelListener, ChannelNotFoundError, SubscribeOutcome } from './channel-engine';
import { RetentionOptions } from './channel-store';
import { Engine } from './engine';
import { EngineOptions } from './engine-options';
import { StoredMessage } from './stored-message';

/**
 * What a backend provides to the conformance suite: engines ("pods") sharing one backend,
 * and the means to simulate failures the suite checks.
 */
export interface EngineHarness {
  /** A new engine on the shared backend (a second pod, when called twice). */
  createEngine(options?: Partial<EngineOptions>): Promise<Engine>;
  /** Deletes all stored state of a channel (as a Redis flush would). */
  dropChannel(channel: string): Promise<void>;
  /** Stores a message without announcing it (a publisher killed between store and fan-out). */
  storeOnly(engine: Engine, channel: string, data: unknown): Promise<number>;
  /** Fan-out subscriptions this pod holds on the bus. */
  busSubscriptions(engine: Engine): number;
  close(): Promise<void>;
}

export interface HarnessFactory {
  (retention: RetentionOptions): Promise<EngineHarness>;
}

/** A listener that records everything, for assertions. */
export class RecordingListener implements ChannelListener {
  outcome?: SubscribeOutcome;
  readonly messages: StoredMessage[] = [];
  lost = 0;
  readonly events: string[] = [];

  onSubscribed(outcome: SubscribeOutcome): void {
    if (this.outcome) throw new Error('onSubscribed called twice');
    this.outcome = outcome;
    this.events.push('subscribed');
  }

  onMessage(message: StoredMessage): void {
    if (!this.outcome) throw new Error('message before onSubscribed');
    this.messages.push(message);
    this.events.push(`m${message.offset}`);
  }

  onLost(): void {
    this.lost++;
    this.events.push('lost');
  }

  get offsets(): number[] {
    return this.messages.map((m) => m.offset);
  }

  get last(): StreamPosition {
    const m = this.messages[this.messages.length - 1];
    return m ? { offset: m.offset, epoch: m.epoch } : { offset: this.outcome!.offset, epoch: this.outcome!.epoch };
  }
}

export function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i <= to; i++) out.push(i);
  return out;
}

/**
 * Publishes 0, 1, 2, … on `channel` one after the other until `stop()`, letting timers run
 * every `yieldEvery` publishes (an in-memory publish never leaves the microtask queue).
 */
function publishUntilStopped(engine: Engine, channel: string, yieldEvery: number): { readonly published: number; stop(): Promise<void> } {
  let running = true;
  let published = 0;
  const loop = (async () => {
    while (running) {
      await engine.publish({ channel, data: published });
      published++;
      if (published % yieldEvery === 0) await new Promise((r) => setImmediate(r));
    }
  })();
  return {
    get published() {
      return published;
    },
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

const RETENTION: RetentionOptions = {
  historySize: 100,
  historyTtlSeconds: 300,
  channelMetaTtlSeconds: 3600,
  idempotencyWindowSeconds: 120,
};

/**
 * The channel engine's contract, run unchanged against every implementation
 * (`memory.spec.ts`, `nats-redis.int-spec.ts`).
 */
export function describeEngineConformance(name: string, factory: HarnessFactory): void {
  describe(`ChannelEngine conformance: ${name}`, () => {
    let harness: EngineHarness;
    let pod: Engine;
    const channel = (): string => uniqueName('conf') + ':c';

    beforeAll(async () => {
      harness = await factory(RETENTION);
      pod = await harness.createEngine();
    });
    afterAll(async () => {
      await harness?.close();
    });

    it('gives gapless ordered offsets to concurrent publishers and delivers each once, in order, to every subscriber', async () => {
      const c = channel();
      const other = await harness.createEngine();
      const a = new RecordingListener();
      const b = new RecordingListener();
      await pod.subscribe(c, a);
      await other.subscribe(c, b);
      const publishers = [pod, other, pod, other];
      const results = await Promise.all(
        publishers.map(async (engine, p) => {
          const offsets: number[] = [];
          for (let i = 0; i < 500; i++) offsets.push((await engine.publish({ channel: c, data: { p, i } })).offset);
          return offsets;
        }),
      );
      const all = results.flat().sort((x, y) => x - y);
      expect(all).toEqual(range(1, 2000));
      // Each publisher's own offsets increase (its publishes are sequential).
      for (const offsets of results) expect(offsets).toEqual([...offsets].sort((x, y) => x - y));
      await eventually(() => expect(a.messages.length).toBe(2000), 15000);
      await eventually(() => expect(b.messages.length).toBe(2000), 15000);
      expect(a.offsets).toEqual(range(1, 2000));
      expect(b.offsets).toEqual(range(1, 2000));
      expect(a.lost + b.lost).toBe(0);
      // Payload and offset belong together.
      const parsed = a.messages[0].message;
      expect(parsed.channel).toBe(c);
      expect(parsed.offset).toBe(1);
      expect(parsed.epoch).toBe(a.outcome!.epoch);
      await other.close();
    }, 60000);

    it('stores each of many publishes started at once exactly once, and answers each with its own offset', async () => {
      // Hundreds of publishes on three channels issued in the same tick (what concurrent
      // HTTP requests do, and what write batching or pipelining of the store's commands
      // sees): a resent or reordered command would show as an extra offset, an offset
      // answered to the wrong publish, or a message out of place.
      const channels = [channel(), channel(), channel()];
      const subs = channels.map(() => new RecordingListener());
      await Promise.all(channels.map((c, i) => pod.subscribe(c, subs[i])));
      const n = 200;
      const requests = Array.from({ length: n * channels.length }, (_, k) => ({
        c: k % channels.length,
        i: Math.floor(k / channels.length),
      }));
      const results = await Promise.all(
        requests.map(({ c, i }) =>
          // Most carry no key (a resent command would store them twice); every tenth repeats
          // the key of the one before it on its channel.
          pod.publish({ channel: channels[c], data: { c, i }, idempotencyKey: i % 10 >= 8 ? `k${i - (i % 10) + 8}` : undefined }),
        ),
      );
      for (let c = 0; c < channels.length; c++) {
        const mine = results.filter((_, k) => requests[k].c === c);
        const stored = mine.filter((r) => !r.duplicate);
        expect(stored.map((r) => r.offset).sort((x, y) => x - y)).toEqual(range(1, n - n / 10));
        // A repeated key is answered with its original's offset.
        mine.forEach((r, i) => {
          if (i % 10 === 9) expect(r).toEqual({ ...mine[i - 1], duplicate: true });
        });
        await eventually(() => expect(subs[c].messages.length).toBe(n - n / 10), 15000);
        expect(subs[c].offsets).toEqual(range(1, n - n / 10));
        // The message at each offset is the publish that was told that offset.
        const byOffset = new Map<number, number>();
        mine.forEach((r, i) => {
          if (!r.duplicate) byOffset.set(r.offset, i);
        });
        for (const m of subs[c].messages) expect(m.message.data).toEqual({ c, i: byOffset.get(m.offset) });
      }
      expect(subs.reduce((a, s) => a + s.lost, 0)).toBe(0);
    }, 60000);

    it('serves history after a position and reports whether it is complete', async () => {
      const c = channel();
      for (let i = 1; i <= 5; i++) await pod.publish({ channel: c, data: i, id: `e${i}`, type: 't' });
      const all = await pod.history(c);
      expect(all.position.offset).toBe(5);
      expect(all.messages.map((m) => m.offset)).toEqual([1, 2, 3, 4, 5]);
      expect(all.messages[2].message).toMatchObject({ channel: c, offset: 3, data: 3, id: 'e3', type: 't' });
      const after = await pod.history(c, { offset: 3, epoch: all.position.epoch });
      expect(after.recovered).toBe(true);
      expect(after.messages.map((m) => m.offset)).toEqual([4, 5]);
      const atTop = await pod.history(c, { offset: 5, epoch: all.position.epoch });
      expect(atTop).toMatchObject({ recovered: true, messages: [] });
      const beyond = await pod.history(c, { offset: 9, epoch: all.position.epoch });
      expect(beyond.recovered).toBe(false);
      const otherEpoch = await pod.history(c, { offset: 3, epoch: 'not-the-epoch' });
      expect(otherEpoch.recovered).toBe(false);
      expect(otherEpoch.messages.map((m) => m.offset)).toEqual([1, 2, 3, 4, 5]);
    });

    it('fixes a channel epoch at first touch and keeps it', async () => {
      const c = channel();
      const [first] = await pod.positions([c]);
      expect(first.offset).toBe(0);
      const [again] = await pod.positions([c]);
      expect(again.epoch).toBe(first.epoch);
      const published = await pod.publish({ channel: c, data: null });
      expect(published).toMatchObject({ offset: 1, epoch: first.epoch, duplicate: false });
    });

    it('returns the first offset for a repeated idempotency key and delivers nothing new', async () => {
      const c = channel();
      const sub = new RecordingListener();
      await pod.subscribe(c, sub);
      const first = await pod.publish({ channel: c, data: 'a', idempotencyKey: 'k1' });
      await pod.publish({ channel: c, data: 'b' });
      const again = await pod.publish({ channel: c, data: 'a', idempotencyKey: 'k1' });
      expect(again).toEqual({ ...first, duplicate: true });
      const other = await pod.publish({ channel: c, data: 'c', idempotencyKey: 'k2' });
      expect(other.offset).toBe(3);
      await eventually(() => expect(sub.offsets).toEqual([1, 2, 3]));
      // The key is per channel.
      const elsewhere = await pod.publish({ channel: channel(), data: 'a', idempotencyKey: 'k1' });
      expect(elsewhere).toMatchObject({ offset: 1, duplicate: false });
    });

    it('recovers exactly the missed messages and continues live with no gap or duplicate at the seam', async () => {
      // A publisher runs while subscribers join with positions taken at random points.
      const c = channel();
      const other = await harness.createEngine();
      const publisher = publishUntilStopped(other, c, 5);
      for (let round = 0; round < 25; round++) {
        await eventually(() => expect(publisher.published).toBeGreaterThan(round * 4 + 2));
        const history = await pod.history(c);
        const since = { offset: Math.max(0, history.position.offset - 1 - (round % 5)), epoch: history.position.epoch };
        const sub = new RecordingListener();
        // Half the rounds join at the local head when the feed is there, as a poll does.
        const handle = (round % 2 === 0 ? pod.joinAtLocalHead(c, sub, since) : undefined) ?? (await pod.subscribe(c, sub, { since }));
        expect(sub.outcome!.recovered).toBe(true);
        const target = publisher.published + 3;
        await eventually(() => expect(sub.messages.length).toBeGreaterThanOrEqual(target - since.offset - 1), 10000);
        handle.unsubscribe();
        const offsets = sub.offsets;
        expect(offsets).toEqual(range(since.offset + 1, since.offset + offsets.length));
      }
      await publisher.stop();
      await other.close();
    }, 60000);

    it('joins from exactly where a held feed is (a long-poll re-poll) without a gap or duplicate while publishes run', async () => {
      // One subscriber holds the channel; each round another subscribes from the holder's
      // position at that instant (the local head), as the next poll of a broadcast does.
      const c = channel();
      const other = await harness.createEngine();
      const holder = new RecordingListener();
      const held = await pod.subscribe(c, holder);
      const publisher = publishUntilStopped(other, c, 3);
      for (let round = 0; round < 20; round++) {
        await eventually(() => expect(holder.messages.length).toBeGreaterThan(round * 3));
        const last = holder.messages[holder.messages.length - 1];
        const since = { offset: last.offset, epoch: last.epoch };
        const sub = new RecordingListener();
        const handle = await pod.subscribe(c, sub, { since });
        expect(sub.outcome!.recovered).toBe(true);
        const target = publisher.published + 2;
        await eventually(() => expect(holder.offsets.at(-1)).toBeGreaterThanOrEqual(target), 10000);
        await eventually(() => expect(sub.offsets.at(-1)).toBe(holder.offsets.at(-1)), 10000);
        handle.unsubscribe();
        expect(sub.offsets).toEqual(range(since.offset + 1, sub.offsets.at(-1)!));
      }
      await publisher.stop();
      const published = publisher.published;
      // Quiet: the holder's last position is the feed's head, and a join from it misses nothing.
      await eventually(() => expect(holder.messages.length).toBe(published), 10000);
      const head = { offset: published, epoch: holder.messages[0].epoch };
      expect(pod.isAtLocalHead(c, head)).toBe(true);
      expect(pod.isAtLocalHead(c, { offset: published - 1, epoch: head.epoch })).toBe(false);
      expect(pod.isAtLocalHead(c, { offset: published, epoch: 'another' })).toBe(false);
      const joined = new RecordingListener();
      const handle = pod.joinAtLocalHead(c, joined, head)!;
      expect(handle).toBeDefined();
      expect(joined.outcome).toMatchObject({ offset: published, recovered: true });
      // Anywhere else it does nothing (a subscribe reads the store).
      const elsewhere = new RecordingListener();
      expect(pod.joinAtLocalHead(c, elsewhere, { offset: published - 1, epoch: head.epoch })).toBeUndefined();
      expect(elsewhere.events).toEqual([]);
      await other.publish({ channel: c, data: 'a' });
      await other.publish({ channel: c, data: 'b' });
      await eventually(() => expect(joined.offsets).toEqual([published + 1, published + 2]), 10000);
      await eventually(() => expect(holder.offsets).toEqual(range(1, published + 2)), 10000);
      handle.unsubscribe();
      held.unsubscribe();
      expect(pod.isAtLocalHead(c, { offset: published + 2, epoch: head.epoch })).toBe(false);
      await other.close();
    }, 60000);

    it('trims history to its size and says recovered:false when messages left it', async () => {
      const small = await factory({ ...RETENTION, historySize: 10 });
      try {
        const engine = await small.createEngine();
        const c = channel();
        let epoch = '';
        for (let i = 0; i < 25; i++) epoch = (await engine.publish({ channel: c, data: i })).epoch;
        const all = await engine.history(c);
        expect(all.messages.map((m) => m.offset)).toEqual(range(16, 25));
        const stale = await engine.history(c, { offset: 5, epoch });
        expect(stale.recovered).toBe(false);
        expect(stale.messages.map((m) => m.offset)).toEqual(range(16, 25));
        const sub = new RecordingListener();
        await engine.subscribe(c, sub, { since: { offset: 5, epoch } });
        expect(sub.outcome).toMatchObject({ recovered: false, offset: 25, epoch });
        expect(sub.offsets).toEqual(range(16, 25));
        const fine = new RecordingListener();
        await engine.subscribe(c, fine, { since: { offset: 15, epoch } });
        expect(fine.outcome!.recovered).toBe(true);
      } finally {
        await small.close();
      }
    });

    it('expires history after its TTL but keeps the offset and epoch', async () => {
      const shortLived = await factory({ ...RETENTION, historyTtlSeconds: 1 });
      try {
        const engine = await shortLived.createEngine();
        const c = channel();
        const { epoch } = await engine.publish({ channel: c, data: 1 });
        await engine.publish({ channel: c, data: 2 });
        await eventually(async () => expect((await engine.history(c)).messages).toHaveLength(0), 5000, 100);
        const [position] = await engine.positions([c]);
        expect(position).toEqual({ offset: 2, epoch });
        // A subscriber that missed nothing still recovers.
        const upToDate = await engine.history(c, { offset: 2, epoch });
        expect(upToDate.recovered).toBe(true);
        const behind = await engine.history(c, { offset: 1, epoch });
        expect(behind.recovered).toBe(false);
        expect((await engine.publish({ channel: c, data: 3 })).offset).toBe(3);
      } finally {
        await shortLived.close();
      }
    });

    /** A channel with a live subscriber whose store state is lost after one message, then one message in the new epoch. */
    const loseChannelState = async () => {
      const c = channel();
      const before = await pod.publish({ channel: c, data: 'old' });
      const live = new RecordingListener();
      await pod.subscribe(c, live);
      await harness.dropChannel(c);
      const after = await pod.publish({ channel: c, data: 'new' });
      return { c, before, live, after };
    };

    it('changes the epoch when the channel state is lost and tells subscribers recovered:false', async () => {
      const { c, before, live, after } = await loseChannelState();
      expect(after.epoch).not.toBe(before.epoch);
      expect(after.offset).toBe(1);
      const resumed = new RecordingListener();
      await pod.subscribe(c, resumed, { since: { offset: before.offset, epoch: before.epoch } });
      expect(resumed.outcome).toMatchObject({ recovered: false, epoch: after.epoch });
      expect(resumed.offsets).toEqual([1]);
      // The live subscriber is told about the loss, then gets the new epoch's messages.
      await eventually(() => expect(live.events).toEqual(['subscribed', 'lost', 'm1']));
      expect(live.messages[0].epoch).toBe(after.epoch);
    });

    it('tells a join from the local head about a lost channel state, in its outcome or right after it', async () => {
      const { c, before, live, after } = await loseChannelState();
      // The feed may still be at `before` (the new epoch's message in flight on the bus): then
      // the join takes the feed's word, and the feed's resync tells it what the store lost.
      const resumed = new RecordingListener();
      const since = { offset: before.offset, epoch: before.epoch };
      if (pod.joinAtLocalHead(c, resumed, since) === undefined) await pod.subscribe(c, resumed, { since });
      await eventually(() => expect(resumed.messages.map((m) => [m.offset, m.epoch])).toEqual([[1, after.epoch]]));
      // Told once: in its outcome, or by a loss before the new epoch's first message.
      expect(resumed.events).toEqual(resumed.outcome!.recovered === false ? ['subscribed', 'm1'] : ['subscribed', 'lost', 'm1']);
      await eventually(() => expect(live.events).toEqual(['subscribed', 'lost', 'm1']));
    });

    it('resumes a position at offset 0 with recovered:true in a later epoch whose history starts at 1', async () => {
      const c = channel();
      const [old] = await pod.positions([c]);
      // The metadata expired (or was lost) before anything was published; then a new epoch began.
      await harness.dropChannel(c);
      await pod.publish({ channel: c, data: 'a' });
      const { epoch } = await pod.publish({ channel: c, data: 'b' });
      expect(epoch).not.toBe(old.epoch);
      const since = { offset: 0, epoch: old.epoch };
      const history = await pod.history(c, since);
      expect(history.recovered).toBe(true);
      expect(history.messages.map((m) => m.offset)).toEqual([1, 2]);
      const sub = new RecordingListener();
      await pod.subscribe(c, sub, { since });
      expect(sub.outcome).toMatchObject({ recovered: true, offset: 2, epoch });
      expect(sub.events).toEqual(['subscribed', 'm1', 'm2']);
      // Nothing published in the new epoch yet: nothing missed either.
      const d = channel();
      const [dOld] = await pod.positions([d]);
      await harness.dropChannel(d);
      const fresh = await pod.history(d, { offset: 0, epoch: dOld.epoch });
      expect(fresh).toMatchObject({ recovered: true, messages: [] });
      expect(fresh.position.epoch).not.toBe(dOld.epoch);
      // A position past 0 in the old epoch did miss something.
      expect((await pod.history(c, { offset: 1, epoch: old.epoch })).recovered).toBe(false);
    });

    it("says recovered:false to a position at offset 0 when the new epoch's history no longer starts at 1", async () => {
      const small = await factory({ ...RETENTION, historySize: 3 });
      try {
        const engine = await small.createEngine();
        const c = channel();
        const [old] = await engine.positions([c]);
        await small.dropChannel(c);
        for (let i = 1; i <= 5; i++) await engine.publish({ channel: c, data: i });
        const history = await engine.history(c, { offset: 0, epoch: old.epoch });
        expect(history.recovered).toBe(false);
        expect(history.messages.map((m) => m.offset)).toEqual([3, 4, 5]);
      } finally {
        await small.close();
      }
    });

    it('does not tell a live subscriber still at offset 0 of the old epoch about a loss when the new epoch starts at 1', async () => {
      const c = channel();
      const live = new RecordingListener();
      await pod.subscribe(c, live);
      expect(live.outcome!.offset).toBe(0);
      await harness.dropChannel(c);
      await pod.publish({ channel: c, data: 'new' });
      await eventually(() => expect(live.events).toEqual(['subscribed', 'm1']));
      expect(live.messages[0].epoch).not.toBe(live.outcome!.epoch);
    });

    it('rejects a read with create:false of an untouched channel with ChannelNotFoundError and creates nothing', async () => {
      const engine = await harness.createEngine();
      const c = channel();
      const listener = new RecordingListener();
      const reads: Array<() => Promise<unknown>> = [
        () => engine.positions([c], { create: false }),
        () => engine.history(c, undefined, { create: false }),
        () => engine.history(c, { offset: 0, epoch: 'gone' }, { create: false }),
        () => engine.subscribe(c, listener, { create: false }),
        () => engine.subscribe(c, listener, { create: false, since: { offset: 0, epoch: 'gone' } }),
      ];
      for (const read of reads) {
        const err = await read().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ChannelNotFoundError);
        expect((err as ChannelNotFoundError).channel).toBe(c);
      }
      expect(listener.outcome).toBeUndefined();
      expect(engine.heldChannels()).toBe(0);
      expect(harness.busSubscriptions(engine)).toBe(0);
      // Nothing was created: the first read allowed to create does it.
      const [position] = await engine.positions([c]);
      expect(position).toMatchObject({ offset: 0, created: true });
      // Once the channel exists, create:false reads it like any read.
      expect(await engine.positions([c], { create: false })).toEqual([{ offset: 0, epoch: position.epoch }]);
      expect(await engine.history(c, undefined, { create: false })).toEqual({
        position: { offset: 0, epoch: position.epoch },
        messages: [],
        recovered: true,
      });
      const sub = new RecordingListener();
      await engine.subscribe(c, sub, { create: false });
      expect(sub.outcome).toEqual({ channel: c, offset: 0, epoch: position.epoch });
      // One untouched channel fails a read of several, and none of them is created.
      const [d, e] = [channel(), channel()];
      const err = await engine.positions([c, d, e], { create: false }).catch((x: unknown) => x);
      expect(err).toBeInstanceOf(ChannelNotFoundError);
      expect((err as ChannelNotFoundError).channel).toBe(d);
      expect((await engine.positions([d, e])).map((p) => p.created)).toEqual([true, true]);
      await engine.close();
    });

    it('reports created:true only to the read that created the channel', async () => {
      const other = await harness.createEngine();
      const [p, h, s, r] = [channel(), channel(), channel(), channel()];
      expect((await pod.positions([p]))[0].created).toBe(true);
      expect((await pod.positions([p]))[0]).not.toHaveProperty('created');
      expect((await other.positions([p]))[0]).not.toHaveProperty('created');
      expect((await pod.history(h)).created).toBe(true);
      expect(await pod.history(h)).not.toHaveProperty('created');
      expect((await pod.history(channel(), { offset: 0, epoch: 'x' })).created).toBe(true);
      const first = new RecordingListener();
      await pod.subscribe(s, first);
      expect(first.outcome).toMatchObject({ offset: 0, created: true });
      const second = new RecordingListener();
      await pod.subscribe(s, second);
      expect(second.outcome).not.toHaveProperty('created');
      const elsewhere = new RecordingListener();
      await other.subscribe(s, elsewhere);
      expect(elsewhere.outcome).not.toHaveProperty('created');
      const resumed = new RecordingListener();
      await other.subscribe(r, resumed, { since: { offset: 0, epoch: 'x' } });
      expect(resumed.outcome).toMatchObject({ offset: 0, recovered: true, created: true });
      // A published channel was created by its publish, not by a later read.
      const published = channel();
      await pod.publish({ channel: published, data: 1 });
      expect((await pod.positions([published]))[0]).not.toHaveProperty('created');
      await other.close();
    });

    it('keeps a channel that was only read no longer than the history TTL, a published one for the metadata TTL', async () => {
      const shortLived = await factory({ ...RETENTION, historyTtlSeconds: 1 });
      try {
        const engine = await shortLived.createEngine();
        const [readOnly, published] = [channel(), channel()];
        const [read] = await engine.positions([readOnly]);
        await engine.history(readOnly);
        const { epoch } = await engine.publish({ channel: published, data: 1 });
        // Let the history TTL pass with no read (a read would extend it).
        await new Promise((resolve) => setTimeout(resolve, 1600));
        await expect(engine.positions([readOnly], { create: false })).rejects.toBeInstanceOf(ChannelNotFoundError);
        expect(await engine.positions([published], { create: false })).toEqual([{ offset: 1, epoch }]);
        // A later read starts a new epoch, in which a position at offset 0 of the old one still recovers.
        const [again] = await engine.positions([readOnly]);
        expect(again).toMatchObject({ offset: 0, created: true });
        expect(again.epoch).not.toBe(read.epoch);
        expect((await engine.history(readOnly, { offset: 0, epoch: read.epoch })).recovered).toBe(true);
      } finally {
        await shortLived.close();
      }
    });

    it('fills a hole left by a publisher that died between the store and the fan-out', async () => {
      const c = channel();
      const sub = new RecordingListener();
      await pod.subscribe(c, sub);
      await pod.publish({ channel: c, data: 1 });
      await harness.storeOnly(pod, c, 2);
      await harness.storeOnly(pod, c, 3);
      await pod.publish({ channel: c, data: 4 });
      await eventually(() => expect(sub.offsets).toEqual([1, 2, 3, 4]));
      expect(sub.messages.map((m) => m.message.data)).toEqual([1, 2, 3, 4]);
      expect(sub.lost).toBe(0);
    });

    it('finds a hole on a quiet channel where no later message reveals it', async () => {
      const engine = await harness.createEngine({ syncIntervalMs: 100 });
      const c = channel();
      const sub = new RecordingListener();
      await engine.subscribe(c, sub);
      await engine.publish({ channel: c, data: 1 });
      await harness.storeOnly(engine, c, 2);
      await eventually(() => expect(sub.offsets).toEqual([1, 2]), 5000);
      await engine.close();
    });

    it('declares a hole lost when its messages already left history', async () => {
      const small = await factory({ ...RETENTION, historySize: 3 });
      try {
        const engine = await small.createEngine({ gapWaitMs: 200, gapImmediateCount: 1000 });
        const c = channel();
        const sub = new RecordingListener();
        await engine.subscribe(c, sub);
        await engine.publish({ channel: c, data: 1 });
        for (let i = 0; i < 5; i++) await small.storeOnly(engine, c, 'hidden');
        await engine.publish({ channel: c, data: 7 });
        await eventually(() => expect(sub.events).toEqual(['subscribed', 'm1', 'lost', 'm5', 'm6', 'm7']));
      } finally {
        await small.close();
      }
    });

    it('delivers across pods and sends no traffic to a pod without subscribers', async () => {
      const a = await harness.createEngine();
      const b = await harness.createEngine();
      const idle = await harness.createEngine();
      const c = channel();
      const sub = new RecordingListener();
      const handle = await b.subscribe(c, sub);
      expect(harness.busSubscriptions(b)).toBe(1);
      expect(harness.busSubscriptions(a)).toBe(0);
      await a.publish({ channel: c, data: 'x' });
      await idle.publish({ channel: c, data: 'y' });
      await eventually(() => expect(sub.offsets).toEqual([1, 2]));
      expect(harness.busSubscriptions(idle)).toBe(0);
      expect(idle.heldChannels()).toBe(0);
      // Interest ends with the last local subscriber.
      const second = new RecordingListener();
      const handle2 = await b.subscribe(c, second);
      expect(harness.busSubscriptions(b)).toBe(1);
      handle.unsubscribe();
      expect(harness.busSubscriptions(b)).toBe(1);
      handle2.unsubscribe();
      expect(harness.busSubscriptions(b)).toBe(0);
      expect(b.heldChannels()).toBe(0);
      await Promise.all([a.close(), b.close(), idle.close()]);
    });

    it('holds a channel lingerMs after its last subscriber leaves, and a join meanwhile misses nothing', async () => {
      const holder = await harness.createEngine();
      const other = await harness.createEngine();
      const c = channel();
      const first = new RecordingListener();
      const handle = await holder.subscribe(c, first, { lingerMs: 400 });
      await other.publish({ channel: c, data: 1 });
      await eventually(() => expect(first.offsets).toEqual([1]));
      handle.unsubscribe();
      expect(harness.busSubscriptions(holder)).toBe(1);
      expect(holder.heldChannels()).toBe(1);
      // Published while no local subscriber holds it: the next join from where the first left gets it.
      await other.publish({ channel: c, data: 2 });
      const second = new RecordingListener();
      const handle2 =
        holder.joinAtLocalHead(c, second, first.last, 400) ?? (await holder.subscribe(c, second, { since: first.last, lingerMs: 400 }));
      await eventually(() => expect(second.offsets).toEqual([2]));
      expect(second.outcome!.recovered).toBe(true);
      handle2.unsubscribe();
      await eventually(() => expect(harness.busSubscriptions(holder)).toBe(0), 5000);
      expect(holder.heldChannels()).toBe(0);
      await Promise.all([holder.close(), other.close()]);
    });

    it('gives a poll a few messages behind what the feed delivered, only when it holds all of it', async () => {
      const engine = await harness.createEngine({ recentMessages: 3 });
      const other = await harness.createEngine();
      const c = channel();
      const plain = new RecordingListener();
      const plainHandle = await engine.subscribe(c, plain);
      await other.publish({ channel: c, data: 1 });
      await eventually(() => expect(plain.offsets).toEqual([1]));
      const epoch = plain.messages[0].epoch;
      const after = (offset: number, e = epoch) => engine.recentAfter(c, { offset, epoch: e })?.map((m) => m.offset);
      // Until a long-poll subscribes (lingerMs), the feed keeps nothing.
      expect(after(0)).toBeUndefined();
      const poll = new RecordingListener();
      const pollHandle = await engine.subscribe(c, poll, { since: { offset: 1, epoch }, lingerMs: 5000 });
      for (let i = 2; i <= 6; i++) await other.publish({ channel: c, data: i });
      await eventually(() => expect(poll.offsets).toEqual([2, 3, 4, 5, 6]));
      expect(after(3)).toEqual([4, 5, 6]);
      expect(after(5)).toEqual([6]);
      // At the head it is joinAtLocalHead's; further back than it holds, or in another epoch, the store's.
      expect(after(6)).toBeUndefined();
      expect(after(2)).toBeUndefined();
      expect(after(4, 'another')).toBeUndefined();
      // Lingering with nobody subscribed, the feed keeps up.
      plainHandle.unsubscribe();
      pollHandle.unsubscribe();
      await other.publish({ channel: c, data: 7 });
      await eventually(() => expect(after(5)).toEqual([6, 7]));
      // The channel's state lost: nothing of the old epoch is given, the new one's is.
      const holder = await engine.subscribe(c, new RecordingListener(), { lingerMs: 5000 });
      await harness.dropChannel(c);
      const fresh = await other.publish({ channel: c, data: 'new' });
      await eventually(() => expect(after(0, fresh.epoch)).toEqual([1]), 5000);
      expect(after(5)).toBeUndefined();
      holder.unsubscribe();
      await Promise.all([engine.close(), other.close()]);
    });

    it('gives nothing across a hole declared lost from what the feed delivered', async () => {
      const small = await factory({ ...RETENTION, historySize: 3 });
      try {
        const engine = await small.createEngine({ gapWaitMs: 200, gapImmediateCount: 1000, recentMessages: 8 });
        const c = channel();
        const sub = new RecordingListener();
        await engine.subscribe(c, sub, { lingerMs: 400 });
        await engine.publish({ channel: c, data: 1 });
        await eventually(() => expect(sub.offsets).toEqual([1]));
        const epoch = sub.messages[0].epoch;
        for (let i = 0; i < 5; i++) await small.storeOnly(engine, c, 'hidden');
        await engine.publish({ channel: c, data: 7 });
        await eventually(() => expect(sub.events).toEqual(['subscribed', 'm1', 'lost', 'm5', 'm6', 'm7']));
        // Offsets 2–4 are gone: a poll at 1 reads the store (which says so); one at 4 gets 5–7.
        expect(engine.recentAfter(c, { offset: 1, epoch })).toBeUndefined();
        expect(engine.recentAfter(c, { offset: 4, epoch })?.map((m) => m.offset)).toEqual([5, 6, 7]);
      } finally {
        await small.close();
      }
    });

    it('rejects invalid channels and oversized messages with clear errors', async () => {
      for (const bad of ['', 'a..b', '.a', 'a.', 'has space', 'a*', 'x'.repeat(129), 'ünicode']) {
        await expect(pod.publish({ channel: bad, data: 1 })).rejects.toMatchObject({ code: 'bad_request' });
        await expect(pod.subscribe(bad, new RecordingListener())).rejects.toMatchObject({ code: 'bad_request' });
      }
      const engine = await harness.createEngine({ maxMessageBytes: 1024 });
      const err = await engine.publish({ channel: channel(), data: 'x'.repeat(2000) }).catch((e: unknown) => e);
      expect(isSwitchboardError(err, 'too_large')).toBe(true);
      await expect(engine.publish({ channel: channel(), data: 1, idempotencyKey: '' })).rejects.toMatchObject({ code: 'bad_request' });
      await engine.close();
    });
  });
}
