import type { IncomingMessage, ServerResponse } from 'node:http';

/** A JSON answer (often a refusal, written before the request body was read to its end). */
export interface JsonReply {
  readonly status: number;
  /** Written as JSON; for errors `{"error":"<code>","message":"…"}` plus any extra fields. */
  readonly body: object;
  readonly headers?: Readonly<Record<string, string>>;
}

const JSON_TYPE = 'application/json; charset=utf-8';

/** How much of an unread upload is read and thrown away after the answer, before the connection is cut. */
export interface DiscardBounds {
  readonly maxBytes: number;
  readonly maxMs: number;
}

/**
 * Enough for a client that writes its whole body before it reads (raw sockets, simple
 * HTTP libraries) to get past a few MiB over the limit; every byte is dropped as it
 * arrives, so this costs bandwidth and no memory.
 */
export const DEFAULT_DISCARD_BOUNDS: DiscardBounds = { maxBytes: 4 * 1024 * 1024, maxMs: 5000 };

/**
 * Answers a request with JSON — the one way to refuse a body readably: when the body was
 * not read to its end (refused for its size, or before it was read), the answer is written
 * so that the client can still read it (SPEC: every 413 is a real response, never a reset
 * connection).
 *
 * Closing a socket that still has unread bytes makes the kernel send a TCP reset, which
 * also throws away the answer the client has not read yet: `fetch` then fails with EPIPE
 * or ECONNRESET instead of seeing the status. So the whole answer is written at once, but
 * the response is only ended — which is when Node closes a `Connection: close` socket —
 * once the rest of the upload has been read and dropped. If it ends within `bounds` the
 * connection is reused or closed cleanly; otherwise (more bytes, or a client that stalls)
 * the socket is destroyed — by then a client that reads while it uploads (fetch, curl)
 * has the answer and has usually closed on its own.
 *
 * The caller must have removed its own `data` listeners. A request whose body was read to
 * its end gets a plain answer.
 */
export function replyJson(
  req: IncomingMessage,
  res: ServerResponse,
  reply: JsonReply,
  bounds: DiscardBounds = DEFAULT_DISCARD_BOUNDS,
): void {
  if (res.headersSent || res.writableEnded) return;
  const payload = JSON.stringify(reply.body);
  const length = String(Buffer.byteLength(payload));
  // A flat array when nothing is added (every stored webhook's 202): no object spread, no for-in in Node.
  res.writeHead(
    reply.status,
    reply.headers === undefined
      ? ['Content-Type', JSON_TYPE, 'Content-Length', length, 'Cache-Control', 'no-store']
      : { 'Content-Type': JSON_TYPE, 'Content-Length': length, 'Cache-Control': 'no-store', ...reply.headers },
  );
  if (req.complete || req.destroyed) {
    res.end(payload);
    return;
  }
  // All of it is on the wire now (Content-Length frames it); only the end waits for the upload.
  res.write(payload);
  discardRest(req, bounds, () => res.end());
}

/** Reads and drops the rest of the body; `done` once it ended, the socket destroyed past `bounds`. */
function discardRest(req: IncomingMessage, bounds: DiscardBounds, done: () => void): void {
  let discarded = 0;
  const stop = (cut: boolean): void => {
    clearTimeout(timer);
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('close', onClose);
    if (cut) req.socket.destroy();
    else done();
  };
  const onData = (chunk: Buffer): void => {
    discarded += chunk.length;
    if (discarded > bounds.maxBytes) stop(true);
  };
  const onEnd = (): void => stop(false);
  const onClose = (): void => stop(!req.complete);
  const timer = setTimeout(() => stop(true), bounds.maxMs);
  timer.unref();
  req.on('data', onData);
  req.once('end', onEnd);
  req.once('close', onClose);
  req.resume();
}
