import { CloseCode, type ClientFrame, type RefreshRequest, type ServerFrame } from '@switchboard/protocol';
import { Position, SwitchboardClientError } from '../types';
import { probeRefusal, RefreshOutcome, Transport, TransportContext } from './transport';

/** A request's answer: the gateway's reply frame, or why none came. */
type Reply = ServerFrame | { op: 'failed'; code: 'timeout' | 'unavailable'; message: string };

interface Pending {
  resolve: (reply: Reply) => void;
  /** Set for subscribe requests: a refusal is reported for that channel. */
  channel?: string;
}

/** The JSON protocol over WebSocket (`/v1/ws`): the only bidirectional transport. */
export class WebSocketTransport implements Transport {
  readonly name = 'websocket' as const;
  #ws?: WebSocket;
  #opened = false;
  #ended = false;
  #nextId = 1;
  #token: string;
  readonly #pending = new Map<number, Pending>();

  readonly #ctx: TransportContext;
  constructor(ctx: TransportContext) {
    this.#ctx = ctx;
    this.#token = ctx.token;
  }

  /** Whether this runtime can open a WebSocket at all (Node 20 has no global one). */
  static available(ctx: Pick<TransportContext, 'WebSocket'>): boolean {
    return (ctx.WebSocket ?? globalThis.WebSocket) !== undefined;
  }

  start(): void {
    const Ctor = this.#ctx.WebSocket ?? globalThis.WebSocket;
    const url = this.#ctx.baseUrl.replace(/^http/, 'ws') + '/v1/ws?token=' + encodeURIComponent(this.#token);
    const ws = new Ctor(url);
    this.#ws = ws;
    ws.onopen = () => {
      this.#opened = true;
      this.#ctx.handlers.open();
      for (const [channel, since] of this.#ctx.channels()) this.subscribe(channel, since);
    };
    ws.onmessage = (ev: MessageEvent) => {
      this.#ctx.handlers.activity();
      let frame: ServerFrame;
      try {
        frame = JSON.parse(String(ev.data)) as ServerFrame;
      } catch {
        return;
      }
      this.#onFrame(frame);
    };
    ws.onclose = (ev: CloseEvent) => void this.#finish(ev.code, ev.reason);
    ws.onerror = () => undefined;
  }

  /** Before the socket opens this is a no-op: on open every held channel is subscribed. */
  subscribe(channel: string, since?: Position): void {
    if (this.#ws?.readyState !== 1) return;
    const request = (id: number): ClientFrame => (since ? { op: 'subscribe', id, channel, since } : { op: 'subscribe', id, channel });
    void this.#request(request, channel).then((reply) => {
      // Refusals the gateway sent are reported as they arrive (onFrame); a reply that never came is reported here.
      if (reply.op === 'failed' && reply.code === 'timeout' && !this.#ended)
        this.#ctx.handlers.channelError(channel, 'timeout', 'no reply to subscribe');
    });
  }

  unsubscribe(channel: string): void {
    if (this.#ws?.readyState === 1) void this.#request((id) => ({ op: 'unsubscribe', id, channel }));
  }

  async publish(channel: string, data: unknown, idempotencyKey: string, timeoutMs: number): Promise<number> {
    const reply = await this.#request((id) => ({ op: 'publish', id, channel, data, idempotencyKey }), undefined, timeoutMs);
    if (reply.op === 'ack') return reply.offset;
    if (reply.op === 'error' || reply.op === 'failed') throw new SwitchboardClientError(reply.code, reply.message, channel);
    throw new SwitchboardClientError('unavailable', `unexpected reply ${reply.op} to publish`, channel);
  }

  async ping(timeoutMs: number): Promise<boolean> {
    if (this.#ws?.readyState !== 1) return false;
    const reply = await this.#request((id) => ({ op: 'ping', id }), undefined, timeoutMs);
    return reply.op === 'pong';
  }

  /** In-band: `refresh` → `refreshed`, or `error` `forbidden` (another `sub`, an invalid token). */
  async refresh(token: string): Promise<RefreshOutcome> {
    if (this.#ws?.readyState !== 1) return 'failed';
    const reply = await this.#request((id): RefreshRequest => ({ op: 'refresh', id, token }));
    if (reply.op === 'refreshed') {
      this.#token = token;
      return 'refreshed';
    }
    // A gateway without in-band refresh answers bad_request (unknown op): reconnect instead.
    return reply.op === 'error' && reply.code === 'forbidden' ? 'refused' : 'failed';
  }

  close(): void {
    this.#ended = true;
    try {
      this.#ws?.close(1000, 'client closed');
    } catch {
      // Already closed.
    }
    this.#failPending('client closed');
  }

  #request(build: (id: number) => ClientFrame | RefreshRequest, channel?: string, timeoutMs = 10_000): Promise<Reply> {
    const id = this.#nextId++;
    return new Promise<Reply>((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        resolve({ op: 'failed', code: 'timeout', message: 'no reply' });
      }, timeoutMs);
      this.#pending.set(id, {
        channel,
        resolve: (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
      });
      if (this.#ws?.readyState === 1) this.#ws.send(JSON.stringify(build(id)));
    });
  }

  #onFrame(f: ServerFrame): void {
    const h = this.#ctx.handlers;
    switch (f.op) {
      case 'message':
        h.message(f);
        return;
      case 'recovery':
        h.recovery(f.channel);
        return;
      case 'subscribed':
        h.subscribed(f.channel, { offset: f.offset, epoch: f.epoch }, f.recovered);
        break;
      case 'unsubscribed':
        // Ended by the gateway (a refreshed token no longer allows the channel), not asked for.
        if (f.id === undefined && f.reason !== undefined) h.channelError(f.channel, f.reason, `the token no longer allows ${f.channel}`);
        break;
      case 'error': {
        const waiting = f.id !== undefined ? this.#pending.get(f.id) : undefined;
        if (waiting?.channel !== undefined) h.channelError(waiting.channel, f.code, f.message);
        break;
      }
      case 'join':
      case 'leave':
        h.presence(f);
        return;
      case 'ack':
      case 'pong':
      case 'refreshed':
      case 'presence':
        break;
    }
    if (f.id !== undefined) {
      const waiting = this.#pending.get(f.id);
      this.#pending.delete(f.id);
      waiting?.resolve(f);
    }
  }

  async #finish(code: number, reason: string): Promise<void> {
    this.#failPending('connection closed');
    if (this.#ended) return;
    this.#ended = true;
    if (!this.#opened) {
      // Refused before opening: a bad token is not a reason to try another transport.
      const refusal = await probeRefusal(this.#ctx, this.#token);
      this.#ctx.handlers.close(refusal ?? { opened: false, code, reason });
      return;
    }
    let retryAfterMs: number | undefined;
    if (code === CloseCode.ServiceRestart) {
      try {
        retryAfterMs = (JSON.parse(reason) as { reconnectAfterMs?: number }).reconnectAfterMs;
      } catch {
        // No hint.
      }
    }
    this.#ctx.handlers.close({
      opened: true,
      code,
      reason,
      retryAfterMs,
      unauthorized: code === CloseCode.Unauthorized,
      fatal: code === CloseCode.Policy,
    });
  }

  #failPending(message: string): void {
    for (const [id, waiting] of this.#pending) {
      this.#pending.delete(id);
      waiting.resolve({ op: 'failed', code: 'unavailable', message });
    }
  }
}
