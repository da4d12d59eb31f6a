import type { EngineLogger } from '@switchboard/engine';
import type { Metrics } from '@switchboard/observability';
import { setTimeout as sleep } from 'node:timers/promises';
import { AttemptLog, DeliveryAttempt, LOGGED_BODY_BYTES } from '../attempts/attempt-log';
import type { ActiveEndpoint } from '../endpoints/endpoint-registry';
import type { HttpOutcome, SafeHttpClient } from '../http/safe-http.client';
import type { DeliveryQueue, JobConsumer, JobDelivery, OutboundDeadLetterReason } from '../queue/delivery-queue';
import { BreakerSettings, CircuitBreaker } from './circuit-breaker';
import type { EndpointHealth } from './endpoint-health';
import type { OutboundNotices } from './outbound-notices';
import type { RateLimiter } from './rate-limiter';
import type { RetrySchedule } from './retry-schedule';

/** What every endpoint worker of a process shares. */
export interface DeliveryContext {
  queue: DeliveryQueue;
  client: SafeHttpClient;
  attempts: AttemptLog;
  limiter: RateLimiter;
  schedule: RetrySchedule;
  health: EndpointHealth;
  notices: OutboundNotices;
  metrics: Metrics;
  logger: EngineLogger;
  /** OUTBOUND_CONCURRENCY */
  concurrency: number;
  /** Ack wait of a job (the attempt timeout plus a margin). */
  ackWaitMs: number;
  breaker: BreakerSettings;
}

/** Pause before consuming again after the consumer failed. */
const RESTART_DELAY_MS = 1000;
/** Tries of a durable write (reschedule, dead letter) before the job is left to come back after the ack wait. */
const WRITE_ATTEMPTS = 4;

/** The label of `switchboard_outbound_attempts_total{error}` for an outcome. */
export function errorLabel(outcome: HttpOutcome): string {
  if (outcome.ok) return 'none';
  const code = outcome.error?.code ?? 'network';
  if (code === 'http_status' && outcome.statusCode !== undefined) return `http_${Math.floor(outcome.statusCode / 100)}xx`;
  return code;
}

/**
 * Delivers one endpoint's queue in this replica. Jobs come from the endpoint's own
 * consumer (at most OUTBOUND_CONCURRENCY unacknowledged across replicas), so this worker
 * waiting on a slow endpoint holds only that endpoint's slots. Per job: wait while the
 * circuit breaker is open (no attempt spent), keep to the rate limit, sign and POST, then
 * settle: success; 410 disables the endpoint; otherwise the next attempt is parked for
 * its retry time, or the message becomes a dead letter after the last one. The job is
 * acked only after that outcome is stored.
 */
export class EndpointWorker {
  /** Jobs in hand (attempting or waiting), kept alive by the engine's heartbeat. */
  readonly held = new Set<JobDelivery>();
  readonly breaker: CircuitBreaker;
  private readonly inflight = new Set<Promise<void>>();
  private consumer?: JobConsumer;
  private loop?: Promise<void>;
  private stopping = false;
  private readonly wake = new AbortController();

  constructor(
    private active: ActiveEndpoint,
    private readonly ctx: DeliveryContext,
  ) {
    this.breaker = new CircuitBreaker(ctx.breaker);
  }

  get id(): string {
    return this.active.id;
  }

  start(): void {
    this.loop = this.run();
  }

  /** A newer version of the endpoint (URL, secrets, disabled…): used from the next attempt on. */
  update(active: ActiveEndpoint): void {
    this.active = active;
  }

