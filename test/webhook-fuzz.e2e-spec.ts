import fc from 'fast-check';
import { createHmac, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { Webhook } from 'standardwebhooks';
import Stripe from 'stripe';
import {
  cleanUp,
  IngestService,
  readEvents,
  requireSharedServers,
  startIngest,
  webhookEnv,
  webhookTestNames,
} from './support/webhook-harness';

/**
 * Fuzzed headers and bodies — malformed signatures, huge headers, non-UTF-8 bytes, wrong
 * content types, empty bodies, and correctly signed bodies of any shape — never crash
 * the process and never get a 5xx (the documented 503 needs a backend down, and both are
 * up here). A 2xx only ever answers a stored event or a handshake.
 */
const names = webhookTestNames('whfuzz');
const MAX = 8192;
const stripe = new Stripe('sk_test_not_used');
const K = {
  stripe: 'whsec_' + randomBytes(8).toString('hex'),
  github: 'gh-' + randomBytes(8).toString('hex'),
  slack: 'sl-' + randomBytes(8).toString('hex'),
  shopify: 'sh-' + randomBytes(8).toString('hex'),
  standard: 'whsec_' + randomBytes(24).toString('base64'),
  twilio: 'tw-' + randomBytes(8).toString('hex'),
  hmac: 'hm-' + randomBytes(8).toString('hex'),
};
const SOURCES = [
  { name: 'stripe', provider: 'stripe', secrets: [K.stripe], rateLimit: false },
  { name: 'github', provider: 'github', secrets: [K.github], rateLimit: false },
  { name: 'slack', provider: 'slack', secrets: [K.slack], rateLimit: false },
  { name: 'shopify', provider: 'shopify', secrets: [K.shopify], rateLimit: false },
  { name: 'standard', provider: 'standard', secrets: [K.standard], rateLimit: false },
  { name: 'twilio', provider: 'twilio', secrets: [K.twilio], rateLimit: false },
  { name: 'hmac', provider: 'hmac', secrets: [K.hmac], rateLimit: false, header: 'X-Sig', deliveryIdHeader: 'X-Id', typeField: 'type' },
  { name: 'limited', provider: 'github', secrets: [K.github], rateLimit: { perSecond: 5, burst: 5 }, allowCidrs: ['127.0.0.0/8'] },
];
const PROVIDER_HEADERS = [
  'stripe-signature',
  'x-hub-signature-256',
  'x-github-event',
  'x-github-delivery',
  'x-slack-signature',
  'x-slack-request-timestamp',
  'x-shopify-hmac-sha256',
  'x-shopify-topic',
  'x-shopify-webhook-id',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
  'svix-id',
  'svix-timestamp',
  'svix-signature',
  'x-twilio-signature',
  'i-twilio-idempotency-token',
  'x-sig',
  'x-id',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
];
const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/x-www-form-urlencoded',
  'text/plain',
  'application/cloudevents+json',
  'multipart/form-data; boundary=x',
  '',
];

let service: IngestService;

beforeAll(async () => {
  await requireSharedServers();
  service = await startIngest(webhookEnv(names, SOURCES, { WEBHOOK_MAX_BYTES: String(MAX), TRUSTED_PROXIES: '127.0.0.1' }));
});

afterAll(async () => {
  await service?.stop();
  await cleanUp(names);
});

interface Reply {
  status: number;
  body: string;
}

