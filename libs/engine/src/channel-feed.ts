import { StreamPosition } from '@switchboard/protocol';
import { ChannelListener, ChannelSubscription, HistoryResult } from './channel-engine';
import { ChannelStore } from './channel-store';
import { EngineOptions } from './engine-options';
import { BusListener, FanoutBus } from './fanout-bus';
import { StoredMessage } from './stored-message';

/** Marks, in a joining subscriber's buffer, the point where live delivery lost the offsets up to `upTo`. */
class Loss {
  constructor(readonly upTo: number) {}
}

/**
 * Marks, in a joining subscriber's buffer, that the channel's offsets restarted in `epoch`
 * after `to`; `complete` when that epoch's history starts at offset 1 (or it has no message).
 */
class Rewind {
  constructor(
    readonly to: number,
    readonly epoch: string,
    readonly complete: boolean,
  ) {}
}

type Buffered = StoredMessage | Loss | Rewind;

/**
 * One local subscriber of a feed, and the handle its subscriber holds (one object per
 * subscription: no closure).
 */
export class FeedSubscriber implements ChannelSubscription {
  /** Epoch of the offsets this subscriber has. */
  epoch = '';
  /** Last offset this subscriber got; live messages at or below it are dropped (the recovery seam). */
  last = 0;
  /** While joining: live messages and loss marks, held until its recovered batch is out. */
  buffer: Buffered[] | null = [];
  /** Buffer entries before this index happened before the subscriber's own history read. */
  readFrom = 0;
  private active = true;

  constructor(
    readonly listener: ChannelListener,
    private readonly feed: ChannelFeed,
    /** How long the feed outlives this subscriber when it is the last to leave (the engine's `lingerMs`). */
    readonly lingerMs = 0,
  ) {}

  get channel(): string {
    return this.feed.channel;
  }

  /** Ends the subscription (idempotent). */
  unsubscribe(): void {
    if (!this.active) return;
    this.active = false;
    this.feed.remove(this);
  }
}

/**
 * This process's ordered view of one channel: it listens on the fan-out bus while at
 * least one local subscriber holds the channel, restores offset order, fills holes from
 * the store, and hands each message to every local subscriber once.
 *
 * A loss is declared only when it is real. A history read answers for the moment the
 * store ran it, while the bus keeps delivering until its reply is handled, so the reply
 * is judged against what the feed has by then (`apply`). And a hole that history no
 * longer holds may still be in flight on the bus (under load the bus can lag the store by
 * more than a whole history): it is waited for `lossWaitMs` before it is declared lost.
 */
export class ChannelFeed {
  /** Subscribers receiving live messages. */
  private readonly live = new Set<FeedSubscriber>();
  /** Subscribers whose recovery is in progress. */
  private readonly joining = new Set<FeedSubscriber>();
  private epoch = '';
  private last = 0;
  /** Messages that arrived ahead of a hole, by offset. */
  private readonly pending = new Map<number, StoredMessage>();
  /** Messages that arrived before the start position was known. */
  private startBuffer: StoredMessage[] | null = [];
  private busListener?: BusListener;
  private repairTimer?: NodeJS.Timeout;
  private repairing: Promise<void> | null = null;
  private repairAgain = false;
  private retryDelayMs = 0;
  /** Set while a hole that history no longer holds is given its last chance to arrive on the bus. */
  private lossTimer?: NodeJS.Timeout;
  /** The last offset of that hole: the wait ends when the feed gets past it. */
  private lossUpTo = 0;
  private lossSince = 0;
  private closed = false;
  /** True when the feed's start read created the channel's metadata. */
  created = false;
  /** When the feed last delivered a message (or started): the quiet-channel check's clock. */
  lastAdvanceAt = Date.now();
  /** Set while the feed outlives its last subscriber (see `remove`). */
  private lingerTimer?: NodeJS.Timeout;
  /**
   * The last messages delivered, at most `options.recentMessages`, in order, contiguous and
   * ending at `last`: emptied whenever `last` moves but by a delivery (a loss declared, the
   * channel's state lost). Kept once a long-poll has subscribed (`lingerMs`): its next poll,
   * a message or a few behind, reads them here (`recentAfter`) instead of the store.
   */
  private recent?: StoredMessage[];
  readonly ready: Promise<void>;

