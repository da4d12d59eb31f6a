import { decodeCursor, encodeCursor } from '@switchboard/protocol';
import { Message, Position } from '../types';
import { channelQuery, CloseInfo, noPublish, refusal, RefreshOutcome, Transport, TransportContext } from './transport';

/**
 * Long-poll (`/v1/poll`): stateless requests carrying the cursor of every held channel;
 * works through any proxy. A change of channels re-polls at once.
 */
export class LongPollTransport implements Transport {
  readonly name = 'longpoll' as const;
  #controller?: AbortController;
  #opened = false;
  #closed = false;
  readonly #announced = new Set<string>();
  #wake?: () => void;
  #token: string;

  readonly #ctx: TransportContext;
  constructor(ctx: TransportContext) {
    this.#ctx = ctx;
    this.#token = ctx.token;
  }

  start(): void {
    void this.#loop();
  }

  subscribe(): void {
    this.#repoll();
  }

  unsubscribe(): void {
    this.#repoll();
  }

  readonly publish = noPublish;

  ping(): Promise<boolean> {
    return Promise.resolve(!this.#closed && this.#opened);
  }

  /** Stateless: the next request carries the new token. */
  refresh(token: string): Promise<RefreshOutcome> {
    this.#token = token;
    return Promise.resolve(this.#closed ? 'failed' : 'refreshed');
  }

  close(): void {
    this.#closed = true;
    this.#controller?.abort();
    this.#wake?.();
  }

  #repoll(): void {
    this.#controller?.abort();
    this.#wake?.();
  }

  async #loop(): Promise<void> {
    while (!this.#closed) {
      const channels = this.#ctx.channels();
      if (channels.size === 0) {
        if (!this.#opened) {
          this.#opened = true;
          this.#ctx.handlers.open();
        }
        await new Promise<void>((resolve) => (this.#wake = resolve));
        continue;
      }
      const { params, known } = channelQuery(channels);
      if (known.length > 0) params.set('cursor', encodeCursor(known));
      // A poll that gives no position yet answers at once; one with positions holds.
      params.set('timeout', String(known.length === channels.size ? this.#ctx.pollTimeoutSeconds : 0));
      const controller = new AbortController();
      this.#controller = controller;
      const guard = setTimeout(() => controller.abort(), (this.#ctx.pollTimeoutSeconds + 15) * 1000);
      const token = this.#token;
      let res: Response;
      try {
        res = await this.#ctx.fetch(`${this.#ctx.baseUrl}/v1/poll?${params.toString()}`, {
          headers: { Authorization: `Bearer ${token}` },
          signal: controller.signal,
          cache: 'no-store',
        });
      } catch {
        clearTimeout(guard);
        if (this.#closed) return;
        if (controller.signal.aborted) continue;
        this.#end({ opened: this.#opened });
        return;
      }
      if (res.status !== 200) {
        clearTimeout(guard);
        // A poll held past the old token's exp: the new token is already here, ask again.
        if (res.status === 401 && token !== this.#token) {
          await res.body?.cancel();
          continue;
        }
        const ended = await refusal(res, this.#opened, this.#ctx.handlers);
        if (ended === undefined) continue;
        this.#end(ended);
        return;
      }
      let body: { messages: Message[]; cursor: string; lost?: string[] };
      try {
        body = (await res.json()) as typeof body;
      } catch {
        if (controller.signal.aborted) continue;
        this.#end({ opened: this.#opened });
        return;
      } finally {
        clearTimeout(guard);
      }
      if (!this.#opened) {
        this.#opened = true;
        this.#ctx.handlers.open();
      }
      this.#ctx.handlers.activity();
      let positions: Map<string, Position>;
      try {
        positions = decodeCursor(body.cursor, new Set(channels.keys()));
      } catch {
        this.#end({ opened: true, reason: 'the gateway answered a malformed cursor' });
        return;
      }
      const lost = new Set(body.lost ?? []);
      const h = this.#ctx.handlers;
      for (const [channel, position] of positions) {
        if (!this.#announced.has(channel)) {
          this.#announced.add(channel);
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

  #end(info: CloseInfo): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ctx.handlers.close(info);
  }
}