  /** Stops taking jobs, gives back those not attempted, finishes attempts in flight. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake.abort();
    await this.consumer?.stop().catch(() => undefined);
    await this.loop;
    await Promise.all(this.inflight);
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      try {
        this.consumer = await this.ctx.queue.consume(this.id, { concurrency: this.ctx.concurrency, ackWaitMs: this.ctx.ackWaitMs });
        for await (const delivery of this.consumer) {
          if (this.stopping) {
            delivery.release();
            continue;
          }
          this.begin(delivery);
        }
      } catch (err) {
        if (this.stopping) break;
        this.ctx.logger.error({ endpointId: this.id, err: describe(err) }, 'endpoint queue consumer failed, restarting');
      }
      if (this.stopping) break;
      await this.consumer?.stop().catch(() => undefined);
      await this.pause(RESTART_DELAY_MS);
    }
  }

  private begin(delivery: JobDelivery): void {
    this.held.add(delivery);
    const task = this.handle(delivery)
      .catch((err: unknown) => {
        // Left unacknowledged: it comes back after the ack wait and is attempted again.
        this.ctx.logger.error({ endpointId: this.id, webhookId: delivery.job.webhookId, err: describe(err) }, 'outbound job failed');
      })
      .finally(() => {
        this.held.delete(delivery);
        this.inflight.delete(task);
      });
    this.inflight.add(task);
  }

  private async handle(delivery: JobDelivery): Promise<void> {
    const job = delivery.job;
    // Paused by the breaker: wait with the job in hand; no attempt is made or counted.
    let probe = false;
    for (;;) {
      if (this.stopping) return delivery.release();
      if (this.active.endpoint.disabled) return this.drainDisabled(delivery);
      const permit = this.breaker.permit();
      if (permit.allowed) {
        probe = permit.probe;
        break;
      }
      await this.pause(permit.waitMs);
    }
    const limit = this.active.endpoint.rateLimitPerSecond;
    if (limit !== undefined) {
      for (;;) {
        const wait = await this.ctx.limiter.acquire(this.id, limit).catch((err: unknown) => {
          this.ctx.logger.warn({ endpointId: this.id, err: describe(err) }, 'rate limiter unavailable, waiting');
          return 1000;
        });
        if (wait === 0) break;
        if (this.stopping) {
          if (probe) this.breaker.abandonProbe();
          return delivery.release();
        }
        await this.pause(wait);
      }
    }

    const active = this.active;
    const startedAt = Date.now();
    const headers = active.format.headers(
      { webhookId: job.webhookId, timestamp: Math.floor(startedAt / 1000), body: job.body },
      active.signingKeys(startedAt),
    );
    const outcome = await this.ctx.client.post(active.endpoint.url, headers, job.body);
    this.breaker.record(outcome.ok, probe);
    const { metrics } = this.ctx;
    metrics.outboundAttempts.inc({ outcome: outcome.ok ? 'succeeded' : 'failed', error: errorLabel(outcome) });
    metrics.outboundAttemptSeconds.observe(outcome.durationMs / 1000);
    const attempt: DeliveryAttempt = {
      webhookId: job.webhookId,
      endpointId: this.id,
      eventId: job.eventId,
      eventType: job.eventType,
      attempt: job.attempt,
      status: outcome.ok ? 'succeeded' : 'failed',
      at: new Date(startedAt).toISOString(),
      durationMs: outcome.durationMs,
      ...(outcome.statusCode === undefined ? {} : { statusCode: outcome.statusCode }),
      ...(outcome.error === undefined ? {} : { error: `${outcome.error.code}: ${outcome.error.message}` }),
      ...(outcome.body === undefined || outcome.body.length === 0
        ? {}
        : { responseBody: outcome.body.subarray(0, LOGGED_BODY_BYTES).toString('utf8') }),
    };

    if (outcome.ok) {
      // The ack first: it frees the endpoint's slot on the server; the log entry is not on that path.
      await Promise.all([delivery.ack(), this.record(attempt)]);
      metrics.outboundMessages.inc({ result: 'delivered' });
      await this.ctx.health.succeeded(active).catch((err: unknown) => this.warn('failingSince not cleared', err));
      return;
    }

    if (outcome.statusCode === 410) {
      // Gone: the receiver asks us to stop. The rest of the queue drains to dead letters.
      await this.durably(() => this.ctx.health.disable(this.id, 'gone', 410));
      return this.finish(delivery, attempt, 'endpoint_disabled', outcome);
    }
    const disabled = await this.ctx.health.failed(active, startedAt).catch((err: unknown) => {
      this.warn('failure not recorded on the endpoint', err);
      return false;
    });
    if (disabled) return this.finish(delivery, attempt, 'endpoint_disabled', outcome);

    const retryAfter = outcome.statusCode === 429 || outcome.statusCode === 503 ? outcome.retryAfterSeconds : undefined;
    const delayMs = this.ctx.schedule.nextDelayMs(job.attempt, retryAfter);
    if (delayMs === undefined) return this.finish(delivery, attempt, 'exhausted', outcome);

    // The delay counts from the failed answer (docs/WEBHOOKS.md), not from this moment:
    // the Redis calls since (the endpoint's health) do not push the retry later.
    const notBefore = Math.ceil(startedAt + outcome.durationMs + delayMs);
    await this.durably(() => this.ctx.queue.schedule({ ...job, attempt: job.attempt + 1, notBefore }));
    await Promise.all([
      delivery.ack(),
      this.record({ ...attempt, outcome: 'retry_scheduled', nextAttemptAt: new Date(notBefore).toISOString() }),
    ]);
    metrics.outboundMessages.inc({ result: 'retry_scheduled' });
  }

  /** The endpoint was disabled: what is still queued becomes dead letters, to replay after re-enabling. */
  private async drainDisabled(delivery: JobDelivery): Promise<void> {
    const job = delivery.job;
    await this.deadLetter(
      delivery,
      'endpoint_disabled',
      job.attempt - 1,
      `endpoint disabled (${this.active.endpoint.disabledReason ?? 'manual'})`,
    );
    await delivery.ack();
  }