  constructor(
    readonly channel: string,
    private readonly store: ChannelStore,
    private readonly bus: FanoutBus,
    private readonly options: EngineOptions,
    private readonly onEmpty: (feed: ChannelFeed) => void,
  ) {
    this.ready = this.start();
  }

  get position(): StreamPosition {
    return { offset: this.last, epoch: this.epoch };
  }

  get subscriberCount(): number {
    return this.live.size + this.joining.size;
  }

  /** True while a history read is under way or a hole waits for its last chance on the bus. */
  get isRepairing(): boolean {
    return this.repairing !== null || this.lossTimer !== undefined;
  }

  private async start(): Promise<void> {
    // Listen first, then read the position: a message published in between is either
    // at or below the position (dropped) or arrives on the bus after it.
    const listener = await this.bus.listen(this.channel, (m) => this.onBusMessage(m));
    if (this.closed) {
      listener.close();
      throw new Error('channel feed closed while starting');
    }
    this.busListener = listener;
    const [position] = await this.store.positions([this.channel]);
    this.epoch = position.epoch;
    this.last = position.offset;
    this.created = position.created === true;
    const early = this.startBuffer ?? [];
    this.startBuffer = null;
    for (const m of early) this.onBusMessage(m);
  }

  /** Marks the start of a joining subscriber's history read: earlier loss marks are already reflected in it. */
  markRead(sub: FeedSubscriber): void {
    sub.readFrom = sub.buffer?.length ?? 0;
  }

  /**
   * Whether the feed is exactly at `since` (started, the same epoch and offset) and not
   * repairing a hole: then nothing after `since` has reached this process yet.
   */
  isAt(since: StreamPosition): boolean {
    return this.startBuffer === null && !this.closed && !this.isRepairing && this.epoch === since.epoch && this.last === since.offset;
  }

  /**
   * Under `isAt`'s conditions but a few messages behind: every message after `since` up to
   * the feed's head, when the feed delivered them all and still holds them (`recent`).
   * Undefined otherwise. What a store read would return, less what has not reached this
   * process yet, as at the head.
   */
  recentAfter(since: StreamPosition): StoredMessage[] | undefined {
    const recent = this.recent;
    if (recent === undefined || recent.length === 0 || this.startBuffer !== null || this.closed || this.isRepairing) return undefined;
    if (this.epoch !== since.epoch || since.offset >= this.last || recent[recent.length - 1].offset !== this.last) return undefined;
    const skip = since.offset + 1 - recent[0].offset;
    return skip < 0 ? undefined : recent.slice(skip);
  }

  /**
   * A subscriber that is live at once, from the feed's position (`isAt` held): what follows
   * reaches it as it reaches every live subscriber, so it needs no history read.
   */
  addLive(listener: ChannelListener, lingerMs?: number): FeedSubscriber {
    this.stopLingering();
    this.keepRecent(lingerMs);
    const sub = new FeedSubscriber(listener, this, lingerMs);
    sub.buffer = null;
    sub.epoch = this.epoch;
    sub.last = this.last;
    this.live.add(sub);
    return sub;
  }

  addJoining(listener: ChannelListener, lingerMs?: number): FeedSubscriber {
    this.stopLingering();
    this.keepRecent(lingerMs);
    const sub = new FeedSubscriber(listener, this, lingerMs);
    this.joining.add(sub);
    return sub;
  }

