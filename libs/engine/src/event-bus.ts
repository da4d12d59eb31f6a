/**
 * A CloudEvents 1.0 event as stored on the event bus (SPEC "Event bus and notifier").
 * `channels` is the comma-separated extension attribute naming target channels.
 */
export interface CloudEvent {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  time?: string;
  datacontenttype?: string;
  subject?: string;
  data?: unknown;
  channels?: string;
  [extension: string]: unknown;
}

/** Names of the streams and subject prefixes (configurable so tests and tenants never collide). */
export interface EventBusNames {
  /** Stream of events, default `EVENTS`. */
  eventsStream: string;
  /** Subject prefix of events, default `events` (stream subjects `events.>`). */
  eventsSubjectPrefix: string;
  /** Dead-letter stream, default `EVENTS_DLQ`. */
  dlqStream: string;
  /** Subject prefix of dead letters, default `dlq.events`; never overlapping the events prefix. */
  dlqSubjectPrefix: string;
}

export const DEFAULT_EVENT_BUS_NAMES: EventBusNames = {
  eventsStream: 'EVENTS',
  eventsSubjectPrefix: 'events',
  dlqStream: 'EVENTS_DLQ',
  dlqSubjectPrefix: 'dlq.events',
};

export interface EventBusRetention {
  /** How long events are kept (EVENTS_MAX_AGE_SECONDS). */
  eventsMaxAgeSeconds: number;
  /** Window in which a repeated message id is a duplicate (≥ 120 s). */
  duplicateWindowSeconds: number;
  /** How long dead letters are kept. */
  dlqMaxAgeSeconds: number;
}

export interface PublishOutcome {
  /** Sequence of the stored message in its stream. */
  seq: number;
  /** True when the message id was already stored within the duplicate window: nothing new was stored. */
  duplicate: boolean;
}

export interface ConsumeOptions {
  /** Durable consumer name; consumers with the same name share the work. */
  durable: string;
  /** How long a delivery may stay unacknowledged before it is delivered again. */
  ackWaitMs: number;
  /** Deliveries of one message before the bus stops delivering it. */
  maxDeliver: number;
  /** Deliveries fetched ahead per consumer. */
  batch?: number;
}

/** One delivery of a stored message to a consumer. Exactly one of ack/nak/term should be called. */
export interface EventDelivery {
  subject: string;
  /** Stream sequence. */
  seq: number;
  /** 1 on the first delivery. */
  deliveryCount: number;
  /** When the bus stored the message, ms since the epoch (the event's first receipt). */
  storedAt: number;
  /** The raw payload (JSON bytes). */
  data: Uint8Array;
  /** Payload parsed as JSON (throws on malformed payloads). */
  json<T = unknown>(): T;
  ack(): void;
  /** Deliver again after `delayMs`. */
  nak(delayMs?: number): void;
  /** Never deliver again. */
  term(): void;
  /** Extend the ack deadline while still working. */
  working(): void;
}

/** Acknowledgement state of a durable consumer, by stream sequence. */
export interface AckState {
  /** Deliveries handed out (to any process) and not yet acknowledged. */
  pending: number;
  /** Every message up to this sequence is acknowledged. */
  ackFloor: number;
  /** The highest sequence ever delivered. */
  delivered: number;
}

/** A running consumer: an async iterator of deliveries until `stop()`. */
export interface EventConsumer extends AsyncIterable<EventDelivery> {
  stop(): Promise<void>;
}

/** A message read back from a stream (dead-letter listing and replay). */
export interface StoredEvent {
  seq: number;
  subject: string;
  storedAt: number;
  data: Uint8Array;
}

/**
 * The durable event bus between webhook-ingest, product services and the notifier.
 * Implementations: JetStream (nats-redis/) and memory (the single process).
 */
export interface EventBus {
  readonly names: EventBusNames;
  /** Creates or updates the streams (idempotent; run at startup). */
  ensureStreams(): Promise<void>;
  /** Stores a JSON payload; resolves after it is durably stored (JetStream ack). */
  publish(subject: string, payload: unknown, options?: { msgId?: string }): Promise<PublishOutcome>;
  /**
   * Creates the durable consumer (deliver-all) or applies `ackWaitMs` / `maxDeliver` to the
   * existing one, then pulls deliveries. Consumers with the same durable name share the work.
   */
  consume(options: ConsumeOptions): Promise<EventConsumer>;
  /**
   * Where the durable consumer stands (all zero when it does not exist). Deliveries held
   * by a process that died stay pending and come back only after the ack wait.
   */
  ackState(durable: string): Promise<AckState>;
  /** Reads up to `limit` messages of `stream` starting at `fromSeq`. */
  read(stream: string, fromSeq: number, limit: number): Promise<StoredEvent[]>;
  /** Removes one message from a stream (a replayed dead letter). */
  remove(stream: string, seq: number): Promise<boolean>;
  isReady(): boolean;
  close(): Promise<void>;
}
