import type { NatsConnection, Subscription } from '@nats-io/nats-core';

/**
 * What one gateway says about itself every STATS_INTERVAL_SECONDS, for the console's cluster
 * view. Totals since the process started (counters and a cumulative histogram), so a reader
 * that misses a message loses resolution, never a count.
 */
export interface GatewayStats {
  /** INSTANCE_NAME, else host name and pid. */
  pod: string;
  /** Milliseconds since the epoch, at the sender. */
  at: number;
  startedAt: number;
  /** Open connections by transport (ws, socketio, sse, longpoll). */
  connections: Record<string, number>;
  subscriptions: number;
  channelsHeld: number;
  /** Messages written to clients since start, every transport. */
  delivered: number;
  /** Delivery latency histogram since start, every transport: upper bounds (seconds, last is Infinity as null) and cumulative counts. */
  latency: { le: (number | null)[]; counts: number[] };
  draining: boolean;
}

/** Where stats go and come from: a NATS subject shared by every gateway, or this process alone (memory engine). */
export interface StatsBus {
  publish(stats: GatewayStats): void;
  /** Calls `listener` with every gateway's stats (this one's too) until the returned function is called. */
  listen(listener: (stats: GatewayStats) => void): () => void;
}

/** The subject every gateway publishes its stats on (core NATS, fire and forget: a lost sample is a gap in a chart). */
export function statsSubject(natsSubjectPrefix: string): string {
  return `${natsSubjectPrefix}_stats.gateway`;
}

export class NatsStatsBus implements StatsBus {
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder();

  constructor(
    private readonly nats: NatsConnection,
    private readonly subject: string,
  ) {}

  publish(stats: GatewayStats): void {
    // A closed or reconnecting connection loses this sample only; the next one carries the totals.
    try {
      this.nats.publish(this.subject, this.encoder.encode(JSON.stringify(stats)));
    } catch {
      /* the next interval tries again */
    }
  }

  listen(listener: (stats: GatewayStats) => void): () => void {
    const sub: Subscription = this.nats.subscribe(this.subject, {
      callback: (err, msg) => {
        if (err !== null) return;
        try {
          listener(JSON.parse(this.decoder.decode(msg.data)) as GatewayStats);
        } catch {
          /* a malformed sample from another version is skipped */
        }
      },
    });
    return () => sub.unsubscribe();
  }
}

export class LocalStatsBus implements StatsBus {
  private readonly listeners = new Set<(stats: GatewayStats) => void>();

  publish(stats: GatewayStats): void {
    for (const listener of this.listeners) listener(stats);
  }

  listen(listener: (stats: GatewayStats) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
