import { eventually, uniqueName } from '@switchboard/testing';
import { EventBus, EventBusNames, EventConsumer, EventDelivery } from './event-bus';

/** How a backend's test file gives the suite fresh buses. */
export interface EventBusHarness {
  /** A bus on `names` (created per test; several calls with the same names share streams, like processes). */
  createBus(names: EventBusNames): Promise<EventBus>;
  close(): Promise<void>;
}

/** Collects deliveries of a consumer as they come. */
class Collector {
  readonly deliveries: EventDelivery[] = [];
  private readonly done: Promise<void>;

  constructor(readonly consumer: EventConsumer) {
    this.done = (async () => {
      for await (const d of consumer) this.deliveries.push(d);
    })();
  }

  payloads(): unknown[] {
    return this.deliveries.map((d) => d.json());
  }

  async stop(): Promise<void> {
    await this.consumer.stop();
    await this.done;
  }
}

function uniqueNames(): EventBusNames {
  const id = uniqueName('bus').replace(/-/g, '_');
  return { eventsStream: `EV_${id}`, eventsSubjectPrefix: `ev_${id}`, dlqStream: `DLQ_${id}`, dlqSubjectPrefix: `dlq_${id}` };
}

/**
 * The EventBus contract the notifier and webhook-ingest rely on, run unchanged against the
 * memory bus and JetStream (SPEC "Event bus and notifier").
 */
