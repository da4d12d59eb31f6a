import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import type { MessageEncoder } from '@switchboard/engine';
import type { Logger } from '@switchboard/observability';
import { LOGGER } from '@switchboard/platform';
import { encodeMessageFrame, isSwitchboardError, SwitchboardError } from '@switchboard/protocol';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { Principal } from '../../auth/principal';
import { originAllowed, tokenFromRequest } from '../../auth/request-auth';
import { GatewayTokenVerifier } from '../../auth/token-verifier';
import { ConnectionRegistry } from '../../hub/connection-registry';
import { Hub } from '../../hub/hub';
import { GatewaySocket, textFrame, WsConnection, WsContext } from './ws-connection';

export const WS_PATH = '/v1/ws';

/**
 * `GET /v1/ws`: plain RFC 6455 WebSocket on the HTTP server's port. Upgrades are routed
 * by path; Socket.IO handles its own (`/socket.io/`). The handshake is refused with a
 * plain HTTP status (401 token, 403 origin, 503 full or draining) before upgrading.
 */
@Injectable()
export class WsTransport implements OnApplicationShutdown {
  private readonly wss: WebSocketServer;
  private readonly connections = new Set<WsConnection>();
  private readonly heartbeat: NodeJS.Timeout;
  private readonly context: WsContext;

  constructor(
    private readonly hub: Hub,
    private readonly verifier: GatewayTokenVerifier,
    private readonly registry: ConnectionRegistry,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.wss = new WebSocketServer({
      WebSocket: GatewaySocket,
      noServer: true,
      maxPayload: hub.options.maxMessageBytes,
      perMessageDeflate: false,
      clientTracking: false,
    });
    // The whole WebSocket frame (header and payload), once per message: server frames are
    // not masked, so every recipient is sent the same bytes (ws-connection.ts `deliver`).
    const encoder: MessageEncoder<Buffer> = hub.timedEncoder('ws', (m) => textFrame(encodeMessageFrame(m.json)));
    this.context = {
      logger,
      encoder,
      tooBig: () => hub.metrics.limitHits.inc({ limit: 'max_message_bytes', transport: 'ws' }),
      tooManyRequests: () => hub.metrics.limitHits.inc({ limit: 'requests_in_flight', transport: 'ws' }),
      unregister: (c) => this.connections.delete(c),
    };
    // One timer for every connection: ping, and cut those silent for two intervals.
    this.heartbeat = setInterval(() => this.beat(), hub.options.wsPingMs);
    this.heartbeat.unref();
  }

  /** Routes `/v1/ws` upgrades of `server` here; leaves Socket.IO's, refuses unknown paths. */
  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname === WS_PATH || url.pathname === WS_PATH + '/') {
        void this.upgrade(req, socket, head, url.searchParams);
      } else if (!url.pathname.startsWith('/socket.io') && !url.pathname.startsWith('/app/')) {
        // (`/app/<key>` is the Pusher transport's.)
        reject(socket, 404, 'not_found', 'no WebSocket endpoint at this path; use /v1/ws or /socket.io/');
      }
    });
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** After the drain (Nest runs onModuleDestroy before it): whatever is left is told 1001 going away. */
  onApplicationShutdown(): void {
    clearInterval(this.heartbeat);
    for (const c of this.connections) c.session.end('shutdown');
    this.wss.close();
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, query: URLSearchParams): Promise<void> {
    socket.on('error', destroySocket);
    let principal: Principal;
    try {
      if (!originAllowed(req, this.hub.options.allowedOrigins)) {
        this.hub.metrics.connectionsRefused.inc({ transport: 'ws', reason: 'forbidden_origin' });
        throw new SwitchboardError('forbidden', 'origin not allowed');
      }
      this.registry.admit('ws');
      principal = await this.verifier.verify(tokenFromRequest(req, query)).catch((err: unknown) => {
        this.hub.metrics.connectionsRefused.inc({ transport: 'ws', reason: 'unauthorized' });
        throw err;
      });
      this.registry.admit('ws');
    } catch (err) {
      if (isSwitchboardError(err)) reject(socket, err.httpStatus, err.code, err.message);
      else {
        this.logger.error({ err }, 'ws handshake failed');
        reject(socket, 500, 'unavailable', 'internal error');
      }
      return;
    }
    if (socket.destroyed) return;
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      // From here on ws handles the socket's errors.
      socket.removeListener('error', destroySocket);
      const connection = new WsConnection(ws as GatewaySocket, (c) => this.hub.openSession(principal, c), this.context);
      this.connections.add(connection);
    });
  }

  /** Pings every connection; one that has not answered two pings is dead (or not reading) and is cut. */
  private beat(): void {
    const silentSince = Date.now() - 2 * this.hub.options.wsPingMs;
    for (const c of this.connections) {
      if (c.lastSeen < silentSince) c.terminate();
      else c.ws.ping();
    }
  }
}

const STATUS_TEXT: Record<number, string> = {
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** A handshake's socket error (a shared listener: none is made per connection). */
function destroySocket(this: Duplex): void {
  this.destroy();
}

/** Answers a handshake with a plain HTTP error and closes the socket. */
function reject(socket: Duplex, status: number, code: string, message: string): void {
  if (socket.destroyed) return;
  const body = JSON.stringify({ error: code, message });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\n` +
      'Connection: close\r\nContent-Type: application/json\r\n' +
      (status === 503 ? 'Retry-After: 1\r\n' : '') +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
