import { BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import type { Lifecycle, Logger } from '@switchboard/observability';
import { LIFECYCLE, LOGGER } from '@switchboard/platform';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConnectionRegistry, Drainable } from '../hub/connection-registry';
import { GATEWAY_OPTIONS } from '../hub/gateway-options';
import type { GatewayOptions } from '../hub/gateway-options';

/** Interval between drain waves. */
const WAVE_MS = 100;
/** Share of DRAIN_SECONDS used for waves; the rest covers shutdown of the backends. */
const WINDOW_SHARE = 0.8;
/** Advised reconnect delay range, ms: spread so a wave does not land on the next pod at once. */
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 1500;

/**
 * SIGTERM: readiness is already off (the platform's stop). Here new connections are
 * refused, held polls are answered at once, and every connection is told to reconnect —
 * in jittered waves across DRAIN_SECONDS, each with an advised reconnect delay — rather
 * than all at once, so the remaining pods take the load gradually. The drain ends as soon
 * as nothing is open: an idle pod stops at once.
 */
@Injectable()
export class DrainService implements BeforeApplicationShutdown {
  constructor(
    private readonly registry: ConnectionRegistry,
    @Inject(GATEWAY_OPTIONS) private readonly options: GatewayOptions,
    @Inject(LIFECYCLE) private readonly lifecycle: Lifecycle,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async beforeApplicationShutdown(): Promise<void> {
    this.lifecycle.startDrain();
    const { heldPolls, connections } = this.registry.startDrain();
    for (const poll of heldPolls) tellToReconnect(poll);
    shuffle(connections);
    const windowMs = this.options.drainSeconds * 1000 * WINDOW_SHARE;
    const waves = Math.max(1, Math.floor(windowMs / WAVE_MS));
    this.logger.info({ connections: connections.length, heldPolls: heldPolls.length, windowMs, waves }, 'draining connections');
    const started = Date.now();
    const empty = this.registry.whenEmpty();
    for (let wave = 0; wave < waves; wave++) {
      const from = Math.floor((wave * connections.length) / waves);
      const to = Math.floor(((wave + 1) * connections.length) / waves);
      for (let i = from; i < to; i++) tellToReconnect(connections[i]);
      if (this.registry.size === 0 || wave === waves - 1) break;
      // Next wave on schedule, or at once when the last connection left on its own.
      await Promise.race([sleep(Math.max(0, started + (wave + 1) * WAVE_MS - Date.now())), empty]);
    }
    this.logger.info({ connections: connections.length, ms: Date.now() - started }, 'drain complete');
  }
}

function tellToReconnect(connection: Drainable): void {
  try {
    connection.drain(RECONNECT_MIN_MS + Math.floor(Math.random() * (RECONNECT_MAX_MS - RECONNECT_MIN_MS)));
  } catch {
    // A connection that is already gone needs no reconnect hint.
  }
}

function shuffle<T>(items: T[]): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
}
