import { Registry } from 'prom-client';
import { createMetrics } from './metrics';

describe('CounterTally', () => {
  it('adds what its series counted to the counter when it is read, once', async () => {
    const metrics = createMetrics(new Registry());
    const stored = metrics.webhookRequestCounts.of({ source: 's', outcome: 'accepted', reason: 'stored' });
    metrics.webhookRequests.inc({ source: 's', outcome: 'accepted', reason: 'stored' });
    stored.inc();
    stored.inc();
    const value = async (): Promise<number | undefined> =>
      (await metrics.webhookRequests.get()).values.find((v) => v.labels.reason === 'stored')?.value;
    expect(await value()).toBe(3);
    expect(await value()).toBe(3);
    stored.inc();
    expect(await metrics.registry.metrics()).toContain(
      'switchboard_webhook_requests_total{source="s",outcome="accepted",reason="stored"} 4',
    );
  });
});
