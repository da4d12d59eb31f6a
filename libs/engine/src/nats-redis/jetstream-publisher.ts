import { createInbox, type Msg, MsgHdrsImpl, type NatsConnection, type Subscription } from '@nats-io/nats-core';

/** What JetStream answers a stored (or deduplicated) publish with. */
export interface PublishAck {
  readonly stream: string;
  readonly seq: number;
  readonly duplicate: boolean;
}

/** A publish JetStream did not acknowledge in time; the message may or may not be stored. */
export class PublishTimeoutError extends Error {
  override readonly name = 'PublishTimeoutError';
}

/** JetStream refused the publish, or nothing listens on the subject, or the answer was not an ack. */
export class PublishRejectedError extends Error {
  override readonly name = 'PublishRejectedError';
}

interface Outgoing {
  readonly token: string;
  readonly subject: string;
  readonly data: string | Uint8Array;
  readonly msgId: string | undefined;
}

interface Pending {
  readonly resolve: (ack: PublishAck) => void;
  readonly reject: (err: Error) => void;
  readonly deadline: number;
}

const encoder = new TextEncoder();

/**
 * A header set of one `Nats-Msg-Id`, checked as nats.js's `set` checks a value (no CR or
 * LF, trimmed) and written out directly: `headers()` + `set` looks the key up twice,
 * canonicalises it and builds the text by concatenation, per publish. The same bytes.
 */
export class MsgIdHeaders extends MsgHdrsImpl {
  private readonly msgId: string;

  constructor(msgId: string) {
    super();
    this.msgId = MsgHdrsImpl.validHeaderValue(msgId);
    this.headers.set('Nats-Msg-Id', [this.msgId]);
  }

  override encode(): Uint8Array {
    return encoder.encode(`NATS/1.0\r\nNats-Msg-Id: ${this.msgId}\r\n\r\n`);
  }
}

/**
 * JetStream publishes awaiting their acks, as nats.js's `js.publish` does them (a request
 * to the subject; the stream answers on the reply subject) without its per-call machinery:
 * per publish nats.js makes a request object, a timer, two promises raced, a header set
 * copied twice, a `RequestError` on every answered request (its clean-up "cancels" the
 * already resolved request) and a `TextDecoder` — ~20 % of a stored webhook's CPU. Here:
 * one reply subscription (`<inbox>.<n>`, re-subscribed by nats.js after a reconnect), one
 * map entry and one promise per publish, one timer for all deadlines (publishes are kept
 * in the order sent, and all wait the same time, so the sweep stops at the first one
 * still in time), and the publishes of one turn of the event loop leave in one write. A
 * publish is answered within `timeoutMs` plus at most a quarter of it.
 *
 * Same outcomes as `js.publish`: the ack (stream, seq, duplicate), else a rejection — the
 * stream's error, no responders (no stream on the subject), an answer that is not an ack,
 * or no answer in time (the message may then be stored: callers retry with the same
 * `Nats-Msg-Id`, which JetStream deduplicates).
 */
