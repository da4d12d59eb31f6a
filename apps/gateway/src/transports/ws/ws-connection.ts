import type { MessageEncoder, StoredMessage, SubscribeOutcome } from '@switchboard/engine';
import {
  ClientFrame,
  CloseCode,
  ErrorCode,
  isSwitchboardError,
  parseClientFrame,
  ServerFrame,
  UnsubscribeReason,
} from '@switchboard/protocol';
import type { Logger } from '@switchboard/observability';
import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import { ClientSession } from '../../hub/client-session';
import type { PresenceNotice } from '../../hub/presence-hub';
import { EndReason, SessionTransport } from '../../hub/session-transport';

/** Requests a connection may have in flight; past it the client breaks the protocol's flow control. */
const MAX_PENDING_REQUESTS = 256;
/**
 * How long a closed connection has to read its queue and the close frame before it is cut
 * (ws's own closing timeout): a slow consumer must be able to read up to
 * SEND_QUEUE_MAX_BYTES and still learn why it was closed.
 */
const CLOSE_GRACE_MS = 30_000;
/** The same at process shutdown, which should not wait long for peers. */
const SHUTDOWN_GRACE_MS = 1000;
/** Options for pre-encoded text frames (a shared Buffer: ws adds only the frame header). */
const TEXT_FRAME = { binary: false, compress: false, fin: true } as const;

/** Close code and reason for each way the session core ends a connection. */
const END_CLOSE: Record<EndReason, { code: number; reason: string }> = {
  expired: { code: CloseCode.Unauthorized, reason: 'token expired' },
  slow_consumer: { code: CloseCode.TryAgainLater, reason: 'slow consumer' },
  drain: { code: CloseCode.ServiceRestart, reason: '' },
  shutdown: { code: CloseCode.GoingAway, reason: 'server shutting down' },
};

/** What every WebSocket connection shares. */
export interface WsContext {
  readonly logger: Logger;
  /** The message frame (`{"op":"message",…}`) as a whole WebSocket text frame (`textFrame`), built once per message. */
  readonly encoder: MessageEncoder<Buffer>;
  /** Counts a frame refused for MAX_MESSAGE_BYTES. */
  tooBig(): void;
  /** Counts a connection closed 1008 for too many requests waiting for their reply. */
  tooManyRequests(): void;
  unregister(connection: WsConnection): void;
}

/**
 * The `ws` socket class of the gateway's server (its `WebSocket` option): it carries its
 * connection, so the four listeners every socket needs are shared functions (below)
 * instead of four closures and their contexts per connection.
 */
export class GatewaySocket extends WebSocket {
  connection: WsConnection | undefined = undefined;
}

const connectionOf = (ws: WebSocket): WsConnection | undefined => (ws as GatewaySocket).connection;

function onSocketMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
  connectionOf(this)?.onFrame(data, isBinary);
}
function onSocketPong(this: WebSocket): void {
  const connection = connectionOf(this);
  if (connection !== undefined) connection.lastSeen = Date.now();
}
function onSocketClose(this: WebSocket): void {
  connectionOf(this)?.onClose();
}
function onSocketError(this: WebSocket, err: Error & { code?: string }): void {
  const connection = connectionOf(this);
  if (connection === undefined) return;
  if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') connection.ctx.tooBig();
  connection.ctx.logger.debug({ err: err.message }, 'ws connection error');
}

/**
 * `payload` (text, or its UTF-8 bytes) as one unmasked, unfragmented WebSocket text frame
 * (RFC 6455 §5.2): what `ws` writes for `send(payload)` on a server socket without
 * compression, header and payload in one Buffer, so a broadcast builds the frame once and
 * each recipient's write is one `socket.write` of shared bytes.
 */
export function textFrame(payload: string | Buffer): Buffer {
  const length = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  const header = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + length);
  frame[0] = 0x81; // FIN + text
  if (header === 2) frame[1] = length;
  else if (header === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(0, 2);
    frame.writeUInt32BE(length, 6);
  }
  if (typeof payload === 'string') frame.write(payload, header, 'utf8');
  else payload.copy(frame, header);
  return frame;
}

