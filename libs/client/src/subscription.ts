import { Emitter } from './emitter';
import { JoinNotice, LeaveNotice, Message, Position, PresenceMember, PresenceResult, SwitchboardClientError } from './types';

export interface SubscriptionEvents<T = unknown> {
  message: Message<T>;
  /** Messages were lost for good (they left history, or the channel's state was reset): resync. */
  recovery: { channel: string; recovered: false };
  /** The channel is subscribed (again); `recovered` when resuming from a position. */
  subscribed: { channel: string; position: Position; recovered?: boolean };
  error: SwitchboardClientError;
  /** The async iterator's buffer overflowed and dropped its oldest message. */
  overflow: { channel: string; dropped: number };
  closed: { channel: string };
  /** A user's first connection joined the channel (channels with join/leave). */
  join: JoinNotice;
  /** A user's last connection left it. */
  leave: LeaveNotice;
  /** `members` changed (with `presence: true`). */
  members: ReadonlyMap<string, PresenceMember>;
}

export interface SubscriptionOptions {
  /** Resume after this position (default: the position store's, else from now). */
  since?: Position;
  /** Ends the subscription when aborted. */
  signal?: AbortSignal;
  /** Messages buffered for the async iterator (default 1000). */
  bufferSize?: number;
  /**
   * When the iterator's consumer falls `bufferSize` behind: `drop-oldest` (default) keeps
   * the newest messages and emits `overflow`; `error` ends the iterator with an error.
   */
  overflow?: 'drop-oldest' | 'error';
  /**
   * Keep `members`, the channel's live member set: queried after every (re)subscribe (so
   * after every reconnect) and kept from join/leave in between. The channel needs presence
   * and join/leave on the gateway (CHANNEL_CONFIG).
   */
  presence?: boolean;
}

/**
 * One channel: an event emitter (`on('message')`) and an async iterator of messages
 * (`for await (const m of sub)`), ended by `unsubscribe()`, an AbortSignal, or
 * `await using`.
 */
export class Subscription<T = unknown> extends Emitter<SubscriptionEvents<T>> implements AsyncIterable<Message<T>> {
  readonly #buffer: Message<T>[] = [];
  #waiting?: { resolve: (value: IteratorResult<Message<T>>) => void; reject: (err: Error) => void };
  #failure?: Error;
  #iterating = false;
  #ended = false;
  #dropped = 0;

  readonly #members = new Map<string, PresenceMember>();
  /** Join/leave that arrived while a query was out: applied on top of its answer. */
  #held?: Array<JoinNotice | LeaveNotice>;

  readonly #options: SubscriptionOptions;
  readonly #onEnd: (sub: Subscription<T>) => void;
  readonly #query: (channel: string) => Promise<PresenceResult>;
  constructor(
    readonly channel: string,
    options: SubscriptionOptions,
    onEnd: (sub: Subscription<T>) => void,
    query: (channel: string) => Promise<PresenceResult>,
  ) {
    super();
    this.#options = options;
    this.#onEnd = onEnd;
    this.#query = query;
    options.signal?.addEventListener('abort', () => this.unsubscribe(), { once: true });
  }

  get active(): boolean {
    return !this.#ended;
  }

  /** Who is in the channel now (`GET /v1/presence`, whatever the transport). */
  presence(): Promise<PresenceResult> {
    return this.#query(this.channel);
  }

  /** The live member set (with `presence: true`), by user. */
  get members(): ReadonlyMap<string, PresenceMember> {
    return this.#members;
  }

  unsubscribe(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#onEnd(this);
    this.#finishIterator();
    this.emit('closed', { channel: this.channel });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.unsubscribe();
  }

  [Symbol.asyncIterator](): AsyncIterator<Message<T>> {
    this.#iterating = true;
    return {
      next: () => {
        const m = this.#buffer.shift();
        if (m !== undefined) return Promise.resolve({ value: m, done: false });
        if (this.#failure !== undefined) return Promise.reject(this.#failure);
        if (this.#ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => (this.#waiting = { resolve, reject }));
      },
      return: () => {
        this.unsubscribe();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  /** @internal Called by the client for each message, in order. */
  deliver(message: Message<T>): void {
    if (this.#ended) return;
    this.emit('message', message);
    if (!this.#iterating) return;
    if (this.#waiting !== undefined) {
      const { resolve } = this.#waiting;
      this.#waiting = undefined;
      resolve({ value: message, done: false });
      return;
    }
    const size = this.#options.bufferSize ?? 1000;
    if (this.#buffer.length >= size) {
      if ((this.#options.overflow ?? 'drop-oldest') === 'error') {
        this.#failure = new SwitchboardClientError('overflow', `consumer fell ${size} messages behind`, this.channel);
        this.#buffer.length = 0;
        this.unsubscribe();
        return;
      }
      this.#buffer.shift();
      this.#dropped++;
      this.emit('overflow', { channel: this.channel, dropped: this.#dropped });
    }
    this.#buffer.push(message);
  }

  /** @internal */
  notify<K extends keyof SubscriptionEvents<T>>(event: K, value: SubscriptionEvents<T>[K]): void {
    if (this.#ended) return;
    this.emit(event, value);
    // Join/leave are not replayed: after every (re)subscribe the member set is read again.
    if (event === 'subscribed' && this.#options.presence === true) void this.#resync();
  }

  /** @internal A join/leave of this channel. */
  presenceNotice(n: JoinNotice | LeaveNotice): void {
    if (this.#ended) return;
    this.emit(n.op, n);
    if (this.#options.presence !== true) return;
    if (this.#held !== undefined) this.#held.push(n);
    else this.#apply([n]);
  }

  async #resync(): Promise<void> {
    const held: Array<JoinNotice | LeaveNotice> = (this.#held = []);
    try {
      const r = await this.presence();
      if (this.#held !== held) return;
      this.#members.clear();
      for (const m of r.members) this.#members.set(m.user, m);
      this.#apply(held);
    } catch {
      // No presence there (not_found, forbidden) or no answer: the set stays as it was
      // (`presence()` tells why); the next subscribe reads it again.
    }
    if (this.#held === held) this.#held = undefined;
  }

  /** Applies join/leave to the member set and tells the app. */
  #apply(notices: Array<JoinNotice | LeaveNotice>): void {
    for (const n of notices) {
      if (n.op === 'leave') this.#members.delete(n.user);
      else this.#members.set(n.user, { user: n.user, info: n.info, connections: 1 });
    }
    this.emit('members', this.#members);
  }

  /** @internal The channel was refused (forbidden, …): the subscription ends with the error. */
  fail(error: SwitchboardClientError): void {
    this.emit('error', error);
    if (this.#iterating) this.#failure = error;
    this.unsubscribe();
  }

  #finishIterator(): void {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    if (waiting === undefined) return;
    if (this.#failure !== undefined) waiting.reject(this.#failure);
    else waiting.resolve({ value: undefined, done: true });
  }
}
