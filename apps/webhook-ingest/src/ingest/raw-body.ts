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
 * Reads a request body as raw bytes, at most `limit` of them, within `timeoutMs`. This is
 * the webhook route's only body parser (Nest runs with `bodyParser: false`): nothing is
 * parsed before the signature is checked over these exact bytes. Past `limit` it stops
 * buffering at once (streamed bodies without Content-Length included) and rejects with
 * BodyTooLargeError; a body still incomplete at the deadline rejects with BodyTimeoutError,
 * so a stalled upload pins its buffer for a bounded time. Either way the request is left
 * paused with no listener of ours, for the caller to answer (replyJson).
 */
export function readRawBody(request: IncomingMessage, limit: number, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (request.readableEnded) {
      reject(new Error('the webhook body was consumed before the ingest read it (a body parser on this route?)'));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const fail = (err: Error): void => {
      cleanup();
      request.pause();
      chunks.length = 0;
      reject(err);
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('error', onError);
      request.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) return fail(new BodyTooLargeError(`body is larger than ${limit} bytes`));
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (err: Error): void => fail(new BodyIncompleteError(err.message));
    const onClose = (): void => fail(new BodyIncompleteError('the client closed the connection before the body ended'));
    const timer = setTimeout(() => fail(new BodyTimeoutError(`the body did not arrive within ${timeoutMs} ms`)), timeoutMs);
    request.on('data', onData);
    request.on('end', onEnd);
    request.on('error', onError);
    request.on('close', onClose);
  });
}
