import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { isTransientJetStreamError, JetStreamEventBus, NatsHealth } from '@switchboard/engine';
import { isolatedEnv, NatsJetStreamCluster } from '@switchboard/testing';
import { ServiceProcess } from '../support/process';

const retention = { eventsMaxAgeSeconds: 3600, duplicateWindowSeconds: 120, dlqMaxAgeSeconds: 3600 };
const names = { eventsStream: 'EV_UP', eventsSubjectPrefix: 'evup', dlqStream: 'DLQ_UP', dlqSubjectPrefix: 'dlqup' };

/**
 * A service that starts while its JetStream cluster has no quorum (two of three servers
 * still restarting: no metadata leader) sets its streams and consumer up once the cluster
 * is back, within the startup timeout, instead of failing with `timeout`.
 */
describe('JetStream setup during a leader election', () => {
  it('waits out a cluster without quorum within the setup timeout; with none it fails at once with a transient error', async () => {
    const cluster = await NatsJetStreamCluster.start(3);
    try {
      const [survivor, ...restarting] = cluster.nodes;
      await Promise.all(restarting.map((n) => n.kill('SIGKILL')));
      const nc = await connect({ servers: survivor.url });
      const jsm = await jetstreamManager(nc, { checkAPI: false });

      // One attempt: the cluster cannot answer (no leader), and the error says it is transient.
      const once = await JetStreamEventBus.create(nc, new NatsHealth(nc), retention, names, { replicas: 3, setupTimeoutMs: 0 });
      const failure = await once.ensureStreams().catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(Error);
      expect(isTransientJetStreamError(failure)).toBe(true);

      // With a setup timeout: the steps retry until the two servers are back and a leader is
      // elected (they stay away longer than one request's timeout, so it takes retries).
      const retries: object[] = [];
      const logger = { debug() {}, info() {}, warn: (o: object) => retries.push(o), error() {} };
      const patient = await JetStreamEventBus.create(
        nc,
        new NatsHealth(nc),
        retention,
        names,
        { replicas: 3, setupTimeoutMs: 60_000 },
        logger,
      );
      let settled = false;
      const setup = patient.ensureStreams().finally(() => (settled = true));
      await new Promise((resolve) => setTimeout(resolve, 8000));
      expect(settled).toBe(false);
      await Promise.all(restarting.map((n) => n.start()));
      await setup;
      expect(retries.length).toBeGreaterThan(0);
      expect(retries[0]).toMatchObject({ what: `stream ${names.eventsStream}`, attempt: 1 });
      for (const stream of [names.eventsStream, names.dlqStream]) expect((await jsm.streams.info(stream)).config.num_replicas).toBe(3);
      const consumer = await patient.consume({ durable: 'up', ackWaitMs: 30_000, maxDeliver: 5 });
      const drained = (async () => {
        for await (const d of consumer) d.nak();
      })();
      await consumer.stop();
      await drained;
      expect((await jsm.consumers.info(names.eventsStream, 'up')).config.durable_name).toBe('up');
      await nc.close();
    } finally {
      await cluster.stop();
    }
  }, 120_000);

  it('a notifier and a webhook-ingest started without quorum become ready once the cluster is back, instead of exiting', async () => {
    const cluster = await NatsJetStreamCluster.start(3);
    const started: ServiceProcess[] = [];
    try {
      const [, ...restarting] = cluster.nodes;
      await Promise.all(restarting.map((n) => n.kill('SIGKILL')));
      const env = { ...isolatedEnv('jsup'), NATS_URL: cluster.url, NATS_STREAM_REPLICAS: '3', STARTUP_TIMEOUT_SECONDS: '60' };
      // Ready within the startup timeout they were given, not the helper's default 20 s: the
      // servers come back after 7 s, then a leader election, and a setup step sent just
      // before it waits out its own 5 s request timeout before the next try.
      const starting = ['notifier', 'webhook-ingest'].map((app) =>
        ServiceProcess.start(app, env, 60_000 + 5_000).then((p) => {
          started.push(p);
          return p;
        }),
      );
      // Away for longer than a JetStream request's timeout (5 s): setup has to retry.
      await new Promise((resolve) => setTimeout(resolve, 7000));
      await Promise.all(restarting.map((n) => n.start()));
      const services = await Promise.all(starting);
      for (const service of services) {
        expect(service.child.exitCode).toBeNull();
        expect(service.output).toContain('JetStream not available yet; retrying');
      }
    } finally {
      for (const p of started) p.kill('SIGKILL');
      await cluster.stop();
    }
  }, 120_000);
});