  /**
   * Completes a join: the subscriber has been told its outcome and has its recovered
   * batch up to `sub.last`; what the feed delivered meanwhile follows, then live delivery.
   */
  activate(sub: FeedSubscriber): void {
    if (!this.joining.delete(sub)) return;
    const buffered = sub.buffer ?? [];
    sub.buffer = null;
    for (let i = 0; i < buffered.length; i++) {
      const item = buffered[i];
      if (item instanceof Loss) {
        // Only if the subscriber lacks some of those offsets (its own read may have had them).
        if (i >= sub.readFrom && item.upTo > sub.last) sub.listener.onLost(this.channel);
      } else if (item instanceof Rewind) {
        if (item.epoch !== sub.epoch) {
          if (!(item.complete && sub.last === 0)) sub.listener.onLost(this.channel);
          sub.epoch = item.epoch;
          sub.last = Math.min(sub.last, item.to);
        }
      } else if (item.epoch === sub.epoch && item.offset > sub.last) {
        sub.last = item.offset;
        sub.listener.onMessage(item);
      }
    }
    this.live.add(sub);
  }

  /**
   * The last subscriber to leave ends the feed, or, if it asked to (`lingerMs`: a long-poll,
   * whose next poll follows its answer), leaves it listening that long first: a subscriber
   * that comes back in time finds it at its position, with nothing to read or resubscribe.
   */
  remove(sub: FeedSubscriber): void {
    this.joining.delete(sub);
    this.live.delete(sub);
    if (this.subscriberCount > 0 || this.closed) return;
    if (sub.lingerMs <= 0) {
      this.onEmpty(this);
      return;
    }
    this.stopLingering();
    this.lingerTimer = setTimeout(() => {
      this.lingerTimer = undefined;
      if (this.subscriberCount === 0) this.onEmpty(this);
    }, sub.lingerMs);
    this.lingerTimer.unref();
  }

  /** A long-poll's subscription (`lingerMs`) makes the feed keep its last messages from now on. */
  private keepRecent(lingerMs: number | undefined): void {
    if (this.recent === undefined && lingerMs !== undefined && lingerMs > 0 && this.options.recentMessages > 0) this.recent = [];
  }

  private stopLingering(): void {
    if (this.lingerTimer === undefined) return;
    clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopLingering();
    clearTimeout(this.repairTimer);
    clearTimeout(this.lossTimer);
    this.busListener?.close();
    this.pending.clear();
  }

  onBusMessage(m: StoredMessage): void {
    if (this.closed) return;
    if (this.startBuffer !== null) {
      this.startBuffer.push(m);
      return;
    }
    if (m.epoch !== this.epoch) {
      // Either the store lost this channel (new epoch) or a straggler from the old one:
      // the store decides.
      void this.resync();
      return;
    }
    if (m.offset <= this.last) return;
    if (m.offset === this.last + 1) {
      this.deliver(m);
      this.drainPending();
      return;
    }
    this.pending.set(m.offset, m);
    if (this.pending.size > this.options.maxPending) {
      this.skipHole();
      return;
    }
    this.requestRepair(this.pending.size >= this.options.gapImmediateCount);
  }

  /** Reads what the feed has not delivered yet from the store. Serialised; resolves when done. */
  resync(): Promise<void> {
    clearTimeout(this.repairTimer);
    this.repairTimer = undefined;
    if (this.repairing) {
      this.repairAgain = true;
      return this.repairing;
    }
    this.repairing = this.repair().finally(() => {
      this.repairing = null;
      if (this.closed) return;
      if (this.repairAgain) {
        this.repairAgain = false;
        void this.resync();
      } else if (this.pending.size > 0) {
        this.requestRepair(false);
      }
    });
    return this.repairing;
  }

  private requestRepair(immediate: boolean): void {
    // While a hole waits for its last chance on the bus, history has nothing more to say about it.
    if (this.closed || this.lossTimer !== undefined) return;
    if (immediate) {
      void this.resync();
    } else if (this.repairTimer === undefined && this.repairing === null) {
      this.repairTimer = setTimeout(() => {
        this.repairTimer = undefined;
        void this.resync();
      }, this.options.gapWaitMs);
    }
  }

