import { MemoryEventBus } from '@switchboard/engine';
import { createLogger, createMetrics } from '@switchboard/observability';
import type { WebhookSource } from '@switchboard/config';
import { createHmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { MemoryDeliveryLedger } from './delivery-ledger';
import { Forwarding } from './forwarding';
import { IncomingWebhook, IngestPipeline } from './ingest.pipeline';
import { MemoryRateLimiter } from './rate-limiter';
import { BodyIncompleteError, BodyTooLargeError } from './raw-body';
import { SourceRegistry } from './source-registry';

const SECRET = 'pipeline-secret';
const SOURCES: WebhookSource[] = [
  { name: 'gh', provider: 'github', secrets: [SECRET], toleranceSeconds: 300, rateLimit: { perSecond: 1, burst: 2 } },
  { name: 'office', provider: 'github', secrets: [SECRET], toleranceSeconds: 300, rateLimit: false, allowCidrs: ['192.0.2.0/24'] },
];
const retention = { eventsMaxAgeSeconds: 3600, duplicateWindowSeconds: 120, dlqMaxAgeSeconds: 3600 };

function setup(options: { maxEventBytes?: number } = {}) {
  const eventBus = new MemoryEventBus(retention);
  const metrics = createMetrics();
  const pipeline = new IngestPipeline({
    sources: new SourceRegistry(SOURCES),
    forwarding: new Forwarding([]),
    limiter: new MemoryRateLimiter(),
    ledger: new MemoryDeliveryLedger(3600),
    eventBus,
    metrics,
    logger: createLogger({ name: 'test', level: 'silent' }),
    maxBodyBytes: 1024,
    maxEventBytes: () => options.maxEventBytes ?? Number.POSITIVE_INFINITY,
  });
  return { eventBus, metrics, pipeline };
}

function github(
  source: string,
  body: string,
  delivery: string,
  extra: { peer?: string; headers?: IncomingHttpHeaders; read?: () => Promise<Buffer> } = {},
): IncomingWebhook {
  return {
    source,
    peer: extra.peer ?? '198.51.100.1',
    encrypted: false,
    originalUrl: `/v1/webhooks/${source}`,
    headers: {
      'content-type': 'application/json',
      'x-hub-signature-256': 'sha256=' + createHmac('sha256', SECRET).update(body).digest('hex'),
      'x-github-event': 'push',
      'x-github-delivery': delivery,
      ...extra.headers,
    },
    readBody: extra.read ?? (() => Promise.resolve(Buffer.from(body))),
  };
}

describe('IngestPipeline', () => {
  it('stores a verified event once and reports the repeats as duplicates', async () => {
    const { pipeline, eventBus, metrics } = setup();
    await eventBus.ensureStreams();
    expect(await pipeline.handle(github('office', '{"ref":"main"}', 'd1', { peer: '192.0.2.9' }))).toMatchObject({ status: 202 });
    expect(await pipeline.handle(github('office', '{"ref":"main"}', 'd1', { peer: '192.0.2.9' }))).toEqual({
      status: 200,
      body: { duplicate: true },
    });
    const stored = await eventBus.read('EVENTS', 1, 10);
    expect(stored.map((e) => e.subject)).toEqual(['events.webhook.office.github.push']);
    const text = await metrics.registry.metrics();
    expect(text).toContain('switchboard_webhook_requests_total{source="office",outcome="accepted",reason="stored"} 1');
    expect(text).toContain('switchboard_webhook_requests_total{source="office",outcome="duplicate",reason="duplicate"} 1');
    expect(text).toContain('switchboard_webhook_secret_matches_total{source="office",secret_index="0"} 2');
  });

  it('checks in SPEC order: 404, 403, 429, 413, then 401', async () => {
    const { pipeline, eventBus } = setup();
    await eventBus.ensureStreams();
    const bad = { 'x-hub-signature-256': 'sha256=' + '0'.repeat(64) };
    const tooBig = () => Promise.reject(new BodyTooLargeError('big'));
    // Unknown source beats everything else that is wrong with the request.
    expect(await pipeline.handle(github('nope', '{}', 'x', { headers: bad, read: tooBig }))).toMatchObject({
      status: 404,
      body: { reason: 'unknown_source' },
    });
    expect(await pipeline.handle(github('office', '{}', 'x', { peer: '203.0.113.1', headers: bad, read: tooBig }))).toMatchObject({
      status: 403,
      body: { reason: 'ip_not_allowed' },
    });
    expect(await pipeline.handle(github('gh', '{}', 'x', { headers: bad }))).toMatchObject({ status: 401 });
    expect(await pipeline.handle(github('gh', '{}', 'x', { headers: bad }))).toMatchObject({ status: 401 });
    const limited = await pipeline.handle(github('gh', '{}', 'x', { headers: bad, read: tooBig }));
    expect(limited).toMatchObject({ status: 429, body: { reason: 'rate_limited' }, headers: { 'Retry-After': '1' } });
    expect(await pipeline.handle(github('office', '{}', 'x', { peer: '192.0.2.1', headers: bad, read: tooBig }))).toMatchObject({
      status: 413,
      close: true,
    });
    const declared = github('office', '{}', 'x', {
      peer: '192.0.2.1',
      headers: { 'content-length': '1025' },
      read: () => Promise.reject(new Error('not read')),
    });
    expect(await pipeline.handle(declared)).toMatchObject({ status: 413, body: { reason: 'body_too_large' } });
    const cut = github('office', '{}', 'x', { peer: '192.0.2.1', read: () => Promise.reject(new BodyIncompleteError('gone')) });
    expect(await pipeline.handle(cut)).toMatchObject({ status: 400, body: { reason: 'body_incomplete' } });
    expect(await eventBus.read('EVENTS', 1, 10)).toEqual([]);
  });

  it('refuses a signature replayed with another delivery id', async () => {
    const { pipeline, eventBus } = setup();
    await eventBus.ensureStreams();
    expect(await pipeline.handle(github('office', '{"n":1}', 'd1', { peer: '192.0.2.1' }))).toMatchObject({ status: 202 });
    expect(await pipeline.handle(github('office', '{"n":1}', 'd2', { peer: '192.0.2.1' }))).toMatchObject({
      status: 401,
      body: { reason: 'replayed' },
    });
    expect(await eventBus.read('EVENTS', 1, 10)).toHaveLength(1);
  });

  it('answers 503, never 2xx, when the event bus cannot store', async () => {
    const { pipeline, eventBus } = setup();
    await eventBus.close();
    expect(await pipeline.handle(github('office', '{"n":2}', 'd3', { peer: '192.0.2.1' }))).toMatchObject({
      status: 503,
      body: { error: 'unavailable', reason: 'store_unavailable' },
      headers: { 'Retry-After': '5' },
    });
  });

  it('refuses with 413 an event larger than the event bus takes', async () => {
    const { pipeline, eventBus } = setup({ maxEventBytes: 200 });
    await eventBus.ensureStreams();
    expect(await pipeline.handle(github('office', JSON.stringify({ pad: 'x'.repeat(200) }), 'd4', { peer: '192.0.2.1' }))).toMatchObject({
      status: 413,
    });
  });
});
