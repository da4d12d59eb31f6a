/** How an attempt ended. */
export type AttemptStatus = 'succeeded' | 'failed';

/** One HTTP attempt of one message to one endpoint (SPEC: time, status code, duration, error, response body ≤ 1 KiB). */
export interface DeliveryAttempt {
  webhookId: string;
  endpointId: string;
  eventId: string;
  eventType: string;
  /** 1 for the first attempt of the message. */
  attempt: number;
  status: AttemptStatus;
  /** When the attempt started (ISO). */
  at: string;
  durationMs: number;
  statusCode?: number;
  /** `<code>: <text>`, e.g. `blocked_address: 10.0.0.1 is in a blocked range …`. */
  error?: string;
  /** The first 1 KiB of the answer (UTF-8, replacement characters where cut). */
  responseBody?: string;
  /** When the next attempt is due, if one was scheduled. */
  nextAttemptAt?: string;
  /** What the failure led to when it was the end of the message: a dead letter, or the endpoint disabled. */
  outcome?: 'retry_scheduled' | 'dead_lettered' | 'endpoint_disabled';
  /** A `POST /v1/endpoints/<id>/test` attempt. */
  test?: boolean;
}

/** A listed attempt with its cursor (pass it as `before` for the next page). */
export interface ListedAttempt extends DeliveryAttempt {
  id: string;
}

export interface AttemptQuery {
  status?: AttemptStatus;
  limit: number;
  /** Only attempts older than this cursor. */
  before?: string;
}

/** Bytes of a response body the log keeps. */
export const LOGGED_BODY_BYTES = 1024;

/**
 * The attempts log: per endpoint, newest first, kept OUTBOUND_ATTEMPTS_MAX_AGE_SECONDS and at
 * most OUTBOUND_ATTEMPTS_MAX_PER_ENDPOINT per status. Implementations: Redis streams
 * (`redis-attempt.log.ts`) and memory; both pass `attempt-log.conformance.ts`.
 */
export interface AttemptLog {
  record(attempt: DeliveryAttempt): Promise<void>;
  /** Newest first. */
  list(endpointId: string, query: AttemptQuery): Promise<ListedAttempt[]>;
  removeEndpoint(endpointId: string): Promise<void>;
}

/** Cursor syntax of every implementation: `<ms>-<seq>`, like a Redis stream id. */
export const ATTEMPT_CURSOR = /^\d{1,15}-\d{1,15}$/;
