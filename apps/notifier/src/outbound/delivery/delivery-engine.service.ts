import type { BeforeApplicationShutdown, OnApplicationBootstrap } from '@nestjs/common';
import type { EngineLogger, EventBus } from '@switchboard/engine';
import type { Metrics } from '@switchboard/observability';
import type { ActiveEndpoint, EndpointRegistry } from '../endpoints/endpoint-registry';
import type { SafeHttpClient } from '../http/safe-http.client';
import type { DeliveryQueue } from '../queue/delivery-queue';
import { DeliveryContext, EndpointWorker } from './endpoint-worker';
import { FanOutService } from './fan-out.service';

/** How often the queue-depth and endpoint gauges are refreshed. */
const GAUGE_INTERVAL_MS = 15_000;

/**
 * The outbound delivery engine of one replica, for the life of the process: the endpoint
 * registry copy, the fan-out consumer on EVENTS, the scheduler of parked retries, and one
 * worker per endpoint (started, updated and stopped as the registry changes). With
 * OUTBOUND_ENABLED=false only the registry runs (the endpoints API still works).
 * Shutdown stops taking work, gives back what was not attempted and finishes attempts in flight.
 */
export class DeliveryEngineService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly workers = new Map<string, EndpointWorker>();
  private readonly stopping = new Set<Promise<void>>();
  private scheduler?: { stop(): Promise<void> };
  private heartbeat?: NodeJS.Timeout;
  private gauges?: NodeJS.Timeout;
  private running = false;

  constructor(
    private readonly bus: EventBus,
    private readonly registry: EndpointRegistry,
    private readonly queue: DeliveryQueue,
    private readonly fanOut: FanOutService,
    private readonly client: SafeHttpClient,
    private readonly ctx: DeliveryContext,
    private readonly metrics: Metrics,
    private readonly logger: EngineLogger,
    private readonly enabled: boolean,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.queue.ensure();
    // The whole registry is known before the first event is fanned out.
    await this.registry.start();
    if (!this.enabled) {
      this.logger.info({ endpoints: this.registry.all().length }, 'outbound delivery disabled here (OUTBOUND_ENABLED=false)');
      return;
    }
    this.running = true;
    this.registry.onChange((id, active) => this.reconcile(id, active));
    for (const active of this.registry.all()) this.reconcile(active.id, active);
    this.scheduler = await this.queue.startScheduler();
    await this.bus.ensureStreams();
    await this.fanOut.start();
    // A job in hand (attempting, or paused by the breaker or rate limit) must not go to another replica.
    this.heartbeat = setInterval(
      () => {
        for (const w of this.workers.values()) for (const d of w.held) d.working();
      },
      Math.max(500, this.ctx.ackWaitMs / 3),
    );
    this.heartbeat.unref();
    this.gauges = setInterval(() => void this.refreshGauges(), GAUGE_INTERVAL_MS);
    this.gauges.unref();
    void this.refreshGauges();
    this.logger.info({ endpoints: this.registry.all().length }, 'outbound delivery started');
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.running = false;
    clearInterval(this.gauges);
    if (this.enabled) {
      await this.fanOut.stop();
      await Promise.all([...this.workers.values()].map((w) => w.stop()));
      this.workers.clear();
      await Promise.all(this.stopping);
      await this.scheduler?.stop();
    }
    clearInterval(this.heartbeat);
    await this.registry.stop();
    await this.client.close();
  }

  /** The worker of this replica for `id` (tests look at its breaker). */
  worker(id: string): EndpointWorker | undefined {
    return this.workers.get(id);
  }

  private reconcile(id: string, active: ActiveEndpoint | undefined): void {
    if (!this.running) return;
    const worker = this.workers.get(id);
    if (active === undefined) {
      if (worker !== undefined) {
        this.workers.delete(id);
        const stopped = worker.stop().finally(() => this.stopping.delete(stopped));
        this.stopping.add(stopped);
      }
      return;
    }
    if (worker !== undefined) worker.update(active);
    else {
      const created = new EndpointWorker(active, this.ctx);
      this.workers.set(id, created);
      created.start();
    }
  }

  private async refreshGauges(): Promise<void> {
    let enabled = 0;
    let disabled = 0;
    for (const e of this.registry.all()) {
      if (e.endpoint.disabled) disabled++;
      else enabled++;
    }
    this.metrics.outboundEndpoints.set({ state: 'enabled' }, enabled);
    this.metrics.outboundEndpoints.set({ state: 'disabled' }, disabled);
    let open = 0;
    for (const w of this.workers.values()) if (w.breaker.state !== 'closed') open++;
    this.metrics.outboundBreakersOpen.set(open);
    try {
      const depth = await this.queue.depth();
      this.metrics.outboundQueueDepth.set({ state: 'queued' }, depth.queued);
      this.metrics.outboundQueueDepth.set({ state: 'scheduled' }, depth.scheduled);
    } catch (err) {
      this.logger.debug({ err: err instanceof Error ? err.message : String(err) }, 'outbound queue depth not read');
    }
  }
}