/** A raw HTTP request (fetch refuses some of the header bytes we want to send). */
function send(path: string, headers: Record<string, string>, body: Uint8Array): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${service.url}${path}`, { method: 'POST', headers: { ...headers, 'content-length': String(body.length) } });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    // The server may close on a refusal (413) while we still write: that is an answer, not a crash.
    req.on('error', (err: NodeJS.ErrnoException) =>
      err.code === 'ECONNRESET' || err.code === 'EPIPE' ? resolve({ status: 0, body: '' }) : reject(err),
    );
    req.end(body);
  });
}

function expectSane(reply: Reply): void {
  if (reply.status === 0) return;
  expect(reply.status).toBeGreaterThanOrEqual(200);
  expect(reply.status).toBeLessThan(500);
  if (reply.status < 300) expect(reply.body).toMatch(/"accepted":true|"duplicate":true|"pong":true|"challenge"/);
}

/** Header values Node's client can send: tab, visible ASCII, latin-1 high bytes. */
const headerValue = fc.oneof(
  fc.string({ unit: fc.constantFrom(...'\t !"#$%&\'()*+,-./0123456789:;<=>?@ABCZabcz[\\]^_`{|}~\u00a0\u00ff'.split('')), maxLength: 200 }),
  fc.stringMatching(
    /^(t=\d{1,12},v1=[0-9a-f]{0,70}|sha256=[0-9a-fA-F]{0,70}|v0=[0-9a-f]{64}|v1,[A-Za-z0-9+/=]{0,50}( v1,[A-Za-z0-9+/=]{44})?|[A-Za-z0-9+/=]{20,60}|\d{1,15})$/,
  ),
  fc.nat({ max: 6000 }).map((n) => 'a'.repeat(n)),
);
const body = fc.oneof(
  fc.uint8Array({ maxLength: 600 }),
  fc.json().map((j) => new TextEncoder().encode(j)),
  fc.constant(new Uint8Array(0)),
  fc.nat({ max: MAX * 2 }).map((n) => new Uint8Array(n).fill(0x7b)),
);
const path = fc.oneof(
  fc.constantFrom(...SOURCES.map((s) => `/v1/webhooks/${s.name}`)),
  fc.stringMatching(/^[A-Za-z0-9%._~-]{0,40}$/).map((s) => `/v1/webhooks/${s}`),
  fc.constantFrom('/v1/webhooks/stripe?x=%ZZ', '/v1/webhooks/%E0%A4%A', '/v1/webhooks/github/extra'),
);

it('never crashes or answers 5xx to fuzzed headers and bodies', async () => {
  await fc.assert(
    fc.asyncProperty(
      path,
      fc.constantFrom(...CONTENT_TYPES),
      fc.dictionary(fc.constantFrom(...PROVIDER_HEADERS), headerValue, { maxKeys: 8 }),
      body,
      async (p, contentType, headers, bytes) => {
        const all = contentType === '' ? headers : { ...headers, 'content-type': contentType };
        expectSane(await send(p, all, bytes));
      },
    ),
    { numRuns: 400 },
  );
  expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
});

it('never answers 5xx to correctly signed bodies of any shape, and stores only what it acknowledged', async () => {
  const now = (): number => Math.floor(Date.now() / 1000);
  const signers: Record<string, (b: Buffer) => Record<string, string>> = {
    stripe: (b) => ({ 'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload: b.toString('utf8'), secret: K.stripe }) }),
    github: (b) => ({
      'x-hub-signature-256': 'sha256=' + createHmac('sha256', K.github).update(b).digest('hex'),
      'x-github-event': 'push',
      'x-github-delivery': randomBytes(8).toString('hex'),
    }),
    slack: (b) => {
      const ts = String(now());
      return {
        'x-slack-request-timestamp': ts,
        'x-slack-signature': 'v0=' + createHmac('sha256', K.slack).update(`v0:${ts}:`).update(b).digest('hex'),
      };
    },
    shopify: (b) => ({
      'x-shopify-hmac-sha256': createHmac('sha256', K.shopify).update(b).digest('base64'),
      'x-shopify-topic': 'orders/create',
      'x-shopify-webhook-id': randomBytes(8).toString('hex'),
    }),
    standard: (b) => {
      const id = 'msg_' + randomBytes(6).toString('hex');
      const ts = now();
      return {
        'webhook-id': id,
        'webhook-timestamp': String(ts),
        'webhook-signature': new Webhook(K.standard).sign(id, new Date(ts * 1000), b.toString('utf8')),
      };
    },
    hmac: (b) => ({ 'x-sig': createHmac('sha256', K.hmac).update(b).digest('hex'), 'x-id': randomBytes(8).toString('hex') }),
  };
  const accepted: string[] = [];
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...Object.keys(signers)),
      fc.constantFrom('application/json', 'application/x-www-form-urlencoded', 'text/plain'),
      fc.oneof(
        fc.json(),
        fc
          .record({ id: fc.string(), type: fc.string(), event: fc.anything(), action: fc.anything(), event_id: fc.string() })
          .map((o) => JSON.stringify(o)),
        fc.string(),
      ),
      async (source, contentType, text) => {
        const bytes = Buffer.from(text, 'utf8');
        const reply = await send(`/v1/webhooks/${source}`, { 'content-type': contentType, ...signers[source](bytes) }, bytes);
        expectSane(reply);
        if (reply.status === 202) accepted.push((JSON.parse(reply.body) as { id: string }).id);
      },
    ),
    { numRuns: 300 },
  );
  const stored = (await readEvents(service)).map((e) => e.event.id);
  expect(stored.sort()).toEqual([...accepted].sort());
  expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
});
