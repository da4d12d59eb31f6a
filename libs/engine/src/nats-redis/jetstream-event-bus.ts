import { applyStreamReplicas } from './stream-replicas';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  jetstream,
  JetStreamApiCodes,
  JetStreamApiError,
  jetstreamManager,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/nats-core';
import { SwitchboardError } from '@switchboard/protocol';
import { EngineLogger, noopLogger } from '../engine-options';
import { JetStreamPublisher } from './jetstream-publisher';
import { retryJetStreamSetup } from './jetstream-setup';
import { NatsHealth } from './nats-health';
import {
  AckState,
  ConsumeOptions,
  DEFAULT_EVENT_BUS_NAMES,
  EventBus,
  EventBusNames,
  EventBusRetention,
  EventConsumer,
  EventDelivery,
  PublishOutcome,
  StoredEvent,
} from '../event-bus';

export interface JetStreamOptions {
  /** Stream replicas (1 for a single server; 3 in a production cluster). */
  replicas: number;
  /** How long a publish waits for the JetStream ack. */
  publishTimeoutMs: number;
  /**
   * How long setup (streams, consumers) retries while JetStream is unavailable, e.g. a
   * cluster electing a leader (STARTUP_TIMEOUT_SECONDS); 0: one attempt.
   */
  setupTimeoutMs: number;
}

function isApiError(err: unknown, code: number): boolean {
  return err instanceof JetStreamApiError && err.code === code;
}

/** The event bus on JetStream: durable streams, message-id dedupe, shared durable pull consumers. */
export class JetStreamEventBus implements EventBus {
  private readonly js: JetStreamClient;
  private readonly publisher: JetStreamPublisher;

  private constructor(
    nc: NatsConnection,
    private readonly health: NatsHealth,
    private readonly jsm: JetStreamManager,
    private readonly retention: EventBusRetention,
    readonly names: EventBusNames,
    private readonly options: JetStreamOptions,
    private readonly logger: EngineLogger,
  ) {
    this.js = jetstream(nc, { timeout: options.publishTimeoutMs });
    this.publisher = new JetStreamPublisher(nc, options.publishTimeoutMs);
  }

  static async create(
    nc: NatsConnection,
    health: NatsHealth,
    retention: EventBusRetention,
    names: EventBusNames = DEFAULT_EVENT_BUS_NAMES,
    options: Partial<JetStreamOptions> = {},
    logger: EngineLogger = noopLogger,
  ): Promise<JetStreamEventBus> {
    // No API check here: a gateway never uses JetStream and must start without it; services
    // that do (ensureStreams) fail there with JetStream's own error.
    const jsm = await jetstreamManager(nc, { timeout: 5000, checkAPI: false });
    return new JetStreamEventBus(
      nc,
      health,
      jsm,
      retention,
      names,
      { replicas: 1, publishTimeoutMs: 5000, setupTimeoutMs: 0, ...options },
      logger,
    );
  }

  async ensureStreams(): Promise<void> {
    await this.setup(`stream ${this.names.eventsStream}`, () =>
      this.ensureStream(this.names.eventsStream, this.names.eventsSubjectPrefix, this.retention.eventsMaxAgeSeconds),
    );
    await this.setup(`stream ${this.names.dlqStream}`, () =>
      this.ensureStream(this.names.dlqStream, this.names.dlqSubjectPrefix, this.retention.dlqMaxAgeSeconds),
    );
  }

  async publish(subject: string, payload: unknown, options: { msgId?: string } = {}): Promise<PublishOutcome> {
    try {
      const ack = await this.publisher.publish(subject, JSON.stringify(payload), options.msgId || undefined);
      return { seq: ack.seq, duplicate: ack.duplicate };
    } catch (err) {
      throw new SwitchboardError('unavailable', 'event bus did not acknowledge the publish', { cause: err });
    }
  }

  async consume(options: ConsumeOptions): Promise<EventConsumer> {
    const stream = this.names.eventsStream;
    const consumer = await this.setup(`consumer ${options.durable}`, async () => {
      await this.ensureConsumer(stream, options);
      return this.js.consumers.get(stream, options.durable);
    });
    // Short pulls (heartbeat every 2.5 s): when the consumer's leader moves to another server
    // of a JetStream cluster, missed heartbeats re-issue the pull within seconds, not 30.
    const messages = await consumer.consume({ max_messages: options.batch ?? 64, expires: 5000 });
    return {
      [Symbol.asyncIterator]: async function* (): AsyncGenerator<EventDelivery> {
        for await (const m of messages) yield toDelivery(m);
      },
      stop: async () => {
        await messages.close();
      },
    };
  }

