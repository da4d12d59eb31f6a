import { decodeCursor, encodeCursor, type JoinNotice, type LeaveNotice } from '@switchboard/protocol';
import { Message, Position } from '../types';
import { channelQuery, CloseInfo, noPublish, refusal, RefreshOutcome, Transport, TransportContext } from './transport';

/**
 * Server-Sent Events over `fetch` (a streamed response body): works in browsers and in
 * Node without an EventSource implementation, and can send `Authorization` and
 * `Last-Event-ID` headers. A change of channels, or a new token, restarts the stream from
 * the positions held (nothing lost, duplicates dropped by offset).
 */
export class SseTransport implements Transport {
  readonly name = 'sse' as const;
  #controller?: AbortController;
  #opened = false;
  #closed = false;
  #restartTimer?: ReturnType<typeof setTimeout>;
  #retryMs?: number;
  readonly #announced = new Set<string>();
  /** The channels of the running stream (a cursor names only those). */
  #streamChannels: ReadonlySet<string> = new Set();
  #token: string;

  readonly #ctx: TransportContext;
  constructor(ctx: TransportContext) {
    this.#ctx = ctx;
    this.#token = ctx.token;
  }

  start(): void {
    void this.#run();
  }

  subscribe(): void {
    this.#scheduleRestart();
  }

  unsubscribe(): void {
    this.#scheduleRestart();
  }

  readonly publish = noPublish;

  ping(): Promise<boolean> {
    return Promise.resolve(!this.#closed && this.#opened);
  }

  /** A stream keeps the token it started with: a new stream, resumed with Last-Event-ID, takes the new one. */
  refresh(token: string): Promise<RefreshOutcome> {
    this.#token = token;
    if (this.#closed) return Promise.resolve('failed');
    clearTimeout(this.#restartTimer);
    this.#restartTimer = undefined;
    this.#controller?.abort();
    void this.#run();
    return Promise.resolve('refreshed');
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#restartTimer);
    this.#controller?.abort();
  }

  /** Batches channel changes: one new stream for several subscribes in a row. */
  #scheduleRestart(): void {
    if (this.#closed || this.#restartTimer !== undefined) return;
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      this.#controller?.abort();
      void this.#run();
    }, 10);
  }

  async #run(): Promise<void> {
    const channels = this.#ctx.channels();
    if (channels.size === 0) {
      if (!this.#opened) {
        this.#opened = true;
        this.#ctx.handlers.open();
      }
      return;
    }
    const controller = new AbortController();
    this.#controller = controller;
    this.#streamChannels = new Set(channels.keys());
    const { params, known } = channelQuery(channels);
    const headers: Record<string, string> = { Authorization: `Bearer ${this.#token}`, Accept: 'text/event-stream' };
    if (known.length > 0) headers['Last-Event-ID'] = encodeCursor(known);
    let res: Response;
    try {
      res = await this.#ctx.fetch(`${this.#ctx.baseUrl}/v1/sse?${params.toString()}`, {
        headers,
        signal: controller.signal,
        cache: 'no-store',
      });
    } catch {
      if (controller.signal.aborted) return;
      this.#end({ opened: this.#opened });
      return;
    }
    if (res.status !== 200) {
      const ended = await refusal(res, this.#opened, this.#ctx.handlers);
      if (ended === undefined) this.#scheduleRestart();
      else this.#end(ended);
      return;
    }
    if (!this.#opened) {
      this.#opened = true;
      this.#ctx.handlers.open();
    }
    this.#ctx.handlers.activity();
    try {
      await this.#read(res, controller.signal);
    } catch {
      // Stream cut: reconnect below.
    }
    if (controller.signal.aborted) return;
    this.#end({ opened: true, retryAfterMs: this.#retryMs });
  }

  async #read(res: Response, signal: AbortSignal): Promise<void> {
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let event = '';
    let data: string[] = [];
    let id: string | undefined;
    for (;;) {
      const { value, done } = await reader.read();
      if (done || signal.aborted) return;
      this.#ctx.handlers.activity();
      buffer += value;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        let line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line.endsWith('\r')) line = line.slice(0, -1);
        if (line === '') {
          if (!this.#dispatch(event || 'message', data, id)) {
            // The gateway ended the stream for the token's exp: a new token, then resume.
            this.#controller?.abort();
            this.#end({ opened: true, code: 401, reason: 'token expired', unauthorized: true });
            return;
          }
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
        else if (field === 'retry' && /^\d+$/.test(fieldValue)) this.#retryMs = Number(fieldValue);
      }
    }
  }

  /** Handles one event; false for `expired` (the stream ends). */
  #dispatch(event: string, data: string[], id: string | undefined): boolean {
    const h = this.#ctx.handlers;
    if (event === 'expired') return false;
    if (id !== undefined) {
      // The stream's first id carries every channel's start position.
      let positions: Map<string, Position>;
      try {
        positions = decodeCursor(id, this.#streamChannels);
      } catch {
        positions = new Map();
      }
      for (const [channel, position] of positions) {
        if (!this.#announced.has(channel)) {
          this.#announced.add(channel);
          h.subscribed(channel, position);
        }
      }
    }
    if (data.length === 0) return true;
    const text = data.join('\n');
    try {
      if (event === 'message') h.message(JSON.parse(text) as Message);
      else if (event === 'recovery') h.recovery((JSON.parse(text) as { channel: string }).channel);
      else if (event === 'join' || event === 'leave') h.presence(JSON.parse(text) as JoinNotice | LeaveNotice);
    } catch {
      // A malformed event is skipped; positions keep the stream lossless.
    }
    return true;
  }

  #end(info: CloseInfo): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ctx.handlers.close(info);
  }
}
