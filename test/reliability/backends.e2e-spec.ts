import { startPrivateNatsCluster } from '@switchboard/testing';
import { TestCluster } from '../support/cluster';
import { runScenario } from '../support/scenario';

/** Faults of NATS and Redis under a running publish stream, checked with the ledger. */
describe('reliability: backend faults', () => {
  let cluster: TestCluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  it('NATS killed and restarted during a 30-second publish stream: every client has every offset once, in order', async () => {
    cluster = await TestCluster.start(2);
    const report = await runScenario(cluster, {
      name: 'nats-restart',
      streamMs: 30_000,
      faultAtMs: 10_000,
      fault: async (c) => {
        await c.nats.kill('SIGKILL');
        await new Promise((r) => setTimeout(r, 3000));
        await c.nats.start();
      },
    });
    expect(report.problems).toEqual([]);
    expect(report.notices).toBe(0);
    expect(report.published).toBeGreaterThan(300);
  }, 90_000);

  it('Redis restarted empty: a new epoch, clients told recovered:false, nothing delivered twice', async () => {
    cluster = await TestCluster.start(2);
    const report = await runScenario(cluster, {
      name: 'redis-restart',
      streamMs: 12_000,
      faultAtMs: 4_000,
      fault: async (c) => {
        await c.redis.kill('SIGKILL');
        await new Promise((r) => setTimeout(r, 2000));
        await c.redis.start();
      },
    });
    expect(report.problems).toEqual([]);
    expect(report.notices).toBeGreaterThan(0);
  }, 60_000);

  it('one gateway partitioned from NATS (its server paused with SIGSTOP, then SIGCONT): its clients miss nothing', async () => {
    const [natsA, natsB] = await startPrivateNatsCluster();
    cluster = await TestCluster.start(0);
    try {
      // Gateway 0 talks to the server that will be paused; gateway 1 and the publisher to the other.
      await cluster.startGateway(0, { NATS_URL: natsA.url });
      await cluster.startGateway(1, { NATS_URL: natsB.url });
      const partitioned = cluster.gateways[0]!;
      const report = await runScenario(cluster, {
        name: 'nats-partition',
        streamMs: 15_000,
        faultAtMs: 4_000,
        urls: () => [partitioned.url.replace(/^http/, 'ws') + '/v1/ws'],
        fault: async () => {
          natsA.pause();
          await new Promise((r) => setTimeout(r, 5000));
          natsA.resume();
        },
      });
      expect(report.problems).toEqual([]);
      // The partition struck a live stream (messages were published during the pause) ...
      expect(report.published).toBeGreaterThan(300);
      expect(report.publishedDuringFault).toBeGreaterThan(0);
      // ... and the partitioned gateway filled the hole from the store: a loss was never declared.
      expect(report.notices).toBe(0);
    } finally {
      await natsA.stop();
      await natsB.stop();
    }
  }, 60_000);
});
