import type { PusherApp } from '@switchboard/config';
import type { MessageEncoder, PresenceListener, PresenceService, PresenceSignal, StoredMessage } from '@switchboard/engine';
import type { Logger } from '@switchboard/observability';
import { channelNameError, isSwitchboardError, UnsubscribeReason } from '@switchboard/protocol';
import type { WebSocket } from 'ws';
import { ClientSession } from '../../hub/client-session';
import { EndReason, SessionTransport } from '../../hub/session-transport';
import { directSocket, framePayload } from '../ws/ws-connection';
import { CHANNEL_SUBSCRIBER, isPresenceChannel, isPrivateChannel, presenceData } from '../../pusher/pusher-presence';
import { channelAuthValid } from '../../pusher/pusher-signing';
import type { ClientEventRecord } from './client-event-webhooks';
import {
  errorFrame,
  parsePusherFrame,
  PONG_FRAME,
  PusherClientFrame,
  PusherCode,
  pusherData,
  switchboardData,
} from '../../pusher/pusher-protocol';

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
  /** One Pusher event as a whole WebSocket frame (`textFrame`) per message, shared by every Pusher recipient. */
  readonly encoder: MessageEncoder<Buffer>;
  /** Records a client event for the `client_event` webhook (set when an app asks for it). */
  readonly clientEventHook?: (e: ClientEventRecord) => void;
  /** Occupancy of every channel and the members of `presence-` ones (undefined: no Pusher apps). */
  readonly presence?: PresenceService;
  /** Counts a limit hit (`max_message_bytes`, `requests_in_flight`) for the pusher transport. */
  limitHit(limit: 'max_message_bytes' | 'requests_in_flight'): void;
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
  /** Presence channels: this connection's user there, its join/leave listener, signals held until subscription_succeeded. */
  private readonly members = new Map<string, { user: string; listener?: PresenceListener; held?: PresenceSignal[] }>();
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
    ws.on('pong', () => {
      this.lastSeen = Date.now();
    });
    ws.on('close', () => this.onClose());
    ws.on('error', (err: Error & { code?: string }) => {
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') ctx.limitHit('max_message_bytes');
      ctx.logger.debug({ err: err.message }, 'pusher connection error');
    });
  }

  /** Hot path: the shared frame of the message; nothing that names this socket as its sender is echoed back to it. */
  deliver(message: StoredMessage): void {
    if (this.closed) return;
    const frame = message.encoded(this.ctx.encoder);
    // Its own client events, and triggers that name its socket_id (Laravel's toOthers()), skip it.
    // (`message` was parsed once by the encoder: a property read and a string compare per recipient.)
    if (message.message.from === this.socketId) return;
    const socket = directSocket(this.ws);
    if (socket !== undefined) socket.write(frame);
    else this.ws.send(framePayload(frame), TEXT_FRAME);
  }

  /** Pusher has no recovery: a gap in live delivery is said as a `pusher:error` the app can log. */
  lost(channel: string): void {
    this.send(errorFrame(null, `messages on ${channel} were lost; refetch the channel's state`));
  }

  unsubscribed(channel: string, reason: UnsubscribeReason): void {
    this.release(channel);
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
    this.releaseAll();
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
    this.releaseAll();
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
      this.ctx.limitHit('requests_in_flight');
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
    const presence = isPresenceChannel(channel);
    if (isPrivateChannel(channel) || presence) {
      if (!channelAuthValid(this.app, this.socketId, channel, d?.auth, presence ? channelData : undefined)) {
        const signed = presence ? '"<socket_id>:<channel>:<channel_data>"' : '"<socket_id>:<channel>"';
        this.send(subscriptionError(channel, 401, `invalid signature for ${channel}: expected <key>:<hex HMAC-SHA256 of ${signed}>`));
        return;
      }
    }
    let member: { user: string; info: Record<string, unknown> } | undefined;
    if (presence) {
      member = presenceMember(channelData);
      if (member === undefined) {
        this.send(
          subscriptionError(channel, 400, 'channel_data must be JSON with user_id (string or number) and optional user_info (object)'),
        );
        return;
      }
    }
    this.channels.add(channel);
    try {
      let succeeded = '{}';
      const store = this.ctx.presence;
      if (store !== undefined && member !== undefined) {
        // Listen before joining and read the members after: a member who comes or goes meanwhile
        // is in the list or in a signal held until subscription_succeeded (pusher-js takes repeats).
        const entry: { user: string; listener?: PresenceListener; held?: PresenceSignal[] } = { user: member.user, held: [] };
        this.members.set(channel, entry);
        entry.listener = await store.listen(channel, (signal) => this.presenceSignal(channel, signal));
        await store.join(channel, this.socketId, member);
        succeeded = presenceData(await store.query(channel));
      } else if (store !== undefined) {
        await store.join(channel, this.socketId, { user: CHANNEL_SUBSCRIBER, info: {} });
      }
      if (!this.channels.has(channel)) {
        this.release(channel); // closed meanwhile: leave what was joined
        return;
      }
      // Presence of Pusher channels is this transport's (above): the session's stays out of it.
      await this.session.subscribe(
        channel,
        undefined,
        () => this.send(JSON.stringify({ event: 'pusher_internal:subscription_succeeded', channel, data: succeeded })),
        { ownPresence: true },
      );
      const entry = this.members.get(channel);
      if (entry?.held !== undefined) {
        const held = entry.held;
        entry.held = undefined;
        for (const signal of held) this.presenceSignal(channel, signal);
      }
    } catch (err) {
      this.release(channel);
      if (!isSwitchboardError(err)) throw err;
      this.send(subscriptionError(channel, err.httpStatus, err.message));
    }
  }

  /** A member came or went (from any gateway): `pusher_internal:member_added|removed`, never about this client's own user. */
  private presenceSignal(channel: string, signal: PresenceSignal): void {
    const entry = this.members.get(channel);
    if (entry === undefined || signal.user === entry.user) return;
    if (entry.held !== undefined) {
      entry.held.push(signal);
      return;
    }
    const data =
      signal.op === 'join'
        ? JSON.stringify({ user_id: signal.user, user_info: signal.info ?? {} })
        : JSON.stringify({ user_id: signal.user });
    this.send(
      JSON.stringify({ event: signal.op === 'join' ? 'pusher_internal:member_added' : 'pusher_internal:member_removed', channel, data }),
    );
  }

  /** Leaves the channel's presence (and its join/leave listener); the session's subscription is ended by the caller. */
  private release(channel: string): void {
    this.channels.delete(channel);
    const entry = this.members.get(channel);
    this.members.delete(channel);
    entry?.listener?.close();
    this.ctx.presence
      ?.leave(channel, this.socketId)
      .catch((err: unknown) => this.ctx.logger.warn({ err, channel }, 'pusher presence leave failed; retried'));
  }

  private unsubscribe(data: unknown): void {
    const channel = asObject(data)?.channel;
    if (typeof channel !== 'string' || !this.channels.has(channel)) return;
    this.release(channel);
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
    if (channel === undefined || !(isPrivateChannel(channel) || isPresenceChannel(channel))) {
      this.send(errorFrame(null, 'client events are only allowed on private and presence channels'));
      return;
    }
    if (!this.channels.has(channel)) {
      this.send(errorFrame(null, `subscribe to ${channel} before sending client events on it`));
      return;
    }
    try {
      const data = switchboardData(frame.data);
      await this.session.publish(channel, data, undefined, frame.event);
      const user = this.members.get(channel)?.user;
      this.ctx.clientEventHook?.({
        channel,
        event: frame.event,
        data: pusherData(data),
        socket_id: this.socketId,
        ...(user === undefined ? {} : { user_id: user }),
      });
    } catch (err) {
      if (!isSwitchboardError(err)) throw err;
      const code = err.code === 'rate_limited' ? PusherCode.ClientEventRejected : null;
      this.send(errorFrame(code, err.message));
    }
  }

  /** The connection is gone: it leaves every channel's presence (idempotent). */
  private releaseAll(): void {
    if (this.channels.size === 0 && this.members.size === 0) return;
    for (const entry of this.members.values()) entry.listener?.close();
    this.members.clear();
    this.channels.clear();
    this.ctx.presence
      ?.leaveAll(this.socketId)
      .catch((err: unknown) => this.ctx.logger.warn({ err }, 'pusher presence leave failed; retried'));
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
    this.releaseAll();
    this.ctx.unregister(this);
  }
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

/** A presence channel's member from its `channel_data` (`{"user_id", "user_info"?}`), or undefined when malformed. */
function presenceMember(channelData: string | undefined): { user: string; info: Record<string, unknown> } | undefined {
  const d = asObject(channelData);
  const id = d?.user_id;
  if (typeof id !== 'string' && typeof id !== 'number') return undefined;
  const user = String(id);
  if (user.length === 0 || user.length > 128) return undefined;
  const info = d?.user_info ?? {};
  if (typeof info !== 'object' || info === null || Array.isArray(info)) return undefined;
  return { user, info: info as Record<string, unknown> };
}

/** `pusher:subscription_error` as pusher-js reads it (`data.type`, `data.error`, `data.status`). */
function subscriptionError(channel: string, status: number, error: string): string {
  return JSON.stringify({
    event: 'pusher:subscription_error',
    channel,
    data: { type: status === 401 || status === 403 ? 'AuthError' : 'SubscriptionError', error, status },
  });
}
