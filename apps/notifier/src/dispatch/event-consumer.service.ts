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
/** How often a handover checks whether the earlier events are acknowledged. */
const HANDOVER_POLL_MS = 200;
/** Newer deliveries held back during a handover at most; beyond it they go ahead (logged). */
const HANDOVER_MAX_HELD = 1000;

/** Newer events held back until what an earlier consumer left pending is acknowledged. */
interface Handover {
  /** The highest sequence delivered before this process started. */
  upTo: number;
  held: EventDelivery[];
  deadline: number;
  timer?: NodeJS.Timeout;
}

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
  private handover?: Handover;

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
   * newer event, and any newer event that still comes first is held back until the earlier
   * ones are acknowledged: each channel keeps the stream's order.
   */
  async onApplicationBootstrap(): Promise<void> {
    await this.bus.ensureStreams();
    const { pending, delivered } = await this.bus.ackState(this.settings.durable);
    if (pending === 0) this.consumer = await this.open();
    else {
      this.handover = { upTo: delivered, held: [], deadline: Date.now() + 3 * this.settings.ackWaitMs + HANDOVER_MARGIN_MS };
      this.logger.info(
        { pending, upTo: delivered, waitMs: this.settings.ackWaitMs },
        'events held by an earlier consumer: waiting for their redelivery before pulling',
      );
    }
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
    this.endHandover('shutdown');
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
          if (this.handover !== undefined && delivery.seq > this.handover.upTo) {
            this.hold(this.handover, delivery);
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

  /** Keeps a newer delivery (alive) until the earlier consumer's events are acknowledged. */
  private hold(handover: Handover, delivery: EventDelivery): void {
    handover.held.push(delivery);
    this.working.add(delivery);
    if (handover.held.length >= HANDOVER_MAX_HELD) this.endHandover('too_many_held');
    else handover.timer ??= setTimeout(() => void this.checkHandover(handover), HANDOVER_POLL_MS);
  }

  private async checkHandover(handover: Handover): Promise<void> {
    handover.timer = undefined;
    if (this.handover !== handover) return;
    const ackFloor = await this.bus.ackState(this.settings.durable).then(
      (s) => s.ackFloor,
      () => -1,
    );
    if (this.handover !== handover) return;
    if (ackFloor >= handover.upTo) this.endHandover('acknowledged');
    else if (Date.now() >= handover.deadline) this.endHandover('timeout');
    else handover.timer = setTimeout(() => void this.checkHandover(handover), HANDOVER_POLL_MS);
  }

  /**
   * Releases the held deliveries in their order. Only `acknowledged` keeps the channel order
   * for certain; otherwise an earlier event (nak'ed for retry, or stuck elsewhere) follows later.
   */
  private endHandover(why: 'acknowledged' | 'timeout' | 'too_many_held' | 'shutdown'): void {
    const handover = this.handover;
    if (handover === undefined) return;
    this.handover = undefined;
    clearTimeout(handover.timer);
    if (why === 'shutdown') {
      for (const d of handover.held) {
        this.working.delete(d);
        d.nak(0);
      }
      return;
    }
    if (why !== 'acknowledged') {
      this.logger.warn(
        { why, upTo: handover.upTo, held: handover.held.length },
        'handover: earlier events still unacknowledged, going ahead with newer ones',
      );
    }
    // All at once, past NOTIFIER_CONCURRENCY (at most HANDOVER_MAX_HELD, once per start):
    // they are already delivered and the sequencer keeps each channel's order.
    for (const d of handover.held) {
      this.working.delete(d);
      this.start(d);
    }
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
