import { encodeCursor, decodeCursor } from '../cursor';
import { Message, Position } from '../types';
import { readError, Transport, TransportContext } from './transport';

/**
 * Server-Sent Events over `fetch` (a streamed response body): works in browsers and in
 * Node without an EventSource implementation, and can send `Authorization` and
 * `Last-Event-ID` headers. A change of channels restarts the stream from the positions held.
 */
export class SseTransport implements Transport {
  readonly name = 'sse' as const;
  private controller?: AbortController;
  private opened = false;
  private closed = false;
  private restartTimer?: ReturnType<typeof setTimeout>;
  private retryMs?: number;
  private announced = new Set<string>();

  constructor(private readonly ctx: TransportContext) {}

  start(): void {
    void this.run();
  }

  subscribe(): void {
    this.scheduleRestart();
  }

  unsubscribe(): void {
    this.scheduleRestart();
  }

  publish(): Promise<number> {
    return Promise.reject(new Error('publish needs the WebSocket transport'));
  }

  ping(): Promise<boolean> {
    return Promise.resolve(!this.closed && this.opened);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.restartTimer);
    this.controller?.abort();
  }

  /** Batches channel changes: one new stream for several subscribes in a row. */
  private scheduleRestart(): void {
    if (this.closed || this.restartTimer !== undefined) return;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.controller?.abort();
      void this.run();
    }, 10);
  }

  private async run(): Promise<void> {
    const channels = this.ctx.channels();
    if (channels.size === 0) {
      if (!this.opened) {
        this.opened = true;
        this.ctx.handlers.open();
      }
      return;
    }
    const controller = new AbortController();
    this.controller = controller;
    const params = new URLSearchParams();
    const known: Array<[string, Position]> = [];
    for (const [channel, position] of channels) {
      params.append('channel', channel);
      if (position !== undefined) known.push([channel, position]);
    }
    const headers: Record<string, string> = { Authorization: `Bearer ${this.ctx.token}`, Accept: 'text/event-stream' };
    if (known.length > 0) headers['Last-Event-ID'] = encodeCursor(known);
    let res: Response;
    try {
      res = await this.ctx.fetch(`${this.ctx.baseUrl}/v1/sse?${params.toString()}`, {
        headers,
        signal: controller.signal,
        cache: 'no-store',
      });
    } catch {
      if (controller.signal.aborted) return;
      this.end({ opened: this.opened });
      return;
    }
    if (res.status !== 200) {
      const err = await readError(res);
      if (res.status === 401) this.end({ opened: this.opened, code: 401, unauthorized: true });
      else if ((res.status === 403 || res.status === 400) && err.channel !== undefined) {
        this.ctx.handlers.channelError(err.channel, err.code, err.message);
        this.scheduleRestart();
      } else this.end({ opened: this.opened, code: res.status, fatal: res.status === 403 || res.status === 400, reason: err.message });
      return;
    }
    if (!this.opened) {
      this.opened = true;
      this.ctx.handlers.open();
    }
    this.ctx.handlers.activity();
    try {
      await this.read(res, controller.signal);
    } catch {
      // Stream cut: reconnect below.
    }
    if (controller.signal.aborted) return;
    this.end({ opened: true, retryAfterMs: this.retryMs });
  }

  private async read(res: Response, signal: AbortSignal): Promise<void> {
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let event = '';
    let data: string[] = [];
    let id: string | undefined;
    for (;;) {
      const { value, done } = await reader.read();
      if (done || signal.aborted) return;
      this.ctx.handlers.activity();
      buffer += value;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        let line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line.endsWith('\r')) line = line.slice(0, -1);
        if (line === '') {
          this.dispatch(event || 'message', data, id);
          event = '';
          data = [];
          id = undefined;
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const fieldValue = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = fieldValue;
        else if (field === 'data') data.push(fieldValue);
        else if (field === 'id') id = fieldValue;
        else if (field === 'retry' && /^\d+$/.test(fieldValue)) this.retryMs = Number(fieldValue);
      }
    }
  }

  private dispatch(event: string, data: string[], id: string | undefined): void {
    const h = this.ctx.handlers;
    if (id !== undefined) {
      // The stream's first id carries every channel's start position.
      for (const [channel, position] of decodeCursor(id)) {
        if (!this.announced.has(channel)) {
          this.announced.add(channel);
          h.subscribed(channel, position);
        }
      }
    }
    if (data.length === 0) return;
    const text = data.join('\n');
    try {
      if (event === 'message') h.message(JSON.parse(text) as Message);
      else if (event === 'recovery') h.recovery((JSON.parse(text) as { channel: string }).channel);
    } catch {
      // A malformed event is skipped; positions keep the stream lossless.
    }
  }

  private end(info: Parameters<TransportContext['handlers']['close']>[0]): void {
    if (this.closed) return;
    this.closed = true;
    this.ctx.handlers.close(info);
  }
}
