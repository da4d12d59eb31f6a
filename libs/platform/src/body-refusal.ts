import type { IncomingMessage, ServerResponse } from 'node:http';

/** A JSON answer (often a refusal, written before the request body was read to its end). */
export interface JsonReply {
  readonly status: number;
  /** Written as JSON; for errors `{"error":"<code>","message":"…"}` plus any extra fields. */
  readonly body: object;
  readonly headers?: Readonly<Record<string, string>>;
}

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
 * or ECONNRESET instead of seeing the status. So the answer goes out WITHOUT
 * `Connection: close`, and the rest of the upload is read and dropped; if it ends within
 * `bounds` the connection stays usable, otherwise (more bytes, or a client that stalls)
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
  // Before the answer: Node dumps a body nobody consumes once the response finishes, without a bound.
  if (!req.complete && !req.destroyed) discardRest(req, bounds);
  const payload = JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(payload)),
    'Cache-Control': 'no-store',
    ...reply.headers,
  });
  res.end(payload);
}

function discardRest(req: IncomingMessage, bounds: DiscardBounds): void {
  let discarded = 0;
  const stop = (cut: boolean): void => {
    clearTimeout(timer);
    req.off('data', onData);
    req.off('end', onDone);
    req.off('close', onDone);
    if (cut) req.socket.destroy();
  };
  const onData = (chunk: Buffer): void => {
    discarded += chunk.length;
    if (discarded > bounds.maxBytes) stop(true);
  };
  const onDone = (): void => stop(false);
  const timer = setTimeout(() => stop(true), bounds.maxMs);
  timer.unref();
  req.on('data', onData);
  req.once('end', onDone);
  req.once('close', onDone);
  req.resume();
}
