import type { PusherApp } from '@switchboard/config';
import type { MessageEncoder, StoredMessage } from '@switchboard/engine';
import type { Logger } from '@switchboard/observability';
import { channelNameError, isSwitchboardError, UnsubscribeReason } from '@switchboard/protocol';
import type { WebSocket } from 'ws';
import { ClientSession } from '../../hub/client-session';
import { EndReason, SessionTransport } from '../../hub/session-transport';
import { channelAuthValid } from '../../pusher/pusher-signing';
import { errorFrame, parsePusherFrame, PONG_FRAME, PusherClientFrame, PusherCode, switchboardData } from '../../pusher/pusher-protocol';

/** Requests a connection may have in flight (as for /v1/ws). */
const MAX_PENDING_REQUESTS = 256;
/** How long a closed connection has to read its queue and the close frame before it is cut. */
const CLOSE_GRACE_MS = 30_000;
const SHUTDOWN_GRACE_MS = 1000;
const TEXT_FRAME = { binary: false, compress: false, fin: true } as const;

/** How the session core's reasons to end a connection read in Pusher's close-code ranges. */
const END_CLOSE: Record<EndReason, { code: number; reason: string }> = {
  // Pusher connections carry no token; kept for the table's completeness.
  expired: { code: PusherCode.Unauthorized, reason: 'credentials expired' },
  // 4100–4199: reconnect after backing off.
  slow_consumer: { code: PusherCode.OverCapacity, reason: 'slow consumer: messages were not read fast enough' },
  // 4200–4299: reconnect at once (to another instance).
  drain: { code: PusherCode.GenericReconnect, reason: 'server is restarting, reconnect' },
  shutdown: { code: PusherCode.GenericReconnect, reason: 'server shutting down' },
};

/** What every Pusher connection shares. */
export interface PusherContext {
  readonly logger: Logger;
  /** One Pusher event frame per message, shared by every Pusher recipient. */
  readonly encoder: MessageEncoder<Buffer>;
  unregister(connection: PusherConnection): void;
}

/**
 * One pusher-js / Laravel Echo client of `GET /app/<key>`: translates Pusher protocol 7
 * frames into calls on its ClientSession and encodes what the session decides. Public
 * channels need no auth; `private-` and `presence-` ones need the app's signature over
 * this socket id. Limits, fan-out and the send-queue bound are the session core's.
 */
