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
import { SwitchboardError } from '@switchboard/protocol';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface MemoryStream {
  name: string;
  prefix: string;
  maxAgeMs: number;
  messages: StoredEvent[];
  nextSeq: number;
  dedupe: Map<string, { seq: number; at: number }>;
}

/** Shared state of one durable consumer name: every `consume()` with that name shares the work. */
class DurableState {
  nextSeq = 1;
  readonly ready: number[] = [];
  readonly inflight = new Map<number, NodeJS.Timeout>();
  readonly counts = new Map<number, number>();
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly stream: MemoryStream,
    public options: ConsumeOptions,
  ) {}

  signal(): void {
    for (const w of this.waiters) w();
    this.waiters.clear();
  }

  wait(): Promise<void> {
    return new Promise((resolve) => this.waiters.add(resolve));
  }

  cancelWaiters(): void {
    this.signal();
  }

  take(): StoredEvent | undefined {
    while (this.ready.length > 0) {
      const seq = this.ready.shift()!;
      const msg = this.find(seq);
      if (msg !== undefined) return msg;
      this.counts.delete(seq);
    }
    for (const msg of this.stream.messages) {
      if (msg.seq >= this.nextSeq) {
        this.nextSeq = msg.seq + 1;
        return msg;
      }
    }
    return undefined;
  }

  find(seq: number): StoredEvent | undefined {
    return this.stream.messages.find((m) => m.seq === seq);
  }

  armAckWait(seq: number): void {
    clearTimeout(this.inflight.get(seq));
    const timer = setTimeout(() => {
      this.inflight.delete(seq);
      this.requeue(seq);
    }, this.options.ackWaitMs);
    timer.unref();
    this.inflight.set(seq, timer);
  }

  settle(seq: number): void {
    clearTimeout(this.inflight.get(seq));
    this.inflight.delete(seq);
  }

  requeue(seq: number): void {
    if ((this.counts.get(seq) ?? 0) >= this.options.maxDeliver) {
      // Like JetStream: after max_deliver the message stays stored but is not delivered again.
      this.counts.delete(seq);
      return;
    }
    this.ready.push(seq);
    this.signal();
  }
}

/** The event bus of the single process: JetStream's semantics that the services rely on, in memory. */
export class MemoryEventBus implements EventBus {
  private readonly streams = new Map<string, MemoryStream>();
  private readonly durables = new Map<string, DurableState>();
  private closed = false;

  constructor(
    private readonly retention: EventBusRetention,
    readonly names: EventBusNames = DEFAULT_EVENT_BUS_NAMES,
  ) {}

  ensureStreams(): Promise<void> {
    const add = (name: string, prefix: string, maxAgeSeconds: number): void => {
      if (!this.streams.has(name)) {
        this.streams.set(name, { name, prefix, maxAgeMs: maxAgeSeconds * 1000, messages: [], nextSeq: 1, dedupe: new Map() });
      }
    };
    add(this.names.eventsStream, this.names.eventsSubjectPrefix, this.retention.eventsMaxAgeSeconds);
    add(this.names.dlqStream, this.names.dlqSubjectPrefix, this.retention.dlqMaxAgeSeconds);
    return Promise.resolve();
  }

  publish(subject: string, payload: unknown, options: { msgId?: string } = {}): Promise<PublishOutcome> {
    if (this.closed) return Promise.reject(new SwitchboardError('unavailable', 'event bus is closed'));
    const stream = [...this.streams.values()].find((s) => subject.startsWith(s.prefix + '.'));
    if (stream === undefined) return Promise.reject(new Error(`no stream for subject ${subject}`));
    const now = Date.now();
    this.prune(stream, now);
    if (options.msgId !== undefined) {
      const seen = stream.dedupe.get(options.msgId);
      if (seen !== undefined && now - seen.at < this.retention.duplicateWindowSeconds * 1000) {
        return Promise.resolve({ seq: seen.seq, duplicate: true });
      }
    }
    const seq = stream.nextSeq++;
    stream.messages.push({ seq, subject, storedAt: now, data: encoder.encode(JSON.stringify(payload)) });
    if (options.msgId !== undefined) stream.dedupe.set(options.msgId, { seq, at: now });
    for (const d of this.durables.values()) if (d.stream === stream) d.signal();
    return Promise.resolve({ seq, duplicate: false });
  }

