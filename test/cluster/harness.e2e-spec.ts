import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { applyStreamReplicas, JetStreamEventBus, NatsHealth, StreamReplicasError } from '@switchboard/engine';
import { NatsJetStreamCluster, redisCli, RedisClusterSet, RedisSentinelSet, startPrivateServer } from '@switchboard/testing';

/** The private clusters the scale-out tests run on start, work, and are gone after stop(). */
describe('cluster harness', () => {
  it('a 3-node JetStream cluster takes an R3 stream', async () => {
    const cluster = await NatsJetStreamCluster.start(3);
    try {
      const nc = await connect({ servers: cluster.url.split(',') });
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.add({ name: 'HARNESS', subjects: ['harness.>'], num_replicas: 3 });
      expect(info.cluster?.replicas).toHaveLength(2);
      // NATS_STREAM_REPLICAS raised on streams made with one replica: applied at startup, in place.
      const names = { eventsStream: 'EV_R', eventsSubjectPrefix: 'evr', dlqStream: 'DLQ_R', dlqSubjectPrefix: 'dlqr' };
      const retention = { eventsMaxAgeSeconds: 3600, duplicateWindowSeconds: 120, dlqMaxAgeSeconds: 3600 };
      await (await JetStreamEventBus.create(nc, new NatsHealth(nc), retention, names, { replicas: 1 })).ensureStreams();
      expect((await jsm.streams.info('EV_R')).config.num_replicas).toBe(1);
      await (await JetStreamEventBus.create(nc, new NatsHealth(nc), retention, names, { replicas: 3 })).ensureStreams();
      for (const stream of ['EV_R', 'DLQ_R']) expect((await jsm.streams.info(stream)).config.num_replicas).toBe(3);
      await nc.close();
    } finally {
      await cluster.stop();
    }
    expect(cluster.running()).toEqual([]);
  }, 60_000);

  it('NATS_STREAM_REPLICAS=3 on a single server: a clear error saying what to do', async () => {
    const server = await startPrivateServer('nats');
    const nc = await connect({ servers: server.url });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: 'SINGLE', subjects: ['single.>'], num_replicas: 1 });
      const failure = await applyStreamReplicas(jsm, 'SINGLE', 3).catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(StreamReplicasError);
      expect((failure as Error).message).toMatch(
        /^stream SINGLE cannot have NATS_STREAM_REPLICAS=3 copies \(it has 1\): the NATS server is not part of a JetStream cluster.*\. Run a JetStream cluster of at least 3 servers .*, or set NATS_STREAM_REPLICAS=1\.$/,
      );
    } finally {
      await nc.close();
      await server.stop();
    }
  });

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
