import type { WebhookProvider } from '@switchboard/config';
import type { IncomingHttpHeaders } from 'node:http';

/** What a verifier sees of a request. Everything it needs is here: verifiers do no I/O. */
export interface WebhookRequest {
  /** Header values by lower-case name. */
  readonly headers: IncomingHttpHeaders;
  /** Media type of Content-Type, lower-case, without parameters; '' when absent. */
  readonly mediaType: string;
  /** The body bytes exactly as received (signatures are over these, never over re-serialised JSON). */
  readonly body: Buffer;
  /** The URL the sender requested, `scheme://host/path?query`, rebuilt from trusted forwarding headers (Twilio signs it). */
  readonly url: string;
}

/** Reasons a verifier refuses a request (a subset of the ingest's reasons table). */
export type VerifyFailure =
  | 'unsupported_media_type'
  | 'missing_header'
  | 'malformed_header'
  | 'timestamp_too_old'
  | 'timestamp_too_new'
  | 'signature_mismatch'
  | 'malformed_body';

/** A refusal: `reason` is machine-readable; `detail` names headers or fields, never values or secrets. */
export interface Rejected {
  readonly ok: false;
  readonly reason: VerifyFailure;
  readonly detail: string;
}

export interface Verified {
  readonly ok: true;
  /** Index in the source's `secrets` of the secret that matched (rotation metric). */
  readonly secretIndex: number;
  /** The matching signature, hex of its bytes: fallback delivery id and replay-guard key. */
  readonly signature: string;
  /**
   * True when the scheme signs no timestamp (GitHub, Shopify, Twilio, hmac with a delivery
   * id header): a captured request could be replayed later, so the ingest remembers the
   * signature (SPEC "Webhook ingest", replay protection).
   */
  readonly replayable: boolean;
}

/** A verified request that carries an event to store. */
export interface WebhookEvent {
  readonly kind: 'event';
  /** The provider's delivery id (dedupe key), as the provider sent it. */
  readonly deliveryId: string;
  /** CloudEvent `type`, e.g. `stripe.payment_intent.succeeded`. */
  readonly type: string;
  /** The CloudEvent's payload: `data` (parsed JSON or form fields) or `data_base64` (other bodies). */
  readonly data: { readonly data: unknown } | { readonly dataBase64: string };
  /** CloudEvent `datacontenttype`. */
  readonly dataContentType: string;
}

/** A verified request the provider sends to check the endpoint: answered, never stored. */
export interface Handshake {
  readonly kind: 'handshake';
  /** Metric reason label: `url_verification`, `ping`. */
  readonly name: string;
  /** JSON reply body the provider expects (status 200). */
  readonly reply: Record<string, unknown>;
}

/**
 * One provider's signing scheme for one configured source. Implementations are pure (no
 * I/O, time passed in) and constant-time in their signature comparison. Contract:
 * `verify` runs the cheap checks first (content type, required headers and their shape,
 * timestamp window in both directions) and only then the HMAC, with every configured
 * secret; `describe` is called only for a request `verify` accepted.
 */
export interface WebhookVerifier {
  readonly provider: WebhookProvider;
  verify(request: WebhookRequest, nowSeconds: number): Verified | Rejected;
  describe(request: WebhookRequest, verified: Verified): WebhookEvent | Handshake | Rejected;
}

/** Builds a refusal. */
export function reject(reason: VerifyFailure, detail: string): Rejected {
  return { ok: false, reason, detail };
}
