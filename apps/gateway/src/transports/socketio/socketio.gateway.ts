import { Inject } from '@nestjs/common';
import {
  Ack,
  ConnectedSocket,
  MessageBody,
  OnGatewayConnection,
  OnGatewayInit,
  SubscribeMessage,
  WebSocketGateway,
  WebSocketServer,
} from '@nestjs/websockets';
import type { MessageEncoder, StoredMessage, SubscribeOutcome } from '@switchboard/engine';
import type { Logger } from '@switchboard/observability';
import { LOGGER } from '@switchboard/platform';
import { ErrorCode, isStreamPosition, isSwitchboardError, MAX_IDEMPOTENCY_KEY_LENGTH, StreamPosition } from '@switchboard/protocol';
import type { Server, Socket } from 'socket.io';
import { Principal } from '../../auth/principal';
import { GatewayTokenVerifier } from '../../auth/token-verifier';
import { ClientSession } from '../../hub/client-session';
import { ConnectionRegistry, Drainable } from '../../hub/connection-registry';
import { Hub } from '../../hub/hub';
import { SessionSink } from '../../hub/transport';
import WebSocket from 'ws';

type AckReply = { ok: true; [k: string]: unknown } | { ok: false; code: ErrorCode; message: string };
type AckFn = (reply: AckReply) => void;

/** `socket.data` travels to other nodes (the Redis adapter's fetchSockets): plain data only. */
interface SocketData {
  principal: Principal;
}

/**
 * ws's frame builder (untyped in @types/ws): the WebSocket frame of a message is built once
 * and handed to engine.io, which writes it to every WebSocket-transport socket as is (what
 * Socket.IO's own broadcasts do); polling sockets take the packet string.
 */
const buildFrame = (WebSocket as unknown as { Sender: { frame(data: Buffer, options: FrameOptions): Buffer[] } }).Sender.frame;
interface FrameOptions {
  readOnly: boolean;
  mask: boolean;
  rsv1: boolean;
  opcode: number;
  fin: boolean;
}
const FRAME_OPTIONS: FrameOptions = { readOnly: false, mask: false, rsv1: false, opcode: 1, fin: true };
/** engine.io's `write` options; `wsPreEncodedFrame` is read by its WebSocket transport (untyped). */
interface WriteOptions {
  compress: boolean;
  wsPreEncodedFrame: Buffer[];
}

/** One Socket.IO client. Messages go out pre-encoded: one packet string per message for every socket. */
class SocketIoConnection implements SessionSink, Drainable {
  readonly transport = 'socketio' as const;
  readonly session: ClientSession;
  /** Bytes handed to engine.io since its last `drain` (what the client has not taken yet). */
  private pendingBytes = 0;
  private closed = false;

  constructor(
    private readonly socket: Socket,
    principal: Principal,
    private readonly hub: Hub,
    private readonly packet: MessageEncoder<string>,
    private readonly writeOptions: MessageEncoder<WriteOptions>,
    private readonly logger: Logger,
  ) {
    this.session = hub.openSession(principal, this);
    socket.conn.on('drain', () => (this.pendingBytes = 0));
  }

  deliver(m: StoredMessage): void {
    if (this.closed || this.socket.conn.readyState !== 'open') return;
    const packet = m.encoded(this.packet);
    this.socket.conn.write(packet, m.encoded(this.writeOptions));
    this.hub.countDelivered('socketio');
    this.pendingBytes += packet.length;
    if (this.pendingBytes > this.hub.options.sendQueueMaxBytes) {
      this.hub.metrics.slowConsumerDisconnects.inc({ transport: 'socketio' });
      this.logger.info({ sub: this.session.principal.sub, queued: this.pendingBytes }, 'slow Socket.IO consumer disconnected');
      this.close();
      this.socket.disconnect(true);
    }
  }

  lost(channel: string): void {
    if (!this.closed) this.socket.emit('recovery', { channel, recovered: false });
  }

  /** Tells the client when to come back, then drops the transport: the client's Manager reconnects. */
  drain(reconnectAfterMs: number): void {
    this.hub.metrics.drainDisconnects.inc({ transport: 'socketio' });
    this.socket.emit('drain', { reconnectAfterMs });
    this.close();
    this.socket.conn.close();
  }

  close(): void {
    this.closed = true;
    this.session.close();
  }
}

function errorReply(err: unknown, logger: Logger): AckReply {
  if (isSwitchboardError(err)) return { ok: false, code: err.code, message: err.message };
  logger.error({ err }, 'Socket.IO request failed');
  return { ok: false, code: 'unavailable', message: 'internal error' };
}

function badRequest(message: string): AckReply {
  return { ok: false, code: 'bad_request', message };
}

/**
 * Socket.IO at `/socket.io/` (websocket and polling): `subscribe` / `unsubscribe` /
 * `publish` with acks, server emits `message` and `recovery` (SPEC "Client transports" 2).
 * Handlers take the ack themselves (`@Ack()`) so a subscribe's ack goes out before the
 * messages it recovers.
 */
@WebSocketGateway({ path: '/socket.io' })
export class SocketIoGateway implements OnGatewayInit<Server>, OnGatewayConnection<Socket> {
  /** The Socket.IO server (its adapter is Redis-backed when Redis is configured). */
  @WebSocketServer() server!: Server;