export function describeEventBusConformance(name: string, makeHarness: () => Promise<EventBusHarness>): void {
  describe(`EventBus conformance: ${name}`, () => {
    let harness: EventBusHarness;
    let names: EventBusNames;
    let bus: EventBus;
    const collectors: Collector[] = [];
    const consume = async (options: Partial<Parameters<EventBus['consume']>[0]> = {}, on: EventBus = bus): Promise<Collector> => {
      const c = new Collector(await on.consume({ durable: 'd1', ackWaitMs: 30_000, maxDeliver: 5, batch: 8, ...options }));
      collectors.push(c);
      return c;
    };

    beforeEach(async () => {
      harness = await makeHarness();
      names = uniqueNames();
      bus = await harness.createBus(names);
      await bus.ensureStreams();
    });

    afterEach(async () => {
      for (const c of collectors.splice(0)) await c.stop();
      await harness.close();
    });

    it('stores a repeated message id once within the duplicate window', async () => {
      const a = await bus.publish(`${names.eventsSubjectPrefix}.x`, { n: 1 }, { msgId: 'm1' });
      const b = await bus.publish(`${names.eventsSubjectPrefix}.x`, { n: 1 }, { msgId: 'm1' });
      expect(b).toEqual({ seq: a.seq, duplicate: true });
      expect((await bus.read(names.eventsStream, 1, 10)).length).toBe(1);
    });

    it('delivers events stored before the durable existed, and resumes after the last ack', async () => {
      for (let n = 1; n <= 3; n++) await bus.publish(`${names.eventsSubjectPrefix}.x`, { n });
      const first = await consume();
      await eventually(() => expect(first.payloads()).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]));
      for (const d of first.deliveries) d.ack();
      await first.stop();
      await bus.publish(`${names.eventsSubjectPrefix}.x`, { n: 4 });
      const second = await consume();
      await eventually(() => expect(second.payloads()).toEqual([{ n: 4 }]));
      expect(second.deliveries[0]).toMatchObject({ deliveryCount: 1, subject: `${names.eventsSubjectPrefix}.x` });
    });

    it('redelivers a nak after its delay with a higher count, up to maxDeliver', async () => {
      await bus.publish(`${names.eventsSubjectPrefix}.x`, { n: 1 });
      const c = await consume({ maxDeliver: 3 });
      for (let count = 1; count <= 3; count++) {
        await eventually(() => expect(c.deliveries.length).toBe(count), 5000);
        expect(c.deliveries[count - 1].deliveryCount).toBe(count);
        c.deliveries[count - 1].nak(50);
      }
      await bus.publish(`${names.eventsSubjectPrefix}.x`, { n: 2 });
      // The next event arrives; the exhausted one never comes back.
      await eventually(() => expect(c.payloads().at(-1)).toEqual({ n: 2 }), 5000);
      expect(c.payloads()).toEqual([{ n: 1 }, { n: 1 }, { n: 1 }, { n: 2 }]);
    });

    it('applies ackWait and maxDeliver of a later consume to the existing durable', async () => {
      const slow = await consume({ ackWaitMs: 60_000, maxDeliver: 10 });
      await slow.stop();
      await bus.publish(`${names.eventsSubjectPrefix}.x`, { n: 1 });
      const c = await consume({ ackWaitMs: 1000, maxDeliver: 2 });
      // Never acked: back after the new 1 s ack wait (not 60 s), and only twice in all.
      await eventually(() => expect(c.deliveries.map((d) => d.deliveryCount)).toEqual([1, 2]), 8000, 50);
      await bus.publish(`${names.eventsSubjectPrefix}.x`, { n: 2 });
      await eventually(() => expect(c.payloads().at(-1)).toEqual({ n: 2 }), 8000);
      expect(c.payloads()).toEqual([{ n: 1 }, { n: 1 }, { n: 2 }]);
    });

    it('reports deliveries handed out and not acked, and the acknowledged floor, across consumers of the durable', async () => {
      expect(await bus.ackState('nobody')).toEqual({ pending: 0, ackFloor: 0, delivered: 0 });
      for (let n = 1; n <= 3; n++) await bus.publish(`${names.eventsSubjectPrefix}.x`, { n });
      const c = await consume();
      await eventually(() => expect(c.deliveries.length).toBe(3));
      const [first, second, third] = c.deliveries.map((d) => d.seq);
      await eventually(async () => expect(await bus.ackState('d1')).toEqual({ pending: 3, ackFloor: first - 1, delivered: third }));
      c.deliveries[0].ack();
      c.deliveries[1].term();
      await eventually(async () => expect(await bus.ackState('d1')).toEqual({ pending: 1, ackFloor: second, delivered: third }));
      // What a stopped consumer held stays pending (a killed process) until it is acked or redelivered.
      await c.stop();
      expect(await bus.ackState('d1')).toEqual({ pending: 1, ackFloor: second, delivered: third });
    });

    it('shares a durable between consumers: each event goes to one of them', async () => {
      const other = await harness.createBus(names);
      const a = await consume({ batch: 1 });
      const b = await consume({ batch: 1 }, other);
      const seen: number[] = [];
      const settle = (c: Collector): void => {
        for (const d of c.deliveries.splice(0)) {
          seen.push(d.json<{ n: number }>().n);
          d.ack();
        }
      };
      for (let n = 1; n <= 40; n++) await bus.publish(`${names.eventsSubjectPrefix}.x`, { n });
      await eventually(() => {
        settle(a);
        settle(b);
        expect(seen.length).toBe(40);
      }, 10_000);
      expect([...seen].sort((x, y) => x - y)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    });

    it('reads and removes messages of the dead-letter stream', async () => {
      for (let n = 1; n <= 3; n++) await bus.publish(`${names.dlqSubjectPrefix}.x.y`, { n });
      const all = await bus.read(names.dlqStream, 1, 10);
      expect(all.map((m) => [m.seq, m.subject])).toEqual([
        [1, `${names.dlqSubjectPrefix}.x.y`],
        [2, `${names.dlqSubjectPrefix}.x.y`],
        [3, `${names.dlqSubjectPrefix}.x.y`],
      ]);
      expect(await bus.remove(names.dlqStream, 2)).toBe(true);
      expect(await bus.remove(names.dlqStream, 2)).toBe(false);
      expect((await bus.read(names.dlqStream, 2, 10)).map((m) => m.seq)).toEqual([3]);
      expect((await bus.read(names.dlqStream, 1, 1)).map((m) => m.seq)).toEqual([1]);
      expect(await bus.read(names.dlqStream, 4, 10)).toEqual([]);
    });
  });
}