  private async repair(): Promise<void> {
    let history: HistoryResult;
    const issued = this.last;
    try {
      history = await this.store.history(this.channel, { offset: issued, epoch: this.epoch });
    } catch (err) {
      // The store is away: keep what waits and try again with backoff; the gap is not
      // given up while the messages may still be in history.
      this.retryDelayMs = Math.min(Math.max(this.retryDelayMs * 2, 100), 5000);
      this.options.logger.warn({ err, channel: this.channel, retryInMs: this.retryDelayMs }, 'gap repair failed');
      if (!this.closed) {
        clearTimeout(this.repairTimer);
        this.repairTimer = setTimeout(() => {
          this.repairTimer = undefined;
          void this.resync();
        }, this.retryDelayMs);
      }
      return;
    }
    this.retryDelayMs = 0;
    if (this.closed) return;
    this.apply(history, issued);
  }

  /**
   * Applies a history read issued when the feed was at `issued`. The bus may have
   * delivered more since the store ran the read, so the reply is judged against the
   * feed's position now: a top below `this.last` but not below `issued` is only an old
   * answer, and offsets the feed got meanwhile are not missing.
   */
  private apply(history: HistoryResult, issued: number): void {
    const { position, messages } = history;
    if (position.epoch !== this.epoch || position.offset < issued) {
      // The store lost this channel (new epoch) or went back below what it had when the
      // read was issued (restored snapshot): offsets restart below what subscribers have.
      this.options.logger.warn(
        { channel: this.channel, from: { epoch: this.epoch, offset: this.last }, to: position },
        'channel state was lost in the store: offsets restart',
      );
      // With another epoch the read returned all its history: complete when it starts at 1.
      const complete = position.offset === 0 || messages[0]?.offset === 1;
      if (this.recent !== undefined) this.recent.length = 0;
      this.last = position.epoch === this.epoch ? position.offset : 0;
      this.epoch = position.epoch;
      this.pending.clear();
      this.endLossWait();
      this.rewind(this.last, this.epoch, complete);
      // Subscribers were told; what the new history lacks is not waited for.
      if (!complete) this.last = messages.length > 0 ? messages[0].offset - 1 : position.offset;
    }
    const before = this.last;
    for (const m of messages) if (m.offset > this.last) this.pending.set(m.offset, m);
    this.drainPending();
    if (this.last > before) this.options.metrics.gapRepaired('filled');
    if (this.last >= position.offset) return;
    // Offsets after `last` are in neither history nor what the bus brought.
    if (messages.length === 0) {
      // History expired: nothing stored up to the top can still be in flight.
      this.declareLost(position.offset);
      this.afterAdvance();
    } else {
      // History starts past the hole: the hole may still be in flight on the bus.
      this.awaitLoss(messages[0].offset - 1);
    }
  }

  /** Gives a hole history no longer holds `lossWaitMs` to arrive on the bus, then declares it lost. */
  private awaitLoss(upTo: number): void {
    if (upTo > this.lossUpTo) this.lossUpTo = upTo;
    // A later read of the same hole keeps the first deadline.
    if (this.lossTimer !== undefined) return;
    this.options.logger.debug({ channel: this.channel, after: this.last, upTo }, 'hole no longer in history: waiting for the bus');
    this.lossSince = Date.now();
    clearTimeout(this.repairTimer);
    this.repairTimer = undefined;
    this.lossTimer = setTimeout(() => {
      // A process that was stalled runs its timers before reading its sockets: let the
      // bus's waiting input be handled first.
      setImmediate(() => {
        if (this.lossTimer === undefined || this.closed) return;
        const upTo = this.lossUpTo;
        this.endLossWait();
        this.declareLost(upTo);
        this.afterAdvance();
      });
    }, this.options.lossWaitMs);
  }

