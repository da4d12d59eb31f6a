import { createServer, IncomingMessage, request, Server } from 'node:http';
import { AddressInfo, connect, Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * A tiny HTTP proxy in front of a gateway that behaves like the proxies clients meet:
 * it can refuse WebSocket upgrades, refuse SSE, or cut every open connection.
 */
export class TestProxy {
  blockWebSocket = false;
  blockSse = false;
  private readonly sockets = new Set<Socket | Duplex>();
  /** Upgraded (WebSocket) connections: client side, gateway side. */
  private readonly tunnels = new Set<[Duplex, Socket]>();
  private server!: Server;

  constructor(public target: string) {}

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async start(port = 0): Promise<void> {
    this.server = createServer((req, res) => {
      if (this.blockSse && (req.url ?? '').startsWith('/v1/sse')) {
        res.writeHead(502).end('SSE blocked by proxy');
        return;
      }
      const upstream = request(this.target + (req.url ?? '/'), { method: req.method, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (this.blockWebSocket) {
        socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
        return;
      }
      const target = new URL(this.target);
      const up = connect(Number(target.port), target.hostname, () => {
        up.write(
          `${req.method} ${req.url} HTTP/1.1\r\n` +
            Object.entries(req.headers)
              .map(([k, v]) => `${k}: ${String(v)}`)
              .join('\r\n') +
            '\r\n\r\n',
        );
        up.write(head);
        up.pipe(socket).pipe(up);
        const tunnel: [Duplex, Socket] = [socket, up];
        this.tunnels.add(tunnel);
        up.on('close', () => this.tunnels.delete(tunnel));
      });
      this.sockets.add(up);
      up.on('close', () => this.sockets.delete(up));
      up.on('error', () => socket.destroy());
      socket.on('error', () => up.destroy());
    });
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
  }

  /**
   * Every open WebSocket stops passing bytes, both ways, without closing: what a phone's OS
   * does to the sockets of a background tab, or a NAT that forgot the flow. New connections
   * are not affected.
   */
  stallWebSockets(): void {
    for (const [client, gateway] of this.tunnels) {
      gateway.unpipe(client);
      client.unpipe(gateway);
      gateway.pause();
      client.pause();
    }
    this.tunnels.clear();
  }

  /** Cuts every connection (a proxy restart). */
  cutAll(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  async stop(): Promise<void> {
    this.cutAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