  /** Last attempt of a message: dead letter (and notice when exhausted), log, ack. */
  private async finish(
    delivery: JobDelivery,
    attempt: DeliveryAttempt,
    reason: OutboundDeadLetterReason,
    outcome: HttpOutcome,
  ): Promise<void> {
    const job = delivery.job;
    const error = attempt.error;
    await this.deadLetter(delivery, reason, job.attempt, error, outcome.statusCode);
    if (reason === 'exhausted') {
      await this.ctx.notices.exhausted(job.run, {
        endpointId: this.id,
        url: this.active.endpoint.url,
        webhookId: job.webhookId,
        eventId: job.eventId,
        eventType: job.eventType,
        attempts: job.attempt,
        ...(outcome.statusCode === undefined ? {} : { statusCode: outcome.statusCode }),
        ...(error === undefined ? {} : { error }),
      });
    }
    await Promise.all([
      delivery.ack(),
      this.record({ ...attempt, outcome: reason === 'exhausted' ? 'dead_lettered' : 'endpoint_disabled' }),
    ]);
  }

  private async deadLetter(
    delivery: JobDelivery,
    reason: OutboundDeadLetterReason,
    attempts: number,
    error?: string,
    statusCode?: number,
  ): Promise<void> {
    const job = delivery.job;
    await this.durably(() =>
      this.ctx.queue.deadLetter({
        webhookId: job.webhookId,
        endpointId: this.id,
        eventId: job.eventId,
        eventType: job.eventType,
        reason,
        attempts,
        ...(error === undefined ? {} : { error }),
        ...(statusCode === undefined ? {} : { statusCode }),
        queuedAt: new Date(job.queuedAt).toISOString(),
        deadLetteredAt: new Date().toISOString(),
        body: Buffer.from(job.body).toString('utf8'),
        ...(job.run === undefined ? {} : { run: job.run }),
      }),
    );
    this.ctx.metrics.outboundMessages.inc({ result: 'dead_lettered' });
    this.ctx.logger.warn({ endpointId: this.id, webhookId: job.webhookId, reason, attempts, error }, 'outbound message dead-lettered');
  }

  /** The attempts log is a record, not the message: a failure to write it is logged, not retried. */
  private async record(attempt: DeliveryAttempt): Promise<void> {
    await this.ctx.attempts.record(attempt).catch((err: unknown) => this.warn('attempt not logged', err));
  }

  /** A write the message depends on, retried briefly; if it still fails the job is left to come back. */
  private async durably<T>(write: () => Promise<T>): Promise<T> {
    for (let i = 1; ; i++) {
      try {
        return await write();
      } catch (err) {
        if (i >= WRITE_ATTEMPTS) throw err;
        await sleep(200 * 2 ** (i - 1));
      }
    }
  }

  /** Waits `ms`, or less when the worker stops. */
  private async pause(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.wake.signal }).catch(() => undefined);
  }

  private warn(what: string, err: unknown): void {
    this.ctx.logger.warn({ endpointId: this.id, err: describe(err) }, what);
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
