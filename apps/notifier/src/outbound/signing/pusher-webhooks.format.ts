import { createHmac } from 'node:crypto';
import type { AttemptRequest, OutboundEvent, SigningKeys, WebhookFormat } from './webhook-format';

const USER_AGENT = 'Switchboard-Webhooks/1 (Pusher)';

/** CloudEvent types that become Pusher webhooks, and their Pusher names. */
export const PUSHER_WEBHOOK_TYPES = {
  'switchboard.channel.occupied': 'channel_occupied',
  'switchboard.channel.vacated': 'channel_vacated',
  'switchboard.member.added': 'member_added',
  'switchboard.member.removed': 'member_removed',
  'switchboard.pusher.client_event': 'client_event',
} as const;
export type PusherWebhookType = keyof typeof PUSHER_WEBHOOK_TYPES;

/** `data` of a `switchboard.pusher.client_event` CloudEvent (the gateway's Pusher transport writes it). */
export interface PusherClientEventData {
  channel: string;
  event: string;
  /** As Pusher sends it: a string. */
  data: string;
  socket_id: string;
  user_id?: string;
}

/**
 * Pusher Channels webhooks: body `{"time_ms", "events":[{"name", "channel", …}]}`, headers
 * `X-Pusher-Key` (the app key) and `X-Pusher-Signature` (hex HMAC-SHA256 of the body with
 * the app secret) — what the `pusher` server libraries' `webhook()` helper checks.
 */
export class PusherWebhooksFormat implements WebhookFormat {
  readonly name = 'pusher' as const;

  /**
   * Member events only for `presence-` channels: the store counts a public or private
   * channel's connections as one member, whose transitions are Pusher's occupied/vacated.
   */
  accepts(event: OutboundEvent): boolean {
    if (!(event.type in PUSHER_WEBHOOK_TYPES)) return false;
    if (event.type === 'switchboard.member.added' || event.type === 'switchboard.member.removed') {
      const channel = (event.data as { channel?: unknown } | null)?.channel;
      return typeof channel === 'string' && channel.startsWith('presence-');
    }
    return true;
  }

  body(event: OutboundEvent): Uint8Array {
    const d = (event.data ?? {}) as Record<string, unknown>;
    const name = PUSHER_WEBHOOK_TYPES[event.type as PusherWebhookType];
    let item: Record<string, unknown>;
    switch (name) {
      case 'member_added':
      case 'member_removed':
        item = { name, channel: d.channel, user_id: d.user };
        break;
      case 'client_event': {
        const c = d as unknown as PusherClientEventData;
        item = { name, channel: c.channel, event: c.event, data: c.data, socket_id: c.socket_id };
        if (c.user_id !== undefined) item.user_id = c.user_id;
        break;
      }
      default:
        item = { name, channel: d.channel };
    }
    return Buffer.from(JSON.stringify({ time_ms: Date.parse(event.timestamp), events: [item] }), 'utf8');
  }

  headers(request: AttemptRequest, signing: SigningKeys): Record<string, string> {
    const key = signing.keys[0];
    return {
      'content-type': 'application/json',
      'user-agent': USER_AGENT,
      'x-pusher-key': signing.keyId ?? '',
      'x-pusher-signature': key === undefined ? '' : createHmac('sha256', key).update(request.body).digest('hex'),
    };
  }
}
