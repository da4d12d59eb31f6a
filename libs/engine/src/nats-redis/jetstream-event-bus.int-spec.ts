import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { requireSharedServers, uniqueName } from '@switchboard/testing';
import { describeEventBusConformance } from '../event-bus.conformance';
import { EventBusNames } from '../event-bus';
import { connectNats } from './connections';
import { JetStreamEventBus } from './jetstream-event-bus';
import { NatsHealth } from './nats-health';

const retention = { eventsMaxAgeSeconds: 3600, duplicateWindowSeconds: 120, dlqMaxAgeSeconds: 3600 };

let natsUrl: string;
beforeAll(async () => {
  ({ natsUrl } = await requireSharedServers());
});

describeEventBusConformance('JetStream', async () => {
  const connections: NatsConnection[] = [];
  const streams = new Set<string>();
  return {
    // Each bus on its own connection, like separate processes.
    createBus: async (names: EventBusNames) => {
      const nc = await connectNats(natsUrl, 'event-bus-test', 5000);
      connections.push(nc);
      streams.add(names.eventsStream).add(names.dlqStream);
      return JetStreamEventBus.create(nc, new NatsHealth(nc), retention, names);
    },
    close: async () => {
      const jsm = await jetstreamManager(connections[0]);
      for (const s of streams) await jsm.streams.delete(s).catch(() => undefined);
      for (const nc of connections) await nc.close();
    },
  };
});

/** Starts consuming (which creates or updates the durable) and stops again. */
async function consumeBriefly(bus: JetStreamEventBus, ackWaitMs: number, maxDeliver: number): Promise<void> {
  const consumer = await bus.consume({ durable: 'n', ackWaitMs, maxDeliver });
  const drained = (async () => {
    for await (const d of consumer) d.nak();
  })();
  await consumer.stop();
  await drained;
}

describe('JetStream event bus consumer settings', () => {
  it('writes ackWait and maxDeliver into an existing durable consumer', async () => {
    const nc = await connectNats(natsUrl, 'event-bus-test', 5000);
    const id = uniqueName('bus').replace(/-/g, '_');
    const names = { eventsStream: `EV_${id}`, eventsSubjectPrefix: `ev_${id}`, dlqStream: `DLQ_${id}`, dlqSubjectPrefix: `dlq_${id}` };
    const bus = await JetStreamEventBus.create(nc, new NatsHealth(nc), retention, names);
    const jsm = await jetstreamManager(nc);
    try {
      await bus.ensureStreams();
      await consumeBriefly(bus, 30_000, 10);
      expect((await jsm.consumers.info(names.eventsStream, 'n')).config).toMatchObject({
        ack_wait: 30_000_000_000,
        max_deliver: 10,
        deliver_policy: 'all',
        ack_policy: 'explicit',
      });
      await consumeBriefly(bus, 7000, 4);
      expect((await jsm.consumers.info(names.eventsStream, 'n')).config).toMatchObject({ ack_wait: 7_000_000_000, max_deliver: 4 });
    } finally {
      await jsm.streams.delete(names.eventsStream).catch(() => undefined);
      await jsm.streams.delete(names.dlqStream).catch(() => undefined);
      await nc.close();
    }
  });
});
