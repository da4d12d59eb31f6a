import { Kvm } from '@nats-io/kv';
import { connect, NatsConnection } from '@nats-io/transport-node';
import { requireSharedServers, uniqueName } from '@switchboard/testing';
import { endpointStoreConformance } from './endpoint-store.conformance';
import { KvEndpointStore } from './kv-endpoint.store';

let nc: NatsConnection;

beforeAll(async () => {
  const { natsUrl } = await requireSharedServers();
  nc = await connect({ servers: natsUrl });
});
afterAll(() => nc.close());

endpointStoreConformance('JetStream KV', async () => {
  const bucket = uniqueName('ep').replace(/-/g, '_');
  const store = new KvEndpointStore(nc, { bucket, replicas: 1 });
  return {
    store,
    dispose: async () => {
      await (await new Kvm(nc).open(bucket)).destroy();
    },
  };
});
