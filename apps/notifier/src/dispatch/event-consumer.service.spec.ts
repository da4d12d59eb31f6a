import { EventDelivery, MemoryEventBus, noopLogger } from '@switchboard/engine';
import { eventually } from '@switchboard/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import { EventConsumerService } from './event-consumer.service';
import type { EventDispatcher } from './event-dispatcher';

const retention = { eventsMaxAgeSeconds: 3600, duplicateWindowSeconds: 120, dlqMaxAgeSeconds: 3600 };
const ACK_WAIT_MS = 1000;

/** Records the order in which events reach the dispatcher, acking each. */
function recordingDispatcher(order: number[]): EventDispatcher {
  return {
    dispatch: (d: EventDelivery) => {
      order.push(d.json<{ n: number }>().n);
      d.ack();
      return Promise.resolve('processed');
    },
  } as unknown as EventDispatcher;
}

describe('EventConsumerService handover', () => {
  let bus: MemoryEventBus;
  let service: EventConsumerService | undefined;

  beforeEach(async () => {
    bus = new MemoryEventBus(retention);
    await bus.ensureStreams();
  });
  afterEach(async () => {
    await service?.beforeApplicationShutdown();
    await bus.close();
  });

  it('holds newer events back until what a killed consumer left pending is redelivered and acknowledged', async () => {
    const settings = { durable: 'notifier', ackWaitMs: ACK_WAIT_MS, maxDeliver: 5, concurrency: 4 };
    for (const n of [1, 2]) await bus.publish(`${bus.names.eventsSubjectPrefix}.x`, { n });
    // The "killed" consumer takes 1 and 2 and never acks; 2 had its deadline extended
    // (it was being worked on), so it comes back later than 1.
    const killed = await bus.consume({ ...settings, batch: 2 });
    const it = killed[Symbol.asyncIterator]();
    await it.next();
    const second = (await it.next()).value as EventDelivery;
    await killed.stop();
    expect(await bus.ackState('notifier')).toEqual({ pending: 2, ackFloor: 0, delivered: 2 });

    const order: number[] = [];
    service = new EventConsumerService(bus, recordingDispatcher(order), noopLogger, settings);
    await service.onApplicationBootstrap();
    await sleep(ACK_WAIT_MS * 0.6);
    second.working(); // 2 now expires at 1.6 × ack wait; the new consumer pulls at 1.25 ×
    for (const n of [3, 4]) await bus.publish(`${bus.names.eventsSubjectPrefix}.x`, { n });

    // 3 and 4 are delivered before 2 comes back, and wait for it.
    await eventually(() => expect(order).toEqual([1, 2, 3, 4]), 5000);
    await eventually(async () => expect(await bus.ackState('notifier')).toMatchObject({ pending: 0, ackFloor: 4 }));
  });

  it('consumes at once when nothing is pending', async () => {
    const order: number[] = [];
    service = new EventConsumerService(bus, recordingDispatcher(order), noopLogger, {
      durable: 'notifier',
      ackWaitMs: 60_000,
      maxDeliver: 5,
      concurrency: 4,
    });
    await service.onApplicationBootstrap();
    for (const n of [1, 2, 3]) await bus.publish(`${bus.names.eventsSubjectPrefix}.x`, { n });
    await eventually(() => expect(order).toEqual([1, 2, 3]), 2000);
  });
});
