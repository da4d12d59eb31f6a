import type { NatsConnection } from '@nats-io/nats-core';
import { EngineLogger, noopLogger } from '../engine-options';

/**
 * Connection state of a NATS client, from its status events (a protocol-level
 * "connected" flag was seen false on healthy connections), plus reconnect callbacks.
 */
export class NatsHealth {
  private connected = true;
  private readonly reconnected: Array<() => void | Promise<void>> = [];

  constructor(
    private readonly nc: NatsConnection,
    private readonly logger: EngineLogger = noopLogger,
  ) {
    void this.watch();
  }

  isConnected(): boolean {
    return this.connected && !this.nc.isClosed();
  }

  /** Runs after each reconnect, once the server has every subscription again. */
  onReconnect(callback: () => void | Promise<void>): void {
    this.reconnected.push(callback);
  }

  private async watch(): Promise<void> {
    for await (const status of this.nc.status()) {
      switch (status.type) {
        case 'disconnect':
          this.connected = false;
          this.logger.warn({ server: status.server }, 'NATS disconnected');
          break;
        case 'reconnect':
          this.connected = true;
          this.logger.info({ server: status.server }, 'NATS reconnected');
          try {
            // nats.js re-sends every SUB on reconnect; after a round trip the server has them.
            await this.nc.flush();
          } catch (err) {
            this.logger.warn({ err }, 'NATS flush after reconnect failed');
          }
          for (const cb of this.reconnected) {
            try {
              await cb();
            } catch (err) {
              this.logger.error({ err }, 'NATS reconnect handler failed');
            }
          }
          break;
        case 'close':
          this.connected = false;
          break;
        default:
          break;
      }
    }
  }
}
