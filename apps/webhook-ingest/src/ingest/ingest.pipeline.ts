import type { EventBus } from '@switchboard/engine';
import type { DiscardBounds } from '@switchboard/platform';
import type { Logger, Metrics } from '@switchboard/observability';
import type { IncomingHttpHeaders } from 'node:http';
import type { Verified, WebhookEvent, WebhookRequest } from '../verifiers/verifier';
import { clientBucket } from '@switchboard/platform';
import { EventSubjects, messageId, normalizeDeliveryId, webhookCloudEvent } from './cloud-event';
import type { DeliveryLedger } from './delivery-ledger';
import type { Forwarding } from '@switchboard/platform';
import type { RateLimit, RateLimiter } from './rate-limiter';
import { BodyIncompleteError, BodyTimeoutError, BodyTooLargeError } from './raw-body';
import type { ReadSlots } from './read-slots';
import { IngestOutcome, IngestReply, REJECTIONS, RejectReason, SHED_LINGER_MS } from './reasons';
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
  /**
   * Reads the raw body, at most `limit` bytes within `timeoutMs` (BodyTooLargeError beyond
   * the limit, BodyTimeoutError past the deadline, BodyIncompleteError if cut short).
   */
  readBody(limit: number, timeoutMs: number): Promise<Buffer>;
}

export interface IngestDependencies {
  readonly sources: SourceRegistry;
  readonly forwarding: Forwarding;
  /** Per-source buckets (a source's `rateLimit`), taken by verified deliveries only. */
  readonly sourceLimiter: RateLimiter;
  /** Per-client-address buckets (WEBHOOK_UNVERIFIED_RATE), taken before the body is read. */
  readonly clientLimiter: RateLimiter;
  /** WEBHOOK_UNVERIFIED_RATE as a bucket; undefined: off. */
  readonly unverifiedRate: RateLimit | undefined;
  /** WEBHOOK_MAX_CONCURRENT_READS. */
  readonly readSlots: ReadSlots;
  /** WEBHOOK_BODY_TIMEOUT_SECONDS, in ms. */
  readonly bodyTimeoutMs: number;
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

/** Refused before the body is read, for who sent it or for load: discarded briefly (SHED_LINGER_MS). */
const SHED: ReadonlySet<RejectReason> = new Set<RejectReason>(['unknown_source', 'ip_not_allowed', 'client_rate_limited', 'busy']);

/** Refusals whose volume the sender controls and that say nothing new: counted, not logged. */
const UNLOGGED: ReadonlySet<RejectReason> = new Set<RejectReason>(['unknown_source', 'client_rate_limited', 'busy', 'rate_limited']);

/**
 * The webhook pipeline. Unsigned traffic cannot starve a source: before its body is read,
 * a request takes from its client address's budget (WEBHOOK_UNVERIFIED_RATE, given back
 * once it verifies) and a read slot (WEBHOOK_MAX_CONCURRENT_READS), and its body must
 * arrive within WEBHOOK_BODY_TIMEOUT_SECONDS; the source's own `rateLimit` only counts
 * verified, new deliveries. Order: unknown source 404 → IP not allowed 403 → client
 * address over budget 429 → declared length too large 413 → no read slot 503 → body too
 * large 413 / too slow 408 / cut short 400 → signature or timestamp 401 → replay 401 /
 * duplicate 200 → source over its rate 429 → stored 202 (or 503). Never answers 2xx for an
 * event that is not stored: 202 follows the event bus ack, and a duplicate is only
 * reported for a delivery id already stored.
 */
export class IngestPipeline {
  private readonly clock: () => number;
  private warnedUntrustedForwarding = false;
  private lastLimiterWarning = Number.NEGATIVE_INFINITY;

  private readonly shedDiscard: DiscardBounds;
  /** Per source, the metric series every stored webhook touches (counted in plain integers where prom-client would hash label sets per call). */
  private readonly hot = new Map<RegisteredSource, HotMetrics>();
  private readonly subjects: EventSubjects;

