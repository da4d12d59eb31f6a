import type { WebhookSourceOf } from '@switchboard/config';
import { eventTypeOf, FORM_MEDIA_TYPE, formField, isJsonMediaType, parseForm, parseJsonObject } from './payload';
import { decodeHex, findMatch, hmac, isRejected, requireHeader } from './signing';
import { Handshake, reject, Rejected, Verified, WebhookEvent, WebhookRequest, WebhookVerifier } from './verifier';

const EVENT_NAME = /^[a-z0-9_]{1,64}$/;

/**
 * GitHub: `X-Hub-Signature-256: sha256=<hex>` = HMAC-SHA256(secret, raw body); the
 * legacy SHA-1 header is not accepted. `X-GitHub-Event` and `X-GitHub-Delivery` are
 * required. Bodies are JSON, or form-encoded with the JSON in `payload` (the hook's
 * "application/x-www-form-urlencoded" setting). No timestamp is signed: replayable.
 * Delivery id: `X-GitHub-Delivery`; type: `github.<event>[.<action>]`; `ping` is answered.
 */
export class GithubVerifier implements WebhookVerifier {
  readonly provider = 'github';
  private readonly keys: Buffer[];

  constructor(source: WebhookSourceOf<'github'>) {
    this.keys = source.secrets.map((s) => Buffer.from(s, 'utf8'));
  }

  verify(request: WebhookRequest): Verified | Rejected {
    if (!isJsonMediaType(request.mediaType) && request.mediaType !== FORM_MEDIA_TYPE) {
      return reject('unsupported_media_type', 'GitHub sends application/json or application/x-www-form-urlencoded');
    }
    const signature = requireHeader(request.headers, 'x-hub-signature-256', 'X-Hub-Signature-256');
    if (isRejected(signature)) return signature;
    const event = requireHeader(request.headers, 'x-github-event', 'X-GitHub-Event');
    if (isRejected(event)) return event;
    const delivery = requireHeader(request.headers, 'x-github-delivery', 'X-GitHub-Delivery');
    if (isRejected(delivery)) return delivery;
    if (!EVENT_NAME.test(event)) return reject('malformed_header', 'X-GitHub-Event must be an event name');
    const decoded = signature.startsWith('sha256=') ? decodeHex(signature.slice(7), 32) : undefined;
    if (decoded === undefined) return reject('malformed_header', 'X-Hub-Signature-256 must be sha256=<64 hex digits>');
    const match = findMatch(
      this.keys.map((key) => hmac('sha256', key, request.body)),
      [decoded],
    );
    if (match === undefined) return reject('signature_mismatch', 'no configured secret matches X-Hub-Signature-256');
    return { ok: true, ...match, replayable: true };
  }

  describe(request: WebhookRequest): WebhookEvent | Handshake | Rejected {
    const event = String(request.headers['x-github-event']).trim();
    const body = this.payload(request);
    if (!body.ok) return body;
    if (event === 'ping') return { kind: 'handshake', name: 'ping', reply: { pong: true } };
    const action = eventTypeOf(body.value.action);
    return {
      kind: 'event',
      deliveryId: String(request.headers['x-github-delivery']).trim(),
      type: action === undefined ? `github.${event}` : `github.${event}.${action}`,
      data: { data: body.value },
      dataContentType: 'application/json',
    };
  }

  private payload(request: WebhookRequest): ReturnType<typeof parseJsonObject> {
    if (request.mediaType !== FORM_MEDIA_TYPE) return parseJsonObject(request.body);
    const form = parseForm(request.body);
    if (!form.ok) return form;
    const payload = formField(form.value, 'payload');
    return payload === undefined
      ? reject('malformed_body', 'a form-encoded GitHub delivery has a "payload" field')
      : parseJsonObject(payload);
  }
}