export class JetStreamPublisher {
  private readonly pending = new Map<string, Pending>();
  private readonly prefix: string;
  private subscription: Subscription | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private next = 0;
  /** Publishes of this turn, sent together at its check phase. */
  private outbox: Outgoing[] = [];
  private readonly sendBound = (): void => this.send();
  /** close() waiting for the publishes in flight. */
  private idle: Array<() => void> = [];

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs: number,
    /** Monotonic milliseconds. */
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.prefix = `${createInbox()}.`;
  }

  /** Publishes `data` to `subject` (with `Nats-Msg-Id` when `msgId` is given) and resolves with JetStream's ack. */
  publish(subject: string, data: string | Uint8Array, msgId?: string): Promise<PublishAck> {
    return new Promise<PublishAck>((resolve, reject) => {
      const token = (this.next++).toString(36);
      this.outbox.push({ token, subject, data, msgId });
      this.pending.set(token, { resolve, reject, deadline: this.clock() + this.timeoutMs });
      if (this.outbox.length === 1) setImmediate(this.sendBound);
    });
  }

  /**
   * The publishes of one turn of the event loop, handed to nats.js together at its check
   * phase: it writes what it is given within one microtask in one write, so they leave in
   * one system call instead of one per burst of concurrent callers.
   */
  private send(): void {
    const outbox = this.outbox;
    this.outbox = [];
    if (outbox.length === 0) return;
    try {
      this.subscribe();
      this.sweeper ??= setInterval(() => this.sweep(), Math.max(1, Math.ceil(this.timeoutMs / 4))).unref();
    } catch (err) {
      for (const message of outbox) this.fail(message.token, err);
      return;
    }
    for (const { token, subject, data, msgId } of outbox) {
      if (!this.pending.has(token)) continue;
      try {
        const reply = this.prefix + token;
        if (msgId === undefined) this.nc.publish(subject, data, { reply });
        else this.nc.publish(subject, data, { reply, headers: new MsgIdHeaders(msgId) });
      } catch (err) {
        this.fail(token, err);
      }
    }
  }

  private fail(token: string, err: unknown): void {
    const pending = this.pending.get(token);
    if (pending === undefined) return;
    this.pending.delete(token);
    pending.reject(err instanceof Error ? err : new Error(String(err)));
    if (this.pending.size === 0) this.notifyIdle();
  }

  /** Publishes waiting for their ack. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Stops listening once every publish in flight has its answer (or its timeout). */
  async close(): Promise<void> {
    if (this.pending.size > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
    if (this.pending.size > 0) return; // Publishes started meanwhile keep the subscription.
    this.subscription?.unsubscribe();
    this.subscription = undefined;
  }

  private subscribe(): void {
    if (this.subscription !== undefined && !this.subscription.isClosed()) return;
    this.subscription = this.nc.subscribe(`${this.prefix}*`, {
      callback: (err, msg) => {
        if (err !== null) this.failAll(err);
        else this.answer(msg);
      },
    });
  }

  private answer(msg: Msg): void {
    const token = msg.subject.slice(this.prefix.length);
    const pending = this.pending.get(token);
    if (pending === undefined) return; // Timed out already.
    this.pending.delete(token);
    this.settle(pending, msg);
    if (this.pending.size === 0) this.notifyIdle();
  }

  private settle(pending: Pending, msg: Msg): void {
    if (msg.data.length === 0) {
      const status = msg.headers?.code;
      pending.reject(
        new PublishRejectedError(status === 503 ? 'no responders: no stream listens on the subject' : `empty answer (status ${status})`),
      );
      return;
    }
    let reply: { stream?: unknown; seq?: unknown; duplicate?: unknown; error?: { code?: number; description?: string } };
    try {
      reply = msg.json();
    } catch {
      pending.reject(new PublishRejectedError('the answer to a JetStream publish is not JSON'));
      return;
    }
    if (reply.error !== undefined) {
      pending.reject(
        new PublishRejectedError(`JetStream refused the publish: ${reply.error.description ?? 'error'} (${reply.error.code})`),
      );
    } else if (typeof reply.stream !== 'string' || reply.stream === '' || typeof reply.seq !== 'number') {
      pending.reject(new PublishRejectedError('invalid ack response'));
    } else {
      pending.resolve({ stream: reply.stream, seq: reply.seq, duplicate: reply.duplicate === true });
    }
  }

  /** Rejects the publishes past their deadline: the oldest first, so it stops at the first in time. */
  private sweep(): void {
    const now = this.clock();
    for (const [token, pending] of this.pending) {
      if (pending.deadline > now) break;
      this.pending.delete(token);
      pending.reject(new PublishTimeoutError(`JetStream did not acknowledge the publish within ${this.timeoutMs} ms`));
    }
    if (this.pending.size === 0) {
      this.stopSweeper();
      this.notifyIdle();
    }
  }

  private notifyIdle(): void {
    if (this.idle.length === 0) return;
    const waiting = this.idle;
    this.idle = [];
    for (const resolve of waiting) resolve();
  }

  private failAll(err: Error): void {
    const pending = [...this.pending.values()];
    this.pending.clear();
    this.stopSweeper();
    for (const p of pending) p.reject(err);
    this.notifyIdle();
  }

  private stopSweeper(): void {
    if (this.sweeper === undefined) return;
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }
}
