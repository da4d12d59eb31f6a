import { StreamPosition } from '@switchboard/protocol';
import { ChannelListener, HistoryResult } from './channel-engine';
import { ChannelStore } from './channel-store';
import { EngineOptions } from './engine-options';
import { BusListener, FanoutBus } from './fanout-bus';
import { StoredMessage } from './stored-message';

/** Marks, in a joining subscriber's buffer, the point where live delivery lost messages. */
const LOST = Symbol('lost');

/** Marks, in a joining subscriber's buffer, that the channel's offsets restarted in `epoch` after `to`. */
class Rewind {
  constructor(
    readonly to: number,
    readonly epoch: string,
  ) {}
}

type Buffered = StoredMessage | typeof LOST | Rewind;

/** One local subscriber of a feed. */
export interface FeedSubscriber {
  readonly listener: ChannelListener;
  /** Epoch of the offsets this subscriber has. */
  epoch: string;
  /** Last offset this subscriber got; live messages at or below it are dropped (the recovery seam). */
  last: number;
  /** While joining: live messages and loss marks, held until its recovered batch is out. */
  buffer: Buffered[] | null;
  /** Buffer entries before this index happened before the subscriber's own history read. */
  readFrom: number;
}

/**
 * This process's ordered view of one channel: it listens on the fan-out bus while at
 * least one local subscriber holds the channel, restores offset order, fills holes from
 * the store, and hands each message to every local subscriber once.
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
  private closed = false;
  /** When the feed last delivered a message (or started): the quiet-channel check's clock. */
  lastAdvanceAt = Date.now();
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

  get isRepairing(): boolean {
    return this.repairing !== null;
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
    const early = this.startBuffer ?? [];
    this.startBuffer = null;
    for (const m of early) this.onBusMessage(m);
  }

  /** Marks the start of a joining subscriber's history read: earlier loss marks are already reflected in it. */
  markRead(sub: FeedSubscriber): void {
    sub.readFrom = sub.buffer?.length ?? 0;
  }

  addJoining(listener: ChannelListener): FeedSubscriber {
    const sub: FeedSubscriber = { listener, epoch: '', last: 0, buffer: [], readFrom: 0 };
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
      if (item === LOST) {
        if (i >= sub.readFrom) sub.listener.onLost(this.channel);
      } else if (item instanceof Rewind) {
        if (item.epoch !== sub.epoch) {
          sub.listener.onLost(this.channel);
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

  remove(sub: FeedSubscriber): void {
    this.joining.delete(sub);
    this.live.delete(sub);
    if (this.subscriberCount === 0) this.onEmpty(this);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.repairTimer);
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
      this.requestRepair(true);
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
    if (this.closed) return;
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
    try {
      history = await this.store.history(this.channel, { offset: this.last, epoch: this.epoch });
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
    this.apply(history);
  }

  private apply(history: HistoryResult): void {
    const { position, messages } = history;
    if (position.epoch !== this.epoch || position.offset < this.last) {
      // The store lost this channel (new epoch) or went back (restored snapshot): offsets
      // restart below what subscribers have. They are told, and accept them again.
      this.options.logger.warn(
        { channel: this.channel, from: { epoch: this.epoch, offset: this.last }, to: position },
        'channel state was lost in the store: offsets restart',
      );
      this.last = position.epoch === this.epoch ? position.offset : 0;
      this.epoch = position.epoch;
      this.pending.clear();
      this.rewind(this.last, this.epoch);
    } else if (position.offset > this.last && !history.recovered) {
      this.notifyLost();
    }
    let filled = false;
    for (const m of messages) {
      if (m.offset > this.last) {
        this.deliver(m);
        filled = true;
      }
    }
    if (filled) this.options.metrics.gapRepaired('filled');
    for (const offset of this.pending.keys()) if (offset <= this.last) this.pending.delete(offset);
    this.drainPending();
  }

  /** Too much waits behind a hole that the store cannot fill in time: declare it lost, go on. */
  private skipHole(): void {
    this.notifyLost();
    const next = Math.min(...this.pending.keys());
    this.last = next - 1;
    this.drainPending();
  }

  private notifyLost(): void {
    this.options.metrics.gapRepaired('lost');
    for (const sub of this.live) sub.listener.onLost(this.channel);
    for (const sub of this.joining) sub.buffer?.push(LOST);
  }

  /** Offsets restarted below what subscribers have: they are told, and accept them again. */
  private rewind(to: number, epoch: string): void {
    this.options.metrics.gapRepaired('lost');
    for (const sub of this.live) {
      sub.listener.onLost(this.channel);
      sub.epoch = epoch;
      if (sub.last > to) sub.last = to;
    }
    const mark = new Rewind(to, epoch);
    for (const sub of this.joining) sub.buffer?.push(mark);
  }

  private drainPending(): void {
    if (this.pending.size === 0) return;
    let next = this.pending.get(this.last + 1);
    while (next !== undefined) {
      this.pending.delete(next.offset);
      this.deliver(next);
      next = this.pending.get(this.last + 1);
    }
  }

  /** The fan-out loop: one integer compare per recipient, nothing allocated. */
  private deliver(m: StoredMessage): void {
    this.last = m.offset;
    this.lastAdvanceAt = Date.now();
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
