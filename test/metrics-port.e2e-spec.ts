import type { CommonConfig } from '@switchboard/config';
import { startService, type RunningService, type ServiceDefinition } from '@switchboard/platform';
import { freePort, TEST_JWT_SECRET } from '@switchboard/testing';
import { gatewayDefinition } from '@switchboard/gateway';
import { notifierDefinition } from '@switchboard/notifier';
import { standaloneDefinition } from '@switchboard/standalone';
import { webhookIngestDefinition } from '@switchboard/webhook-ingest';

/** METRICS_PORT: `/metrics` on a port of its own (the chart's and k8s/'s setting), for every service. */
const definitions: Array<ServiceDefinition<CommonConfig>> = [
  gatewayDefinition,
  webhookIngestDefinition,
  notifierDefinition,
  standaloneDefinition,
];

const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  PORT: '0',
  HOST: '127.0.0.1',
  LOG_LEVEL: 'error',
  DRAIN_SECONDS: '0',
  JWT_SECRET: TEST_JWT_SECRET,
  ...extra,
});

describe.each(definitions.map((d): [string, ServiceDefinition<CommonConfig>] => [d.name, d]))('METRICS_PORT, %s', (_name, definition) => {
  let service: RunningService<CommonConfig> | undefined;
  afterEach(async () => {
    await service?.stop();
    service = undefined;
  });

  it('serves /metrics only on METRICS_PORT, and the main port answers 404 for it', async () => {
    const metricsPort = await freePort();
    service = await startService(definition, env({ METRICS_PORT: String(metricsPort) }));
    expect(service.metricsUrl).toBe(`http://127.0.0.1:${metricsPort}`);
    const scrape = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(scrape.status).toBe(200);
    expect(scrape.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await scrape.text()).toMatch(/^switchboard_ready 1$/m);
    const main = await fetch(`${service.url}/metrics`);
    expect(main.status).toBe(404);
    expect(await main.json()).toEqual({ error: 'not_found', message: '/metrics is served on its own port (METRICS_PORT)' });
    // Probes stay on the main port; the metrics port serves nothing else.
    expect((await fetch(`${service.url}/readyz`)).status).toBe(200);
    const other = await fetch(`http://127.0.0.1:${metricsPort}/healthz`);
    expect(other.status).toBe(404);
    expect(await other.json()).toEqual({ error: 'not_found', message: 'this port serves GET /metrics only' });
    await service.stop();
    service = undefined;
    await expect(fetch(`http://127.0.0.1:${metricsPort}/metrics`)).rejects.toThrow();
  });

  it('serves /metrics on the main port when METRICS_PORT is unset', async () => {
    service = await startService(definition, env());
    expect(service.metricsUrl).toBeUndefined();
    const scrape = await fetch(`${service.url}/metrics`);
    expect(scrape.status).toBe(200);
    expect(await scrape.text()).toMatch(/^switchboard_ready 1$/m);
  });
});
