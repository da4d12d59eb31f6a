import { request as httpRequest } from 'node:http';
import { createHmac, randomBytes } from 'node:crypto';
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
 * The order of checks on the real engine — unknown source 404 → IP not allowed 403 → body
 * too large 413 → signature 401 → the source's rate 429 (verified deliveries, shared by
 * replicas) — and the body limit enforced before the body is read. The client address
 * budget before the body (WEBHOOK_UNVERIFIED_RATE) is webhook-unverified.e2e-spec.ts.
 */
const names = webhookTestNames('whchk');
const MAX = 4096;
const SOURCES = [
  { name: 'open', provider: 'github', secrets: ['s'], rateLimit: false },
  { name: 'office', provider: 'github', secrets: ['s'], rateLimit: false, allowCidrs: ['198.51.100.0/24', '2001:db8::/32'] },
  { name: 'limited', provider: 'github', secrets: ['s'], rateLimit: { perSecond: 0.1, burst: 2 } },
  { name: 'stripe-main', provider: 'stripe', secrets: ['whsec_x'], rateLimit: false },
];

let proxied: IngestService;
let direct: IngestService;

beforeAll(async () => {
  await requireSharedServers();
  const env = { WEBHOOK_MAX_BYTES: String(MAX) };
  // One replica behind a trusted proxy (127.0.0.1 = the test), one reached directly.
  proxied = await startIngest(webhookEnv(names, SOURCES, { ...env, TRUSTED_PROXIES: '127.0.0.1' }));
  direct = await startIngest(webhookEnv(names, SOURCES, env));
});

afterAll(async () => {
  await proxied?.stop();
  await direct?.stop();
  await cleanUp(names);
});

const unsigned = {
  'content-type': 'application/json',
  'x-hub-signature-256': 'sha256=' + '0'.repeat(64),
  'x-github-event': 'push',
  'x-github-delivery': 'd',
};
const huge = 'x'.repeat(MAX + 1);

async function reason(
  service: IngestService,
  source: string,
  body: string,
  headers: Record<string, string> = unsigned,
): Promise<[number, unknown]> {
  const reply = await postWebhook(service.url, source, body, headers);
  return [reply.status, reply.body.reason];
}

it('answers 404 for an unknown source before anything else', async () => {
  expect(await reason(direct, 'nope', huge)).toEqual([404, 'unknown_source']);
  expect(await reason(direct, 'Open', '{}')).toEqual([404, 'unknown_source']);
});

it('answers 403 for an address outside allowCidrs, trusting X-Forwarded-For only from TRUSTED_PROXIES', async () => {
  expect(await reason(proxied, 'office', huge, { ...unsigned, 'x-forwarded-for': '203.0.113.5' })).toEqual([403, 'ip_not_allowed']);
  expect(await reason(proxied, 'office', '{}', { ...unsigned, 'x-forwarded-for': '198.51.100.7' })).toEqual([401, 'signature_mismatch']);
  expect(await reason(proxied, 'office', '{}', { ...unsigned, 'x-forwarded-for': '2001:db8::1' })).toEqual([401, 'signature_mismatch']);
  // A client that writes its own X-Forwarded-For gains nothing: the proxy appends the real address.
  expect(await reason(proxied, 'office', '{}', { ...unsigned, 'x-forwarded-for': '198.51.100.7, 203.0.113.5' })).toEqual([
    403,
    'ip_not_allowed',
  ]);
  expect(await reason(proxied, 'office', '{}')).toEqual([403, 'ip_not_allowed']);
  // Without a trusted proxy the header is the client's word: ignored.
  expect(await reason(direct, 'office', '{}', { ...unsigned, 'x-forwarded-for': '198.51.100.7' })).toEqual([403, 'ip_not_allowed']);
});

