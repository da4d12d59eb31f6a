import { ClusterView, quantileBetween } from './cluster-view';
import type { GatewayStats } from './gateway-stats';

const LE = [0.001, 0.01, 0.1, null];

function stats(over: Partial<GatewayStats>): GatewayStats {
  return {
    pod: 'a',
    at: 0,
    startedAt: 1,
    connections: { ws: 2, sse: 1 },
    subscriptions: 3,
    channelsHeld: 2,
    delivered: 0,
    latency: { le: LE, counts: [0, 0, 0, 0] },
    draining: false,
    ...over,
  };
}

describe('quantileBetween', () => {
  it('interpolates within the bucket that holds the rank, counting only the interval', () => {
    // Before: 100 fast observations. After: 100 more, all between 1 and 10 ms.
    const before = { le: LE, counts: [100, 100, 100, 100] };
    const after = { le: LE, counts: [100, 200, 200, 200] };
    expect(quantileBetween(0.99, before, after)).toBeCloseTo(0.001 + 0.009 * 0.99, 6);
    expect(quantileBetween(0.5, before, after)).toBeCloseTo(0.0055, 6);
  });

  it('is null for an interval without deliveries and the top bound for +Inf', () => {
    expect(quantileBetween(0.99, { le: LE, counts: [1, 1, 1, 1] }, { le: LE, counts: [1, 1, 1, 1] })).toBeNull();
    expect(quantileBetween(0.99, undefined, { le: LE, counts: [0, 0, 0, 5] })).toBe(0.1);
  });
});

describe('ClusterView', () => {
  it('turns totals into rates per pod, and starts again when a pod restarts', () => {
    const view = new ClusterView(2000);
    view.add(stats({ at: 10_000, delivered: 100 }), 10_000);
    view.add(stats({ at: 12_000, delivered: 700, latency: { le: LE, counts: [0, 600, 600, 600] } }), 12_000);
    view.add(stats({ pod: 'b', at: 12_000, connections: { ws: 5 } }), 12_000);
    const [a, b] = view.view(12_500);
    expect(a).toMatchObject({ pod: 'a', deliveriesPerSecond: 300, stale: false, channelsHeld: 2 });
    expect(a.p99).toBeGreaterThan(0.001);
    expect(a.p99).toBeLessThanOrEqual(0.01);
    expect(a.points.map((p) => p.connections)).toEqual([3, 3]);
    expect(b).toMatchObject({ pod: 'b', connections: { ws: 5 }, deliveriesPerSecond: 0 });

    // A new process under the same name: its totals are not compared with the old one's.
    view.add(stats({ at: 14_000, startedAt: 2, delivered: 5 }), 14_000);
    expect(view.view(14_000)[0].deliveriesPerSecond).toBe(0);
  });

  it('marks a silent pod stale, then forgets it after the window', () => {
    const view = new ClusterView(2000, 60_000);
    view.add(stats({ at: 0 }), 0);
    expect(view.view(5_000)[0].stale).toBe(false);
    expect(view.view(7_000)[0].stale).toBe(true);
    expect(view.view(61_000)).toEqual([]);
  });
});
