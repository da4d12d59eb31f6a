import type { MessageEncoder, StoredMessage, SubscribeOutcome } from '@switchboard/engine';
import { CloseCode, ErrorCode, isSwitchboardError, parseClientFrame, ServerFrame } from '@switchboard/protocol';
import type { Logger } from '@switchboard/observability';
import type { WebSocket } from 'ws';
import { ClientSession } from '../../hub/client-session';
import { Drainable } from '../../hub/connection-registry';
import { Hub } from '../../hub/hub';
import { SessionSink } from '../../hub/transport';

/** Requests a connection may have in flight; past it the client is not reading its replies. */
const MAX_PENDING_REQUESTS = 256;
/** How long a closed slow consumer has to read its queue and the close frame before it is cut. */
const CLOSE_GRACE_MS = 5000;
/** Options for pre-encoded text frames (a shared Buffer: ws adds only the frame header). */
const TEXT_FRAME = { binary: false, compress: false, fin: true } as const;

/** What every WebSocket connection shares. */
export interface WsContext {
  readonly hub: Hub;
  readonly logger: Logger;
  /** The message frame (`{"op":"message",…}`) as a Buffer, built once per message. */
  readonly encoder: MessageEncoder<Buffer>;
  unregister(connection: WsConnection): void;
}

/** One client of `GET /v1/ws`: the JSON protocol of SPEC over a `ws` socket. */
export class WsConnection implements SessionSink, Drainable {
  readonly transport = 'ws' as const;
  readonly session: ClientSession;
  /** Last time anything (frame or pong) arrived from the client. */
  lastSeen = Date.now();
  private pending = 0;
  private queue: Promise<void> = Promise.resolve();
  private closed = false;
  private expiryTimer?: NodeJS.Timeout;

  constructor(
    readonly ws: WebSocket,
    session: (sink: WsConnection) => ClientSession,
    private readonly ctx: WsContext,
  ) {
    this.session = session(this);
    ws.on('message', (data, isBinary) => this.onFrame(data as Buffer, isBinary));
    ws.on('pong', () => (this.lastSeen = Date.now()));
    ws.on('close', () => this.onClose());
    ws.on('error', (err) => ctx.logger.debug({ err: err.message }, 'ws connection error'));
    const expiresAt = this.session.principal.expiresAt;
    if (expiresAt !== undefined) this.armExpiry(expiresAt);
  }

  /**
   * Closes with 4001 when the token expires. Node timers hold at most 2^31-1 ms and may fire
   * a little early against the wall clock: whenever it fires before expiry, it re-arms.
   */
  private armExpiry(expiresAt: number): void {
    const delay = Math.min(Math.max(0, expiresAt - Date.now()), 2_147_483_647);
    this.expiryTimer = setTimeout(() => {
      if (this.closed) return;
      if (Date.now() >= expiresAt) this.close(CloseCode.Unauthorized, 'token expired');
      else this.armExpiry(expiresAt);
    }, delay);
    this.expiryTimer.unref();
  }

  /** Hot path: one shared Buffer per message, a header per recipient, a queue check. */
  deliver(message: StoredMessage): void {
    if (this.closed) return;
    this.ws.send(message.encoded(this.ctx.encoder), TEXT_FRAME);
    this.ctx.hub.countDelivered('ws');
    if (this.ws.bufferedAmount > this.ctx.hub.options.sendQueueMaxBytes) this.slowConsumer();
  }

  lost(channel: string): void {
    this.send({ op: 'recovery', channel, recovered: false });
  }

  drain(reconnectAfterMs: number): void {
    this.ctx.hub.metrics.drainDisconnects.inc({ transport: 'ws' });
    this.close(CloseCode.ServiceRestart, JSON.stringify({ reconnectAfterMs }));
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.session.close();
    this.ws.close(code, reason);
    // A peer that never reads never sees the close frame: cut it after a grace period.
    setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS).unref();
  }

  /** Silent peers are cut without a close handshake. */
  terminate(): void {
    this.closed = true;
    this.session.close();
    this.ws.terminate();
  }

  private slowConsumer(): void {
    this.ctx.hub.metrics.slowConsumerDisconnects.inc({ transport: 'ws' });
    this.ctx.logger.info({ sub: this.session.principal.sub, queued: this.ws.bufferedAmount }, 'slow consumer disconnected');
    this.close(CloseCode.TryAgainLater, 'slow consumer');
  }

  private onFrame(data: Buffer, isBinary: boolean): void {
    this.lastSeen = Date.now();
    if (this.closed) return;
    if (isBinary) {
      this.sendError(undefined, 'bad_request', 'binary frames are not supported; send JSON text frames');
      return;
    }
    if (++this.pending > MAX_PENDING_REQUESTS) {
      this.close(CloseCode.TryAgainLater, 'too many requests in flight');
      return;
    }
    const text = data.toString('utf8');
    // One connection's frames are handled strictly in order.
    this.queue = this.queue.then(() =>
      this.handle(text).finally(() => {
        this.pending--;
      }),
    );
  }

  private async handle(text: string): Promise<void> {
    const parsed = parseClientFrame(text);
    if (!parsed.ok) {
      this.sendError(parsed.id, 'bad_request', parsed.message);
      return;
    }
    const frame = parsed.frame;
    try {
      switch (frame.op) {
        case 'ping':
          this.send({ op: 'pong', id: frame.id });
          return;
        case 'subscribe': {
          const withSince = frame.since !== undefined;
          await this.session.subscribe(frame.channel, frame.since, (o: SubscribeOutcome) =>
            this.send(
              withSince
                ? { op: 'subscribed', id: frame.id, channel: o.channel, offset: o.offset, epoch: o.epoch, recovered: o.recovered === true }
                : { op: 'subscribed', id: frame.id, channel: o.channel, offset: o.offset, epoch: o.epoch },
            ),
          );
          return;
        }
        case 'unsubscribe':
          this.session.unsubscribe(frame.channel);
          this.send({ op: 'unsubscribed', id: frame.id, channel: frame.channel });
          return;
        case 'publish': {
          const result = await this.session.publish(frame.channel, frame.data, frame.idempotencyKey);
          this.send({ op: 'ack', id: frame.id, offset: result.offset });
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

  private send(frame: ServerFrame): void {
    if (this.closed) return;
    this.ws.send(JSON.stringify(frame));
  }

  private sendError(id: number | undefined, code: ErrorCode, message: string): void {
    this.send(id === undefined ? { op: 'error', code, message } : { op: 'error', id, code, message });
  }

  private onClose(): void {
    this.closed = true;
    clearTimeout(this.expiryTimer);
    this.session.close();
    this.ctx.unregister(this);
  }
}
