import type { StoredMessage } from '@switchboard/engine';

/** The Pusher Channels protocol version served (pusher-js 4+ speaks 7). */
export const PUSHER_PROTOCOL = 7;

/**
 * `pusher:error` / close codes (Pusher Channels protocol): 4000–4099 the client must not
 * reconnect, 4100–4199 reconnect after backing off, 4200–4299 reconnect at once.
 */
export const PusherCode = {
  /** SSL only (unused), kept for the table. */
  ApplicationDoesNotExist: 4001,
  PathNotFound: 4005,
  InvalidVersion: 4006,
  UnsupportedProtocol: 4007,
  NoProtocol: 4008,
  Unauthorized: 4009,
  OverCapacity: 4100,
  GenericReconnect: 4200,
  PongNotReceived: 4201,
  ClosedForInactivity: 4202,
  ClientEventRejected: 4301,
} as const;
export type PusherCode = (typeof PusherCode)[keyof typeof PusherCode];

/** A frame a Pusher client sends: `{event, data?, channel?}`. */
export interface PusherClientFrame {
  event: string;
  data?: unknown;
  channel?: string;
}

/** Parses a client frame; undefined when it is not a JSON object with a string `event`. */
export function parsePusherFrame(text: string): PusherClientFrame | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const frame = value as Record<string, unknown>;
  if (typeof frame.event !== 'string') return undefined;
  if (frame.channel !== undefined && typeof frame.channel !== 'string') return undefined;
  return { event: frame.event, data: frame.data, channel: frame.channel };
}

/**
 * `data` as Pusher puts it on the wire: a string. A Switchboard message's data that is a
 * string goes as it is; any other JSON value as its JSON text (pusher-js parses it back).
 */
export function pusherData(data: unknown): string {
  return typeof data === 'string' ? data : JSON.stringify(data ?? null);
}

/**
 * The inverse, for events coming in over Pusher: a string that is JSON becomes that JSON
 * value (so `/v1/ws`, SSE and long-poll subscribers get the object the app triggered),
 * anything else stays a string.
 */
export function switchboardData(data: unknown): unknown {
  if (typeof data !== 'string') return data;
  try {
    return JSON.parse(data) as unknown;
  } catch {
    return data;
  }
}

/**
 * The event name of a Switchboard message on Pusher: its `type`, else `message`. A type in
 * the protocol's own namespaces (`pusher:`, `pusher_internal:`) is `message` too, so no
 * publisher can forge a member list or an error for pusher-js.
 */
export function pusherEventName(type: string | undefined): string {
  if (type === undefined || type === '' || type.startsWith('pusher:') || type.startsWith('pusher_internal:')) return 'message';
  return type;
}

/** A channel message as one Pusher event frame (built once per message, shared by every Pusher recipient). */
export function encodePusherEvent(m: StoredMessage): Buffer {
  const msg = m.message;
  return Buffer.from(JSON.stringify({ event: pusherEventName(msg.type), channel: m.channel, data: pusherData(msg.data) }), 'utf8');
}

/** `pusher:error` frame. */
export function errorFrame(code: number | null, message: string): string {
  return JSON.stringify({ event: 'pusher:error', data: { code, message } });
}

export const PONG_FRAME = '{"event":"pusher:pong","data":"{}"}';
export const PING_FRAME = '{"event":"pusher:ping","data":"{}"}';
