import { decodeCursor, encodeCursor } from '../cursor';
import { Message, Position } from '../types';
import { readError, Transport, TransportContext } from './transport';

/**
 * Long-poll (`/v1/poll`): stateless requests carrying the cursor of every held channel;
 * works through any proxy. A change of channels re-polls at once.
 */
export class LongPollTransport implements Transport {
  readonly name = 'longpoll' as const;
  private controller?: AbortController;
  private opened = false;
  private closed = false;
  private readonly announced = new Set<string>();
  private wake?: () => void;

  constructor(private readonly ctx: TransportContext) {}

  start(): void {
    void this.loop();
  }

  subscribe(): void {
    this.repoll();
  }

  unsubscribe(): void {
    this.repoll();
  }

  publish(): Promise<number> {
    return Promise.reject(new Error('publish needs the WebSocket transport'));
  }

  ping(): Promise<boolean> {
    return Promise.resolve(!this.closed && this.opened);
  }

  close(): void {
    this.closed = true;
    this.controller?.abort();
    this.wake?.();
  }

  private repoll(): void {
    this.controller?.abort();
    this.wake?.();
  }

  private async loop(): Promise<void> {
    while (!this.closed) {
      const channels = this.ctx.channels();
      if (channels.size === 0) {
        if (!this.opened) {
          this.opened = true;
          this.ctx.handlers.open();
        }
        await new Promise<void>((resolve) => (this.wake = resolve));
        continue;
      }
      const params = new URLSearchParams();
      const known: Array<[string, Position]> = [];
      for (const [channel, position] of channels) {
        params.append('channel', channel);
        if (position !== undefined) known.push([channel, position]);
      }
      if (known.length > 0) params.set('cursor', encodeCursor(known));
      // A poll that gives no position yet answers at once; one with positions holds.
      params.set('timeout', String(known.length === channels.size ? this.ctx.pollTimeoutSeconds : 0));
      const controller = new AbortController();
      this.controller = controller;
      const guard = setTimeout(() => controller.abort(), (this.ctx.pollTimeoutSeconds + 15) * 1000);
      let res: Response;
      try {
        res = await this.ctx.fetch(`${this.ctx.baseUrl}/v1/poll?${params.toString()}`, {
          headers: { Authorization: `Bearer ${this.ctx.token}` },
          signal: controller.signal,
          cache: 'no-store',
        });
      } catch {
        clearTimeout(guard);
        if (this.closed) return;
        if (controller.signal.aborted && channels.size !== this.ctx.channels().size) continue;
        if (controller.signal.aborted) continue;
        this.end({ opened: this.opened });
        return;
      }
      if (res.status !== 200) {
        clearTimeout(guard);
        const err = await readError(res);
        if (res.status === 401) {
          this.end({ opened: this.opened, code: 401, unauthorized: true });
          return;
        }
        if ((res.status === 403 || res.status === 400) && err.channel !== undefined) {
          this.ctx.handlers.channelError(err.channel, err.code, err.message);
          continue;
        }
        this.end({ opened: this.opened, code: res.status, fatal: res.status === 403 || res.status === 400, reason: err.message });
        return;
      }
      let body: { messages: Message[]; cursor: string; lost?: string[] };
      try {
        body = (await res.json()) as typeof body;
      } catch {
        clearTimeout(guard);
        if (controller.signal.aborted) continue;
        this.end({ opened: this.opened });
        return;
      } finally {
        clearTimeout(guard);
      }
      if (!this.opened) {
        this.opened = true;
        this.ctx.handlers.open();
      }
      this.ctx.handlers.activity();
      const positions = decodeCursor(body.cursor);
      const lost = new Set(body.lost ?? []);
      const h = this.ctx.handlers;
      for (const [channel, position] of positions) {
        if (!this.announced.has(channel)) {
          this.announced.add(channel);
          const resumed = channels.get(channel) !== undefined;
          h.subscribed(channel, position, resumed ? !lost.has(channel) : undefined);
          lost.delete(channel); // reported with the subscription
        }
      }
      for (const channel of lost) h.recovery(channel);
      for (const m of body.messages) h.message(m);
      for (const [channel, position] of positions) h.position(channel, position);
    }
  }

  private end(info: Parameters<TransportContext['handlers']['close']>[0]): void {
    if (this.closed) return;
    this.closed = true;
    this.ctx.handlers.close(info);
  }
}