export class PusherConnection implements SessionTransport {
  readonly transport = 'pusher' as const;
  readonly session: ClientSession;
  lastSeen = Date.now();
  /** Channels this connection holds or is subscribing to. */
  private readonly channels = new Set<string>();
  /** True once this connection sent a client event: only then can a message be its own echo. */
  private sentClientEvent = false;
  private pending = 0;
  private queue: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    readonly ws: WebSocket,
    readonly app: PusherApp,
    readonly socketId: string,
    session: (connection: PusherConnection) => ClientSession,
    private readonly ctx: PusherContext,
  ) {
    this.session = session(this);
    ws.on('message', (data, isBinary) => this.onFrame(data as Buffer, isBinary));
    ws.on('pong', () => (this.lastSeen = Date.now()));
    ws.on('close', () => this.onClose());
    ws.on('error', (err: Error) => ctx.logger.debug({ err: err.message }, 'pusher connection error'));
  }

  /** Hot path: the shared frame of the message; a client's own client event is not echoed back to it. */
  deliver(message: StoredMessage): void {
    if (this.closed) return;
    const frame = message.encoded(this.ctx.encoder);
    if (this.sentClientEvent && message.message.from === this.socketId) return;
    this.ws.send(frame, TEXT_FRAME);
  }

  /** Pusher has no recovery: a gap in live delivery is said as a `pusher:error` the app can log. */
  lost(channel: string): void {
    this.send(errorFrame(null, `messages on ${channel} were lost; refetch the channel's state`));
  }

  unsubscribed(channel: string, reason: UnsubscribeReason): void {
    this.channels.delete(channel);
    this.send(subscriptionError(channel, 403, `subscription ended (${reason})`));
  }

  queuedBytes(): number {
    return this.ws.bufferedAmount;
  }

  end(reason: EndReason): void {
    const close = END_CLOSE[reason];
    this.close(close.code, close.reason, reason === 'shutdown' ? SHUTDOWN_GRACE_MS : CLOSE_GRACE_MS);
  }

  terminate(): void {
    this.closed = true;
    this.session.close();
    this.ws.terminate();
  }

  /** The first frame: `pusher:connection_established` with the socket id and the activity timeout. */
  established(activityTimeoutSeconds: number): void {
    this.send(
      JSON.stringify({
        event: 'pusher:connection_established',
        data: JSON.stringify({ socket_id: this.socketId, activity_timeout: activityTimeoutSeconds }),
      }),
    );
  }

  /** Sends `pusher:error` and closes with the same code. */
  close(code: number, reason: string, graceMs = CLOSE_GRACE_MS): void {
    if (this.closed) return;
    this.send(errorFrame(code, reason));
    this.closed = true;
    this.session.close();
    this.ws.close(code, reason);
    setTimeout(() => this.ws.terminate(), graceMs).unref();
  }

  private onFrame(data: Buffer, isBinary: boolean): void {
    if (this.closed) return;
    this.lastSeen = Date.now();
    if (isBinary) {
      this.send(errorFrame(null, 'binary frames are not supported; send JSON text frames'));
      return;
    }
    if (++this.pending > MAX_PENDING_REQUESTS) {
      this.close(PusherCode.OverCapacity, `at most ${MAX_PENDING_REQUESTS} requests in flight`);
      return;
    }
    const frame = parsePusherFrame(data.toString('utf8'));
    if (frame === undefined) {
      this.pending--;
      this.send(errorFrame(null, 'a frame must be a JSON object with an "event" string'));
      return;
    }
    this.queue = this.queue.then(() =>
      this.handle(frame).finally(() => {
        this.pending--;
      }),
    );
  }

  private async handle(frame: PusherClientFrame): Promise<void> {
    if (this.closed) return;
    try {
      switch (frame.event) {
        case 'pusher:ping':
          this.send(PONG_FRAME);
          return;
        case 'pusher:pong':
          return;
        case 'pusher:subscribe':
          await this.subscribe(frame.data);
          return;
        case 'pusher:unsubscribe':
          this.unsubscribe(frame.data);
          return;
        default:
          if (frame.event.startsWith('client-')) await this.clientEvent(frame);
          // Other events (pusher:signin, unknown ones) are ignored, as Pusher does.
          return;
      }
    } catch (err) {
      this.ctx.logger.error({ err, event: frame.event }, 'pusher request failed');
      this.send(errorFrame(null, 'internal error'));
    }
  }

  private async subscribe(data: unknown): Promise<void> {
    const d = asObject(data);
    const channel = d?.channel;
    if (typeof channel !== 'string') {
      this.send(errorFrame(null, 'pusher:subscribe needs data.channel'));
      return;
    }
    const invalid = channelNameError(channel);
    if (invalid !== undefined) {
      this.send(subscriptionError(channel, 400, `invalid channel name: ${invalid}`));
      return;
    }
    if (this.channels.has(channel)) return; // Pusher answers a repeated subscribe with nothing.
    const channelData = typeof d?.channel_data === 'string' ? d.channel_data : undefined;
    if (isPrivate(channel) || isPresence(channel)) {
      if (!channelAuthValid(this.app, this.socketId, channel, d?.auth, isPresence(channel) ? channelData : undefined)) {
        this.send(subscriptionError(channel, 401, `invalid signature for ${channel}: expected HMAC-SHA256 of "<socket_id>:<channel>"`));
        return;
      }
    }
    this.channels.add(channel);
    try {
      await this.session.subscribe(channel, undefined, () =>
        this.send(JSON.stringify({ event: 'pusher_internal:subscription_succeeded', channel, data: '{}' })),
      );
    } catch (err) {
      this.channels.delete(channel);
      if (!isSwitchboardError(err)) throw err;
      this.send(subscriptionError(channel, err.httpStatus, err.message));
    }
  }

  private unsubscribe(data: unknown): void {
    const channel = asObject(data)?.channel;
    if (typeof channel !== 'string' || !this.channels.delete(channel)) return;
    try {
      this.session.unsubscribe(channel);
    } catch (err) {
      if (!isSwitchboardError(err, 'not_found')) throw err;
    }
  }

  /** `client-` events: enabled per app, on private/presence channels this client holds; never echoed to it. */
  private async clientEvent(frame: PusherClientFrame): Promise<void> {
    const channel = frame.channel;
    if (!this.app.clientEvents) {
      this.send(errorFrame(null, 'client events are not enabled for this app'));
      return;
    }
    if (channel === undefined || !(isPrivate(channel) || isPresence(channel))) {
      this.send(errorFrame(null, 'client events are only allowed on private and presence channels'));
      return;
    }
    if (!this.channels.has(channel)) {
      this.send(errorFrame(null, `subscribe to ${channel} before sending client events on it`));
      return;
    }
    this.sentClientEvent = true;
    try {
      await this.session.publish(channel, switchboardData(frame.data), undefined, frame.event);
    } catch (err) {
      if (!isSwitchboardError(err)) throw err;
      const code = err.code === 'rate_limited' ? PusherCode.ClientEventRejected : null;
      this.send(errorFrame(code, err.message));
    }
  }

  /** Every reply and notice counts against the send queue. */
  private send(text: string): void {
    if (this.closed) return;
    this.ws.send(text);
    this.session.sent();
  }

  private onClose(): void {
    this.closed = true;
    this.session.close();
    this.ctx.unregister(this);
  }
}

function isPrivate(channel: string): boolean {
  return channel.startsWith('private-');
}

function isPresence(channel: string): boolean {
  return channel.startsWith('presence-');
}

function asObject(data: unknown): Record<string, unknown> | undefined {
  if (typeof data === 'string') {
    try {
      data = JSON.parse(data);
    } catch {
      return undefined;
    }
  }
  return typeof data === 'object' && data !== null && !Array.isArray(data) ? (data as Record<string, unknown>) : undefined;
}

/** `pusher:subscription_error` as pusher-js reads it (`data.type`, `data.error`, `data.status`). */
function subscriptionError(channel: string, status: number, error: string): string {
  return JSON.stringify({
    event: 'pusher:subscription_error',
    channel,
    data: { type: status === 401 || status === 403 ? 'AuthError' : 'SubscriptionError', error, status },
  });
}
