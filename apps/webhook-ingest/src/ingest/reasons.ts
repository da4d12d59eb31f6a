import type { DiscardBounds } from '@switchboard/platform';
import type { ErrorCode } from '@switchboard/protocol';
import type { VerifyFailure } from '../verifiers/verifier';

/** Why the ingest refused a request: the `reason` of the JSON reply and of the metric label. */
export type RejectReason =
  | 'unknown_source'
  | 'ip_not_allowed'
  | 'client_rate_limited'
  | 'busy'
  | 'body_too_large'
  | 'body_timeout'
  | 'body_incomplete'
  | VerifyFailure
  | 'replayed'
  | 'rate_limited'
  | 'dedupe_unavailable'
  | 'store_unavailable';

/**
 * Every refusal, its HTTP status and protocol error code (docs/WEBHOOKS.md has the same
 * table), in the order the checks run: 404 → 403 → 429 (client address) → 413 (declared)
 * → 503 (read slots) → 413 / 408 / 400 (reading) → 401 → duplicate → 429 (source) → store.
 */
export const REJECTIONS: Readonly<Record<RejectReason, { status: number; code: ErrorCode }>> = {
  unknown_source: { status: 404, code: 'not_found' },
  ip_not_allowed: { status: 403, code: 'forbidden' },
  client_rate_limited: { status: 429, code: 'rate_limited' },
  busy: { status: 503, code: 'overloaded' },
  body_too_large: { status: 413, code: 'too_large' },
  body_timeout: { status: 408, code: 'bad_request' },
  body_incomplete: { status: 400, code: 'bad_request' },
  unsupported_media_type: { status: 415, code: 'bad_request' },
  missing_header: { status: 401, code: 'unauthorized' },
  malformed_header: { status: 401, code: 'unauthorized' },
  timestamp_too_old: { status: 401, code: 'unauthorized' },
  timestamp_too_new: { status: 401, code: 'unauthorized' },
  signature_mismatch: { status: 401, code: 'unauthorized' },
  replayed: { status: 401, code: 'unauthorized' },
  malformed_body: { status: 400, code: 'bad_request' },
  rate_limited: { status: 429, code: 'rate_limited' },
  dedupe_unavailable: { status: 503, code: 'unavailable' },
  store_unavailable: { status: 503, code: 'unavailable' },
};

/** Outcome label of `switchboard_webhook_requests_total`. */
export type IngestOutcome = 'accepted' | 'duplicate' | 'handshake' | 'rejected' | 'unavailable';

/**
 * What the controller writes back. Bodies are JSON and never hold a secret or the request
 * body; refusals are `{"error":"<protocol code>","reason":"<reason>","message":"…"}`.
 */
export interface IngestReply {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly headers?: Readonly<Record<string, string>>;
  /** How much of an unread body to discard after the answer; default DEFAULT_DISCARD_BOUNDS. */
  readonly discard?: DiscardBounds;
}

/**
 * How long the rest of a body refused before it was read, for who sent it or for load
 * (404, 403, 429 for the address, 503 no read slot), is read and dropped after the answer
 * (at most WEBHOOK_MAX_BYTES of it): long enough for the sender to read the answer, while
 * a stalled upload holds its socket for a second, not the default five.
 */
export const SHED_LINGER_MS = 1000;
