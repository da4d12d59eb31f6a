import type { JoinNotice, LeaveNotice } from '@switchboard/protocol';
import { BackoffOptions, backoffDelay } from './backoff';
import { PositionStore } from './position-store';
import { Subscription } from './subscription';
import { ChannelHandlers } from './transports/transport';
import { ClientErrorCode, Message, Position, SwitchboardClientError } from './types';

/** Where the book sends (re)subscriptions: the current connection, whichever transport it uses. */
export interface ChannelLink {
  subscribe(channel: string, since?: Position): void;
  unsubscribe(channel: string): void;
}

/** Per-channel bookkeeping: the subscription and the dedupe floor of the current epoch. */
interface ChannelState {
  subscription: Subscription;
  /** Epoch of the messages received; offsets at or below `floor` in it are duplicates. */
  epoch?: string;
  floor: number;
  /** Set once the channel had a message or a start position (gap detection needs a base). */
  live: boolean;
}

/**
 * The channels the app holds and where each one is: what every transport resumes from.
 * It turns what transports report into each subscription's ordered, gap-free, duplicate-free
 * stream: drops offsets already delivered, resubscribes over a hole, reports losses once.
 */
export class ChannelBook implements Omit<ChannelHandlers, 'channelError'> {
  readonly #channels = new Map<string, ChannelState>();

  readonly #store: PositionStore;
  readonly #link: ChannelLink;
  readonly #backoff: BackoffOptions;
  constructor(store: PositionStore, link: ChannelLink, backoff: BackoffOptions) {
    this.#store = store;
    this.#link = link;
    this.#backoff = backoff;
  }

  has(channel: string): boolean {
    return this.#channels.has(channel);
  }

  /** The resume point of a channel. */
  resumePoint(channel: string): Position | undefined {
    return this.#store.get(channel);
  }

  /** The channels held and their resume points (undefined: from the current position). */
  held(): Map<string, Position | undefined> {
    const held = new Map<string, Position | undefined>();
    for (const channel of this.#channels.keys()) held.set(channel, this.#store.get(channel));
    return held;
  }

  /** Takes a new subscription, resuming after `since` (else the stored position); subscribes it. */
  add(subscription: Subscription, since?: Position): void {
    const channel = subscription.channel;
    if (since !== undefined) this.#store.set(channel, since);
    const from = this.#store.get(channel);
    this.#channels.set(channel, { subscription, epoch: from?.epoch, floor: from?.offset ?? 0, live: from !== undefined });
    this.#link.subscribe(channel, from);
  }

  /** Lets go of an ended subscription (its position stays in the store). */
  remove(subscription: Subscription): void {
    const c = this.#channels.get(subscription.channel);
    if (c?.subscription !== subscription) return;
    this.#channels.delete(subscription.channel);
    this.#link.unsubscribe(subscription.channel);
  }

  /** Ends every subscription: with `error` when the client failed, else quietly. */
  endAll(error?: SwitchboardClientError): void {
    for (const c of [...this.#channels.values()]) {
      if (error !== undefined) c.subscription.fail(new SwitchboardClientError(error.code, error.message, c.subscription.channel));
      else c.subscription.unsubscribe();
    }
  }

  subscribed(channel: string, position: Position, recovered?: boolean): void {
    const c = this.#channels.get(channel);
    if (c === undefined) return;
    const stored = this.#store.get(channel);
    if (stored === undefined) {
      // A fresh start: the stream begins after this position.
      c.epoch = position.epoch;
      c.floor = position.offset;
      this.#store.set(channel, position);
    } else if (stored.epoch !== position.epoch) {
      // Offsets restarted in a new epoch: take its messages from the first one the server
      // still has. The resume point moves only as they arrive, so a cut meanwhile loses none.
      c.epoch = position.epoch;
      c.floor = 0;
      this.#store.set(channel, { offset: 0, epoch: position.epoch });
      if (recovered !== false) this.#lost(c);
    }
    // Resuming in the same epoch: the position stays until the missed messages arrive
    // (a WS reply carries the channel's current offset, not the resume point).
    c.live = true;
    if (recovered === false) {
      // The missed messages are gone: go on from where the server resumes.
      this.#store.set(channel, position);
      this.#lost(c);
    }
    c.subscription.notify('subscribed', { channel, position, recovered });
  }

  position(channel: string, position: Position): void {
    // Only a loss moves the resume point without messages; otherwise messages move it
    // (so a pending gap repair is not skipped).
    const c = this.#channels.get(channel);
    if (c !== undefined && !c.live) this.#store.set(channel, position);
  }

  message(m: Message): void {
    const c = this.#channels.get(m.channel);
    if (c === undefined) return;
    if (c.epoch !== m.epoch) {
      // A new epoch the server did not announce to us: a loss we report, then follow.
      if (c.epoch !== undefined) this.#lost(c);
      c.epoch = m.epoch;
      c.floor = 0;
    }
    if (m.offset <= c.floor) return;
    if (c.live && m.offset > c.floor + 1 && c.floor > 0) {
      // A hole in live delivery: fetch it by resubscribing from the last position.
      const from = { offset: c.floor, epoch: m.epoch };
      this.#store.set(m.channel, from);
      this.#link.unsubscribe(m.channel);
      this.#link.subscribe(m.channel, from);
      return;
    }
    c.floor = m.offset;
    c.live = true;
    const stored = this.#store.get(m.channel);
    if (stored === undefined || stored.epoch !== m.epoch || m.offset > stored.offset)
      this.#store.set(m.channel, { offset: m.offset, epoch: m.epoch });
    c.subscription.deliver(m);
  }

  presence(notice: JoinNotice | LeaveNotice): void {
    this.#channels.get(notice.channel)?.subscription.presenceNotice(notice);
  }

  recovery(channel: string): void {
    const c = this.#channels.get(channel);
    if (c !== undefined) this.#lost(c);
  }

  /**
   * A request for `channel` was refused. `retry` subscribes again on the same connection:
   * used when the refusal is for now only (engine unavailable, no reply), or the
   * subscription would stay silent until the next reconnect.
   */
  channelError(channel: string, code: ClientErrorCode, message: string, retry: () => void): void {
    const c = this.#channels.get(channel);
    if (c === undefined || code === 'already_subscribed') return;
    if (code === 'unavailable' || code === 'timeout') {
      setTimeout(
        () => {
          if (this.#channels.get(channel) === c) retry();
        },
        backoffDelay(1, this.#backoff) + 100,
      );
      return;
    }
    c.subscription.fail(new SwitchboardClientError(code, message, channel));
  }

  /** Messages were lost for good: the next one is taken as the new start, not as a gap. */
  #lost(c: ChannelState): void {
    c.live = false;
    c.subscription.notify('recovery', { channel: c.subscription.channel, recovered: false });
  }
}
