import { createHmac, randomBytes } from 'node:crypto';
import {
  cleanUp,
  IngestService,
  postWebhook,
  requireSharedServers,
  startIngest,
  webhookEnv,
  webhookTestNames,
} from './support/webhook-harness';

/**
 * WEBHOOK_UNVERIFIED_RATE on the real engine: a budget per client address (IPv6: per /64),
 * shared by replicas through Redis, taken before the body is read and given back by
 * requests that verify. Both replicas sit behind a trusted proxy (127.0.0.1 = the test),
 * so X-Forwarded-For names the client.
 */
const names = webhookTestNames('whunv');
const SECRET = 'unverified-secret';
const SOURCES = [{ name: 'gh', provider: 'github', secrets: [SECRET], rateLimit: false }];
// One request every 100 s, burst 1 (2 × rate, rounded up): nothing refills during the test.
const RATE = '0.01';

let one: IngestService;
let two: IngestService;

beforeAll(async () => {
  await requireSharedServers();
  const env = webhookEnv(names, SOURCES, { TRUSTED_PROXIES: '127.0.0.1', WEBHOOK_UNVERIFIED_RATE: RATE, WEBHOOK_MAX_BYTES: '4096' });
  one = await startIngest(env);
  two = await startIngest(env);
});

afterAll(async () => {
  await one?.stop();
  await two?.stop();
  await cleanUp(names);
});

const base = { 'content-type': 'application/json', 'x-github-event': 'push' };

function unsigned(client: string): Record<string, string> {
  return { ...base, 'x-hub-signature-256': 'sha256=' + '0'.repeat(64), 'x-github-delivery': 'u', 'x-forwarded-for': client };
}

function signed(client: string, body: string): Record<string, string> {
  const signature = 'sha256=' + createHmac('sha256', SECRET).update(body).digest('hex');
  return { ...base, 'x-hub-signature-256': signature, 'x-github-delivery': randomBytes(8).toString('hex'), 'x-forwarded-for': client };
}

async function reason(service: IngestService, body: string, headers: Record<string, string>): Promise<[number, unknown]> {
  const reply = await postWebhook(service.url, 'gh', body, headers);
  return [reply.status, reply.body.reason];
}

it('shares one budget per client address between replicas, and refuses past it before reading the body', async () => {
  const client = '198.51.100.10';
  expect(await reason(one, '{}', unsigned(client))).toEqual([401, 'signature_mismatch']);
  for (const service of [two, one]) {
    // Over WEBHOOK_MAX_BYTES too, yet 429: the budget is checked before the body.
    const reply = await postWebhook(service.url, 'gh', 'x'.repeat(8192), unsigned(client));
    expect([reply.status, reply.body]).toEqual([
      429,
      { error: 'rate_limited', reason: 'client_rate_limited', message: 'too many unverified requests from this address' },
    ]);
    expect(Number(reply.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  }
  // A signed delivery from that address is refused too (it cannot be told apart before reading)…
  expect(await reason(one, '{"n":0}', signed(client, '{"n":0}'))).toEqual([429, 'client_rate_limited']);
  // …but every other address keeps its own budget.
  expect(await reason(two, '{}', unsigned('198.51.100.11'))).toEqual([401, 'signature_mismatch']);
  expect(await reason(one, '{"n":1}', signed('198.51.100.12', '{"n":1}'))).toEqual([202, undefined]);
});

it('budgets IPv6 clients by /64', async () => {
  expect(await reason(one, '{}', unsigned('2001:db8:1:2::1'))).toEqual([401, 'signature_mismatch']);
  expect(await reason(two, '{}', unsigned('2001:db8:1:2:aaaa:bbbb:cccc:dddd'))).toEqual([429, 'client_rate_limited']);
  expect(await reason(one, '{}', unsigned('2001:0db8:0001:0002::ffff'))).toEqual([429, 'client_rate_limited']);
  expect(await reason(two, '{}', unsigned('2001:db8:1:3::1'))).toEqual([401, 'signature_mismatch']);
});

it('gives the budget back to requests that verify: a genuine sender is never limited by it', async () => {
  const provider = '203.0.113.20';
  // Ten verified deliveries against a burst of 1, alternating replicas.
  for (let n = 0; n < 10; n++) {
    const body = JSON.stringify({ n, provider });
    expect(await reason(n % 2 === 0 ? one : two, body, signed(provider, body))).toEqual([202, undefined]);
  }
  // The whole budget is still there for an unverified one.
  expect(await reason(one, '{}', unsigned(provider))).toEqual([401, 'signature_mismatch']);
  expect(await reason(two, '{}', unsigned(provider))).toEqual([429, 'client_rate_limited']);
});
