import type { IncomingMessage } from 'node:http';

/** The body went past the limit (the rest is not read). */
export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
}

/** The client went away (or the stream failed) before the body ended. */
export class BodyIncompleteError extends Error {
  override readonly name = 'BodyIncompleteError';
}

/** The body did not end within its deadline (WEBHOOK_BODY_TIMEOUT_SECONDS). */
export class BodyTimeoutError extends Error {
  override readonly name = 'BodyTimeoutError';
}

/**
 * Deadlines kept by one timer for all of them instead of a timer each: a deadline set
 * `timeoutMs` from now lands in the slot of the tick at or after it, and one interval
 * (running only while deadlines are pending) expires the slots whose time has come. So
 * a deadline fires no earlier than asked and at most one tick later; setting and
 * cancelling one is a Set insert and delete.
 */
export class DeadlineSweep {
  private readonly slots = new Map<number, Set<() => void>>();
  private timer: NodeJS.Timeout | undefined;
  private pending = 0;

  constructor(
    readonly tickMs: number,
    /** Monotonic milliseconds. */
    private readonly clock: () => number = () => performance.now(),
  ) {}

  /** Calls `expire` once `timeoutMs` have passed, unless cancelled first; returns the slot to cancel it with. */
  add(timeoutMs: number, expire: () => void): number {
    const slot = Math.ceil((this.clock() + timeoutMs) / this.tickMs);
    const set = this.slots.get(slot);
    if (set === undefined) this.slots.set(slot, new Set([expire]));
    else set.add(expire);
    this.pending++;
    this.timer ??= setInterval(() => this.sweep(), this.tickMs).unref();
    return slot;
  }

  cancel(slot: number, expire: () => void): void {
    const set = this.slots.get(slot);
    if (set === undefined || !set.delete(expire)) return;
    this.pending--;
    if (set.size === 0) this.slots.delete(slot);
  }

  /** Deadlines not yet expired or cancelled. */
  get size(): number {
    return this.pending;
  }

  /** Expires every slot whose time has come (run by the interval). */
  sweep(): void {
    const now = this.clock();
    for (const [slot, set] of this.slots) {
      if (slot * this.tickMs > now) continue;
      this.slots.delete(slot);
      this.pending -= set.size;
      for (const expire of set) expire();
    }
    if (this.pending === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}

/** How late a body deadline may fire: WEBHOOK_BODY_TIMEOUT_SECONDS is whole seconds. */
export const BODY_DEADLINE_TICK_MS = 100;

/** The body reads' deadlines, shared by every read of the process. */
const bodyDeadlines = new DeadlineSweep(BODY_DEADLINE_TICK_MS);

/**
 * Declared lengths up to this are read into one buffer of that size as they arrive; longer
 * (or undeclared) bodies are kept as the chunks that arrived, so a stalled upload pins
 * only what it sent.
 */
const PREALLOCATE_MAX = 64 * 1024;

/**
 * Reads a request body as raw bytes, at most `limit` of them, within `timeoutMs`. This is
 * the webhook route's only body parser (Nest runs with `bodyParser: false`): nothing is
 * parsed before the signature is checked over these exact bytes. Past `limit` it stops
 * buffering at once (streamed bodies without Content-Length included) and rejects with
 * BodyTooLargeError; a body still incomplete at the deadline (at most
 * BODY_DEADLINE_TICK_MS late: one shared sweep, not a timer per request) rejects with
 * BodyTimeoutError, so a stalled upload pins its buffer for a bounded time. Either way the
 * request is left paused with no listener of ours, for the caller to answer (replyJson).
 */
export function readRawBody(request: IncomingMessage, limit: number, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (request.readableEnded) {
      reject(new Error('the webhook body was consumed before the ingest read it (a body parser on this route?)'));
      return;
    }
    const declared = declaredLength(request, Math.min(limit, PREALLOCATE_MAX));
    // One copy into a buffer of the declared size; else the chunks, joined at the end.
    let whole = declared === undefined ? undefined : Buffer.allocUnsafe(declared);
    let chunks: Buffer[] | undefined;
    let size = 0;
    const fail = (err: Error): void => {
      cleanup();
      request.pause();
      whole = undefined;
      chunks = undefined;
      reject(err);
    };
    const cleanup = (): void => {
      bodyDeadlines.cancel(slot, onTimeout);
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('error', onError);
      request.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      const end = size + chunk.length;
      if (end > limit) return fail(new BodyTooLargeError(`body is larger than ${limit} bytes`));
      if (whole !== undefined && end <= whole.length) chunk.copy(whole, size);
      else {
        // More than declared cannot pass Node's parser; kept correct all the same.
        if (whole !== undefined) chunks = [whole.subarray(0, size)];
        whole = undefined;
        (chunks ??= []).push(chunk);
      }
      size = end;
    };
    const onEnd = (): void => {
      cleanup();
      if (whole !== undefined) resolve(size === whole.length ? whole : whole.subarray(0, size));
      else resolve(chunks === undefined ? Buffer.alloc(0) : Buffer.concat(chunks, size));
    };
    const onError = (err: Error): void => fail(new BodyIncompleteError(err.message));
    const onClose = (): void => fail(new BodyIncompleteError('the client closed the connection before the body ended'));
    const onTimeout = (): void => fail(new BodyTimeoutError(`the body did not arrive within ${timeoutMs} ms`));
    const slot = bodyDeadlines.add(timeoutMs, onTimeout);
    request.on('data', onData);
    request.on('end', onEnd);
    request.on('error', onError);
    request.on('close', onClose);
  });
}

/** Content-Length when it is a valid number of at most `max`, else undefined. */
function declaredLength(request: IncomingMessage, max: number): number | undefined {
  const text = request.headers['content-length'];
  if (text === undefined || text.length > 7 || !/^\d+$/.test(text)) return undefined;
  const length = Number(text);
  return length <= max ? length : undefined;
}
