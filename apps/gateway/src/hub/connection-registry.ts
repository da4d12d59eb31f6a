import { Inject, Injectable } from '@nestjs/common';
import { METRICS } from '@switchboard/platform';
import type { Metrics } from '@switchboard/observability';
import { SwitchboardError } from '@switchboard/protocol';
import { GATEWAY_OPTIONS } from './gateway-options';
import type { GatewayOptions } from './gateway-options';
import { TransportName } from './session-transport';

/** A connection the drain can ask to reconnect elsewhere (a `ClientSession`). */
export interface Drainable {
  readonly transportName: TransportName;
  /** Tell the client to reconnect after `reconnectAfterMs` and end the connection. */
  drain(reconnectAfterMs: number): void;
}

/**
 * Every open connection of this process: enforces MAX_CONNECTIONS (WS, Socket.IO, SSE)
 * and MAX_HELD_POLLS (long-polls waiting for messages), refuses new ones while draining,
 * and is what the drain walks — the drain knows connections, never transports.
 */
@Injectable()
export class ConnectionRegistry {
  private readonly connections = new Set<Drainable>();
  private readonly heldPolls = new Set<Drainable>();
  private draining = false;
  private emptyWaiters: Array<() => void> = [];

  constructor(
    @Inject(GATEWAY_OPTIONS) private readonly options: GatewayOptions,
    @Inject(METRICS) private readonly metrics: Metrics,
  ) {
    metrics.probes.heldPolls = () => this.heldPolls.size;
  }

  /**
   * Throws `overloaded` (HTTP 503 with Retry-After) when this process is full or draining;
   * the caller registers the connection with `add` once it is open.
   */
  admit(transport: TransportName): void {
    if (this.draining) {
      this.metrics.connectionsRefused.inc({ transport, reason: 'draining' });
      throw new SwitchboardError('overloaded', 'server is restarting, reconnect to another instance');
    }
    if (transport === 'poll') {
      if (this.heldPolls.size >= this.options.maxHeldPolls) {
        this.metrics.connectionsRefused.inc({ transport, reason: 'overloaded' });
        this.metrics.limitHits.inc({ limit: 'max_held_polls', transport });
        throw new SwitchboardError('overloaded', 'too many held polls on this instance, poll again shortly');
      }
      return;
    }
    if (this.connections.size >= this.options.maxConnections) {
      this.metrics.connectionsRefused.inc({ transport, reason: 'overloaded' });
      this.metrics.limitHits.inc({ limit: 'max_connections', transport });
      throw new SwitchboardError('overloaded', 'too many connections on this instance');
    }
  }

  add(connection: Drainable): void {
    if (connection.transportName === 'poll') {
      this.heldPolls.add(connection);
      return;
    }
    this.connections.add(connection);
    this.metrics.connections.inc({ transport: connection.transportName });
    this.metrics.connectionsTotal.inc({ transport: connection.transportName });
  }

  remove(connection: Drainable): void {
    if (connection.transportName === 'poll') {
      this.heldPolls.delete(connection);
    } else if (this.connections.delete(connection)) {
      this.metrics.connections.dec({ transport: connection.transportName });
    }
    if (this.size === 0 && this.emptyWaiters.length > 0) {
      const waiters = this.emptyWaiters;
      this.emptyWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  /** Open connections and held polls. */
  get size(): number {
    return this.connections.size + this.heldPolls.size;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Resolves once nothing is open (at once when nothing is). */
  whenEmpty(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.emptyWaiters.push(resolve));
  }

  /** Stops admitting and returns what to drain: held polls first (answering them is instant), then connections. */
  startDrain(): { heldPolls: Drainable[]; connections: Drainable[] } {
    this.draining = true;
    return { heldPolls: [...this.heldPolls], connections: [...this.connections] };
  }
}
