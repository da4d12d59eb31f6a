import type { EngineLogger, EventBus, EventConsumer, EventDelivery } from '@switchboard/engine';
import type { Metrics } from '@switchboard/observability';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseCloudEvent } from '../../dispatch/cloud-event';
import type { EndpointRegistry } from '../endpoints/endpoint-registry';
import type { DeliveryQueue, QueuedJob } from '../queue/delivery-queue';
import type { EndpointFormat } from '../endpoints/endpoint';
import type { OutboundEvent } from '../signing/webhook-format';
import { noticeSubject } from './outbound-notices';

export interface FanOutSettings {
  /** OUTBOUND_DURABLE */
  durable: string;
  /** NOTIFIER_ACK_WAIT_SECONDS, in ms. */
  ackWaitMs: number;
  /** OUTBOUND_FANOUT_CONCURRENCY */
  concurrency: number;
}

/** Deliveries of one event to the fan-out: it retries until the queue takes its jobs (an outage, not a bad event). */
const MAX_DELIVER = 1_000_000;
const RESTART_DELAY_MS = 1000;
/** Backoff of a fan-out whose jobs could not be queued: doubling from 250 ms to 30 s. */
const RETRY_BASE_MS = 250;
const RETRY_MAX_MS = 30_000;

/**
 * `webhook-id` of an event for an endpoint: the same for every attempt, replica and replay
 * (a CloudEvent is identified by source and id), different per endpoint.
 */
export function webhookIdOf(source: string, eventId: string, endpointId: string): string {
  return (
    'msg_' + createHash('sha256').update(source).update('\n').update(eventId).update('\n').update(endpointId).digest('hex').slice(0, 32)
  );
}

/**
 * The outbound side's durable consumer on EVENTS (OUTBOUND_DURABLE, separate from the
 * notifier's): each event whose type an enabled endpoint wants becomes one job per such
 * endpoint, queued with the webhook id as dedupe id, and the event is acked only once
 * the queue holds them all. A redelivered event (a replica killed mid-fan-out) queues
 * nothing twice. The body is built once per event and format, shared by its endpoints.
 */
export class FanOutService {
  private consumer?: EventConsumer;
  private loop?: Promise<void>;
  private heartbeat?: NodeJS.Timeout;
  private readonly inflight = new Set<Promise<void>>();
  private readonly working = new Set<EventDelivery>();
  private stopping = false;
  private readonly wake = new AbortController();

  constructor(
    private readonly bus: EventBus,
    private readonly registry: EndpointRegistry,
    private readonly queue: DeliveryQueue,
    private readonly metrics: Metrics,
    private readonly logger: EngineLogger,
    private readonly settings: FanOutSettings,
  ) {}

  async start(): Promise<void> {
    this.consumer = await this.open();
    this.heartbeat = setInterval(
      () => {
        for (const d of this.working) d.working();
      },
      Math.max(500, this.settings.ackWaitMs / 3),
    );
    this.heartbeat.unref();
    this.loop = this.run(this.consumer);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wake.abort();
    await this.consumer?.stop();
    await this.loop;
    await Promise.all(this.inflight);
    clearInterval(this.heartbeat);
  }

  /** The jobs of one event (exported for the replay of a stored event and for tests). */
  jobsFor(delivery: EventDelivery): QueuedJob[] | undefined {
    const parsed = parseCloudEvent(delivery.data);
    // Not a CloudEvent: the notifier dead-letters it; nothing here can deliver it.
    if (!parsed.ok) return undefined;
    const event = parsed.event;
    const targets = this.registry.match(event.type);
    if (targets.length === 0) return [];
    const about = noticeSubject(event.type, event.data);
    const outbound: OutboundEvent = {
      id: event.id,
      source: event.source,
      type: event.type,
      timestamp: eventTimestamp(event.time, delivery.storedAt),
      data: event.data === undefined ? null : event.data,
    };
    const bodies = new Map<EndpointFormat, Uint8Array>();
    const queuedAt = Date.now();
    const jobs: QueuedJob[] = [];
    for (const target of targets) {
      if (target.id === about || target.format.accepts?.(outbound) === false) continue;
      let body = bodies.get(target.endpoint.format);
      if (body === undefined) {
        body = target.format.body(outbound);
        bodies.set(target.endpoint.format, body);
      }
      const webhookId = webhookIdOf(event.source, event.id, target.id);
      jobs.push({
        job: { webhookId, endpointId: target.id, attempt: 1, eventId: event.id, eventType: event.type, queuedAt, body },
        dedupeId: webhookId,
      });
    }
    return jobs;
  }

  private open(): Promise<EventConsumer> {
    return this.bus.consume({
      durable: this.settings.durable,
      ackWaitMs: this.settings.ackWaitMs,
      maxDeliver: MAX_DELIVER,
      batch: this.settings.concurrency,
    });
  }

  private async run(first: EventConsumer): Promise<void> {
    let consumer: EventConsumer | undefined = first;
    while (!this.stopping) {
      try {
        consumer ??= this.consumer = await this.open();
        for await (const delivery of consumer) {
          if (this.stopping) {
            delivery.nak(0);
            continue;
          }
          while (this.inflight.size >= this.settings.concurrency) await Promise.race(this.inflight);
          this.begin(delivery);
        }
      } catch (err) {
        if (this.stopping) break;
        this.logger.error({ err: describe(err) }, 'outbound fan-out consumer failed, restarting');
      }
      if (this.stopping) break;
      await consumer?.stop().catch(() => undefined);
      consumer = undefined;
      await sleep(RESTART_DELAY_MS, undefined, { signal: this.wake.signal }).catch(() => undefined);
    }
  }

  private begin(delivery: EventDelivery): void {
    this.working.add(delivery);
    const task = this.fanOut(delivery)
      .catch((err: unknown) => {
        const delayMs = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(delivery.deliveryCount - 1, 20));
        this.logger.warn(
          { seq: delivery.seq, deliveryCount: delivery.deliveryCount, delayMs, err: describe(err) },
          'outbound fan-out failed, retrying',
        );
        delivery.nak(delayMs);
      })
      .finally(() => {
        this.working.delete(delivery);
        this.inflight.delete(task);
      });
    this.inflight.add(task);
  }

  private async fanOut(delivery: EventDelivery): Promise<void> {
    const jobs = this.jobsFor(delivery);
    if (jobs !== undefined && jobs.length > 0) {
      await this.queue.enqueue(jobs);
      this.metrics.outboundMessages.inc({ result: 'queued' }, jobs.length);
    }
    delivery.ack();
  }
}

/** The event's `time` when it is a valid time, else when EVENTS stored it; ISO either way. */
function eventTimestamp(time: string | undefined, storedAt: number): string {
  const parsed = time === undefined ? NaN : Date.parse(time);
  return new Date(Number.isNaN(parsed) ? storedAt : parsed).toISOString();
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
