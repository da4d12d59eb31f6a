import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { NatsJetStreamCluster, redisCli, RedisClusterSet, RedisSentinelSet } from '@switchboard/testing';

/** The private clusters the scale-out tests run on start, work, and are gone after stop(). */
describe('cluster harness', () => {
  it('a 3-node JetStream cluster takes an R3 stream', async () => {
    const cluster = await NatsJetStreamCluster.start(3);
    try {
      const nc = await connect({ servers: cluster.url.split(',') });
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.add({ name: 'HARNESS', subjects: ['harness.>'], num_replicas: 3 });
      expect(info.cluster?.replicas).toHaveLength(2);
      await nc.close();
    } finally {
      await cluster.stop();
    }
    expect(cluster.running()).toEqual([]);
  }, 60_000);

  it('a Redis Cluster of 3 masters and 3 replicas covers every slot', async () => {
    const cluster = await RedisClusterSet.start(3);
    try {
      const nodes = await redisCli(cluster.nodes[0].port, 'cluster', 'nodes');
      expect(nodes.match(/master/g)).toHaveLength(3);
      expect(nodes.match(/slave/g)).toHaveLength(3);
    } finally {
      await cluster.stop();
    }
  }, 60_000);

  it('a Sentinel set-up names its master', async () => {
    const set = await RedisSentinelSet.start();
    try {
      expect(await set.masterPort()).toBe(set.master.port);
    } finally {
      await set.stop();
    }
  }, 60_000);
});
