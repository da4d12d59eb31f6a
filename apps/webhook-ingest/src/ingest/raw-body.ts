import type { IncomingMessage } from 'node:http';

/** The body went past the limit (the rest is not read). */
export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
}

/** The client went away (or the stream failed) before the body ended. */
export class BodyIncompleteError extends Error {
  override readonly name = 'BodyIncompleteError';
}

/**
 * Reads a request body as raw bytes, at most `limit` of them. This is the webhook route's
 * only body parser (Nest runs with `bodyParser: false`): nothing is parsed before the
 * signature is checked over these exact bytes. Past `limit` it stops buffering at once
 * (streamed bodies without Content-Length included) and rejects with BodyTooLargeError;
 * the caller answers 413 and closes the connection.
 */
export function readRawBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (request.readableEnded) {
      reject(new Error('the webhook body was consumed before the ingest read it (a body parser on this route?)'));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('error', onError);
      request.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        // Keep the socket from buffering more; the connection is closed after the 413.
        request.pause();
        reject(new BodyTooLargeError(`body is larger than ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(new BodyIncompleteError(err.message));
    };
    const onClose = (): void => {
      cleanup();
      reject(new BodyIncompleteError('the client closed the connection before the body ended'));
    };
    request.on('data', onData);
    request.on('end', onEnd);
    request.on('error', onError);
    request.on('close', onClose);
  });
}