  constructor(private readonly deps: IngestDependencies) {
    this.clock = deps.clock ?? Date.now;
    this.shedDiscard = { maxBytes: deps.maxBodyBytes, maxMs: SHED_LINGER_MS };
    this.subjects = new EventSubjects(deps.eventBus.names.eventsSubjectPrefix);
  }

  /** The configured sources' names. */
  sourceNames(): string[] {
    return this.deps.sources.list().map((source) => source.name);
  }

  async handle(request: IncomingWebhook): Promise<IngestReply> {
    const receivedAt = this.clock();
    const source = this.deps.sources.get(request.source);
    if (source === undefined) return this.reject(UNKNOWN_SOURCE_LABEL, 'unknown_source', 'no webhook source has this name');

    const client = this.deps.forwarding.clientAddress(request.peer, request.headers);
    this.checkForwarding(request);
    if (source.allow !== undefined && !source.allow.includes(client)) {
      return this.reject(source.name, 'ip_not_allowed', 'this address may not post to this source', { client });
    }

    const budget = this.deps.unverifiedRate;
    const bucket = budget === undefined ? '' : clientBucket(client);
    if (budget !== undefined) {
      const waitMs = await this.take(this.deps.clientLimiter, bucket, budget, 'client');
      if (waitMs > 0) {
        return this.reject(source.name, 'client_rate_limited', 'too many unverified requests from this address', undefined, {
          'Retry-After': retryAfter(waitMs),
        });
      }
    }

    const body = await this.readBody(request, source);
    if (!Buffer.isBuffer(body)) return body;

    const webhook = new VerifiableWebhook(request, body, this.deps.forwarding);
    const hot = this.hotMetrics(source);
    const started = performance.now();
    const verified = source.verifier.verify(webhook, Math.floor(receivedAt / 1000));
    hot.verifySeconds.observe((performance.now() - started) / 1000);
    if (!verified.ok) return this.reject(source.name, verified.reason, verified.detail, { client });
    hot.secretMatch(verified.secretIndex).inc();
    // The budget is for unverified requests: a genuine sender's requests cost it nothing.
    if (budget !== undefined) void this.refund(this.deps.clientLimiter, bucket, budget, 'client');

    const described = source.verifier.describe(webhook, verified);
    if ('ok' in described) return this.reject(source.name, described.reason, described.detail);
    if (described.kind === 'handshake') {
      this.count(source.name, 'handshake', described.name);
      return { status: 200, body: described.reply };
    }
    return this.store(source, described, verified, receivedAt, body.length);
  }

  /** Replay guard → long-window dedupe → source rate → event bus (Nats-Msg-Id dedupe) → ledger. */
  private async store(
    source: RegisteredSource,
    event: WebhookEvent,
    verified: Verified,
    receivedAt: number,
    bodyBytes: number,
  ): Promise<IngestReply> {
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
    // After dedupe: a retry of a stored delivery is answered as such, and costs no rate.
    if (source.rateLimit !== undefined) {
      const waitMs = await this.take(this.deps.sourceLimiter, source.name, source.rateLimit, 'source');
      if (waitMs > 0) {
        return this.reject(source.name, 'rate_limited', 'too many deliveries for this source', undefined, {
          'Retry-After': retryAfter(waitMs),
        });
      }
    }

    const cloudEvent = webhookCloudEvent(source.name, deliveryId, event, receivedAt);
    // JetStream refuses messages over max_payload: a permanent condition, so 413 rather than 503.
    // Serialised here only when the bound says it could be too large (the bus serialises it again).
    const maxEventBytes = this.deps.maxEventBytes();
    if (
      eventBytesBound(source.name, deliveryId, event, bodyBytes) > maxEventBytes &&
      Buffer.byteLength(JSON.stringify(cloudEvent)) > maxEventBytes
    ) {
      return this.reject(source.name, 'body_too_large', 'the event is larger than the event bus accepts');
    }
    if (!this.deps.eventBus.isReady()) return this.unavailable(source.name, deliveryId, 'event bus not connected');
    let duplicate: boolean;
    try {
      ({ duplicate } = await this.deps.eventBus.publish(this.subjects.of(source.name, event.type), cloudEvent, {
        msgId: messageId(source.name, deliveryId),
      }));
    } catch (err) {
      return this.unavailable(source.name, deliveryId, errorText(err));
    }
    // Also after a JetStream duplicate: the earlier attempt may have been stored without reaching here.
    // Not awaited: the answer does not depend on it (stored all the same; a failed mark only leaves
    // the long dedupe window missing for this id, JetStream's still holds). A retry admitted after
    // this answer sees the mark: the ledger sends queued marks before queued admits, in order.
    this.deps.ledger.markStored(source.name, deliveryId).catch((err: unknown) => {
      this.deps.logger.warn({ source: source.name, deliveryId, err: errorText(err) }, 'webhook stored but not recorded for dedupe');
    });
    if (duplicate) return this.duplicate(source.name, deliveryId);
    this.hotMetrics(source).stored.inc();
    this.deps.logger.debug({ source: source.name, deliveryId, type: event.type }, 'webhook stored');
    return { status: 202, body: { accepted: true, id: deliveryId } };
  }

