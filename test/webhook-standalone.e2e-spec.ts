import { startService } from '@switchboard/platform';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { standaloneDefinition } from '@switchboard/standalone';
import { postWebhook } from './support/webhook-harness';

/**
 * The single process (`npm start`, memory engine, no NATS or Redis): webhooks from a
 * WEBHOOK_CONFIG file are verified, stored on the in-memory bus once, and deduplicated
 * and rate limited in process.
 */
it('ingests webhooks in the single process with the memory engine', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-webhook-standalone-'));
  const secret = 'hm-' + randomBytes(8).toString('hex');
  const config = join(dir, 'webhooks.yaml');
  writeFileSync(
    config,
    [
      'sources:',
      '  - name: deploys',
      '    provider: hmac',
      `    secrets: ["${secret}"]`,
      '    header: X-Signature',
      '    rateLimit: { perSecond: 0.01, burst: 2 }',
    ].join('\n'),
  );
  const service = await startService(standaloneDefinition, {
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    JWT_SECRET: randomBytes(32).toString('hex'),
    WEBHOOK_CONFIG: config,
    // Nothing to drain; the default 30 s window would eat the test's timeout on stop.
    DRAIN_SECONDS: '0',
  });
  try {
    expect(service.platform.runtime.mode).toBe('memory');
    const body = '{"service":"api","version":"1.2.3"}';
    const headers = { 'content-type': 'application/json', 'x-signature': createHmac('sha256', secret).update(body).digest('hex') };
    expect((await postWebhook(service.url, 'deploys', body, headers)).status).toBe(202);
    expect(await postWebhook(service.url, 'deploys', body, headers)).toMatchObject({ status: 200, body: { duplicate: true } });
    const events = await service.platform.runtime.eventBus.read(service.platform.config.EVENTS_STREAM, 1, 100);
    expect(events.map((e) => e.subject)).toEqual(['events.webhook.deploys.deploys.event']);
    expect(JSON.parse(Buffer.from(events[0].data).toString())).toMatchObject({
      source: 'webhook/deploys',
      type: 'deploys.event',
      data: { version: '1.2.3' },
    });
    // The second new delivery empties the bucket (burst 2); a duplicate costs nothing.
    const sign = (text: string) => ({ ...headers, 'x-signature': createHmac('sha256', secret).update(text).digest('hex') });
    const second = '{"service":"api","version":"1.2.4"}';
    expect((await postWebhook(service.url, 'deploys', second, sign(second))).status).toBe(202);
    const third = '{"service":"api","version":"1.2.5"}';
    const limited = await postWebhook(service.url, 'deploys', third, sign(third));
    expect([limited.status, limited.body.reason]).toEqual([429, 'rate_limited']);
    expect((await postWebhook(service.url, 'other', body, headers)).status).toBe(404);
  } finally {
    await service.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
