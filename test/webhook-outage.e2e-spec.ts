import { NATS_URL, PrivateServer, REDIS_URL, eventually, startPrivateServer } from '@switchboard/testing';
import { randomBytes } from 'node:crypto';
import Stripe from 'stripe';
import {
  cleanUp,
  IngestService,
  postWebhook,
  readEvents,
  requireSharedServers,
  startIngest,
  webhookEnv,
  webhookTestNames,
} from './support/webhook-harness';

/**
 * Backend failures never become a silent drop or a false 2xx: NATS or Redis away → 503
 * (the provider retries); back → the retried delivery is stored exactly once.
 */
const stripe = new Stripe('sk_test_not_used');
const SECRET = 'whsec_' + randomBytes(12).toString('hex');
const SOURCES = [{ name: 'stripe-main', provider: 'stripe', secrets: [SECRET], rateLimit: false }];

function delivery(): { id: string; body: string; headers: Record<string, string> } {
  const id = `evt_${randomBytes(8).toString('hex')}`;
  const body = JSON.stringify({ id, object: 'event', type: 'charge.succeeded', data: { object: { id: 'ch_1' } } });
  return {
    id,
    body,
    headers: {
      'content-type': 'application/json',
      'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload: body, secret: SECRET }),
    },
  };
}

async function ready(service: IngestService): Promise<void> {
  await eventually(async () => expect((await fetch(`${service.url}/readyz`)).status).toBe(200), 15_000, 50);
}

beforeAll(async () => {
  await requireSharedServers();
});

describe('NATS away', () => {
  const names = webhookTestNames('whnats');
  let nats: PrivateServer;
  let service: IngestService;

  beforeAll(async () => {
    nats = await startPrivateServer('nats');
    service = await startIngest(webhookEnv(names, SOURCES, { NATS_URL: nats.url }));
  });

  afterAll(async () => {
    await service?.stop();
    await nats?.stop();
    await cleanUp(names, NATS_URL);
  });

  it('answers 503 while NATS is down, and stores the retry once it is back', async () => {
    const d = delivery();
    await nats.kill();
    await eventually(() => expect(service.platform.runtime.eventBus.isReady()).toBe(false));
    const refused = await postWebhook(service.url, 'stripe-main', d.body, d.headers);
    expect(refused).toMatchObject({ status: 503, body: { error: 'unavailable', reason: 'store_unavailable' } });
    expect(refused.headers.get('retry-after')).toBe('5');
    await nats.start();
    await ready(service);
    expect(await postWebhook(service.url, 'stripe-main', d.body, d.headers)).toMatchObject({ status: 202, body: { id: d.id } });
    expect(await postWebhook(service.url, 'stripe-main', d.body, d.headers)).toMatchObject({ status: 200, body: { duplicate: true } });
    expect((await readEvents(service)).filter((e) => e.event.id === d.id)).toHaveLength(1);
  });

  it('answers 503 when the ack does not come (NATS frozen), and the retry finds the event stored once', async () => {
    const d = delivery();
    nats.pause();
    try {
      // The publish waits for the JetStream ack until its timeout, then the provider is told to retry.
      const refused = await postWebhook(service.url, 'stripe-main', d.body, d.headers);
      expect(refused).toMatchObject({ status: 503, body: { reason: 'store_unavailable' } });
    } finally {
      nats.resume();
    }
    // The frozen server may still store the message it had received: the retry must not store it again.
    const retry = await postWebhook(service.url, 'stripe-main', d.body, d.headers);
    expect([200, 202]).toContain(retry.status);
    expect(await postWebhook(service.url, 'stripe-main', d.body, d.headers)).toMatchObject({ status: 200, body: { duplicate: true } });
    expect((await readEvents(service)).filter((e) => e.event.id === d.id)).toHaveLength(1);
  });
});

describe('Redis away', () => {
  const names = webhookTestNames('whredis');
  let redis: PrivateServer;
  let service: IngestService;

  beforeAll(async () => {
    redis = await startPrivateServer('redis');
    service = await startIngest(webhookEnv(names, SOURCES, { REDIS_URL: redis.url }));
  });

  afterAll(async () => {
    await service?.stop();
    await redis?.stop();
    await cleanUp(names, NATS_URL);
  });

  it('answers 503 while the dedupe store is down (nothing stored), and stores the retry once it is back', async () => {
    expect(REDIS_URL).not.toBe(redis.url);
    const d = delivery();
    await redis.kill();
    const refused = await postWebhook(service.url, 'stripe-main', d.body, d.headers);
    expect(refused).toMatchObject({ status: 503, body: { error: 'unavailable', reason: 'dedupe_unavailable' } });
    expect(await readEvents(service)).toEqual([]);
    await redis.start();
    await ready(service);
    expect(await postWebhook(service.url, 'stripe-main', d.body, d.headers)).toMatchObject({ status: 202 });
    expect(await postWebhook(service.url, 'stripe-main', d.body, d.headers)).toMatchObject({ status: 200, body: { duplicate: true } });
    expect((await readEvents(service)).filter((e) => e.event.id === d.id)).toHaveLength(1);
  });
});
