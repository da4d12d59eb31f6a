import { MemoryEventBus } from '@switchboard/engine';
import { eventually } from '@switchboard/testing';
import { createLogger, createMetrics } from '@switchboard/observability';
import type { WebhookSource } from '@switchboard/config';
import { createHmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { MemoryDeliveryLedger } from './delivery-ledger';
import { Forwarding } from '@switchboard/platform';
import { eventBytesBound, IncomingWebhook, IngestPipeline } from './ingest.pipeline';
import { webhookCloudEvent } from './cloud-event';
import { parseForm, parseJson } from '../verifiers/payload';
import type { WebhookEvent } from '../verifiers/verifier';
import { MemoryRateLimiter, RateLimit } from './rate-limiter';
import { BodyIncompleteError, BodyTimeoutError, BodyTooLargeError } from './raw-body';
import { ReadSlots } from './read-slots';
import { SourceRegistry } from './source-registry';

const SECRET = 'pipeline-secret';
const SOURCES: WebhookSource[] = [
  { name: 'gh', provider: 'github', secrets: [SECRET], toleranceSeconds: 300, rateLimit: { perSecond: 1, burst: 2 } },
  { name: 'office', provider: 'github', secrets: [SECRET], toleranceSeconds: 300, rateLimit: false, allowCidrs: ['192.0.2.0/24'] },
];
const retention = { eventsMaxAgeSeconds: 3600, duplicateWindowSeconds: 120, dlqMaxAgeSeconds: 3600 };

function setup(options: { maxEventBytes?: number; unverifiedRate?: RateLimit; readSlots?: number } = {}) {
  const eventBus = new MemoryEventBus(retention);
  const metrics = createMetrics();
  const readSlots = new ReadSlots(options.readSlots ?? 10);
  const pipeline = new IngestPipeline({
    sources: new SourceRegistry(SOURCES),
    forwarding: new Forwarding([]),
    sourceLimiter: new MemoryRateLimiter(),
    clientLimiter: new MemoryRateLimiter(),
    unverifiedRate: options.unverifiedRate,
    readSlots,
    bodyTimeoutMs: 1000,
    ledger: new MemoryDeliveryLedger(3600),
    eventBus,
    metrics,
    logger: createLogger({ name: 'test', level: 'silent' }),
    maxBodyBytes: 1024,
    maxEventBytes: () => options.maxEventBytes ?? Number.POSITIVE_INFINITY,
  });
  return { eventBus, metrics, pipeline, readSlots };
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

  it('checks in order: 404, 403, 429 for the address, 413, 503, body errors, then 401', async () => {
    const { pipeline, eventBus, readSlots } = setup({ unverifiedRate: { perSecond: 0.001, burst: 2 }, readSlots: 1 });
    await eventBus.ensureStreams();
    const bad = { 'x-hub-signature-256': 'sha256=' + '0'.repeat(64) };
    const tooBig = () => Promise.reject(new BodyTooLargeError('big'));
    const unread = () => Promise.reject(new Error('the body must not be read'));
    // Unknown source beats everything else that is wrong with the request.
    expect(await pipeline.handle(github('nope', '{}', 'x', { headers: bad, read: unread }))).toMatchObject({
      status: 404,
      body: { error: 'not_found', reason: 'unknown_source' },
    });
    expect(await pipeline.handle(github('office', '{}', 'x', { peer: '203.0.113.1', headers: bad, read: unread }))).toMatchObject({
      status: 403,
      body: { reason: 'ip_not_allowed' },
    });
    // The address's budget (burst 2) goes on unverified requests; the third is refused unread.
    const attacker = { peer: '198.51.100.66', headers: bad };
    expect(await pipeline.handle(github('gh', '{}', 'x', attacker))).toMatchObject({ status: 401, body: { reason: 'signature_mismatch' } });
    expect(await pipeline.handle(github('gh', '{}', 'x', attacker))).toMatchObject({ status: 401 });
    const limited = await pipeline.handle(github('gh', '{}', 'x', { ...attacker, read: unread }));
    expect(limited).toMatchObject({ status: 429, body: { error: 'rate_limited', reason: 'client_rate_limited' } });
    expect(Number(limited.headers?.['Retry-After'])).toBeGreaterThanOrEqual(1);
    // Per address: another one still has its budget.
    expect(await pipeline.handle(github('gh', '{}', 'x', { peer: '198.51.100.67', headers: bad }))).toMatchObject({ status: 401 });

    const office = { peer: '192.0.2.1', headers: bad };
    expect(await pipeline.handle(github('office', '{}', 'x', { ...office, read: tooBig }))).toMatchObject({ status: 413 });
    const declared = github('office', '{}', 'x', { peer: '192.0.2.2', headers: { ...bad, 'content-length': '1025' }, read: unread });
    expect(await pipeline.handle(declared)).toMatchObject({ status: 413, body: { error: 'too_large', reason: 'body_too_large' } });
    // One read slot: while a body is being received, the next request is refused unread.
    let finish!: (body: Buffer) => void;
    const slow = pipeline.handle(
      github('office', '{}', 'x', { peer: '192.0.2.3', read: () => new Promise((resolve) => (finish = resolve)) }),
    );
    await eventually(() => expect(readSlots.inUse).toBe(1));
    expect(await pipeline.handle(github('office', '{}', 'x', { peer: '192.0.2.4', read: unread }))).toMatchObject({
      status: 503,
      body: { error: 'overloaded', reason: 'busy' },
      headers: { 'Retry-After': '1' },
    });
    finish(Buffer.from('{}'));
    expect(await slow).toMatchObject({ status: 202 });
    expect(readSlots.inUse).toBe(0);
    const stalled = github('office', '{}', 'x', { peer: '192.0.2.5', read: () => Promise.reject(new BodyTimeoutError('slow')) });
    expect(await pipeline.handle(stalled)).toMatchObject({ status: 408, body: { reason: 'body_timeout' } });
    const cut = github('office', '{}', 'x', { peer: '192.0.2.6', read: () => Promise.reject(new BodyIncompleteError('gone')) });
    expect(await pipeline.handle(cut)).toMatchObject({ status: 400, body: { reason: 'body_incomplete' } });
    expect(readSlots.inUse).toBe(0);
    expect(await eventBus.read('EVENTS', 1, 10)).toHaveLength(1);
  });

  it("keeps unverified requests off the source's rate, and gives verified ones their address budget back", async () => {
    const { pipeline, eventBus, metrics } = setup({ unverifiedRate: { perSecond: 0.001, burst: 2 } });
    await eventBus.ensureStreams();
    // A flood of unsigned requests to gh (source rate: burst 2) from one address.
    const bad = { 'x-hub-signature-256': 'sha256=' + '0'.repeat(64) };
    const flood = [];
    for (let i = 0; i < 50; i++)
      flood.push((await pipeline.handle(github('gh', '{}', `f${i}`, { peer: '203.0.113.7', headers: bad }))).body.reason);
    expect(new Set(flood)).toEqual(new Set(['signature_mismatch', 'client_rate_limited']));
    // The provider's deliveries: its address budget (burst 2) is given back by each verified one.
    const provider = { peer: '198.51.100.1' };
    expect(await pipeline.handle(github('gh', '{"n":1}', 'd1', provider))).toMatchObject({ status: 202 });
    expect(await pipeline.handle(github('gh', '{"n":2}', 'd2', provider))).toMatchObject({ status: 202 });
    // A duplicate is answered as one and costs no rate, even with the source's bucket empty.
    expect(await pipeline.handle(github('gh', '{"n":1}', 'd1', provider))).toMatchObject({ status: 200, body: { duplicate: true } });
    const over = await pipeline.handle(github('gh', '{"n":3}', 'd3', provider));
    expect(over).toMatchObject({ status: 429, body: { error: 'rate_limited', reason: 'rate_limited' }, headers: { 'Retry-After': '1' } });
    expect((await eventBus.read('EVENTS', 1, 10)).length).toBe(2);
    const text = await metrics.registry.metrics();
    expect(text).toContain('switchboard_webhook_requests_total{source="gh",outcome="rejected",reason="client_rate_limited"} 48');
    expect(text).toContain('switchboard_webhook_requests_total{source="gh",outcome="rejected",reason="rate_limited"} 1');
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

describe('eventBytesBound', () => {
  /** The bound must hold for bodies whose stored form grows the most: the size check is skipped below it. */
  const stored = (event: WebhookEvent): number => Buffer.byteLength(JSON.stringify(webhookCloudEvent('src', 'id-1', event, 0)));
  const event = (data: WebhookEvent['data'], type = 't'): WebhookEvent => ({
    kind: 'event',
    deliveryId: 'id-1',
    type,
    data,
    dataContentType: 'application/json',
  });

  it.each([
    ['numbers written out', '[' + Array(500).fill('1e20').join(',') + ']'],
    ['escapes', JSON.stringify({ s: '"\\\u0001\n'.repeat(200), é: 'ü'.repeat(300) })],
    ['short keys', '{' + Array.from({ length: 300 }, (_, i) => `"${i}":0`).join(',') + '}'],
  ])('holds for a JSON body: %s', (_, text) => {
    const body = Buffer.from(text);
    const parsed = parseJson(body);
    if (!parsed.ok) throw new Error(parsed.detail);
    const e = event({ data: parsed.value }, 'type."\\'.repeat(10));
    expect(eventBytesBound('src', 'id-1', e, body.length)).toBeGreaterThanOrEqual(stored(e));
  });

  it('holds for form fields with raw control characters and for base64', () => {
    const body = Buffer.from('a=\x01\x02\x03&a=&b&' + '\x1f'.repeat(500));
    const form = parseForm(body);
    if (!form.ok) throw new Error(form.detail);
    const e = event({ data: form.value });
    expect(eventBytesBound('src', 'id-1', e, body.length)).toBeGreaterThanOrEqual(stored(e));
    const binary = event({ dataBase64: body.toString('base64') });
    expect(eventBytesBound('src', 'id-1', binary, body.length)).toBeGreaterThanOrEqual(stored(binary));
  });
});
