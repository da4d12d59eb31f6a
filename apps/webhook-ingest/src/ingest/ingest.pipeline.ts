import type { EventBus } from '@switchboard/engine';
import type { Logger, Metrics } from '@switchboard/observability';
import type { IncomingHttpHeaders } from 'node:http';
import type { Verified, WebhookEvent, WebhookRequest } from '../verifiers/verifier';
import { eventSubject, messageId, normalizeDeliveryId, webhookCloudEvent } from './cloud-event';
import type { DeliveryLedger } from './delivery-ledger';
import type { Forwarding } from './forwarding';
import type { RateLimiter } from './rate-limiter';
import { BodyIncompleteError, BodyTooLargeError } from './raw-body';
import { IngestOutcome, IngestReply, REJECTIONS, RejectReason } from './reasons';
import type { RegisteredSource, SourceRegistry } from './source-registry';

/** One webhook request as the pipeline needs it; the body is not read yet. */
export interface IncomingWebhook {
  /** The `:source` route segment. */
  readonly source: string;
  /** The TCP peer address. */
  readonly peer: string | undefined;
  readonly headers: IncomingHttpHeaders;
  /** True on a TLS socket. */
  readonly encrypted: boolean;
  /** Path and query as requested. */
  readonly originalUrl: string;
  /** Reads the raw body, at most `limit` bytes (BodyTooLargeError beyond, BodyIncompleteError if cut short). */
  readBody(limit: number): Promise<Buffer>;
}

export interface IngestDependencies {
  readonly sources: SourceRegistry;
  readonly forwarding: Forwarding;
  readonly limiter: RateLimiter;
  readonly ledger: DeliveryLedger;
  readonly eventBus: EventBus;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** WEBHOOK_MAX_BYTES. */
  readonly maxBodyBytes: number;
  /** Largest message the event bus takes (NATS max_payload), read per request. */
  readonly maxEventBytes: () => number;
  readonly clock?: () => number;
}

/** The metric label of requests to unknown sources: the name is the sender's, unbounded. */
const UNKNOWN_SOURCE_LABEL = '_unknown';

/**
 * The webhook pipeline, in SPEC's order: unknown source 404 → IP not allowed 403 → rate
 * limited 429 → body too large 413 → signature or timestamp 401 → duplicate 200 → stored
 * 202 (or 503). Never answers 2xx for an event that is not stored: 202 follows the event
 * bus ack, and a duplicate is only reported for a delivery id already stored.
 */
export class IngestPipeline {
  private readonly clock: () => number;

  constructor(private readonly deps: IngestDependencies) {
    this.clock = deps.clock ?? Date.now;
  }

  async handle(request: IncomingWebhook): Promise<IngestReply> {
    const receivedAt = this.clock();
    const source = this.deps.sources.get(request.source);
    if (source === undefined) return this.reject(UNKNOWN_SOURCE_LABEL, 'unknown_source', 'no webhook source has this name');

    const client = this.deps.forwarding.clientAddress(request.peer, request.headers);
    if (source.allow !== undefined && !source.allow.includes(client)) {
      return this.reject(source.name, 'ip_not_allowed', 'this address may not post to this source', { client });
    }

    if (source.rateLimit !== undefined) {
      const waitMs = await this.takeRate(source);
      if (waitMs > 0) {
        return this.reject(source.name, 'rate_limited', 'too many requests for this source', undefined, {
          'Retry-After': String(Math.max(1, Math.ceil(waitMs / 1000))),
        });
      }
    }

    const body = await this.readBody(request, source);
    if (!Buffer.isBuffer(body)) return body;

    const webhook: WebhookRequest = {
      headers: request.headers,
      mediaType: mediaTypeOf(request.headers['content-type']),
      body,
      url: this.deps.forwarding.requestUrl(request.peer, request.headers, request.encrypted, request.originalUrl),
    };
    const started = process.hrtime.bigint();
    const verified = source.verifier.verify(webhook, Math.floor(receivedAt / 1000));
    this.deps.metrics.webhookVerifySeconds.observe({ provider: source.config.provider }, Number(process.hrtime.bigint() - started) / 1e9);
    if (!verified.ok) return this.reject(source.name, verified.reason, verified.detail, { client });
    this.deps.metrics.webhookSecretMatches.inc({ source: source.name, secret_index: String(verified.secretIndex) });

    const described = source.verifier.describe(webhook, verified);
    if ('ok' in described) return this.reject(source.name, described.reason, described.detail);
    if (described.kind === 'handshake') {
      this.count(source.name, 'handshake', described.name);
      return { status: 200, body: described.reply };
    }
    return this.store(source, described, verified, receivedAt);
  }

