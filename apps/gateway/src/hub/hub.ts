import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import type { ChannelEngine, MessageEncoder, StoredMessage } from '@switchboard/engine';
import type { Logger, Metrics } from '@switchboard/observability';
import { CHANNEL_ENGINE, LOGGER, METRICS } from '@switchboard/platform';
import { Principal } from '../auth/principal';
import { ClientSession, SessionServices } from './client-session';
import { GATEWAY_OPTIONS } from './gateway-options';
import type { GatewayOptions } from './gateway-options';
import { SessionSink, TransportName } from './transport';

/** How often per-recipient delivery counts are flushed into the Prometheus counter. */
const FLUSH_MS = 1000;

/**
 * The gateway's core, shared by all transports: opens sessions on the channel engine and
 * accounts deliveries. Per-recipient work stays integer increments; Prometheus is
 * updated once a second and latency is observed once per message and transport.
 */
@Injectable()
export class Hub implements SessionServices, OnApplicationShutdown {
  private readonly delivered: Record<TransportName, number> = { ws: 0, socketio: 0, sse: 0, poll: 0 };
  private readonly flushTimer: NodeJS.Timeout;

  constructor(
    @Inject(CHANNEL_ENGINE) readonly engine: ChannelEngine,
    @Inject(GATEWAY_OPTIONS) readonly options: GatewayOptions,
    @Inject(METRICS) readonly metrics: Metrics,
    @Inject(LOGGER) readonly logger: Logger,
  ) {
    this.flushTimer = setInterval(() => this.flush(), FLUSH_MS);
    this.flushTimer.unref();
  }

  openSession(principal: Principal, sink: SessionSink): ClientSession {
    return new ClientSession(principal, sink, this);
  }

  /** Counts `n` messages written to clients of `transport` (hot path: an integer add). */
  countDelivered(transport: TransportName, n = 1): void {
    this.delivered[transport] += n;
  }

  /**
   * Wraps a transport's encoder so the end-to-end latency (first receipt → socket write)
   * is observed once per message and transport, when it is first encoded for a write.
   */
  timedEncoder<T>(transport: TransportName, encode: (m: StoredMessage) => T): MessageEncoder<T> {
    const histogram = this.metrics.deliveryLatency.labels({ transport });
    return {
      encode: (m) => {
        if (m.receivedAt > 0) histogram.observe(Math.max(0, Date.now() - m.receivedAt) / 1000);
        return encode(m);
      },
    };
  }

  onApplicationShutdown(): void {
    clearInterval(this.flushTimer);
    this.flush();
  }

  private flush(): void {
    for (const transport of Object.keys(this.delivered) as TransportName[]) {
      const n = this.delivered[transport];
      if (n > 0) {
        this.metrics.messagesDelivered.inc({ transport }, n);
        this.delivered[transport] = 0;
      }
    }
  }
}
