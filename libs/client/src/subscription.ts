import { Emitter } from './emitter';
import { Message, Position, SwitchboardClientError } from './types';

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

  readonly #options: SubscriptionOptions;
  readonly #onEnd: (sub: Subscription<T>) => void;
  constructor(
    readonly channel: string,
    options: SubscriptionOptions,
    onEnd: (sub: Subscription<T>) => void,
  ) {
    super();
    this.#options = options;
    this.#onEnd = onEnd;
    options.signal?.addEventListener('abort', () => this.unsubscribe(), { once: true });
  }

  get active(): boolean {
    return !this.#ended;
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
    if (!this.#ended) this.emit(event, value);
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
