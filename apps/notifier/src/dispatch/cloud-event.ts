import type { CloudEvent } from '@switchboard/engine';
import { MAX_IDEMPOTENCY_KEY_LENGTH } from '@switchboard/protocol';
import { createHash } from 'node:crypto';

export type ParsedEvent = { ok: true; event: CloudEvent } | { ok: false; error: string };

/**
 * Checks that a payload is a CloudEvent the notifier can route: a JSON object with
 * non-empty string `id`, `source` and `type` (CloudEvents 1.0 required attributes).
 */
export function parseCloudEvent(data: Uint8Array): ParsedEvent {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
  } catch {
    return { ok: false, error: 'payload is not JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, error: 'payload is not a JSON object' };
  const json = value as Record<string, unknown>;
  for (const attribute of ['id', 'source', 'type'] as const) {
    const v = json[attribute];
    if (typeof v !== 'string' || v.length === 0)
      return { ok: false, error: `CloudEvent attribute "${attribute}" must be a non-empty string` };
  }
  return { ok: true, event: json as CloudEvent };
}

/**
 * The channel idempotency key of an event: its id, or a digest of it when longer than
 * the engine accepts (CloudEvent ids have no length limit).
 */
export function idempotencyKeyOf(event: CloudEvent): string {
  if (event.id.length <= MAX_IDEMPOTENCY_KEY_LENGTH) return event.id;
  return 'sha256:' + createHash('sha256').update(event.id).digest('hex');
}
