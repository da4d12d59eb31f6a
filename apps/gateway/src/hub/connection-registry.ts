import { Inject, Injectable } from '@nestjs/common';
import { METRICS } from '@switchboard/platform';
import type { Metrics } from '@switchboard/observability';
import { SwitchboardError } from '@switchboard/protocol';
import { GATEWAY_OPTIONS } from './gateway-options';
import type { GatewayOptions } from './gateway-options';
import { TransportName } from './transport';

/** A connection the drain can ask to reconnect elsewhere. */
export interface Drainable {
  readonly transport: TransportName;
  /** Tell the client to reconnect after `reconnectAfterMs` and close. */
  drain(reconnectAfterMs: number): void;
}

/**
 * Every long-lived connection of this process (WS, Socket.IO, SSE): enforces
 * MAX_CONNECTIONS, refuses new ones while draining, and keeps the set the drain walks.
 */
@Injectable()
export class ConnectionRegistry {
  private readonly connections = new Set<Drainable>();
  private draining = false;

  constructor(
    @Inject(GATEWAY_OPTIONS) private readonly options: GatewayOptions,
    @Inject(METRICS) private readonly metrics: Metrics,
  ) {}

  /** Throws `overloaded` (503) when full or draining; the caller registers the connection after. */
  admit(transport: TransportName): void {
    if (this.draining) {
      this.metrics.connectionsRefused.inc({ transport, reason: 'draining' });
      throw new SwitchboardError('overloaded', 'server is restarting, reconnect to another instance');
    }
    if (this.connections.size >= this.options.maxConnections) {
      this.metrics.connectionsRefused.inc({ transport, reason: 'overloaded' });
      this.metrics.limitHits.inc({ limit: 'max_connections', transport });
      throw new SwitchboardError('overloaded', 'too many connections on this instance');
    }
  }

  add(connection: Drainable): void {
    this.connections.add(connection);
    this.metrics.connections.inc({ transport: connection.transport });
    this.metrics.connectionsTotal.inc({ transport: connection.transport });
  }

  remove(connection: Drainable): void {
    if (this.connections.delete(connection)) this.metrics.connections.dec({ transport: connection.transport });
  }

  get size(): number {
    return this.connections.size;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Stops admitting and returns the connections to drain. */
  startDrain(): Drainable[] {
    this.draining = true;
    return [...this.connections];
  }
}
