import { jetstreamManager } from '@nats-io/jetstream';
import { connect, NatsConnection } from '@nats-io/transport-node';
import { requireSharedServers, uniqueName } from '@switchboard/testing';
import { deliveryQueueConformance } from './delivery-queue.conformance';
import { JetStreamDeliveryQueue } from './jetstream-delivery.queue';

let nc: NatsConnection;

beforeAll(async () => {
  const { natsUrl } = await requireSharedServers();
  nc = await connect({ servers: natsUrl });
});
afterAll(() => nc.close());

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };

deliveryQueueConformance('JetStream', async () => {
  const id = uniqueName('obq').replace(/-/g, '_');
  const names = {
    stream: `OB_${id}`,
    subjectPrefix: `ob_${id}`,
    dlqStream: `OBDLQ_${id}`,
    dlqSubjectPrefix: `obdlq_${id}`,
    schedulerDurable: `sched_${id}`,
  };
  const queue = new JetStreamDeliveryQueue(nc, names, { replicas: 1, duplicateWindowSeconds: 120, dlqMaxAgeSeconds: 3600 }, silent);
  return {
    queue,
    dispose: async () => {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.delete(names.stream).catch(() => undefined);
      await jsm.streams.delete(names.dlqStream).catch(() => undefined);
    },
  };
});
