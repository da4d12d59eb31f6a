import type { WebhookSourceOf } from '@switchboard/config';
import { eventTypeOf, isJsonMediaType, isRecord, parseJson } from './payload';
import { checkTimestamp, decodeBase64, findMatch, header, hmac, isRejected } from './signing';
import { reject, Rejected, Verified, WebhookEvent, WebhookRequest, WebhookVerifier } from './verifier';

/** The header families of the scheme: Standard Webhooks' own, and Svix's (the same scheme). */
const FAMILIES = ['webhook', 'svix'] as const;

/**
 * Standard Webhooks (and Svix): `webhook-id`, `webhook-timestamp`, `webhook-signature`
 * (or the `svix-` names). The signature header lists space-separated `v1,<base64>`
 * entries (several while a secret rotates; other versions such as `v1a` are ignored);
 * each is HMAC-SHA256 over `<id>.<timestamp>.<raw body>` keyed with the base64-decoded
 * secret (without its `whsec_` prefix). Delivery id: `webhook-id`; type:
 * `standard.<body type>` (`standard.event` when the body has none).
 */
export class StandardVerifier implements WebhookVerifier {
  readonly provider = 'standard';
  private readonly keys: Buffer[];

  constructor(private readonly source: WebhookSourceOf<'standard'>) {
    this.keys = source.secrets.map((s) => Buffer.from(s.replace(/^whsec_/, ''), 'base64'));
  }

  verify(request: WebhookRequest, nowSeconds: number): Verified | Rejected {
    if (!isJsonMediaType(request.mediaType)) return reject('unsupported_media_type', 'Standard Webhooks senders send application/json');
    const family = FAMILIES.find((f) => header(request.headers, `${f}-signature`) !== undefined);
    if (family === undefined) return reject('missing_header', 'webhook-signature (or svix-signature) header is missing');
    const id = header(request.headers, `${family}-id`);
    if (id === undefined) return reject('missing_header', `${family}-id header is missing`);
    const stamp = header(request.headers, `${family}-timestamp`);
    if (stamp === undefined) return reject('missing_header', `${family}-timestamp header is missing`);
    const signatures: Buffer[] = [];
    for (const entry of String(header(request.headers, `${family}-signature`)).split(' ')) {
      const comma = entry.indexOf(',');
      if (comma < 0 || entry.slice(0, comma) !== 'v1') continue;
      const decoded = decodeBase64(entry.slice(comma + 1), 32);
      if (decoded !== undefined) signatures.push(decoded);
    }
    if (signatures.length === 0) return reject('malformed_header', `${family}-signature holds no v1,<base64> signature`);
    const timestamp = checkTimestamp(stamp, `${family}-timestamp`, nowSeconds, this.source.toleranceSeconds);
    if (isRejected(timestamp)) return timestamp;
    const prefix = `${id}.${stamp}.`;
    const match = findMatch(
      this.keys.map((key) => hmac('sha256', key, prefix, request.body)),
      signatures,
    );
    if (match === undefined) return reject('signature_mismatch', `no configured secret matches ${family}-signature`);
    return { ok: true, ...match, replayable: false };
  }

  describe(request: WebhookRequest): WebhookEvent | Rejected {
    const body = parseJson(request.body);
    if (!body.ok) return body;
    const family = FAMILIES.find((f) => header(request.headers, `${f}-signature`) !== undefined) ?? 'webhook';
    const type = (isRecord(body.value) ? eventTypeOf(body.value.type) : undefined) ?? 'event';
    return {
      kind: 'event',
      deliveryId: String(header(request.headers, `${family}-id`)),
      type: `standard.${type}`,
      data: { data: body.value },
      dataContentType: 'application/json',
    };
  }
}