/** The payload of a frame made by `textFrame` (for the rare write that must go through `ws`). */
export function framePayload(frame: Buffer): Buffer {
  const len = frame[1] & 0x7f;
  return frame.subarray(len < 126 ? 2 : len === 126 ? 4 : 10);
}

/** The parts of a `ws` socket the direct write checks (ws 8: lib/websocket.js, lib/sender.js). */
interface WsInternals {
  _socket?: Socket;
  _sender?: { _state?: number; _firstFragment?: boolean };
}

/**
 * Whether a pre-built frame may be written to the TCP socket directly: the socket is open
 * and its sender is idle (`_state` 0: nothing queued behind a compression or a Blob read,
 * not in the middle of a fragmented message), so the bytes go out in order with everything
 * `ws` wrote before. Anything else — or a `ws` whose internals look different — goes
 * through `ws.send`.
 */
export function directSocket(ws: WebSocket): Socket | undefined {
  if (ws.readyState !== WebSocket.OPEN) return undefined;
  const internals = ws as unknown as WsInternals;
  const sender = internals._sender;
  if (sender === undefined || sender._state !== 0 || sender._firstFragment !== true) return undefined;
  return internals._socket;
}

/** Settled: the start of every connection's request chain (none is made per connection). */
const SETTLED: Promise<void> = Promise.resolve();

/**
 * One client of `GET /v1/ws`: parses the JSON frames of the protocol, calls the session,
 * encodes what it answers. Limits, permissions and token lifetime are the session's.
 */
export class WsConnection implements SessionTransport {
  readonly transport = 'ws' as const;
  readonly session: ClientSession;
  /** Last time the client answered a ping: only a pong proves it reads what it is sent. */
  lastSeen = Date.now();
  private pending = 0;
  /** The last request in progress (one connection's requests run in order); none when idle. */
  private queue: Promise<void> | undefined = undefined;
  private closed = false;

  constructor(
    readonly ws: GatewaySocket,
    session: (connection: WsConnection) => ClientSession,
    readonly ctx: WsContext,
  ) {
    this.session = session(this);
    ws.connection = this;
    ws.on('message', onSocketMessage);
    ws.on('pong', onSocketPong);
    ws.on('close', onSocketClose);
    ws.on('error', onSocketError);
  }

  /**
   * Hot path: one shared Buffer per message, the whole frame, written as it is (one write,
   * nothing allocated by us per recipient; `ws.send` would build a header and cork two writes).
   */
  deliver(message: StoredMessage): void {
    if (this.closed) return;
    const frame = message.encoded(this.ctx.encoder);
    const socket = directSocket(this.ws);
    if (socket !== undefined) socket.write(frame);
    else this.ws.send(framePayload(frame), TEXT_FRAME);
  }

  /** One shared Buffer per join/leave, as for messages. */
  presenceNotice(notice: PresenceNotice): void {
    if (!this.closed) this.ws.send(notice.ws, TEXT_FRAME);
  }

  lost(channel: string): void {
    this.send({ op: 'recovery', channel, recovered: false });
  }

  unsubscribed(channel: string, reason: UnsubscribeReason): void {
    this.send({ op: 'unsubscribed', channel, reason });
  }

  queuedBytes(): number {
    return this.ws.bufferedAmount;
  }

  end(reason: EndReason, reconnectAfterMs?: number): void {
    const close = END_CLOSE[reason];
    if (reason === 'slow_consumer') {
      // Not read while its queue is over the bound: a client that floods requests and never
      // reads gets TCP backpressure, not replies. Once it has taken its queue (the socket
      // drained) it is read again, so its close reply completes the handshake.
      this.ws.pause();
      (this.ws as unknown as { _socket?: Socket })._socket?.once('drain', () => this.ws.resume());
    }
    this.close(
      close.code,
      reason === 'drain' ? JSON.stringify({ reconnectAfterMs }) : close.reason,
      reason === 'shutdown' ? SHUTDOWN_GRACE_MS : CLOSE_GRACE_MS,
    );
  }

