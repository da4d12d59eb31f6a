import { randomBytes, randomUUID } from 'node:crypto';
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
 * Exactly once: the same delivery sent again — sequentially, concurrently, to another
 * replica, or after JetStream's duplicate window — is stored once and answered
 * `200 {"duplicate":true}`; a captured GitHub request re-sent with a fresh delivery id is
 * refused as a replay.
 */
const names = webhookTestNames('whdup');
const later = webhookTestNames('whdup2');
const stripe = new Stripe('sk_test_not_used');
const STRIPE_SECRET = 'whsec_' + randomBytes(12).toString('hex');
const GITHUB_SECRET = 'gh-' + randomBytes(12).toString('hex');
const SOURCES = [
  { name: 'stripe-main', provider: 'stripe', secrets: [STRIPE_SECRET] },
  { name: 'gh', provider: 'github', secrets: [GITHUB_SECRET] },
];

let replicaA: IngestService;
let replicaB: IngestService;
let sign: (secret: string, payload: string) => Promise<string>;

beforeAll(async () => {
  await requireSharedServers();
  ({ sign } = await import('@octokit/webhooks-methods'));
  // Two replicas on the same stream and Redis keys, as two pods behind one Service.
  replicaA = await startIngest(webhookEnv(names, SOURCES));
  replicaB = await startIngest(webhookEnv(names, SOURCES));
});

afterAll(async () => {
  await replicaA?.stop();
  await replicaB?.stop();
  await cleanUp(names);
  await cleanUp(later);
});

function stripeDelivery(): { id: string; body: string; headers: Record<string, string> } {
  const id = `evt_${randomBytes(8).toString('hex')}`;
  const body = JSON.stringify({ id, object: 'event', type: 'invoice.paid', data: { object: { id: 'in_1' } } });
  const header = stripe.webhooks.generateTestHeaderString({ payload: body, secret: STRIPE_SECRET });
  return { id, body, headers: { 'content-type': 'application/json', 'stripe-signature': header } };
}

async function stored(service: IngestService, id: string): Promise<number> {
  return (await readEvents(service)).filter((e) => e.event.id === id).length;
}

it('stores a delivery sent three times once, and answers the repeats 200 duplicate', async () => {
  const d = stripeDelivery();
  const replies = [];
  for (let i = 0; i < 3; i++) replies.push(await postWebhook(replicaA.url, 'stripe-main', d.body, d.headers));
  expect(replies.map((r) => [r.status, r.body])).toEqual([
    [202, { accepted: true, id: d.id }],
    [200, { duplicate: true }],
    [200, { duplicate: true }],
  ]);
  expect(await stored(replicaA, d.id)).toBe(1);
});

it('stores a delivery sent three times at once, to two replicas, once', async () => {
  for (let round = 0; round < 5; round++) {
    const d = stripeDelivery();
    const replies = await Promise.all([
      postWebhook(replicaA.url, 'stripe-main', d.body, d.headers),
      postWebhook(replicaB.url, 'stripe-main', d.body, d.headers),
      postWebhook(replicaA.url, 'stripe-main', d.body, d.headers),
    ]);
    expect(replies.map((r) => r.status).sort()).toEqual([200, 200, 202]);
    expect(replies.filter((r) => r.status === 200).map((r) => r.body)).toEqual([{ duplicate: true }, { duplicate: true }]);
    expect(await stored(replicaA, d.id)).toBe(1);
  }
});

it('still reports a duplicate after the JetStream window: the Redis key covers the long window', async () => {
  const d = stripeDelivery();
  expect((await postWebhook(replicaA.url, 'stripe-main', d.body, d.headers)).status).toBe(202);
  // A fresh stream knows nothing of the first delivery, as JetStream forgets after its
  // duplicate window; the Redis key (same prefix) is all that remembers it.
  const fresh = await startIngest(webhookEnv({ ...later, redisPrefix: names.redisPrefix }, SOURCES));
  try {
    expect(await postWebhook(fresh.url, 'stripe-main', d.body, d.headers)).toMatchObject({ status: 200, body: { duplicate: true } });
    expect(await readEvents(fresh)).toEqual([]);
    const other = stripeDelivery();
    expect((await postWebhook(fresh.url, 'stripe-main', other.body, other.headers)).status).toBe(202);
  } finally {
    await fresh.stop();
  }
});

it('refuses a GitHub request replayed with a fresh delivery id, on any replica', async () => {
  const body = JSON.stringify({ ref: 'refs/heads/main', after: randomBytes(20).toString('hex') });
  const headers = { 'content-type': 'application/json', 'x-hub-signature-256': await sign(GITHUB_SECRET, body), 'x-github-event': 'push' };
  const delivery = randomUUID();
  expect((await postWebhook(replicaA.url, 'gh', body, { ...headers, 'x-github-delivery': delivery })).status).toBe(202);
  // GitHub's own redelivery keeps the delivery id: a duplicate, not a replay.
  expect((await postWebhook(replicaB.url, 'gh', body, { ...headers, 'x-github-delivery': delivery })).body).toEqual({ duplicate: true });
  for (const replica of [replicaA, replicaB]) {
    const replay = await postWebhook(replica.url, 'gh', body, { ...headers, 'x-github-delivery': randomUUID() });
    expect([replay.status, replay.body.reason]).toEqual([401, 'replayed']);
  }
  expect((await readEvents(replicaA)).filter((e) => (e.event.data as { after?: string }).after === JSON.parse(body).after)).toHaveLength(1);
});

it('verifies key order and whitespace as sent: the raw bytes, not a re-serialisation', async () => {
  const id = `evt_${randomBytes(8).toString('hex')}`;
  const body = `{"type":"charge.refunded" ,\n\t"data":{"object":{"amount":5,"id":"ch_1"}},  "id":"${id}","object":"event"}`;
  const header = stripe.webhooks.generateTestHeaderString({ payload: body, secret: STRIPE_SECRET });
  const compact = JSON.stringify(JSON.parse(body));
  const reordered = await postWebhook(replicaA.url, 'stripe-main', compact, {
    'content-type': 'application/json',
    'stripe-signature': header,
  });
  expect([reordered.status, reordered.body.reason]).toEqual([401, 'signature_mismatch']);
  expect(
    (await postWebhook(replicaA.url, 'stripe-main', body, { 'content-type': 'application/json', 'stripe-signature': header })).status,
  ).toBe(202);
  const [event] = (await readEvents(replicaA)).filter((e) => e.event.id === id);
  expect(event.event.data).toEqual(JSON.parse(body));
});
