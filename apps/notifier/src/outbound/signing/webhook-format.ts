import type { KeyObject } from 'node:crypto';
import type { EndpointFormat } from '../endpoints/endpoint';

/** What an endpoint is told about an event: the CloudEvent fields a format may use. */
export interface OutboundEvent {
  id: string;
  source: string;
  type: string;
  /** ISO time of the event: its `time`, else when EVENTS stored it. */
  timestamp: string;
  data: unknown;
}

/** One attempt's request identity: the same `webhookId` on every retry, a fresh timestamp each time. */
export interface AttemptRequest {
  webhookId: string;
  /** Seconds since the epoch, the attempt's time. */
  timestamp: number;
  /** The exact body bytes that are sent and signed. */
  body: Uint8Array;
}

/** The signing material of an endpoint at the time of an attempt. */
export interface SigningKeys {
  /** HMAC keys, the current secret's first; more than one while a rotation overlaps. */
  readonly keys: readonly KeyObject[];
  /** Names the key to the receiver where a format says so (Pusher's `X-Pusher-Key`). */
  readonly keyId?: string;
}

/**
 * A payload format and signature scheme. The delivery engine (queues, retries, limits)
 * knows nothing of either: it asks the endpoint's format for the body once per event and
 * for the headers once per attempt. Standard Webhooks is the one format today; Pusher's
 * webhooks (`{time_ms, events}` signed with X-Pusher-Signature) plug in here.
 */
export interface WebhookFormat {
  readonly name: EndpointFormat;
  /** False for events this format has no payload for (the endpoint then gets no job); all when absent. */
  accepts?(event: OutboundEvent): boolean;
  /** The body for an event, built once per event and shared by every endpoint of this format. */
  body(event: OutboundEvent): Uint8Array;
  /** Headers of one attempt: content type, identity, timestamp and signature over the body. */
  headers(request: AttemptRequest, signing: SigningKeys): Record<string, string>;
}
