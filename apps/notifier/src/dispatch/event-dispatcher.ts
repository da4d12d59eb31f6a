import type { ChannelEngine, CloudEvent, EngineLogger, EventDelivery, PublishResult } from '@switchboard/engine';
import type { Metrics } from '@switchboard/observability';
import { isSwitchboardError } from '@switchboard/protocol';
import { setTimeout as sleep } from 'node:timers/promises';
import { EventRouter } from '../routing/event-router';
import { ChannelSequencer } from './channel-sequencer';
import { idempotencyKeyOf, parseCloudEvent } from './cloud-event';
import { DeadLetter, DeadLetterReason } from './dead-letter';
import { DeadLetterQueue } from './dead-letter-queue';
import { RetryPolicy } from './retry-policy';

/** What became of one delivery (also the `outcome` label of `switchboard_notifier_events_total`). */
export type DispatchOutcome = 'processed' | 'retried' | 'dead_lettered' | 'unroutable' | 'abandoned' | 'outbound_only';

export interface DispatcherSettings {
  /** NOTIFIER_MAX_DELIVER: the delivery that fails at this count goes to the DLQ. */
  maxDeliver: number;
  retry: RetryPolicy;
  /**
   * True for an event delivered by other means (an outbound endpoint takes it, or it is a
   * platform notice): when no channel and no failed rule wants it, it is acked, not dead-lettered.
   */
  deliveredElsewhere?: (event: CloudEvent) => boolean;
}

/** Attempts to store a dead letter before giving up on the event (backoff 200 ms, 400 ms). */
const DLQ_WRITE_ATTEMPTS = 3;

interface ChannelOutcome {
  channel: string;
  result?: PublishResult;
  error?: unknown;
}

/**
 * Handles one delivery of EVENTS: CloudEvent → channels (routing) → one idempotent channel
 * publish per channel (idempotency key = event id) → ack. A failure naks with backoff, and
 * the last allowed delivery (or a failure that cannot heal) writes a dead letter, then acks.
 * Never acks an event that is neither published everywhere nor dead-lettered.
 */
export class EventDispatcher {
  private readonly sequencer = new ChannelSequencer();

  constructor(
    private readonly engine: ChannelEngine,
    private readonly router: EventRouter,
    private readonly dlq: DeadLetterQueue,
    private readonly metrics: Metrics,
    private readonly logger: EngineLogger,
    private readonly settings: DispatcherSettings,
  ) {}

  async dispatch(delivery: EventDelivery): Promise<DispatchOutcome> {
    const parsed = parseCloudEvent(delivery.data);
    if (!parsed.ok) {
      return this.deadLetter(delivery, {
        reason: 'invalid_event',
        error: parsed.error,
        raw: Buffer.from(delivery.data).toString('base64'),
      });
    }
    const event = parsed.event;
    const decision = this.router.route(event);
    for (const skip of decision.skips) {
      this.metrics.notifierRouteSkips.inc({ reason: skip.reason });
      this.logger.warn(
        { eventId: event.id, type: event.type, seq: delivery.seq, where: skip.where, reason: skip.reason, detail: skip.detail },
        'route skipped',
      );
    }
    if (decision.channels.length === 0) {
      if (decision.skips.length === 0 && this.settings.deliveredElsewhere?.(event) === true) {
        delivery.ack();
        this.metrics.notifierEvents.inc({ outcome: 'outbound_only' });
        return 'outbound_only';
      }
      const why =
        decision.skips.length > 0
          ? `no channel: ${decision.skips.map((s) => `${s.where}: ${s.detail}`).join('; ')}`
          : decision.via === 'attribute'
            ? 'no channel: the channels attribute names none'
            : `no channel: no channels attribute and no route matches type ${JSON.stringify(event.type)} and source ${JSON.stringify(event.source)}`;
      return this.deadLetter(delivery, { reason: 'unroutable', error: why.slice(0, 2000), event });
    }

    const started = performance.now();
    // Events sharing a channel publish in delivery order; others run alongside.
    const outcomes = await this.sequencer.run(decision.channels, () => this.publishAll(event, decision.channels, delivery.storedAt));
    const failed = outcomes.filter((o) => o.error !== undefined);
    if (failed.length === 0) {
      this.metrics.notifierPublishSeconds.observe((performance.now() - started) / 1000);
      delivery.ack();
      this.metrics.notifierEvents.inc({ outcome: 'processed' });
      return 'processed';
    }

    const error = failed.map((o) => `${o.channel}: ${describe(o.error)}`).join('; ');
    const delivered = outcomes.filter((o) => o.error === undefined).map((o) => o.channel);
    // bad_request / too_large fail the same way on every delivery: no point retrying.
    const permanent = failed.every((o) => isSwitchboardError(o.error, 'bad_request', 'too_large'));
    if (permanent || delivery.deliveryCount >= this.settings.maxDeliver) {
      return this.deadLetter(delivery, {
        reason: permanent ? 'rejected' : 'publish_failed',
        error: error.slice(0, 2000),
        event,
        channels: decision.channels,
        delivered,
      });
    }
    const delayMs = this.settings.retry.delayMs(delivery.deliveryCount);
    delivery.nak(delayMs);
    this.metrics.notifierEvents.inc({ outcome: 'retried' });
    this.logger.warn(
      { eventId: event.id, seq: delivery.seq, deliveryCount: delivery.deliveryCount, delayMs, error },
      'event publish failed, retrying',
    );
    return 'retried';
  }

