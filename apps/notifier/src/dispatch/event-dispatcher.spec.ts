import {
  ChannelEngine,
  Engine,
  EventDelivery,
  MemoryChannelStore,
  MemoryEventBus,
  MemoryFanoutBus,
  noopLogger,
  PublishRequest,
  PublishResult,
} from '@switchboard/engine';
import { createMetrics } from '@switchboard/observability';
import { SwitchboardError } from '@switchboard/protocol';
import { EventRouter } from '../routing/event-router';
import { DeadLetterQueue } from './dead-letter-queue';
import { EventDispatcher } from './event-dispatcher';
import { RetryPolicy } from './retry-policy';

const encoder = new TextEncoder();
const retention = { historySize: 100, historyTtlSeconds: 300, channelMetaTtlSeconds: 3600, idempotencyWindowSeconds: 120 };

/** The memory engine, with channels that fail on demand (the engine's own errors, as Redis loss would give). */
class FlakyEngine {
  readonly failing = new Map<string, SwitchboardError>();
  readonly engine = new Engine(new MemoryChannelStore(retention), new MemoryFanoutBus(), { maxMessageBytes: 1024 });

  asChannelEngine(): ChannelEngine {
    return new Proxy(this.engine, {
      get: (target, prop, receiver) =>
        prop === 'publish'
          ? (request: PublishRequest): Promise<PublishResult> => {
              const error = this.failing.get(request.channel);
              return error === undefined ? target.publish(request) : Promise.reject(error);
            }
          : Reflect.get(target, prop, receiver),
    });
  }
}

interface RecordedDelivery extends EventDelivery {
  settled: Array<{ op: 'ack' | 'nak' | 'term'; delayMs?: number }>;
}

let seq = 0;
function delivery(payload: unknown, deliveryCount = 1, storedAt = 1_700_000_000_000): RecordedDelivery {
  const data = typeof payload === 'string' ? encoder.encode(payload) : encoder.encode(JSON.stringify(payload));
  const settled: RecordedDelivery['settled'] = [];
  const n = ++seq;
  return {
    subject: 'events.app.orders.paid',
    seq: n,
    deliveryCount,
    storedAt,
    data,
    settled,
    json: <T>() => JSON.parse(new TextDecoder().decode(data)) as T,
    ack: () => settled.push({ op: 'ack' }),
    nak: (delayMs?: number) => settled.push({ op: 'nak', delayMs }),
    term: () => settled.push({ op: 'term' }),
    working: () => undefined,
  };
}

const event = (fields: Record<string, unknown> = {}) => ({
  specversion: '1.0',
  id: 'e1',
  source: 'svc',
  type: 'orders.paid',
  data: { n: 1 },
  ...fields,
});

