import type { GatewayStats } from './gateway-stats';

/** One point of a pod's chart: rates over the interval that ended at `t`. */
export interface ClusterPoint {
  t: number;
  connections: number;
  deliveriesPerSecond: number;
  /** Seconds; null when nothing was delivered in the interval. */
  p99: number | null;
}

/** What the console shows of one gateway. */
export interface PodView {
  pod: string;
  lastSeen: number;
  /** No stats for three intervals: the pod is gone or cut off. */
  stale: boolean;
  startedAt: number;
  draining: boolean;
  connections: Record<string, number>;
  subscriptions: number;
  channelsHeld: number;
  deliveriesPerSecond: number;
  p99: number | null;
  points: ClusterPoint[];
}

/**
 * Quantile `q` of the observations between two cumulative histograms (same bounds), linear
 * within the bucket as Prometheus' histogram_quantile; the top bound when it falls in +Inf.
 */
export function quantileBetween(q: number, before: GatewayStats['latency'] | undefined, after: GatewayStats['latency']): number | null {
  const delta = after.counts.map(
    (c, i) => c - (before !== undefined && before.le.length === after.le.length ? (before.counts[i] ?? 0) : 0),
  );
  const total = delta[delta.length - 1] ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  for (let i = 0; i < delta.length; i++) {
    if (delta[i] >= rank) {
      const upper = after.le[i];
      const lower = i === 0 ? 0 : (after.le[i - 1] ?? 0);
      if (upper === null || upper === undefined) return lower;
      const below = i === 0 ? 0 : delta[i - 1];
      const inBucket = delta[i] - below;
      return inBucket <= 0 ? upper : lower + ((upper - lower) * (rank - below)) / inBucket;
    }
  }
  return null;
}

/**
 * The cluster as the stats bus tells it: every gateway's latest stats and a rolling history
 * of its rates (`windowMs`). Pods silent for `windowMs` are forgotten.
 */
export class ClusterView {
  private readonly pods = new Map<string, { latest: GatewayStats; points: ClusterPoint[] }>();

  constructor(
    private readonly intervalMs: number,
    private readonly windowMs = 10 * 60_000,
  ) {}

  add(stats: GatewayStats, receivedAt = Date.now()): void {
    const entry = this.pods.get(stats.pod);
    const previous = entry?.latest;
    // A restarted pod starts its totals again: measure from zero, not from the old process.
    const sameProcess = previous !== undefined && previous.startedAt === stats.startedAt && previous.at < stats.at;
    const seconds = sameProcess ? (stats.at - previous.at) / 1000 : 0;
    const point: ClusterPoint = {
      t: receivedAt,
      connections: sum(stats.connections),
      deliveriesPerSecond: seconds > 0 ? Math.max(0, stats.delivered - previous!.delivered) / seconds : 0,
      p99: quantileBetween(0.99, sameProcess ? previous.latency : undefined, stats.latency),
    };
    const points = entry?.points ?? [];
    points.push(point);
    while (points.length > 0 && points[0].t < receivedAt - this.windowMs) points.shift();
    this.pods.set(stats.pod, { latest: stats, points });
  }

  view(now = Date.now()): PodView[] {
    const result: PodView[] = [];
    for (const [pod, { latest, points }] of this.pods) {
      const last = points[points.length - 1];
      if (last.t < now - this.windowMs) {
        this.pods.delete(pod);
        continue;
      }
      result.push({
        pod,
        lastSeen: last.t,
        stale: last.t < now - 3 * this.intervalMs,
        startedAt: latest.startedAt,
        draining: latest.draining,
        connections: latest.connections,
        subscriptions: latest.subscriptions,
        channelsHeld: latest.channelsHeld,
        deliveriesPerSecond: last.deliveriesPerSecond,
        p99: last.p99,
        points,
      });
    }
    return result.sort((a, b) => a.pod.localeCompare(b.pod));
  }
}

function sum(values: Record<string, number>): number {
  let total = 0;
  for (const v of Object.values(values)) total += v;
  return total;
}
