import type { WebhookSourceOf } from '@switchboard/config';
import { eventTypeOf, isJsonMediaType, parseJsonObject } from './payload';
import { checkTimestamp, decodeHex, findMatch, hmac, isRejected, requireHeader } from './signing';
import { reject, Rejected, Verified, WebhookEvent, WebhookRequest, WebhookVerifier } from './verifier';

/**
 * Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]` (several `v1` while Stripe
 * rolls a secret; other schemes such as `v0` are ignored). The signed payload is
 * `<t>.<raw body>`, HMAC-SHA256 keyed with the whole `whsec_…` string as UTF-8.
 * Delivery id: the body's `id`; type: `stripe.<body type>`.
 */
export class StripeVerifier implements WebhookVerifier {
  readonly provider = 'stripe';
  private readonly keys: Buffer[];

  constructor(private readonly source: WebhookSourceOf<'stripe'>) {
    this.keys = source.secrets.map((s) => Buffer.from(s, 'utf8'));
  }

  verify(request: WebhookRequest, nowSeconds: number): Verified | Rejected {
    if (!isJsonMediaType(request.mediaType)) return reject('unsupported_media_type', 'Stripe sends application/json');
    const value = requireHeader(request.headers, 'stripe-signature', 'Stripe-Signature');
    if (isRejected(value)) return value;
    const timestamps: string[] = [];
    const signatures: Buffer[] = [];
    for (const item of value.split(',')) {
      const eq = item.indexOf('=');
      if (eq < 0) continue;
      const key = item.slice(0, eq).trim();
      const text = item.slice(eq + 1).trim();
      if (key === 't') timestamps.push(text);
      else if (key === 'v1') {
        const decoded = decodeHex(text, 32);
        if (decoded !== undefined) signatures.push(decoded);
      }
    }
    if (timestamps.length !== 1) return reject('malformed_header', 'Stripe-Signature must hold exactly one t=<timestamp>');
    if (signatures.length === 0) return reject('malformed_header', 'Stripe-Signature holds no v1=<hex> signature');
    const timestamp = checkTimestamp(timestamps[0], 'Stripe-Signature timestamp', nowSeconds, this.source.toleranceSeconds);
    if (isRejected(timestamp)) return timestamp;
    const prefix = `${timestamps[0]}.`;
    const match = findMatch(
      this.keys.map((key) => hmac('sha256', key, prefix, request.body)),
      signatures,
    );
    if (match === undefined) return reject('signature_mismatch', 'no configured secret matches Stripe-Signature');
    return { ok: true, ...match, replayable: false };
  }

  describe(request: WebhookRequest): WebhookEvent | Rejected {
    const body = parseJsonObject(request.body);
    if (!body.ok) return body;
    const id = body.value.id;
    const type = eventTypeOf(body.value.type);
    if (typeof id !== 'string' || id === '') return reject('malformed_body', 'a Stripe event has a string "id"');
    if (type === undefined) return reject('malformed_body', 'a Stripe event has a string "type"');
    return { kind: 'event', deliveryId: id, type: `stripe.${type}`, data: { data: body.value }, dataContentType: 'application/json' };
  }
}