  /** The hole is over: the bus filled it, it was declared lost, or the epoch changed. */
  private endLossWait(): void {
    clearTimeout(this.lossTimer);
    this.lossTimer = undefined;
    this.lossUpTo = 0;
  }

  /** After the feed moved on: a hole behind what still waits is read from history. */
  private afterAdvance(): void {
    if (this.pending.size > 0) this.requestRepair(this.pending.size >= this.options.gapImmediateCount);
  }

  /** Too much waits behind a hole that the store cannot fill in time: declare it lost, go on. */
  private skipHole(): void {
    this.endLossWait();
    this.declareLost(this.firstPending() - 1);
    this.afterAdvance();
  }

  /**
   * Offsets after `last` up to `upTo` that the feed does not hold are gone: subscribers
   * that lack some are told once, and delivery goes on with what is held, then after `upTo`.
   */
  private declareLost(upTo: number): void {
    if (upTo <= this.last) return;
    // What follows is not contiguous with what was delivered.
    if (this.recent !== undefined) this.recent.length = 0;
    this.notifyLost(upTo);
    this.drainPending();
    // Pending offsets are all past `last + 1` here, so each step moves on.
    while (this.last < upTo) {
      this.last = Math.min(upTo, this.firstPending() - 1);
      this.drainPending();
    }
  }

  private firstPending(): number {
    let first = Infinity;
    for (const offset of this.pending.keys()) if (offset < first) first = offset;
    return first;
  }

  private notifyLost(upTo: number): void {
    this.options.metrics.gapRepaired('lost');
    // A subscriber whose own history read went past the hole has those messages already.
    for (const sub of this.live) if (sub.last < upTo) sub.listener.onLost(this.channel);
    if (this.joining.size === 0) return;
    const mark = new Loss(upTo);
    for (const sub of this.joining) sub.buffer?.push(mark);
  }

  /**
   * Offsets restarted below what subscribers have: they are told, and accept them again.
   * A subscriber still at offset 0 missed nothing when the new history is `complete`.
   */
  private rewind(to: number, epoch: string, complete: boolean): void {
    let told = false;
    for (const sub of this.live) {
      if (!(complete && sub.last === 0)) {
        sub.listener.onLost(this.channel);
        told = true;
      }
      sub.epoch = epoch;
      if (sub.last > to) sub.last = to;
    }
    if (told || !complete) this.options.metrics.gapRepaired('lost');
    if (this.joining.size === 0) return;
    const mark = new Rewind(to, epoch, complete);
    for (const sub of this.joining) sub.buffer?.push(mark);
  }

  private drainPending(): void {
    if (this.pending.size > 0) {
      let next = this.pending.get(this.last + 1);
      while (next !== undefined) {
        this.pending.delete(next.offset);
        this.deliver(next);
        next = this.pending.get(this.last + 1);
      }
    }
    if (this.lossTimer !== undefined && this.last >= this.lossUpTo) {
      // The bus brought what history no longer had.
      this.options.logger.debug(
        { channel: this.channel, upTo: this.lossUpTo, afterMs: Date.now() - this.lossSince },
        'the bus filled a hole history no longer had',
      );
      this.endLossWait();
      this.afterAdvance();
    }
  }

  /** The fan-out loop: one integer compare per recipient, nothing allocated. */
  private deliver(m: StoredMessage): void {
    this.last = m.offset;
    this.lastAdvanceAt = Date.now();
    const recent = this.recent;
    if (recent !== undefined) {
      if (recent.length >= this.options.recentMessages) recent.shift();
      recent.push(m);
    }
    if (this.live.size === 0 && this.joining.size === 0) {
      this.options.metrics.discarded();
      return;
    }
    for (const sub of this.live) {
      if (m.offset > sub.last) {
        sub.last = m.offset;
        try {
          sub.listener.onMessage(m);
        } catch (err) {
          this.options.logger.error({ err, channel: this.channel }, 'channel listener threw');
        }
      }
    }
    for (const sub of this.joining) sub.buffer?.push(m);
  }
}
