import { Inject, Injectable, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import type { GatewayConfig } from '@switchboard/config';
import type { Metrics } from '@switchboard/observability';
import { METRICS, PLATFORM, type Platform } from '@switchboard/platform';
import { hostname } from 'node:os';
import { ConnectionRegistry } from '../hub/connection-registry';
import { type GatewayStats, LocalStatsBus, NatsStatsBus, type StatsBus, statsSubject } from './gateway-stats';

export const STATS_BUS = Symbol('StatsBus');

/** NATS when the process has it (every gateway of the cluster on one subject), else this process alone. */
export function statsBusFor(platform: Platform): StatsBus {
  const nats = platform.runtime.nats;
  return nats === undefined ? new LocalStatsBus() : new NatsStatsBus(nats, statsSubject(platform.config.NATS_SUBJECT_PREFIX));
}

/** This gateway's name in the cluster view. */
export function podName(config: { INSTANCE_NAME?: string }): string {
  return config.INSTANCE_NAME ?? `${hostname()}:${process.pid}`;
}

/** Reads this process's gateway metrics into one stats message. */
export async function readGatewayStats(
  metrics: Metrics,
  base: Pick<GatewayStats, 'pod' | 'startedAt' | 'draining'>,
): Promise<GatewayStats> {
  const [connections, subscriptions, channelsHeld, delivered, latency] = await Promise.all([
    metrics.connections.get(),
    metrics.subscriptions.get(),
    metrics.channelsHeld.get(),
    metrics.messagesDelivered.get(),
    metrics.deliveryLatency.get(),
  ]);
  const byTransport: Record<string, number> = {};
  for (const v of connections.values) byTransport[String(v.labels.transport)] = v.value;
  // Cumulative buckets summed over transports, in the order of their bounds.
  const buckets = new Map<string, number>();
  for (const v of latency.values) {
    if (v.metricName !== 'switchboard_delivery_latency_seconds_bucket') continue;
    const le = String((v.labels as Record<string, string | number | undefined>).le);
    buckets.set(le, (buckets.get(le) ?? 0) + v.value);
  }
  const bounds = [...buckets.keys()].sort((a, b) => Number(a) - Number(b));
  return {
    ...base,
    at: Date.now(),
    connections: byTransport,
    subscriptions: subscriptions.values.reduce((sum, v) => sum + v.value, 0),
    channelsHeld: channelsHeld.values.reduce((sum, v) => sum + v.value, 0),
    delivered: delivered.values.reduce((sum, v) => sum + v.value, 0),
    latency: { le: bounds.map((le) => (le === '+Inf' ? null : Number(le))), counts: bounds.map((le) => buckets.get(le) ?? 0) },
  };
}

/**
 * Publishes this gateway's stats every STATS_INTERVAL_SECONDS on the stats bus, which the
 * console of any process of the cluster aggregates. One small message per interval.
 */
@Injectable()
export class StatsPublisher implements OnApplicationBootstrap, OnModuleDestroy {
  private timer?: NodeJS.Timeout;
  private readonly startedAt = Date.now();
  private readonly pod: string;

  constructor(
    @Inject(PLATFORM) private readonly platform: Platform<GatewayConfig>,
    @Inject(METRICS) private readonly metrics: Metrics,
    @Inject(STATS_BUS) private readonly bus: StatsBus,
    private readonly registry: ConnectionRegistry,
  ) {
    this.pod = podName(platform.config);
  }

  onApplicationBootstrap(): void {
    const publish = (): void => {
      readGatewayStats(this.metrics, { pod: this.pod, startedAt: this.startedAt, draining: this.registry.isDraining }).then(
        (stats) => this.bus.publish(stats),
        (err: unknown) => this.platform.logger.warn({ err }, 'gateway stats not read'),
      );
    };
    publish();
    this.timer = setInterval(publish, this.platform.config.STATS_INTERVAL_SECONDS * 1000);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }
}
