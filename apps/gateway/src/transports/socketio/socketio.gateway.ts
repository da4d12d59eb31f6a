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
import { ClientFrame, ClientOp, ErrorCode, isSwitchboardError, readClientRequest, UnsubscribeReason } from '@switchboard/protocol';
import type { Server, Socket } from 'socket.io';
import WebSocket from 'ws';
import { Principal } from '../../auth/principal';
import { tokenFromHandshake } from '../../auth/request-auth';
import { GatewayTokenVerifier } from '../../auth/token-verifier';
import { ClientSession } from '../../hub/client-session';
import { ConnectionRegistry } from '../../hub/connection-registry';
import { Hub } from '../../hub/hub';
import type { PresenceNotice } from '../../hub/presence-hub';
import { EndReason, SessionTransport } from '../../hub/session-transport';

/** The request of one op, as the protocol library validated it. */
type Request<O extends ClientOp> = Extract<ClientFrame, { op: O }>;

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

/**
 * One Socket.IO client: messages go out pre-encoded (one packet string per message for
 * every socket); requests are validated by the protocol library and handled by the session.
 */
class SocketIoConnection implements SessionTransport {
  readonly transport = 'socketio' as const;
  readonly session: ClientSession;
  /** Bytes handed to engine.io since its last `drain` (what the client has not taken yet). */
  private pendingBytes = 0;
  private closed = false;

  constructor(
    private readonly socket: Socket,
    principal: Principal,
    hub: Hub,
    private readonly packet: MessageEncoder<string>,
    private readonly writeOptions: MessageEncoder<WriteOptions>,
  ) {
    this.session = hub.openSession(principal, this);
    // A block, not an expression: engine.io emits 'drain' after every flush (each delivery),
    // and Node's emit hands a listener's non-undefined result to its promise-rejection check.
    socket.conn.on('drain', () => {
      this.pendingBytes = 0;
    });
  }

  deliver(m: StoredMessage): void {
    if (this.closed || this.socket.conn.readyState !== 'open') return;
    const packet = m.encoded(this.packet);
    this.socket.conn.write(packet, m.encoded(this.writeOptions));
    this.pendingBytes += packet.length;
  }

  /** `join` / `leave` events: one packet string per signal, shared by every socket. */
  presenceNotice(notice: PresenceNotice): void {
    if (this.closed || this.socket.conn.readyState !== 'open') return;
    const packet = notice.socketIo;
    this.socket.conn.write(packet);
    this.pendingBytes += packet.length;
  }

  lost(channel: string): void {
    this.emit('recovery', { channel, recovered: false });
  }

  unsubscribed(channel: string, reason: UnsubscribeReason): void {
    this.emit('unsubscribed', { channel, reason });
  }

  queuedBytes(): number {
    return this.pendingBytes;
  }

  end(reason: EndReason, reconnectAfterMs?: number): void {
    if (this.closed) return;
    if (reason === 'expired') this.emit('expired', { reason: 'token expired' });
    if (reason === 'drain') {
      // Tells the client when to come back, then drops the transport: the client's Manager reconnects.
      this.emit('drain', { reconnectAfterMs });
      this.closed = true;
      this.socket.conn.close();
      return;
    }
    this.closed = true;
    this.socket.disconnect(true);
  }

  /** An ack, counted against the send queue like every other send. */
  reply(ack: AckFn, reply: AckReply): void {
    if (this.closed) return;
    ack(reply);
    this.count(reply);
  }

  onDisconnect(): void {
    this.closed = true;
    this.session.close();
  }

  private emit(event: string, payload: object): void {
    if (this.closed) return;
    this.socket.emit(event, payload);
    this.count(payload);
  }

  private count(payload: object): void {
    this.pendingBytes += JSON.stringify(payload).length + 16;
    this.session.sent();
  }
}

function errorReply(err: unknown, logger: Logger): AckReply {
  if (isSwitchboardError(err)) return { ok: false, code: err.code, message: err.message };
  logger.error({ err }, 'Socket.IO request failed');
  return { ok: false, code: 'unavailable', message: 'internal error' };
}

const noAck: AckFn = () => undefined;

/**
 * Socket.IO at `/socket.io/` (websocket and polling): `subscribe` / `unsubscribe` /
 * `publish` / `refresh` / `presence` with acks, server emits `message`, `recovery`,
 * `unsubscribed`, `expired` (SPEC "Client transports" 2). Handlers take the ack themselves
 * (`@Ack()`) so a subscribe's ack goes out before the messages it recovers.
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
      const { auth, query, headers } = socket.handshake;
      const token = tokenFromHandshake(auth, query, headers.authorization);
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
    const connection = new SocketIoConnection(socket, data.principal, this.hub, this.packet, this.writeOptions);
    this.connections.set(socket, connection);
    socket.once('disconnect', () => connection.onDisconnect());
  }

  @SubscribeMessage('subscribe')
  async subscribe(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown, @Ack() ack: AckFn): Promise<void> {
    await this.handle(socket, 'subscribe', body, ack, async (c, frame, reply) => {
      const since = frame.since;
      await c.session.subscribe(frame.channel, since, (o: SubscribeOutcome) =>
        reply({
          ok: true,
          channel: o.channel,
          offset: o.offset,
          epoch: o.epoch,
          recovered: since === undefined ? undefined : o.recovered === true,
        }),
      );
    });
  }

  @SubscribeMessage('unsubscribe')
  async unsubscribe(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown, @Ack() ack: AckFn): Promise<void> {
    await this.handle(socket, 'unsubscribe', body, ack, (c, frame, reply) => {
      c.session.unsubscribe(frame.channel);
      reply({ ok: true, channel: frame.channel });
    });
  }

  @SubscribeMessage('publish')
  async publish(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown, @Ack() ack: AckFn): Promise<void> {
    await this.handle(socket, 'publish', body, ack, async (c, frame, reply) => {
      const result = await c.session.publish(frame.channel, frame.data, frame.idempotencyKey);
      reply({ ok: true, channel: result.channel, offset: result.offset });
    });
  }

  @SubscribeMessage('refresh')
  async refresh(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown, @Ack() ack: AckFn): Promise<void> {
    await this.handle(socket, 'refresh', body, ack, async (c, frame, reply) => {
      reply({ ok: true, expiresAt: await c.session.refresh(frame.token) });
    });
  }

  @SubscribeMessage('presence')
  async presence(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown, @Ack() ack: AckFn): Promise<void> {
    await this.handle(socket, 'presence', body, ack, async (c, frame, reply) => {
      reply({ ok: true, ...(await c.session.presence(frame.channel)) });
    });
  }

  /** Validates a request with the protocol's rules, runs it, and acks an error for whatever it throws. */
  private async handle<O extends ClientOp>(
    socket: Socket,
    op: O,
    body: unknown,
    ack: AckFn | undefined,
    run: (c: SocketIoConnection, request: Request<O>, reply: (r: AckReply) => void) => Promise<void> | void,
  ): Promise<void> {
    const connection = this.connections.get(socket);
    if (connection === undefined) return;
    const ackFn = typeof ack === 'function' ? ack : noAck;
    const reply = (r: AckReply): void => connection.reply(ackFn, r);
    const parsed = readClientRequest(op, body);
    if (!parsed.ok) {
      reply({ ok: false, code: 'bad_request', message: parsed.message });
      return;
    }
    try {
      await run(connection, parsed.frame as Request<O>, reply);
    } catch (err) {
      reply(errorReply(err, this.logger));
    }
  }
}