  private async publishAll(event: CloudEvent, channels: readonly string[], receivedAt: number): Promise<ChannelOutcome[]> {
    const idempotencyKey = idempotencyKeyOf(event);
    const data = event.data === undefined ? null : event.data;
    const settled = await Promise.allSettled(
      channels.map((channel) => this.engine.publish({ channel, data, idempotencyKey, id: event.id, type: event.type, receivedAt })),
    );
    return settled.map((s, i) => {
      if (s.status === 'fulfilled') {
        this.metrics.notifierRouted.inc({ result: s.value.duplicate ? 'duplicate' : 'stored' });
        return { channel: channels[i], result: s.value };
      }
      this.metrics.notifierRouted.inc({ result: 'failed' });
      return { channel: channels[i], error: s.reason };
    });
  }

  /**
   * Stores a dead letter and acks the event. If the DLQ cannot be written the event is
   * nak'ed instead (it is never acked unrecorded); at the last delivery that leaves it on
   * EVENTS undelivered, which is logged as an error.
   */
  private async deadLetter(
    delivery: EventDelivery,
    fields: Pick<DeadLetter, 'error' | 'event' | 'raw' | 'channels' | 'delivered'> & { reason: DeadLetterReason },
  ): Promise<DispatchOutcome> {
    const deadLetter: DeadLetter = {
      deliveryCount: delivery.deliveryCount,
      subject: delivery.subject,
      seq: delivery.seq,
      storedAt: new Date(delivery.storedAt).toISOString(),
      deadLetteredAt: new Date().toISOString(),
      ...fields,
    };
    const eventId = fields.event?.id;
    for (let attempt = 1; ; attempt++) {
      try {
        const dlqSeq = await this.dlq.add(deadLetter);
        delivery.ack();
        const outcome = fields.reason === 'unroutable' ? 'unroutable' : 'dead_lettered';
        this.metrics.notifierEvents.inc({ outcome });
        this.logger.warn(
          { eventId, seq: delivery.seq, dlqSeq, reason: fields.reason, deliveryCount: delivery.deliveryCount, error: fields.error },
          'event dead-lettered',
        );
        return outcome;
      } catch (err) {
        if (attempt < DLQ_WRITE_ATTEMPTS) {
          delivery.working();
          await sleep(200 * attempt);
          continue;
        }
        const last = delivery.deliveryCount >= this.settings.maxDeliver;
        delivery.nak(this.settings.retry.delayMs(delivery.deliveryCount));
        this.logger.error(
          { eventId, seq: delivery.seq, reason: fields.reason, err: describe(err), deliveryCount: delivery.deliveryCount },
          last
            ? 'dead letter could not be stored: the event stays on EVENTS undelivered'
            : 'dead letter could not be stored, retrying the event',
        );
        this.metrics.notifierEvents.inc({ outcome: last ? 'abandoned' : 'retried' });
        return last ? 'abandoned' : 'retried';
      }
    }
  }
}

function describe(err: unknown): string {
  if (isSwitchboardError(err)) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}
