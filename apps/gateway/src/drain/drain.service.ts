import { BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import type { Lifecycle, Logger } from '@switchboard/observability';
import { LIFECYCLE, LOGGER } from '@switchboard/platform';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConnectionRegistry, Drainable } from '../hub/connection-registry';
import { GATEWAY_OPTIONS } from '../hub/gateway-options';
import type { GatewayOptions } from '../hub/gateway-options';
import { PollTransport } from '../transports/longpoll/poll-transport';

/** Interval between drain waves. */
const WAVE_MS = 100;
/** Share of DRAIN_SECONDS used for waves; the rest covers shutdown of the backends. */
const WINDOW_SHARE = 0.8;
/** Advised reconnect delay range, ms: spread so a wave does not land on the next pod at once. */
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 1500;

/**
 * SIGTERM: readiness is already off (the platform's stop). Here new connections are
 * refused, held polls are answered, and every connection is told to reconnect — in
 * jittered waves across DRAIN_SECONDS, each with an advised reconnect delay — rather than
 * all at once, so the remaining pods take the load gradually.
 */
@Injectable()
export class DrainService implements BeforeApplicationShutdown {
  constructor(
    private readonly registry: ConnectionRegistry,
    private readonly poll: PollTransport,
    @Inject(GATEWAY_OPTIONS) private readonly options: GatewayOptions,
    @Inject(LIFECYCLE) private readonly lifecycle: Lifecycle,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async beforeApplicationShutdown(): Promise<void> {
    this.lifecycle.startDrain();
    const connections = shuffle(this.registry.startDrain());
    this.poll.drain();
    const windowMs = this.options.drainSeconds * 1000 * WINDOW_SHARE;
    const waves = Math.max(1, Math.floor(windowMs / WAVE_MS));
    this.logger.info({ connections: connections.length, windowMs, waves }, 'draining connections');
    const started = Date.now();
    for (let wave = 0; wave < waves; wave++) {
      const from = Math.floor((wave * connections.length) / waves);
      const to = Math.floor(((wave + 1) * connections.length) / waves);
      for (let i = from; i < to; i++) close(connections[i]);
      if (wave < waves - 1) await sleep(Math.max(0, started + (wave + 1) * WAVE_MS - Date.now()));
    }
    this.logger.info({ connections: connections.length, ms: Date.now() - started }, 'drain complete');
  }
}

function close(connection: Drainable): void {
  try {
    connection.drain(RECONNECT_MIN_MS + Math.floor(Math.random() * (RECONNECT_MAX_MS - RECONNECT_MIN_MS)));
  } catch {
    // A connection that is already gone needs no reconnect hint.
  }
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}
