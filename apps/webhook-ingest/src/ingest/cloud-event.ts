import type { CloudEvent } from '@switchboard/engine';
import { createHash } from 'node:crypto';
import type { WebhookEvent } from '../verifiers/verifier';

/**
 * A delivery id fit for `Nats-Msg-Id` and the CloudEvent `id`: kept as the provider sent
 * it when it is 1–200 printable ASCII characters, else `sha256:<hex>` of it.
 */
export function normalizeDeliveryId(id: string): string {
  return /^[\x21-\x7e]{1,200}$/.test(id) ? id : `sha256:${createHash('sha256').update(id).digest('hex')}`;
}

/** JetStream message id: per source (two sources may see the same provider id, e.g. one Stripe account, two endpoints). */
export function messageId(source: string, deliveryId: string): string {
  return `webhook:${source}:${deliveryId}`;
}

/**
 * `<prefix>.webhook.<source>.<type>`: the CloudEvent type's dot-separated parts become
 * subject tokens; in each, a character outside `A-Z a-z 0-9 _ -` becomes `_` and an empty
 * part becomes `_` (so `shopify.orders/create` → `shopify.orders_create`). The CloudEvent
 * keeps the type unchanged.
 */
export function eventSubject(prefix: string, source: string, type: string): string {
  const tokens = type.split('.').map((part) => part.replace(/[^A-Za-z0-9_-]/g, '_') || '_');
  return `${prefix}.webhook.${source}.${tokens.join('.')}`;
}

/** Types remembered per source by EventSubjects; senders choose the types, so past this it starts over. */
export const SUBJECT_CACHE_MAX = 256;

/**
 * eventSubject for one prefix, remembered per source and type: a source sends a few types,
 * each many times, and the split, per-part replace and join cost ~0.5 % of a stored webhook.
 */
export class EventSubjects {
  private readonly bySource = new Map<string, Map<string, string>>();

  constructor(private readonly prefix: string) {}

  of(source: string, type: string): string {
    let known = this.bySource.get(source);
    if (known === undefined) this.bySource.set(source, (known = new Map()));
    let subject = known.get(type);
    if (subject === undefined) {
      if (known.size >= SUBJECT_CACHE_MAX) known.clear();
      subject = eventSubject(this.prefix, source, type);
      known.set(type, subject);
    }
    return subject;
  }
}

/** The CloudEvents 1.0 envelope stored for a verified webhook (SPEC "Webhook ingest"). */
export function webhookCloudEvent(source: string, id: string, event: WebhookEvent, receivedAt: number): CloudEvent {
  const envelope: CloudEvent = {
    specversion: '1.0',
    id,
    source: `webhook/${source}`,
    type: event.type,
    time: new Date(receivedAt).toISOString(),
    datacontenttype: event.dataContentType,
  };
  if ('dataBase64' in event.data) envelope.data_base64 = event.data.dataBase64;
  else envelope.data = event.data.data;
  return envelope;
}
