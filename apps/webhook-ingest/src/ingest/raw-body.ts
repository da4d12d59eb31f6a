import { DeadlineSweep } from '@switchboard/platform';
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

/** The body deadlines' tick: one may fire up to two ticks late, which whole seconds of WEBHOOK_BODY_TIMEOUT_SECONDS absorb. */
const BODY_DEADLINE_TICK_MS = 100;

/** The body reads' deadlines, shared by every read of the process. */
const bodyDeadlines = new DeadlineSweep<() => void>(BODY_DEADLINE_TICK_MS, (expire) => expire());

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
 * two ticks late: one shared sweep, not a timer per request) rejects with
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
    const slot = bodyDeadlines.addAfter(timeoutMs, onTimeout);
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
