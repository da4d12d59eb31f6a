import { Controller, Get, Header, Inject, Res } from '@nestjs/common';
import type { Lifecycle, Metrics } from '@switchboard/observability';
import type { Response } from 'express';
import type { Platform } from './platform';
import { LIFECYCLE, METRICS, PLATFORM } from './tokens';

/**
 * `/healthz` (process alive), `/readyz` (backends reachable, not draining), `/metrics`
 * (Prometheus; on METRICS_PORT instead when that is set: metrics-server.ts).
 */
@Controller()
export class HealthController {
  constructor(
    @Inject(LIFECYCLE) private readonly lifecycle: Lifecycle,
    @Inject(METRICS) private readonly metrics: Metrics,
    @Inject(PLATFORM) private readonly platform: Platform,
  ) {}

  @Get('healthz')
  @Header('Cache-Control', 'no-store')
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('readyz')
  @Header('Cache-Control', 'no-store')
  readyz(@Res() res: Response): void {
    const status = this.lifecycle.status();
    res.status(status.ready ? 200 : 503).json(status);
  }

  @Get('metrics')
  async scrape(@Res() res: Response): Promise<void> {
    if (this.platform.config.METRICS_PORT !== undefined) {
      res.status(404).json({ error: 'not_found', message: '/metrics is served on its own port (METRICS_PORT)' });
      return;
    }
    res.setHeader('Content-Type', this.metrics.registry.contentType);
    res.send(await this.metrics.registry.metrics());
  }
}