  private hotMetrics(source: RegisteredSource): HotMetrics {
    let hot = this.hot.get(source);
    if (hot === undefined) {
      const { metrics } = this.deps;
      const matches: Array<HotMetrics['stored']> = [];
      hot = {
        verifySeconds: metrics.webhookVerifySeconds.labels({ provider: source.config.provider }),
        stored: metrics.webhookRequestCounts.of({ source: source.name, outcome: 'accepted', reason: 'stored' }),
        secretMatch: (index) =>
          (matches[index] ??= metrics.webhookSecretMatchCounts.of({ source: source.name, secret_index: String(index) })),
      };
      this.hot.set(source, hot);
    }
    return hot;
  }

  /** Takes from a bucket; a limiter that cannot be reached lets the request through. */
  private async take(limiter: RateLimiter, key: string, limit: RateLimit, kind: 'client' | 'source'): Promise<number> {
    try {
      return await limiter.take(key, limit);
    } catch (err) {
      // Failing open: the dedupe store (same Redis) refuses to store anyway while it is down.
      this.warnLimiter(kind, err, 'webhook rate limiter unreachable; requests let through');
      return 0;
    }
  }

  private async refund(limiter: RateLimiter, key: string, limit: RateLimit, kind: 'client' | 'source'): Promise<void> {
    try {
      await limiter.refund(key, limit);
    } catch (err) {
      this.warnLimiter(kind, err, 'webhook rate limiter unreachable; budget not given back');
    }
  }

  /** At most one line per 10 s: a flood during a Redis outage must not become a flood of logs. */
  private warnLimiter(kind: 'client' | 'source', err: unknown, message: string): void {
    const now = this.clock();
    if (now - this.lastLimiterWarning < 10_000) return;
    this.lastLimiterWarning = now;
    this.deps.logger.warn({ bucket: kind, err: errorText(err) }, message);
  }

  /** Declared length → a read slot → the bytes, within the deadline. */
  private async readBody(request: IncomingWebhook, source: RegisteredSource): Promise<Buffer | IngestReply> {
    const limit = this.deps.maxBodyBytes;
    const declared = request.headers['content-length'];
    // Refused before reading a byte; streamed bodies are capped while reading.
    if (declared !== undefined && /^\d+$/.test(declared) && Number(declared) > limit) {
      return this.tooLarge(source.name, limit);
    }
    if (!this.deps.readSlots.tryAcquire()) {
      return this.reject(source.name, 'busy', 'too many webhook bodies are being received; retry shortly', undefined, {
        'Retry-After': '1',
      });
    }
    try {
      return await request.readBody(limit, this.deps.bodyTimeoutMs);
    } catch (err) {
      if (err instanceof BodyTooLargeError) return this.tooLarge(source.name, limit);
      if (err instanceof BodyTimeoutError) {
        return this.reject(source.name, 'body_timeout', `the body did not arrive within ${this.deps.bodyTimeoutMs / 1000} s`);
      }
      if (err instanceof BodyIncompleteError) return this.reject(source.name, 'body_incomplete', 'the body ended early');
      throw err;
    } finally {
      this.deps.readSlots.release();
    }
  }

