import { connect, type NatsConnection } from '@nats-io/transport-node';
import { eventually, requireSharedServers, uniqueName } from '@switchboard/testing';
import { ClusterView } from './cluster-view';
import { type GatewayStats, NatsStatsBus, statsSubject } from './gateway-stats';

const stats = (pod: string, at: number, delivered: number): GatewayStats => ({
  pod,
  at,
  startedAt: 1,
  connections: { ws: 1 },
  subscriptions: 1,
  channelsHeld: 1,
  delivered,
  latency: { le: [0.01, null], counts: [delivered, delivered] },
  draining: false,
});

/** Two gateways' stats over the real NATS reach a console on a third connection: the cluster view is built from the bus, not a scrape. */
describe('NatsStatsBus (shared NATS)', () => {
  const connections: NatsConnection[] = [];

  afterAll(async () => {
    await Promise.all(connections.map((c) => c.close()));
  });

  it("gathers every gateway's stats on one subject", async () => {
    const { natsUrl } = await requireSharedServers();
    for (let i = 0; i < 3; i++) connections.push(await connect({ servers: natsUrl }));
    const subject = statsSubject(uniqueName('sbstats').replace(/-/g, '_'));
    const [a, b, consoleSide] = connections.map((c) => new NatsStatsBus(c, subject));
    const view = new ClusterView(1000);
    const stop = consoleSide.listen((s) => view.add(s));
    await connections[2].flush();

    a.publish(stats('gw-a', 1000, 0));
    b.publish(stats('gw-b', 1000, 0));
    a.publish(stats('gw-a', 2000, 50));
    await eventually(() => {
      const pods = view.view();
      expect(pods.map((p) => p.pod)).toEqual(['gw-a', 'gw-b']);
      expect(pods[0].deliveriesPerSecond).toBe(50);
    }, 5000);
    stop();
  });
});
