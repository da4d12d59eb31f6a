import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { decodeCursor, encodeCursor, type ClientFrame, type RefreshRequest, type ServerFrame } from '@switchboard/protocol';
import type { Message, Position } from '../types';

/**
 * A stand-in gateway for the SDK's unit specs: WS, SSE and long-poll on one port, with
 * history, resume and token expiry as docs/PROTOCOL.md describes them, and hooks to make it
 * misbehave. Tokens are unsigned JWT-shaped strings (`fakeToken`); `garbage` is refused.
 * The real gateway is exercised by test/client-*.e2e-spec.ts.
 */
export class FakeGateway {
  /** How a WS `refresh` is answered (`bad_request`: a gateway that predates refresh). */
  refreshAnswer: 'refreshed' | 'forbidden' | 'bad_request' = 'refreshed';
  /** Seconds past `exp` a connection may live (the gateway's JWT_CLOCK_TOLERANCE_SECONDS). */
  toleranceSeconds = 5;
  /** Every WS handshake, SSE request and poll (probes included), with the token it carried. */
  readonly log: Array<{ kind: 'ws' | 'sse' | 'poll' | 'probe'; token: string; refused: boolean; lastEventId?: string; cursor?: string }> =
    [];
  /** Every `refresh` frame received. */
  readonly refreshes: string[] = [];
  readonly ws = new Set<FakeWsConnection>();
  private readonly history = new Map<string, Message[]>();
  private readonly sse = new Set<SseStream>();
  private readonly held = new Set<() => void>();
  private readonly server: Server;
  private readonly wss = new WebSocketServer({ noServer: true });

