import type { WebhookSourceOf } from '@switchboard/config';
import { eventTypeOf, isJsonMediaType, parseJson } from './payload';
import { decodeBase64, findMatch, hmac, isRejected, requireHeader } from './signing';
import { reject, Rejected, Verified, WebhookEvent, WebhookRequest, WebhookVerifier } from './verifier';

/**
 * Shopify: `X-Shopify-Hmac-Sha256: <base64>` = HMAC-SHA256(app client secret, raw body).
 * `X-Shopify-Topic` and `X-Shopify-Webhook-Id` are required. No timestamp is signed:
 * replayable. Delivery id: `X-Shopify-Webhook-Id`; type: `shopify.<X-Shopify-Topic>`.
 */
export class ShopifyVerifier implements WebhookVerifier {
  readonly provider = 'shopify';
  private readonly keys: Buffer[];

  constructor(source: WebhookSourceOf<'shopify'>) {
    this.keys = source.secrets.map((s) => Buffer.from(s, 'utf8'));
  }

  verify(request: WebhookRequest): Verified | Rejected {
    if (!isJsonMediaType(request.mediaType)) return reject('unsupported_media_type', 'Shopify sends application/json');
    const signature = requireHeader(request.headers, 'x-shopify-hmac-sha256', 'X-Shopify-Hmac-Sha256');
    if (isRejected(signature)) return signature;
    const topic = requireHeader(request.headers, 'x-shopify-topic', 'X-Shopify-Topic');
    if (isRejected(topic)) return topic;
    const id = requireHeader(request.headers, 'x-shopify-webhook-id', 'X-Shopify-Webhook-Id');
    if (isRejected(id)) return id;
    if (eventTypeOf(topic) === undefined) return reject('malformed_header', 'X-Shopify-Topic must be a topic such as orders/create');
    const decoded = decodeBase64(signature, 32);
    if (decoded === undefined) return reject('malformed_header', 'X-Shopify-Hmac-Sha256 must be the base64 of 32 bytes');
    const match = findMatch(
      this.keys.map((key) => hmac('sha256', key, request.body)),
      [decoded],
    );
    if (match === undefined) return reject('signature_mismatch', 'no configured secret matches X-Shopify-Hmac-Sha256');
    return { ok: true, ...match, replayable: true };
  }

  describe(request: WebhookRequest): WebhookEvent | Rejected {
    const body = parseJson(request.body);
    if (!body.ok) return body;
    return {
      kind: 'event',
      deliveryId: String(request.headers['x-shopify-webhook-id']).trim(),
      type: `shopify.${String(request.headers['x-shopify-topic']).trim()}`,
      data: { data: body.value },
      dataContentType: 'application/json',
    };
  }
}