  /**
   * Once per process: forwarding headers from a peer that is not a trusted proxy are
   * ignored, so if a proxy is in front, every client shares its address budget.
   */
  private checkForwarding(request: IncomingWebhook): void {
    if (this.warnedUntrustedForwarding || request.headers['x-forwarded-for'] === undefined) return;
    if (this.deps.forwarding.trusts(request.peer)) return;
    this.warnedUntrustedForwarding = true;
    this.deps.logger.warn(
      { peer: request.peer },
      'X-Forwarded-For from a peer outside TRUSTED_PROXIES is ignored: if a proxy is in front, list it, or all clients share its address (allowCidrs, WEBHOOK_UNVERIFIED_RATE)',
    );
  }

  private tooLarge(source: string, limit: number): IngestReply {
    return this.reject(source, 'body_too_large', `the body is larger than ${limit} bytes`);
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
    // `unavailable` is the backends failing (alerted on); a full set of read slots is a refusal.
    const backendDown = reason === 'dedupe_unavailable' || reason === 'store_unavailable';
    this.count(source, backendDown ? 'unavailable' : 'rejected', reason);
    if (!backendDown && !UNLOGGED.has(reason)) {
      this.deps.logger.info({ source, reason, ...context }, 'webhook rejected');
    }
    const reply = { status, body: { error: code, reason, message }, headers };
    return SHED.has(reason) ? { ...reply, discard: this.shedDiscard } : reply;
  }

  private count(source: string, outcome: IngestOutcome, reason: string): void {
    this.deps.metrics.webhookRequests.inc({ source, outcome, reason });
  }
}

/**
 * What the verifiers see of a request. A class, not an object literal with a getter: such a
 * literal takes a runtime call per request to define its accessor, and its objects do not
 * share one shape with the ones before.
 */
class VerifiableWebhook implements WebhookRequest {
  readonly headers: IncomingHttpHeaders;
  readonly mediaType: string;

  constructor(
    private readonly request: IncomingWebhook,
    readonly body: Buffer,
    private readonly forwarding: Forwarding,
  ) {
    this.headers = request.headers;
    this.mediaType = mediaTypeOf(request.headers['content-type']);
  }

  /** Only Twilio signs the URL: rebuilt when a verifier reads it. */
  get url(): string {
    const { peer, headers, encrypted, originalUrl } = this.request;
    return this.forwarding.requestUrl(peer, headers, encrypted, originalUrl);
  }
}

interface HotMetrics {
  readonly verifySeconds: { observe(value: number): void };
  readonly stored: { inc(): void };
  secretMatch(index: number): { inc(): void };
}

/**
 * An upper bound of the bytes of the CloudEvent stored for `event` (and of the headers
 * beside it), without serialising it. JSON.stringify of what was parsed from a body of n
 * bytes is at most ~5.3 n (a number such as `1e20` is written out as 21 digits; strings
 * never grow: what it escapes had to be escaped in the body already); of form fields at
 * most 6 n (a raw control character becomes `\u00XX`); base64 is 4/3 n. The envelope's
 * own fields (escaped quotes and backslashes at most double) and fixed text: 1 KiB.
 */
export function eventBytesBound(source: string, deliveryId: string, event: WebhookEvent, bodyBytes: number): number {
  return 6 * bodyBytes + 6 * (source.length + deliveryId.length + event.type.length + event.dataContentType.length) + 1024;
}

/** Whole seconds, at least 1. */
function retryAfter(waitMs: number): string {
  return String(Math.max(1, Math.ceil(waitMs / 1000)));
}

/** `application/json; charset=utf-8` → `application/json`. */
export function mediaTypeOf(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0].trim().toLowerCase();
}

function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message;
}