  /** Replay guard → long-window dedupe → event bus (Nats-Msg-Id dedupe) → ledger. */
  private async store(source: RegisteredSource, event: WebhookEvent, verified: Verified, receivedAt: number): Promise<IngestReply> {
    const deliveryId = normalizeDeliveryId(event.deliveryId);
    try {
      const admission = await this.deps.ledger.admit(source.name, deliveryId, verified.replayable ? verified.signature : undefined);
      if (admission === 'replayed') return this.reject(source.name, 'replayed', 'this signature was already used by another delivery');
      if (admission === 'stored') return this.duplicate(source.name, deliveryId);
    } catch (err) {
      this.deps.logger.warn({ source: source.name, err: errorText(err) }, 'webhook dedupe store unreachable');
      return this.reject(source.name, 'dedupe_unavailable', 'the dedupe store is unreachable; retry later', undefined, {
        'Retry-After': '5',
      });
    }

    const cloudEvent = webhookCloudEvent(source.name, deliveryId, event, receivedAt);
    // JetStream refuses messages over max_payload: a permanent condition, so 413 rather than 503.
    if (Buffer.byteLength(JSON.stringify(cloudEvent)) > this.deps.maxEventBytes()) {
      return this.reject(source.name, 'body_too_large', 'the event is larger than the event bus accepts');
    }
    if (!this.deps.eventBus.isReady()) return this.unavailable(source.name, deliveryId, 'event bus not connected');
    let duplicate: boolean;
    try {
      const subject = eventSubject(this.deps.eventBus.names.eventsSubjectPrefix, source.name, event.type);
      ({ duplicate } = await this.deps.eventBus.publish(subject, cloudEvent, { msgId: messageId(source.name, deliveryId) }));
    } catch (err) {
      return this.unavailable(source.name, deliveryId, errorText(err));
    }
    try {
      // Also after a JetStream duplicate: the earlier attempt may have been stored without reaching here.
      await this.deps.ledger.markStored(source.name, deliveryId);
    } catch (err) {
      // Stored all the same; only the long dedupe window is missing for this id (JetStream's still holds).
      this.deps.logger.warn({ source: source.name, deliveryId, err: errorText(err) }, 'webhook stored but not recorded for dedupe');
    }
    if (duplicate) return this.duplicate(source.name, deliveryId);
    this.count(source.name, 'accepted', 'stored');
    this.deps.logger.debug({ source: source.name, deliveryId, type: event.type }, 'webhook stored');
    return { status: 202, body: { accepted: true, id: deliveryId } };
  }

  private async takeRate(source: RegisteredSource): Promise<number> {
    try {
      return await this.deps.limiter.take(source.name, source.rateLimit!);
    } catch (err) {
      // Failing open: the dedupe store (same Redis) refuses to store anyway while it is down.
      this.deps.logger.warn({ source: source.name, err: errorText(err) }, 'webhook rate limiter unreachable; request let through');
      return 0;
    }
  }

  private async readBody(request: IncomingWebhook, source: RegisteredSource): Promise<Buffer | IngestReply> {
    const limit = this.deps.maxBodyBytes;
    const declared = request.headers['content-length'];
    // Refused before reading a byte; streamed bodies are capped while reading.
    if (declared !== undefined && /^\d+$/.test(declared) && Number(declared) > limit) {
      return this.tooLarge(source.name, limit);
    }
    try {
      return await request.readBody(limit);
    } catch (err) {
      if (err instanceof BodyTooLargeError) return this.tooLarge(source.name, limit);
      if (err instanceof BodyIncompleteError) return this.reject(source.name, 'body_incomplete', 'the body ended early');
      throw err;
    }
  }

  private tooLarge(source: string, limit: number): IngestReply {
    return { ...this.reject(source, 'body_too_large', `the body is larger than ${limit} bytes`), close: true };
  }

  private duplicate(source: string, deliveryId: string): IngestReply {
    this.count(source, 'duplicate', 'duplicate');
    this.deps.logger.debug({ source, deliveryId }, 'webhook duplicate');
    return { status: 200, body: { duplicate: true } };
  }

  private unavailable(source: string, deliveryId: string, cause: string): IngestReply {
    this.deps.logger.warn({ source, deliveryId, err: cause }, 'webhook not stored: event bus unavailable');
    return this.reject(source, 'store_unavailable', 'the event could not be stored; retry later', undefined, { 'Retry-After': '5' });
  }

  private reject(
    source: string,
    reason: RejectReason,
    message: string,
    context?: Record<string, unknown>,
    headers?: Record<string, string>,
  ): IngestReply {
    const { status, code } = REJECTIONS[reason];
    this.count(source, status === 503 ? 'unavailable' : 'rejected', reason);
    if (status !== 503 && reason !== 'unknown_source' && reason !== 'rate_limited') {
      this.deps.logger.info({ source, reason, ...context }, 'webhook rejected');
    }
    return { status, body: { error: code, reason, message }, headers };
  }

  private count(source: string, outcome: IngestOutcome, reason: string): void {
    this.deps.metrics.webhookRequests.inc({ source, outcome, reason });
  }
}

/** `application/json; charset=utf-8` → `application/json`. */
export function mediaTypeOf(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0].trim().toLowerCase();
}

function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message;
}