  consume(options: ConsumeOptions): Promise<EventConsumer> {
    const stream = this.streams.get(this.names.eventsStream);
    if (stream === undefined) return Promise.reject(new Error('ensureStreams() first'));
    let state = this.durables.get(options.durable);
    if (state === undefined) {
      state = new DurableState(stream, options);
      this.durables.set(options.durable, state);
    } else {
      // Like JetStream: the settings of a later consume apply to the existing durable.
      state.options = options;
    }
    const durable = state;
    let stopped = false;
    const deliveries = async function* (bus: MemoryEventBus): AsyncGenerator<EventDelivery> {
      while (!stopped && !bus.closed) {
        const msg = durable.take();
        if (msg === undefined) {
          await durable.wait();
          continue;
        }
        const count = (durable.counts.get(msg.seq) ?? 0) + 1;
        durable.counts.set(msg.seq, count);
        durable.armAckWait(msg.seq);
        yield bus.delivery(durable, msg, count);
      }
    };
    return Promise.resolve({
      [Symbol.asyncIterator]: () => deliveries(this),
      stop: () => {
        stopped = true;
        durable.cancelWaiters();
        return Promise.resolve();
      },
    });
  }

  ackState(durable: string): Promise<AckState> {
    const state = this.durables.get(durable);
    if (state === undefined) return Promise.resolve({ pending: 0, ackFloor: 0, delivered: 0 });
    // `counts` holds every delivered message until it is acked, termed or given up on.
    const delivered = state.nextSeq - 1;
    let ackFloor = delivered;
    for (const seq of state.counts.keys()) ackFloor = Math.min(ackFloor, seq - 1);
    return Promise.resolve({ pending: state.counts.size, ackFloor, delivered });
  }

  read(streamName: string, fromSeq: number, limit: number): Promise<StoredEvent[]> {
    const stream = this.streams.get(streamName);
    if (stream === undefined) return Promise.resolve([]);
    this.prune(stream, Date.now());
    return Promise.resolve(stream.messages.filter((m) => m.seq >= fromSeq).slice(0, limit));
  }

  remove(streamName: string, seq: number): Promise<boolean> {
    const stream = this.streams.get(streamName);
    const index = stream?.messages.findIndex((m) => m.seq === seq) ?? -1;
    if (stream === undefined || index < 0) return Promise.resolve(false);
    stream.messages.splice(index, 1);
    return Promise.resolve(true);
  }

  isReady(): boolean {
    return !this.closed;
  }

  close(): Promise<void> {
    this.closed = true;
    for (const d of this.durables.values()) {
      for (const timer of d.inflight.values()) clearTimeout(timer);
      d.cancelWaiters();
    }
    return Promise.resolve();
  }

  private delivery(durable: DurableState, msg: StoredEvent, count: number): EventDelivery {
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      durable.settle(msg.seq);
      return true;
    };
    return {
      subject: msg.subject,
      seq: msg.seq,
      deliveryCount: count,
      storedAt: msg.storedAt,
      data: msg.data,
      json: <T>() => JSON.parse(decoder.decode(msg.data)) as T,
      ack: () => {
        if (settle()) durable.counts.delete(msg.seq);
      },
      term: () => {
        if (settle()) durable.counts.delete(msg.seq);
      },
      nak: (delayMs = 0) => {
        if (!settle()) return;
        const timer = setTimeout(() => durable.requeue(msg.seq), delayMs);
        timer.unref();
      },
      working: () => {
        if (!settled) durable.armAckWait(msg.seq);
      },
    };
  }

  private prune(stream: MemoryStream, now: number): void {
    const cutoff = now - stream.maxAgeMs;
    while (stream.messages.length > 0 && stream.messages[0].storedAt < cutoff) stream.messages.shift();
    const window = this.retention.duplicateWindowSeconds * 1000;
    if (stream.dedupe.size > 10_000) {
      for (const [id, entry] of stream.dedupe) if (now - entry.at >= window) stream.dedupe.delete(id);
    }
  }
}