describe('EventDispatcher', () => {
  let flaky: FlakyEngine;
  let bus: MemoryEventBus;
  let dlq: DeadLetterQueue;
  let metrics: ReturnType<typeof createMetrics>;
  let dispatcher: EventDispatcher;

  const count = async (outcome: string): Promise<number> =>
    (await metrics.notifierEvents.get()).values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
  const history = async (channel: string) =>
    (await flaky.engine.history(channel)).messages.map((m) => JSON.parse(m.json) as Record<string, unknown>);

  beforeEach(async () => {
    flaky = new FlakyEngine();
    bus = new MemoryEventBus({ eventsMaxAgeSeconds: 3600, duplicateWindowSeconds: 120, dlqMaxAgeSeconds: 3600 });
    await bus.ensureStreams();
    dlq = new DeadLetterQueue(bus);
    metrics = createMetrics();
    const router = new EventRouter([{ match: { type: 'orders.*' }, channels: ['orders:{data.n}'] }]);
    dispatcher = new EventDispatcher(flaky.asChannelEngine(), router, dlq, metrics, noopLogger, {
      maxDeliver: 3,
      retry: new RetryPolicy(100, 1000, () => 0.5),
    });
  });

  afterEach(async () => {
    await flaky.engine.close();
    await bus.close();
  });

  it('publishes to every channel with the event id, type and data, then acks', async () => {
    const d = delivery(event({ channels: 'a:1,b:1' }));
    expect(await dispatcher.dispatch(d)).toBe('processed');
    expect(d.settled).toEqual([{ op: 'ack' }]);
    for (const c of ['a:1', 'b:1']) {
      expect(await history(c)).toEqual([expect.objectContaining({ channel: c, offset: 1, id: 'e1', type: 'orders.paid', data: { n: 1 } })]);
    }
    const [stored] = (await flaky.engine.history('a:1')).messages;
    expect(stored.receivedAt).toBe(1_700_000_000_000); // the event's first receipt, for the latency metric
    expect(await count('processed')).toBe(1);
  });

  it('publishes a redelivered event nowhere twice (idempotency key = event id)', async () => {
    await dispatcher.dispatch(delivery(event({ channels: 'a:1' })));
    const again = delivery(event({ channels: 'a:1' }), 2);
    expect(await dispatcher.dispatch(again)).toBe('processed');
    expect((await history('a:1')).map((m) => m.offset)).toEqual([1]);
    // Ids longer than an idempotency key are keyed by their digest, still once.
    const long = 'x'.repeat(300);
    await dispatcher.dispatch(delivery(event({ id: long, channels: 'a:1' })));
    await dispatcher.dispatch(delivery(event({ id: long, channels: 'a:1' }), 2));
    expect((await history('a:1')).map((m) => m.id)).toEqual(['e1', long]);
  });

  it('naks a failure with the backoff delay, then dead-letters at the last delivery', async () => {
    flaky.failing.set('orders:1', new SwitchboardError('unavailable', 'redis down'));
    const first = delivery(event(), 1);
    expect(await dispatcher.dispatch(first)).toBe('retried');
    expect(first.settled).toEqual([{ op: 'nak', delayMs: 100 }]);
    const second = delivery(event(), 2);
    await dispatcher.dispatch(second);
    expect(second.settled).toEqual([{ op: 'nak', delayMs: 200 }]);
    const last = delivery(event(), 3);
    expect(await dispatcher.dispatch(last)).toBe('dead_lettered');
    expect(last.settled).toEqual([{ op: 'ack' }]);
    const [entry] = await dlq.list();
    expect(entry.dlqSubject).toBe('dlq.events.app.orders.paid');
    expect(entry.deadLetter).toMatchObject({
      reason: 'publish_failed',
      error: 'orders:1: unavailable: redis down',
      deliveryCount: 3,
      subject: 'events.app.orders.paid',
      seq: last.seq,
      storedAt: new Date(1_700_000_000_000).toISOString(),
      event: event(),
      channels: ['orders:1'],
      delivered: [],
    });
    expect([await count('retried'), await count('dead_lettered')]).toEqual([2, 1]);
  });

  it('replays a partly delivered event only to the channels that missed it', async () => {
    flaky.failing.set('b:1', new SwitchboardError('unavailable', 'redis down'));
    await dispatcher.dispatch(delivery(event({ channels: 'a:1,b:1' }), 3));
    const [entry] = await dlq.list();
    expect(entry.deadLetter).toMatchObject({ channels: ['a:1', 'b:1'], delivered: ['a:1'] });
    flaky.failing.clear();
    const replay = await dlq.replay(entry.dlqSeq);
    expect(replay).toMatchObject({ eventId: 'e1', subject: 'events.app.orders.paid', channels: ['b:1'] });
    expect(await dlq.list()).toEqual([]);
    // The republished event is the original one, narrowed to b:1.
    const [republished] = await bus.read(bus.names.eventsStream, replay.seq, 1);
    const payload = JSON.parse(new TextDecoder().decode(republished.data)) as Record<string, unknown>;
    expect(payload).toEqual(event({ channels: 'b:1' }));
    await dispatcher.dispatch(delivery(payload));
    expect((await history('a:1')).length).toBe(1);
    expect((await history('b:1')).map((m) => m.id)).toEqual(['e1']);
    await expect(dlq.replay(entry.dlqSeq)).rejects.toMatchObject({ code: 'not_found' });
  });

  it('dead-letters at once what can never succeed', async () => {
    const big = delivery(event({ channels: 'a:1', data: 'x'.repeat(2000) }));
    expect(await dispatcher.dispatch(big)).toBe('dead_lettered');
    expect(big.settled).toEqual([{ op: 'ack' }]);
    const notJson = delivery('{nope');
    expect(await dispatcher.dispatch(notJson)).toBe('dead_lettered');
    const noType = delivery({ id: 'x', source: 's' });
    await dispatcher.dispatch(noType);
    const entries = await dlq.list();
    expect(entries.map((e) => [e.deadLetter.reason, e.deadLetter.deliveryCount])).toEqual([
      ['rejected', 1],
      ['invalid_event', 1],
      ['invalid_event', 1],
    ]);
    expect(entries[0].deadLetter.error).toMatch(/^a:1: too_large: /);
    expect(entries[1].deadLetter).toMatchObject({ error: 'payload is not JSON', raw: Buffer.from('{nope').toString('base64') });
    expect(entries[1].deadLetter.event).toBeUndefined();
    expect(entries[2].deadLetter.error).toMatch(/"type" must be a non-empty string/);
    await expect(dlq.replay(entries[1].dlqSeq)).rejects.toMatchObject({ code: 'bad_request' });
  });

  it('dead-letters an event with no channel as unroutable, with the reason, and acks it', async () => {
    const nothing = delivery(event({ type: 'billing.sent' }));
    expect(await dispatcher.dispatch(nothing)).toBe('unroutable');
    expect(nothing.settled).toEqual([{ op: 'ack' }]);
    const skipped = delivery(event({ data: { n: 'has space' } }));
    expect(await dispatcher.dispatch(skipped)).toBe('unroutable');
    const [a, b] = await dlq.list();
    expect(a.deadLetter).toMatchObject({ reason: 'unroutable', error: expect.stringMatching(/no route matches type "billing.sent"/) });
    expect(b.deadLetter.error).toMatch(/routes\[0\]\.channels\[0\]: "orders:has space"/);
    expect(await count('unroutable')).toBe(2);
    expect((await metrics.notifierRouteSkips.get()).values).toEqual([
      expect.objectContaining({ labels: { reason: 'invalid_channel' }, value: 1 }),
    ]);
  });

  it('never acks an event whose dead letter could not be stored', async () => {
    jest.spyOn(bus, 'publish').mockRejectedValue(new SwitchboardError('unavailable', 'nats down'));
    const d = delivery('{nope', 1);
    expect(await dispatcher.dispatch(d)).toBe('retried');
    expect(d.settled).toEqual([{ op: 'nak', delayMs: 100 }]);
    const last = delivery('{nope', 3);
    expect(await dispatcher.dispatch(last)).toBe('abandoned');
    expect(last.settled.map((s) => s.op)).toEqual(['nak']);
  });
});
