import type { WebhookSourceOf } from '@switchboard/config';
import { eventTypeOf, FORM_MEDIA_TYPE, formField, isJsonMediaType, isRecord, parseForm, parseJsonObject } from './payload';
import { checkTimestamp, decodeHex, findMatch, hmac, isRejected, requireHeader } from './signing';
import { Handshake, reject, Rejected, Verified, WebhookEvent, WebhookRequest, WebhookVerifier } from './verifier';

/**
 * Slack: `X-Slack-Signature: v0=<hex>` = HMAC-SHA256(signing secret, `v0:<ts>:<raw body>`)
 * with `X-Slack-Request-Timestamp: <ts>`. Events API bodies are JSON; slash commands and
 * interactivity are form-encoded (interactivity's JSON in `payload`).
 * Delivery id: the body's `event_id` (Slack's retries reuse it), else `<ts>:<signature>`;
 * type: `slack.<event.type or type>` (`slack.slash_command` for commands).
 * `url_verification` is answered with its challenge.
 */
export class SlackVerifier implements WebhookVerifier {
  readonly provider = 'slack';
  private readonly keys: Buffer[];

  constructor(private readonly source: WebhookSourceOf<'slack'>) {
    this.keys = source.secrets.map((s) => Buffer.from(s, 'utf8'));
  }

  verify(request: WebhookRequest, nowSeconds: number): Verified | Rejected {
    if (!isJsonMediaType(request.mediaType) && request.mediaType !== FORM_MEDIA_TYPE) {
      return reject('unsupported_media_type', 'Slack sends application/json or application/x-www-form-urlencoded');
    }
    const signature = requireHeader(request.headers, 'x-slack-signature', 'X-Slack-Signature');
    if (isRejected(signature)) return signature;
    const stamp = requireHeader(request.headers, 'x-slack-request-timestamp', 'X-Slack-Request-Timestamp');
    if (isRejected(stamp)) return stamp;
    const decoded = signature.startsWith('v0=') ? decodeHex(signature.slice(3), 32) : undefined;
    if (decoded === undefined) return reject('malformed_header', 'X-Slack-Signature must be v0=<64 hex digits>');
    const timestamp = checkTimestamp(stamp, 'X-Slack-Request-Timestamp', nowSeconds, this.source.toleranceSeconds);
    if (isRejected(timestamp)) return timestamp;
    const base = `v0:${stamp}:`;
    const match = findMatch(
      this.keys.map((key) => hmac('sha256', key, base, request.body)),
      [decoded],
    );
    if (match === undefined) return reject('signature_mismatch', 'no configured secret matches X-Slack-Signature');
    return { ok: true, ...match, replayable: false };
  }

  describe(request: WebhookRequest, verified: Verified): WebhookEvent | Handshake | Rejected {
    const fallbackId = `${String(request.headers['x-slack-request-timestamp']).trim()}:${verified.signature}`;
    if (request.mediaType === FORM_MEDIA_TYPE) return this.describeForm(request, fallbackId);
    const body = parseJsonObject(request.body);
    if (!body.ok) return body;
    if (body.value.type === 'url_verification') {
      const challenge = body.value.challenge;
      if (typeof challenge !== 'string') return reject('malformed_body', 'url_verification has a string "challenge"');
      return { kind: 'handshake', name: 'url_verification', reply: { challenge } };
    }
    const type = eventTypeOf(isRecord(body.value.event) ? body.value.event.type : undefined) ?? eventTypeOf(body.value.type);
    if (type === undefined) return reject('malformed_body', 'a Slack event has a string "event.type" or "type"');
    const eventId = body.value.event_id;
    return {
      kind: 'event',
      deliveryId: typeof eventId === 'string' && eventId !== '' ? eventId : fallbackId,
      type: `slack.${type}`,
      data: { data: body.value },
      dataContentType: 'application/json',
    };
  }

  private describeForm(request: WebhookRequest, deliveryId: string): WebhookEvent | Rejected {
    const form = parseForm(request.body);
    if (!form.ok) return form;
    const payload = formField(form.value, 'payload');
    if (payload !== undefined) {
      const interaction = parseJsonObject(payload);
      if (!interaction.ok) return interaction;
      const type = eventTypeOf(interaction.value.type);
      if (type === undefined) return reject('malformed_body', 'a Slack interaction payload has a string "type"');
      return { kind: 'event', deliveryId, type: `slack.${type}`, data: { data: interaction.value }, dataContentType: 'application/json' };
    }
    if (formField(form.value, 'command') !== undefined) {
      return { kind: 'event', deliveryId, type: 'slack.slash_command', data: { data: form.value }, dataContentType: 'application/json' };
    }
    return reject('malformed_body', 'a form-encoded Slack request has "payload" or "command"');
  }
}