  /** Silent peers are cut without a close handshake. */
  terminate(): void {
    this.closed = true;
    this.session.close();
    this.ws.terminate();
  }

  private close(code: number, reason: string, graceMs = CLOSE_GRACE_MS): void {
    if (this.closed) return;
    this.closed = true;
    this.session.close();
    this.ws.close(code, reason);
    // A peer that never reads never sees the close frame: cut it after a grace period.
    setTimeout(() => this.ws.terminate(), graceMs).unref();
  }

  /** A client frame (the socket's `message` event). */
  onFrame(data: Buffer, isBinary: boolean): void {
    if (this.closed) return;
    if (isBinary) {
      this.sendError(undefined, 'bad_request', 'binary frames are not supported; send JSON text frames');
      return;
    }
    if (++this.pending > MAX_PENDING_REQUESTS) {
      this.ctx.logger.info({ sub: this.session.principal.sub }, 'ws client exceeded the requests in flight');
      this.ctx.tooManyRequests();
      this.close(CloseCode.Policy, `at most ${MAX_PENDING_REQUESTS} requests in flight`);
      return;
    }
    const parsed = parseClientFrame(data.toString('utf8'));
    if (!parsed.ok) {
      this.pending--;
      this.sendError(parsed.id, 'bad_request', parsed.message);
      return;
    }
    // One connection's requests are handled strictly in order.
    const frame = parsed.frame;
    this.queue = (this.queue ?? SETTLED).then(() =>
      this.handle(frame).finally(() => {
        // Nothing queued after it: an idle connection keeps no settled promise.
        if (--this.pending === 0) this.queue = undefined;
      }),
    );
  }

  private async handle(frame: ClientFrame): Promise<void> {
    if (this.closed) return;
    const session = this.session;
    try {
      switch (frame.op) {
        case 'ping':
          this.send({ op: 'pong', id: frame.id });
          return;
        case 'subscribe': {
          const withSince = frame.since !== undefined;
          await session.subscribe(frame.channel, frame.since, (o: SubscribeOutcome) =>
            this.send(
              withSince
                ? { op: 'subscribed', id: frame.id, channel: o.channel, offset: o.offset, epoch: o.epoch, recovered: o.recovered === true }
                : { op: 'subscribed', id: frame.id, channel: o.channel, offset: o.offset, epoch: o.epoch },
            ),
          );
          return;
        }
        case 'unsubscribe':
          session.unsubscribe(frame.channel);
          this.send({ op: 'unsubscribed', id: frame.id, channel: frame.channel });
          return;
        case 'publish': {
          const result = await session.publish(frame.channel, frame.data, frame.idempotencyKey);
          this.send({ op: 'ack', id: frame.id, offset: result.offset });
          return;
        }
        case 'refresh': {
          const expiresAt = await session.refresh(frame.token);
          this.send({ op: 'refreshed', id: frame.id, expiresAt });
          return;
        }
        case 'presence': {
          // `{"op":"presence","id":…,` + the answer's fields: its member list is not serialised again.
          const answer = await session.presenceJson(frame.channel);
          this.sendText('{"op":"presence","id":' + frame.id + ',' + answer.slice(1));
          return;
        }
      }
    } catch (err) {
      if (isSwitchboardError(err)) {
        this.sendError(frame.id, err.code, err.message);
      } else {
        this.ctx.logger.error({ err, op: frame.op }, 'ws request failed');
        this.sendError(frame.id, 'unavailable', 'internal error');
      }
    }
  }

  /** Every reply and notice goes through here, so each counts against the send queue. */
  private send(frame: ServerFrame): void {
    this.sendText(JSON.stringify(frame));
  }

  private sendText(text: string): void {
    if (this.closed) return;
    this.ws.send(text);
    this.session.sent();
  }

  private sendError(id: number | undefined, code: ErrorCode, message: string): void {
    this.send(id === undefined ? { op: 'error', code, message } : { op: 'error', id, code, message });
  }

  /** The socket closed (its `close` event). */
  onClose(): void {
    this.closed = true;
    this.session.close();
    this.ctx.unregister(this);
  }
}