  /** `2["message",<json>]`: the Socket.IO EVENT packet for the default namespace, built once per message. */
  private readonly packet: MessageEncoder<string>;
  /** engine.io write options carrying the packet's WebSocket frame (`4` = engine.io message), one object per message. */
  private readonly writeOptions: MessageEncoder<WriteOptions>;
  private readonly connections = new WeakMap<Socket, SocketIoConnection>();

  constructor(
    private readonly hub: Hub,
    private readonly verifier: GatewayTokenVerifier,
    private readonly registry: ConnectionRegistry,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.packet = hub.timedEncoder('socketio', (m) => '2["message",' + m.json + ']');
    // Shared by every recipient, as Socket.IO's own broadcasts share theirs.
    this.writeOptions = {
      encode: (m) => ({ compress: false, wsPreEncodedFrame: buildFrame(Buffer.from('4' + m.encoded(this.packet)), FRAME_OPTIONS) }),
    };
  }

  afterInit(server: Server): void {
    server.use((socket, next) => {
      const auth = socket.handshake.auth as Record<string, unknown> | undefined;
      const query = socket.handshake.query.token;
      const header = socket.handshake.headers.authorization;
      const token =
        typeof auth?.token === 'string'
          ? auth.token
          : typeof query === 'string'
            ? query
            : typeof header === 'string'
              ? header.replace(/^Bearer\s+/i, '')
              : undefined;
      try {
        this.registry.admit('socketio');
      } catch {
        next(new Error('overloaded'));
        return;
      }
      this.verifier.verify(token).then(
        (principal) => {
          (socket.data as SocketData).principal = principal;
          next();
        },
        () => {
          this.hub.metrics.connectionsRefused.inc({ transport: 'socketio', reason: 'unauthorized' });
          next(new Error('unauthorized'));
        },
      );
    });
  }

  handleConnection(socket: Socket): void {
    const data = socket.data as SocketData;
    const connection = new SocketIoConnection(socket, data.principal, this.hub, this.packet, this.writeOptions, this.logger);
    this.connections.set(socket, connection);
    this.registry.add(connection);
    socket.once('disconnect', () => {
      connection.close();
      this.registry.remove(connection);
    });
  }

  @SubscribeMessage('subscribe')
  async subscribe(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown, @Ack() ack: AckFn): Promise<void> {
    const reply = typeof ack === 'function' ? ack : () => undefined;
    const session = this.connections.get(socket)?.session;
    if (session === undefined) return;
    const request = body as { channel?: unknown; since?: unknown } | null;
    if (typeof request !== 'object' || request === null || typeof request.channel !== 'string') {
      reply(badRequest('subscribe needs {channel, since?}'));
      return;
    }
    let since: StreamPosition | undefined;
    if (request.since !== undefined && request.since !== null) {
      if (!isStreamPosition(request.since)) {
        reply(badRequest('"since" must be {"offset": <integer ≥ 0>, "epoch": "<string>"}'));
        return;
      }
      since = { offset: request.since.offset, epoch: request.since.epoch };
    }
    try {
      await session.subscribe(request.channel, since, (o: SubscribeOutcome) =>
        reply({
          ok: true,
          channel: o.channel,
          offset: o.offset,
          epoch: o.epoch,
          recovered: since === undefined ? undefined : o.recovered === true,
        }),
      );
    } catch (err) {
      reply(errorReply(err, this.logger));
    }
  }

  @SubscribeMessage('unsubscribe')
  unsubscribe(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown, @Ack() ack: AckFn): void {
    const reply = typeof ack === 'function' ? ack : () => undefined;
    const session = this.connections.get(socket)?.session;
    const channel = (body as { channel?: unknown } | null)?.channel;
    if (session === undefined) return;
    if (typeof channel !== 'string') {
      reply(badRequest('unsubscribe needs {channel}'));
      return;
    }
    try {
      session.unsubscribe(channel);
      reply({ ok: true, channel });
    } catch (err) {
      reply(errorReply(err, this.logger));
    }
  }

  @SubscribeMessage('publish')
  async publish(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown, @Ack() ack: AckFn): Promise<void> {
    const reply = typeof ack === 'function' ? ack : () => undefined;
    const session = this.connections.get(socket)?.session;
    if (session === undefined) return;
    const request = body as { channel?: unknown; data?: unknown; idempotencyKey?: unknown } | null;
    if (typeof request !== 'object' || request === null || typeof request.channel !== 'string' || !('data' in request)) {
      reply(badRequest('publish needs {channel, data, idempotencyKey?}'));
      return;
    }
    const key = request.idempotencyKey;
    if (key !== undefined && (typeof key !== 'string' || key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH)) {
      reply(badRequest(`"idempotencyKey" must be a string of 1–${MAX_IDEMPOTENCY_KEY_LENGTH} characters`));
      return;
    }
    try {
      const result = await session.publish(request.channel, request.data, key);
      reply({ ok: true, channel: result.channel, offset: result.offset });
    } catch (err) {
      reply(errorReply(err, this.logger));
    }
  }
}
