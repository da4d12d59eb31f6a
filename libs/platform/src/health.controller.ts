import { Controller, Get, Header, Inject, Res } from '@nestjs/common';
import type { Lifecycle, Metrics } from '@switchboard/observability';
import type { Response } from 'express';
import { LIFECYCLE, METRICS } from './tokens';

/** `/healthz` (process alive), `/readyz` (backends reachable, not draining), `/metrics` (Prometheus). */
@Controller()
export class HealthController {
  constructor(
    @Inject(LIFECYCLE) private readonly lifecycle: Lifecycle,
    @Inject(METRICS) private readonly metrics: Metrics,
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
    res.setHeader('Content-Type', this.metrics.registry.contentType);
    res.send(await this.metrics.registry.metrics());
  }
}
