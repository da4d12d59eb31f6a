import { EventSource } from 'eventsource';
import { eventually } from '@switchboard/testing';

export interface SseEvent {
  type: string;
  data: string;
  lastEventId: string;
}

/** An `eventsource` client recording every event (message, ping, recovery). */
export class SseTestClient {
  readonly events: SseEvent[] = [];
  errors = 0;
  readonly source: EventSource;

  constructor(url: string, init: { token?: string; lastEventId?: string } = {}) {
    const headers: Record<string, string> = {};
    if (init.token !== undefined) headers.Authorization = `Bearer ${init.token}`;
    if (init.lastEventId !== undefined) headers['Last-Event-ID'] = init.lastEventId;
    this.source = new EventSource(url, {
      fetch: (input, requestInit) =>
        fetch(input, { ...requestInit, headers: { ...(requestInit?.headers as Record<string, string>), ...headers } }),
    });
    for (const type of ['message', 'ping', 'recovery']) {
      this.source.addEventListener(type, (e) => this.events.push({ type, data: e.data as string, lastEventId: e.lastEventId }));
    }
    this.source.onerror = () => this.errors++;
  }

  opened(timeoutMs = 5000): Promise<void> {
    return eventually(() => {
      if (this.source.readyState !== 1) throw new Error('not open');
    }, timeoutMs);
  }

  messages(): Array<Record<string, unknown>> {
    return this.events.filter((e) => e.type === 'message').map((e) => JSON.parse(e.data) as Record<string, unknown>);
  }

  offsets(channel?: string): number[] {
    return this.messages()
      .filter((m) => channel === undefined || m.channel === channel)
      .map((m) => m.offset as number);
  }

  /** The cursor of the last message event. */
  get lastEventId(): string {
    return this.events.filter((e) => e.type === 'message').at(-1)?.lastEventId ?? '';
  }

  close(): void {
    this.source.close();
  }
}

export function decodeCursorJson(cursor: string): Record<string, [number, string]> {
  return JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Record<string, [number, string]>;
}

export function cursorOf(positions: Record<string, [number, string]>): string {
  return Buffer.from(JSON.stringify(positions)).toString('base64url');
}
