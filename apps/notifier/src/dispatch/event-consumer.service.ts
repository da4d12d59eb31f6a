import type { BeforeApplicationShutdown, OnApplicationBootstrap } from '@nestjs/common';
import type { EngineLogger, EventBus, EventConsumer, EventDelivery } from '@switchboard/engine';
import { setTimeout as sleep } from 'node:timers/promises';
import { EventDispatcher } from './event-dispatcher';

export interface ConsumerSettings {
  /** NOTIFIER_DURABLE */
  durable: string;
  ackWaitMs: number;
  maxDeliver: number;
  /** Events in flight at once (and deliveries fetched ahead). */
  concurrency: number;
}

/** Pause before consuming again after the consumer failed (NATS gone, consumer deleted). */
const RESTART_DELAY_MS = 1000;
/** Added to the ack wait before pulling after a handover, so the server has expired the old deliveries. */
const HANDOVER_MARGIN_MS = 250;

/**
 * Runs the notifier's durable pull consumer on EVENTS for the life of the process: up to
 * `concurrency` events at once through the dispatcher, ack deadlines extended while an
 * event is still being worked on, and a restart of the consumer when it fails. Replicas
 * with the same durable name share the stream (JetStream hands each event to one).
 * On shutdown it stops pulling, hands back what it has not started, and finishes the rest.
 */
export class EventConsumerService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly inflight = new Set<Promise<void>>();
  private readonly working = new Set<EventDelivery>();
  private consumer?: EventConsumer;
  private loop?: Promise<void>;
  private heartbeat?: NodeJS.Timeout;
  private stopping = false;
  private wake?: () => void;

  constructor(
    private readonly bus: EventBus,
    private readonly dispatcher: EventDispatcher,
    private readonly logger: EngineLogger,
    private readonly settings: ConsumerSettings,
  ) {}

  /**
   * Creates the streams, then the consumer (a failure here stops the process) and consumes
   * in the background. When an earlier consumer left deliveries unacknowledged (a notifier
   * that was killed), pulling waits one ack wait, so JetStream hands those back before any
   * newer event and each channel keeps the stream's order.
   */
  async onApplicationBootstrap(): Promise<void> {
    await this.bus.ensureStreams();
    const pending = await this.bus.ackPending(this.settings.durable);
    if (pending === 0) this.consumer = await this.open();
    else
      this.logger.info(
        { pending, waitMs: this.settings.ackWaitMs },
        'events held by an earlier consumer: waiting for their redelivery before pulling',
      );
    // A delivery still being worked on must not be handed to another replica.
    this.heartbeat = setInterval(
      () => {
        for (const d of this.working) d.working();
      },
      Math.max(500, this.settings.ackWaitMs / 3),
    );
    this.heartbeat.unref();
    this.loop = this.run(this.consumer, pending === 0 ? 0 : this.settings.ackWaitMs + HANDOVER_MARGIN_MS);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.consumer?.stop();
    await this.loop;
    await Promise.all(this.inflight);
    clearInterval(this.heartbeat);
  }

  private open(): Promise<EventConsumer> {
    const { durable, ackWaitMs, maxDeliver, concurrency } = this.settings;
    return this.bus.consume({ durable, ackWaitMs, maxDeliver, batch: concurrency });
  }

  private async run(first: EventConsumer | undefined, delayMs: number): Promise<void> {
    let consumer = first;
    if (delayMs > 0) await this.pause(delayMs);
    while (!this.stopping) {
      try {
        consumer ??= this.consumer = await this.open();
        for await (const delivery of consumer) {
          if (this.stopping) {
            // Not started: hand it back at once instead of after the ack wait.
            delivery.nak(0);
            continue;
          }
          while (this.inflight.size >= this.settings.concurrency) await Promise.race(this.inflight);
          this.start(delivery);
        }
      } catch (err) {
        if (this.stopping) break;
        this.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'event consumer failed, restarting');
      }
      if (this.stopping) break;
      await consumer?.stop().catch(() => undefined);
      consumer = undefined;
      await this.pause(RESTART_DELAY_MS);
    }
  }

  /** Waits `ms`, or less when shutdown begins. */
  private async pause(ms: number): Promise<void> {
    const wake = new AbortController();
    this.wake = () => wake.abort();
    await sleep(ms, undefined, { signal: wake.signal }).catch(() => undefined);
    this.wake = undefined;
  }

  private start(delivery: EventDelivery): void {
    this.working.add(delivery);
    const task = this.dispatcher
      .dispatch(delivery)
      .catch((err: unknown) => {
        // The dispatcher handles every expected failure; this is a bug. Let JetStream retry.
        this.logger.error({ seq: delivery.seq, err: err instanceof Error ? err.message : String(err) }, 'event dispatch crashed');
        delivery.nak(this.settings.ackWaitMs);
      })
      .then(() => {
        this.working.delete(delivery);
        this.inflight.delete(task);
      });
    this.inflight.add(task);
  }
}