  async ackState(durable: string): Promise<AckState> {
    try {
      const info = await this.jsm.consumers.info(this.names.eventsStream, durable);
      return { pending: info.num_ack_pending, ackFloor: info.ack_floor.stream_seq, delivered: info.delivered.stream_seq };
    } catch (err) {
      if (isApiError(err, JetStreamApiCodes.ConsumerNotFound)) return { pending: 0, ackFloor: 0, delivered: 0 };
      throw err;
    }
  }

  async read(stream: string, fromSeq: number, limit: number): Promise<StoredEvent[]> {
    const info = await this.jsm.streams.info(stream);
    if (info.state.messages === 0 || info.state.last_seq < fromSeq || limit <= 0) return [];
    const reader = await this.js.consumers.get(stream, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: Math.max(1, fromSeq),
    });
    const result: StoredEvent[] = [];
    const batch = await reader.fetch({ max_messages: limit, expires: 2000 });
    for await (const m of batch) {
      result.push({ seq: m.seq, subject: m.subject, storedAt: Number(m.timestampNanos / 1_000_000n), data: m.data });
      if (m.info.pending === 0 || result.length >= limit) break;
    }
    return result;
  }

  async remove(stream: string, seq: number): Promise<boolean> {
    try {
      return await this.jsm.streams.deleteMessage(stream, seq, false);
    } catch (err) {
      if (err instanceof JetStreamApiError) return false;
      throw err;
    }
  }

  isReady(): boolean {
    return this.health.isConnected();
  }

  async close(): Promise<void> {
    // The connection belongs to whoever created it; only the publishes' reply subscription is ours.
    await this.publisher.close();
  }

  /** Creates the durable consumer, or applies settings changed since it was created. */
  private async ensureConsumer(stream: string, options: ConsumeOptions): Promise<void> {
    const ackWait = nanos(options.ackWaitMs);
    try {
      const info = await this.jsm.consumers.info(stream, options.durable);
      // Settings changed since the consumer was created apply now, not only to new consumers.
      if (info.config.ack_wait !== ackWait || info.config.max_deliver !== options.maxDeliver) {
        await this.jsm.consumers.update(stream, options.durable, { ack_wait: ackWait, max_deliver: options.maxDeliver });
        this.logger.info(
          { durable: options.durable, ackWaitMs: options.ackWaitMs, maxDeliver: options.maxDeliver },
          'consumer settings updated',
        );
      }
    } catch (err) {
      if (!isApiError(err, JetStreamApiCodes.ConsumerNotFound)) throw err;
      // Deliver-all on creation: events stored before the first consumer ran are not lost.
      await this.jsm.consumers.add(stream, {
        durable_name: options.durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: ackWait,
        max_deliver: options.maxDeliver,
        filter_subject: this.names.eventsSubjectPrefix + '.>',
      });
      this.logger.info({ durable: options.durable }, 'durable consumer created');
    }
  }

  private setup<T>(what: string, step: () => Promise<T>): Promise<T> {
    return retryJetStreamSetup(what, step, this.options.setupTimeoutMs, this.logger);
  }

  private async ensureStream(name: string, prefix: string, maxAgeSeconds: number): Promise<void> {
    const settings = {
      subjects: [prefix + '.>'],
      max_age: nanos(maxAgeSeconds * 1000),
      duplicate_window: nanos(this.retention.duplicateWindowSeconds * 1000),
    };
    try {
      await this.jsm.streams.info(name);
    } catch (err) {
      if (!isApiError(err, JetStreamApiCodes.StreamNotFound)) throw err;
      await this.jsm.streams.add({
        name,
        ...settings,
        storage: StorageType.File,
        discard: DiscardPolicy.Old,
        num_replicas: this.options.replicas,
      });
      this.logger.info({ stream: name, subjects: settings.subjects, replicas: this.options.replicas }, 'stream created');
      return;
    }
    await this.jsm.streams.update(name, settings);
    await applyStreamReplicas(this.jsm, name, this.options.replicas, this.logger);
  }
}

function toDelivery(m: JsMsg): EventDelivery {
  return {
    subject: m.subject,
    seq: m.seq,
    deliveryCount: m.info.deliveryCount,
    storedAt: Number(m.timestampNanos / 1_000_000n),
    data: m.data,
    json: <T>() => m.json<T>(),
    ack: () => m.ack(),
    nak: (delayMs?: number) => m.nak(delayMs),
    term: () => m.term(),
    working: () => m.working(),
  };
}