it('answers 429 with Retry-After once verified deliveries empty the source bucket, shared by both replicas', async () => {
  // Unsigned requests never touch the source's bucket (burst 2)…
  for (let i = 0; i < 6; i++) expect(await reason(i % 2 === 0 ? direct : proxied, 'limited', '{}')).toEqual([401, 'signature_mismatch']);
  // …verified ones do: one per replica empties it; both then refuse, after verification.
  const signed = (n: number): [string, Record<string, string>] => {
    const body = JSON.stringify({ n });
    const signature = 'sha256=' + createHmac('sha256', 's').update(body).digest('hex');
    return [body, { ...unsigned, 'x-hub-signature-256': signature, 'x-github-delivery': `lim-${n}-${randomBytes(4).toString('hex')}` }];
  };
  expect((await postWebhook(direct.url, 'limited', ...signed(1))).status).toBe(202);
  expect((await postWebhook(proxied.url, 'limited', ...signed(2))).status).toBe(202);
  for (const [service, n] of [
    [direct, 3],
    [proxied, 4],
  ] as const) {
    const reply = await postWebhook(service.url, 'limited', ...signed(n));
    expect([reply.status, reply.body.error, reply.body.reason]).toEqual([429, 'rate_limited', 'rate_limited']);
    expect(Number(reply.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(reply.headers.get('retry-after'))).toBeLessThanOrEqual(10);
  }
  // Still verified first: a bad signature is a 401 whatever the bucket holds.
  expect(await reason(direct, 'limited', '{}')).toEqual([401, 'signature_mismatch']);
});

it('answers 413 before the signature, for a declared length and for a streamed body', async () => {
  expect(await reason(direct, 'open', huge)).toEqual([413, 'body_too_large']);
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < 8; i++) controller.enqueue(new Uint8Array(1024).fill(120));
      controller.close();
    },
  });
  const response = await fetch(`${direct.url}/v1/webhooks/open`, {
    method: 'POST',
    body: stream,
    headers: unsigned,
    duplex: 'half',
  } as RequestInit);
  expect(response.status).toBe(413);
  expect(await response.json()).toMatchObject({ error: 'too_large', reason: 'body_too_large' });
  // Exactly at the limit is not too large.
  expect(await reason(direct, 'open', 'x'.repeat(MAX))).toEqual([401, 'signature_mismatch']);
});

it('answers 413 on a declared length without waiting for the body', async () => {
  // The client announces 10 MB and sends nothing: the reply cannot depend on reading it.
  const status = await new Promise<number>((resolve, reject) => {
    const req = httpRequest(`${direct.url}/v1/webhooks/open`, {
      method: 'POST',
      headers: { ...unsigned, 'content-length': String(10 * 1024 * 1024) },
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
      req.destroy();
    });
    req.on('error', reject);
    req.flushHeaders();
  });
  expect(status).toBe(413);
});

it('answers 401 for bad signatures, 415 for content types the provider never sends, 405 for other methods', async () => {
  expect(await reason(direct, 'open', '{}')).toEqual([401, 'signature_mismatch']);
  expect(await reason(direct, 'open', '{}', { ...unsigned, 'x-hub-signature-256': 'md5=1' })).toEqual([401, 'malformed_header']);
  expect(await reason(direct, 'stripe-main', '{}', { 'content-type': 'text/plain', 'stripe-signature': 't=1,v1=00' })).toEqual([
    415,
    'unsupported_media_type',
  ]);
  const get = await fetch(`${direct.url}/v1/webhooks/open`);
  expect(get.status).toBe(405);
  expect(get.headers.get('allow')).toBe('POST');
  // Only the signed deliveries of the rate test were stored.
  expect((await readEvents(direct)).map((e) => e.event.source)).toEqual(['webhook/limited', 'webhook/limited']);
});

it('starts without any source configured: every source is unknown', async () => {
  const bare = webhookTestNames('whchk0');
  const env = webhookEnv(bare, []);
  delete env.WEBHOOK_SOURCES;
  const service = await startIngest(env);
  try {
    expect(await reason(service, 'stripe-main', '{"id":"' + randomBytes(4).toString('hex') + '"}')).toEqual([404, 'unknown_source']);
    expect((await fetch(`${service.url}/readyz`)).status).toBe(200);
  } finally {
    await service.stop();
    await cleanUp(bare);
  }
});
