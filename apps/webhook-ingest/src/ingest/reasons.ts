import type { ErrorCode } from '@switchboard/protocol';
import type { VerifyFailure } from '../verifiers/verifier';

/** Why the ingest refused a request: the `reason` of the JSON reply and of the metric label. */
export type RejectReason =
  | 'unknown_source'
  | 'ip_not_allowed'
  | 'rate_limited'
  | 'body_too_large'
  | 'body_incomplete'
  | VerifyFailure
  | 'replayed'
  | 'dedupe_unavailable'
  | 'store_unavailable';

/**
 * Every refusal, its HTTP status and protocol error code (docs/WEBHOOKS.md has the same
 * table). Checks run in SPEC's order: 404 → 403 → 429 → 413 → 401 → duplicate → store.
 */
export const REJECTIONS: Readonly<Record<RejectReason, { status: number; code: ErrorCode }>> = {
  unknown_source: { status: 404, code: 'not_found' },
  ip_not_allowed: { status: 403, code: 'forbidden' },
  rate_limited: { status: 429, code: 'rate_limited' },
  body_too_large: { status: 413, code: 'too_large' },
  body_incomplete: { status: 400, code: 'bad_request' },
  unsupported_media_type: { status: 415, code: 'bad_request' },
  missing_header: { status: 401, code: 'unauthorized' },
  malformed_header: { status: 401, code: 'unauthorized' },
  timestamp_too_old: { status: 401, code: 'unauthorized' },
  timestamp_too_new: { status: 401, code: 'unauthorized' },
  signature_mismatch: { status: 401, code: 'unauthorized' },
  replayed: { status: 401, code: 'unauthorized' },
  malformed_body: { status: 400, code: 'bad_request' },
  dedupe_unavailable: { status: 503, code: 'unavailable' },
  store_unavailable: { status: 503, code: 'unavailable' },
};

/** Outcome label of `switchboard_webhook_requests_total`. */
export type IngestOutcome = 'accepted' | 'duplicate' | 'handshake' | 'rejected' | 'unavailable';

/** What the controller writes back. Bodies are JSON and never hold a secret or the request body. */
export interface IngestReply {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly headers?: Readonly<Record<string, string>>;
  /** Close the connection after the reply (the request body was not read to its end). */
  readonly close?: boolean;
}
