import { EventSource } from 'eventsource';
import { eventually } from '@switchboard/testing';

export interface SseEvent {
  type: string;
  data: string;
  lastEventId: string;
}

/** An `eventsource` client recording every event (message, ping, recovery, join, leave). */
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
    for (const type of ['message', 'ping', 'recovery', 'join', 'leave']) {
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

/** One event as an `EventSource` dispatches it. */
export interface DispatchedEvent {
  type: string;
  data: string;
  lastEventId: string;
}

/**
 * What an `EventSource` makes of `text` received so far (HTML "interpreting an event
 * stream"): the events it dispatched and its last event id — which, as the standard says,
 * changes when a block ends (blank line), even a block with an `id:` and no data. A cut
 * inside a block leaves that block undispatched.
 */
export function interpretEventStream(text: string): { events: DispatchedEvent[]; lastEventId: string } {
  const events: DispatchedEvent[] = [];
  let lastEventId = '';
  let idBuffer = '';
  let type = '';
  let data: string[] = [];
  const lines = text.split(/\r\n|\r|\n/);
  // The last piece has no line end yet: it is not a line.
  lines.pop();
  for (const line of lines) {
    if (line === '') {
      lastEventId = idBuffer;
      if (data.length > 0) events.push({ type: type || 'message', data: data.join('\n'), lastEventId });
      type = '';
      data = [];
      continue;
    }
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') type = value;
    else if (field === 'data') data.push(value);
    else if (field === 'id' && !value.includes('\0')) idBuffer = value;
  }
  return { events, lastEventId };
}
