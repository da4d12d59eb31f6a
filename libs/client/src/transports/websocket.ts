import { Message, Position, SwitchboardClientError } from '../types';
import { Transport, TransportContext } from './transport';

type Frame = Record<string, unknown> & { op: string; id?: number };

/** The JSON protocol over WebSocket (`/v1/ws`): the only bidirectional transport. */
export class WebSocketTransport implements Transport {
  readonly name = 'websocket' as const;
  private ws?: WebSocket;
  private opened = false;
  private closed = false;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (f: Frame) => void; channel?: string }>();

  constructor(private readonly ctx: TransportContext) {}

  start(): void {
    const Ctor = this.ctx.WebSocket ?? globalThis.WebSocket;
    if (Ctor === undefined) {
      this.ctx.handlers.close({ opened: false, fatal: false, reason: 'no WebSocket implementation' });
      return;
    }
    const url = this.ctx.baseUrl.replace(/^http/, 'ws') + '/v1/ws?token=' + encodeURIComponent(this.ctx.token);
    const ws = new Ctor(url);
    this.ws = ws;
    ws.onopen = () => {
      this.opened = true;
      this.ctx.handlers.open();
      for (const [channel, since] of this.ctx.channels()) this.subscribe(channel, since);
    };
    ws.onmessage = (ev: MessageEvent) => {
      this.ctx.handlers.activity();
      let frame: Frame;
      try {
        frame = JSON.parse(String(ev.data)) as Frame;
      } catch {
        return;
      }
      this.onFrame(frame);
    };
    ws.onclose = (ev: CloseEvent) => this.finish(ev.code, ev.reason);
    ws.onerror = () => undefined;
  }

  /** Before the socket opens this is a no-op: on open every held channel is subscribed. */
  subscribe(channel: string, since?: Position): void {
    if (this.ws?.readyState !== 1) return;
    void this.request({ op: 'subscribe', channel, ...(since ? { since } : {}) }, channel).then((reply) => {
      // Errors the gateway sent are reported as they arrive (onFrame); a reply that never came is reported here.
      if (reply.op === 'error' && reply.code === 'timeout' && !this.closed)
        this.ctx.handlers.channelError(channel, 'timeout', 'no reply to subscribe');
    });
  }

  unsubscribe(channel: string): void {
    if (this.ws?.readyState === 1) void this.request({ op: 'unsubscribe', channel }, channel);
  }

  async publish(channel: string, data: unknown, idempotencyKey: string, timeoutMs: number): Promise<number> {
    const reply = await this.request({ op: 'publish', channel, data, idempotencyKey }, undefined, timeoutMs);
    if (reply.op === 'ack') return reply.offset as number;
    const code = typeof reply.code === 'string' ? reply.code : 'unavailable';
    throw new SwitchboardClientError(code, typeof reply.message === 'string' ? reply.message : 'publish failed', channel);
  }

  async ping(timeoutMs: number): Promise<boolean> {
    if (this.ws?.readyState !== 1) return false;
    const reply = await this.request({ op: 'ping' }, undefined, timeoutMs);
    return reply.op === 'pong';
  }

  close(): void {
    this.closed = true;
    try {
      this.ws?.close(1000, 'client closed');
    } catch {
      // Already closed.
    }
    this.failPending('client closed');
  }

  private request(fields: Record<string, unknown>, channel?: string, timeoutMs = 10_000): Promise<Frame> {
    const id = this.nextId++;
    return new Promise<Frame>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve({ op: 'error', code: 'timeout', message: 'no reply' });
      }, timeoutMs);
      this.pending.set(id, {
        channel,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
      });
      if (this.ws?.readyState === 1) this.ws.send(JSON.stringify({ ...fields, id }));
    });
  }

  private onFrame(f: Frame): void {
    const h = this.ctx.handlers;
    switch (f.op) {
      case 'message':
        h.message(f as unknown as Message);
        return;
      case 'recovery':
        h.recovery(f.channel as string);
        return;
      case 'subscribed':
        h.subscribed(f.channel as string, { offset: f.offset as number, epoch: f.epoch as string }, f.recovered as boolean | undefined);
        break;
      case 'error': {
        const waiting = f.id !== undefined ? this.pending.get(f.id) : undefined;
        if (waiting?.channel !== undefined && f.code !== 'not_found') h.channelError(waiting.channel, String(f.code), String(f.message));
        break;
      }
      default:
        break;
    }
    if (f.id !== undefined) {
      const waiting = this.pending.get(f.id);
      this.pending.delete(f.id);
      waiting?.resolve(f);
    }
  }

  private finish(code: number, reason: string): void {
    this.failPending('connection closed');
    if (this.closed) return;
    this.closed = true;
    let retryAfterMs: number | undefined;
    if (code === 1012) {
      try {
        retryAfterMs = (JSON.parse(reason) as { reconnectAfterMs?: number }).reconnectAfterMs;
      } catch {
        // No hint.
      }
    }
    this.ctx.handlers.close({ opened: this.opened, code, reason, retryAfterMs, unauthorized: code === 4001, fatal: code === 1008 });
  }

  private failPending(message: string): void {
    for (const [id, waiting] of this.pending) {
      this.pending.delete(id);
      waiting.resolve({ op: 'error', code: 'unavailable', message });
    }
  }
}
