import { createHmac, KeyObject } from 'node:crypto';
import type { AttemptRequest, OutboundEvent, SigningKeys, WebhookFormat } from './webhook-format';

const USER_AGENT = 'Switchboard-Webhooks/1';

/**
 * Standard Webhooks (standardwebhooks.com), exactly as SPEC says: body
 * `{"type","timestamp","data"}`; headers `webhook-id`, `webhook-timestamp` (seconds) and
 * `webhook-signature` = space-separated `v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`,
 * one per active secret. The official `standardwebhooks` libraries verify it unchanged.
 */
export class StandardWebhooksFormat implements WebhookFormat {
  readonly name = 'standard' as const;

  body(event: OutboundEvent): Uint8Array {
    // Concatenated rather than re-serialised as one object: the field order is fixed and `data` is encoded once.
    const json =
      '{"type":' +
      JSON.stringify(event.type) +
      ',"timestamp":' +
      JSON.stringify(event.timestamp) +
      ',"data":' +
      JSON.stringify(event.data === undefined ? null : event.data) +
      '}';
    return Buffer.from(json, 'utf8');
  }

  headers(request: AttemptRequest, signing: SigningKeys): Record<string, string> {
    return {
      'content-type': 'application/json',
      'user-agent': USER_AGENT,
      'webhook-id': request.webhookId,
      'webhook-timestamp': String(request.timestamp),
      'webhook-signature': standardSignature(request, signing.keys),
    };
  }
}

/** `v1,<sig>` for each key, space-separated. */
export function standardSignature(request: AttemptRequest, keys: readonly KeyObject[]): string {
  const prefix = `${request.webhookId}.${request.timestamp}.`;
  let header = '';
  for (const key of keys) {
    const signature = createHmac('sha256', key).update(prefix).update(request.body).digest('base64');
    header += (header === '' ? 'v1,' : ' v1,') + signature;
  }
  return header;
}