  constructor() {
    this.server = createServer((req, res) => this.http(req, res));
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async stop(): Promise<void> {
    for (const c of this.ws) c.socket.terminate();
    for (const s of this.sse) s.res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Stores the next message of `channel` and delivers it to every subscriber. */
  publish(channel: string, data: unknown): Message {
    const list = this.history.get(channel) ?? [];
    this.history.set(channel, list);
    const m: Message = { channel, offset: list.length + 1, epoch: 'e1', data, ts: Date.now() };
    list.push(m);
    for (const c of this.ws) if (c.channels.has(channel)) c.send({ op: 'message', ...m });
    for (const s of this.sse) if (s.channels.includes(channel)) this.writeSse(s, m);
    for (const wake of [...this.held]) wake();
    return m;
  }

  /** Whether the gateway takes `token` now. */
  valid(token: string): boolean {
    const exp = claims(token)?.exp;
    return (
      token !== 'garbage' && claims(token) !== undefined && (exp === undefined || exp * 1000 + this.toleranceSeconds * 1000 > Date.now())
    );
  }

  private expiryDelay(token: string): number | undefined {
    const exp = claims(token)?.exp;
    return exp === undefined ? undefined : Math.max(0, exp * 1000 + this.toleranceSeconds * 1000 - Date.now());
  }

  private after(channel: string, since?: Position): Message[] {
    return (this.history.get(channel) ?? []).filter((m) => since !== undefined && m.offset > since.offset);
  }

  private position(channel: string): Position {
    return { offset: this.history.get(channel)?.length ?? 0, epoch: 'e1' };
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const token = new URL(req.url ?? '/', 'http://x').searchParams.get('token') ?? '';
    const refused = !this.valid(token);
    this.log.push({ kind: 'ws', token, refused });
    if (refused) {
      const body = JSON.stringify({ error: 'unauthorized', message: 'invalid token' });
      socket.end(
        `HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      );
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const c = new FakeWsConnection(ws, token);
      this.ws.add(c);
      const arm = (): void => {
        clearTimeout(c.expiry);
        const delay = this.expiryDelay(c.token);
        if (delay !== undefined) c.expiry = setTimeout(() => ws.close(4001, 'token expired'), delay);
      };
      arm();
      ws.on('close', () => {
        clearTimeout(c.expiry);
        this.ws.delete(c);
      });
      ws.on('message', (raw) => {
        const f = JSON.parse((raw as Buffer).toString()) as ClientFrame | RefreshRequest;
        c.frames.push(f);
        switch (f.op) {
          case 'ping':
            return c.send({ op: 'pong', id: f.id });
          case 'subscribe': {
            c.channels.add(f.channel);
            c.send({
              op: 'subscribed',
              id: f.id,
              channel: f.channel,
              ...this.position(f.channel),
              ...(f.since ? { recovered: true } : {}),
            });
            for (const m of this.after(f.channel, f.since)) c.send({ op: 'message', ...m });
            return;
          }
          case 'unsubscribe':
            c.channels.delete(f.channel);
            return c.send({ op: 'unsubscribed', id: f.id, channel: f.channel });
          case 'publish':
            return c.send({ op: 'ack', id: f.id, offset: this.publish(f.channel, f.data).offset });
          case 'presence':
            return c.send({ op: 'error', id: f.id, code: 'not_found', message: `presence is not enabled for ${f.channel}` });
          case 'refresh': {
            this.refreshes.push(f.token);
            if (this.refreshAnswer === 'bad_request')
              return c.send({ op: 'error', id: f.id, code: 'bad_request', message: 'unknown op "refresh"' });
            if (this.refreshAnswer === 'forbidden' || !this.valid(f.token))
              return c.send({ op: 'error', id: f.id, code: 'forbidden', message: 'refused' });
            c.token = f.token;
            arm();
            const exp = claims(f.token)?.exp;
            return c.send({ op: 'refreshed', id: f.id, expiresAt: typeof exp === 'number' ? exp * 1000 : null });
          }
        }
      });
    });
  }

  private http(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    const channels = url.searchParams.getAll('channel');
    const kind = url.pathname === '/v1/sse' ? 'sse' : channels.length === 0 ? 'probe' : 'poll';
    const refused = !this.valid(token);
    const lastEventId = req.headers['last-event-id'] as string | undefined;
    this.log.push({ kind, token, refused, lastEventId, cursor: url.searchParams.get('cursor') ?? undefined });
    const fail = (status: number, error: string): void => {
      res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error, message: error }));
    };
    // As the gateway: the token first, then the request.
    if (refused) return fail(401, 'unauthorized');
    if (channels.length === 0) return fail(400, 'bad_request');
    if (kind === 'sse') return this.stream(res, channels, token, lastEventId);
    void this.poll(res, channels, token, url.searchParams.get('cursor') ?? undefined, Number(url.searchParams.get('timeout') ?? 25));
  }

  private stream(res: ServerResponse, channels: string[], token: string, lastEventId?: string): void {
    const from = lastEventId ? decodeCursor(lastEventId, new Set(channels)) : new Map<string, Position>();
    const s: SseStream = { res, channels, positions: new Map() };
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    res.write('retry: 50\n\n');
    for (const c of channels) s.positions.set(c, from.get(c) ?? this.position(c));
    res.write(`id: ${encodeCursor(s.positions)}\nevent: ping\ndata: 0\n\n`);
    for (const c of channels) for (const m of this.after(c, from.get(c))) this.writeSse(s, m);
    const delay = this.expiryDelay(token);
    if (delay !== undefined)
      s.expiry = setTimeout(() => {
        res.end('event: expired\ndata: {}\n\n');
        this.sse.delete(s);
      }, delay);
    this.sse.add(s);
    res.on('close', () => {
      clearTimeout(s.expiry);
      this.sse.delete(s);
    });
  }

  private writeSse(s: SseStream, m: Message): void {
    s.positions.set(m.channel, { offset: m.offset, epoch: m.epoch });
    s.res.write(`id: ${encodeCursor(s.positions)}\nevent: message\ndata: ${JSON.stringify(m)}\n\n`);
  }

  private async poll(res: ServerResponse, channels: string[], token: string, cursor: string | undefined, timeout: number): Promise<void> {
    const from = cursor ? decodeCursor(cursor, new Set(channels)) : new Map<string, Position>();
    const answer = (): boolean => {
      const messages = channels.flatMap((c) => (from.has(c) ? this.after(c, from.get(c)) : []));
      if (messages.length === 0 && cursor !== undefined && timeout > 0) return false;
      const positions = new Map(
        channels.map((c) => [c, messages.filter((m) => m.channel === c).at(-1) ?? from.get(c) ?? this.position(c)] as const),
      );
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(
        JSON.stringify({
          messages,
          cursor: encodeCursor([...positions].map(([c, p]) => [c, { offset: p.offset, epoch: p.epoch }] as const)),
        }),
      );
      return true;
    };
    if (answer()) return;
    const deadline = Date.now() + timeout * 1000;
    const expiry = this.expiryDelay(token);
    await new Promise<void>((resolve) => {
      const wake = (): void => {
        if (answer()) done();
      };
      const done = (): void => {
        this.held.delete(wake);
        clearTimeout(timer);
        clearTimeout(expired);
        resolve();
      };
      this.held.add(wake);
      const timer = setTimeout(() => {
        timeout = 0;
        wake();
      }, deadline - Date.now());
      // A held poll answers 401 at the token's exp (+ tolerance).
      const expired = setTimeout(
        () => {
          res
            .writeHead(401, { 'Content-Type': 'application/json' })
            .end(JSON.stringify({ error: 'unauthorized', message: 'token expired' }));
          done();
        },
        expiry ?? 2 ** 31 - 1,
      );
      res.on('close', done);
    });
  }
}

interface SseStream {
  res: ServerResponse;
  channels: string[];
  positions: Map<string, Position>;
  expiry?: ReturnType<typeof setTimeout>;
}

/** One WebSocket connection of the fake gateway. */
export class FakeWsConnection {
  readonly channels = new Set<string>();
  readonly frames: Array<ClientFrame | RefreshRequest> = [];
  expiry?: ReturnType<typeof setTimeout>;
  constructor(
    readonly socket: WebSocket,
    public token: string,
  ) {}

  send(frame: ServerFrame): void {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(frame));
  }
}

function claims(token: string): { sub?: string; exp?: number } | undefined {
  try {
    const c = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { sub?: unknown; exp?: number };
    return typeof c.sub === 'string' ? (c as { sub: string; exp?: number }) : undefined;
  } catch {
    return undefined;
  }
}

/** An unsigned JWT-shaped token for the fake gateway: `sub`, and `exp` `lifetimeSeconds` from now (none: no exp). */
export function fakeToken(sub: string, lifetimeSeconds?: number): string {
  const part = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  const exp = lifetimeSeconds === undefined ? {} : { exp: Math.floor(Date.now() / 1000) + lifetimeSeconds };
  return `${part({ alg: 'none' })}.${part({ sub, ...exp, n: Math.random() })}.x`;
}
