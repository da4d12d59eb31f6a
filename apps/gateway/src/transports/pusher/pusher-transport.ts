import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import type { EventBus, MessageEncoder } from '@switchboard/engine';
import type { Logger } from '@switchboard/observability';
import { EVENT_BUS, LOGGER } from '@switchboard/platform';
import { isSwitchboardError } from '@switchboard/protocol';
import { randomInt } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { originAllowed } from '../../auth/request-auth';
import { Principal } from '../../auth/principal';
import { ConnectionRegistry } from '../../hub/connection-registry';
import { Hub } from '../../hub/hub';
import { PUSHER_APPS, PusherApps } from '../../pusher/pusher-apps';
import { PUSHER_PRESENCE } from '../../pusher/pusher-presence';
import type { PusherPresence } from '../../pusher/pusher-presence';
import { encodePusherEvent, PUSHER_PROTOCOL, PusherCode } from '../../pusher/pusher-protocol';
import { textFrame } from '../ws/ws-connection';
import { clientEventPublisher } from './client-event-webhooks';
import { PusherConnection, PusherContext } from './pusher-connection';

const APP_PATH = /^\/app\/([^/]+)\/?$/;

/**
 * `GET /app/<key>`: the Pusher Channels WebSocket (protocol 7) for pusher-js and Laravel
 * Echo, one more adapter over the session core. Refusals after the handshake are Pusher's
 * way: a `pusher:error` and a close with its code (4001 unknown app, 4007 protocol, 4100
 * over capacity), which pusher-js reads to decide whether to reconnect.
 */
@Injectable()
export class PusherTransport implements OnApplicationShutdown {
  private readonly wss: WebSocketServer;
  private readonly connections = new Set<PusherConnection>();
  private readonly heartbeat: NodeJS.Timeout;
  private readonly context: PusherContext;

  constructor(
    private readonly hub: Hub,
    private readonly registry: ConnectionRegistry,
    @Inject(PUSHER_APPS) private readonly apps: PusherApps,
    @Inject(PUSHER_PRESENCE) private readonly presence: PusherPresence,
    @Inject(LOGGER) logger: Logger,
    @Inject(EVENT_BUS) bus: EventBus,
  ) {
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: hub.options.maxMessageBytes,
      perMessageDeflate: false,
      clientTracking: false,
    });
    // The whole WebSocket frame, once per message (see /v1/ws: every recipient is sent the same bytes).
    const encoder: MessageEncoder<Buffer> = hub.timedEncoder('pusher', (m) => textFrame(encodePusherEvent(m)));
    const clientEventHook = apps.clientEventWebhooks
      ? clientEventPublisher(bus, logger, () => hub.metrics.pusherClientEventWebhooksLost.inc())
      : undefined;
    this.context = {
      logger,
      encoder,
      presence: presence.service,
      clientEventHook,
      limitHit: (limit) => hub.metrics.limitHits.inc({ limit, transport: 'pusher' }),
      unregister: (c) => this.connections.delete(c),
    };
    this.heartbeat = setInterval(() => this.beat(), hub.options.wsPingMs);
    this.heartbeat.unref();
  }

  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const match = APP_PATH.exec(new URL(req.url ?? '/', 'http://localhost').pathname);
      if (match !== null) this.upgrade(req, socket, head, decodeURIComponent(match[1]));
    });
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** After the drain: what is left is told 4200 (reconnect elsewhere), then presence hands its entries back. */
  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.heartbeat);
    for (const c of this.connections) c.session.end('shutdown');
    this.wss.close();
    await this.presence.service?.close();
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, key: string): void {
    socket.on('error', () => socket.destroy());
    if (!this.apps.enabled) {
      reject(socket, 404, 'not_found', 'no Pusher apps are configured (PUSHER_APPS)');
      return;
    }
    if (!originAllowed(req, this.hub.options.allowedOrigins)) {
      this.hub.metrics.connectionsRefused.inc({ transport: 'pusher', reason: 'forbidden_origin' });
      reject(socket, 403, 'forbidden', 'origin not allowed');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const refuse = (code: number, message: string): void => {
        ws.send(JSON.stringify({ event: 'pusher:error', data: { code, message } }));
        ws.close(code, message);
      };
      const app = this.apps.withKey(key);
      if (app === undefined) return refuse(PusherCode.ApplicationDoesNotExist, `no app with key ${key}`);
      const protocol = new URL(req.url ?? '/', 'http://localhost').searchParams.get('protocol');
      if (protocol === null) return refuse(PusherCode.NoProtocol, 'no protocol version given (?protocol=7)');
      if (Number(protocol) !== PUSHER_PROTOCOL)
        return refuse(PusherCode.UnsupportedProtocol, `protocol ${protocol} is not supported; use 7`);
      try {
        this.registry.admit('pusher');
      } catch (err) {
        if (!isSwitchboardError(err)) throw err;
        return refuse(PusherCode.OverCapacity, err.message);
      }
      const socketId = `${randomInt(1, 2 ** 47)}.${randomInt(1, 2 ** 47)}`;
      // Pusher's access rules are the transport's: public channels are open to whoever has the
      // key, private and presence ones need the app's signature (checked per subscribe).
      const principal: Principal = {
        sub: socketId,
        channels: ['*'],
        publish: app.clientEvents ? ['private-*', 'presence-*'] : [],
      };
      const connection = new PusherConnection(ws, app, socketId, (c) => this.hub.openSession(principal, c), this.context);
      this.connections.add(connection);
      connection.established(this.apps.activityTimeoutSeconds);
    });
  }

  private beat(): void {
    const silentSince = Date.now() - 2 * this.hub.options.wsPingMs;
    for (const c of this.connections) {
      if (c.lastSeen < silentSince) c.terminate();
      else c.ws.ping();
    }
  }
}

function reject(socket: Duplex, status: number, code: string, message: string): void {
  if (socket.destroyed) return;
  const body = JSON.stringify({ error: code, message });
  socket.end(
    `HTTP/1.1 ${status} ${status === 404 ? 'Not Found' : 'Forbidden'}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
