import { createHash, createHmac, randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import Stripe from 'stripe';
import { getExpectedTwilioSignature } from 'twilio/lib/webhooks/webhooks';
import {
  cleanUp,
  IngestService,
  metricValue,
  postWebhook,
  readEvents,
  requireSharedServers,
  startIngest,
  StoredWebhook,
  webhookEnv,
  webhookTestNames,
} from './support/webhook-harness';

/**
 * Every provider end to end on the real engine: requests signed by the provider's own
 * library (or built exactly per its docs) are stored on JetStream with the right subject,
 * type, id and data; one flipped byte, a stale or future timestamp are refused; rotated
 * secret lists accept old and new.
 */
const names = webhookTestNames('whprov');
const stripe = new Stripe('sk_test_not_used');
const S = {
  stripe: ['whsec_old_' + randomBytes(8).toString('hex'), 'whsec_new_' + randomBytes(8).toString('hex')],
  github: ['gh-old-' + randomBytes(8).toString('hex'), 'gh-new-' + randomBytes(8).toString('hex')],
  slack: ['slack-old-' + randomBytes(8).toString('hex'), 'slack-new-' + randomBytes(8).toString('hex')],
  shopify: ['shp-old-' + randomBytes(8).toString('hex'), 'shp-new-' + randomBytes(8).toString('hex')],
  standard: ['whsec_' + randomBytes(32).toString('base64'), 'whsec_' + randomBytes(32).toString('base64')],
  twilio: ['tw-old-' + randomBytes(8).toString('hex'), 'tw-new-' + randomBytes(8).toString('hex')],
  hmac: ['hm-old-' + randomBytes(8).toString('hex'), 'hm-new-' + randomBytes(8).toString('hex')],
};
const SOURCES = [
  { name: 'stripe-main', provider: 'stripe', secrets: S.stripe },
  { name: 'gh', provider: 'github', secrets: S.github },
  { name: 'slack', provider: 'slack', secrets: S.slack },
  { name: 'shop', provider: 'shopify', secrets: S.shopify },
  { name: 'svc', provider: 'standard', secrets: S.standard },
  { name: 'sms', provider: 'twilio', secrets: S.twilio, eventType: 'message.inbound' },
  {
    name: 'billing',
    provider: 'hmac',
    secrets: S.hmac,
    header: 'X-Billing-Signature',
    prefix: 'sha512=',
    algorithm: 'sha512',
    deliveryIdHeader: 'X-Billing-Delivery',
    typeField: 'event.kind',
  },
];

let service: IngestService;
let sign: (secret: string, payload: string) => Promise<string>;
const now = (): number => Math.floor(Date.now() / 1000);
/** One byte changed (ASCII stays ASCII). */
const flip = (text: string, at = Math.floor(text.length / 2)): string =>
  text.slice(0, at) + String.fromCharCode(text.charCodeAt(at) ^ 1) + text.slice(at + 1);
/** One hex digit of a signature changed to another hex digit (still well-formed, no longer matching). */
const flipHex = (text: string, at: number): string => text.slice(0, at) + (text[at] === '0' ? '1' : '0') + text.slice(at + 1);

beforeAll(async () => {
  await requireSharedServers();
  ({ sign } = await import('@octokit/webhooks-methods'));
  // The proxy in front of the ingest is 127.0.0.1 here (the test itself). The cases send
  // dozens of refused deliveries from that one address, and whether they outrun the default
  // unverified budget (10/s, burst 20) depended on the machine's speed: a later valid
  // delivery was once answered 429. That budget has its own tests (webhook-unverified).
  service = await startIngest(webhookEnv(names, SOURCES, { TRUSTED_PROXIES: '127.0.0.1/32', WEBHOOK_UNVERIFIED_RATE: '0' }));
});

afterAll(async () => {
  await service?.stop();
  await cleanUp(names);
});

async function storedWithId(id: string): Promise<StoredWebhook[]> {
  return (await readEvents(service)).filter((e) => e.event.id === id);
}

describe('Stripe', () => {
  // Pretty-printed with Stripe's key order: verified against these bytes, never a re-serialisation.
  const body = `{\n  "id": "evt_${randomBytes(6).toString('hex')}",\n  "object": "event",\n  "type": "payment_intent.succeeded",\n  "data": { "object": { "id": "pi_1", "amount": 2000 } }\n}`;
  const id = (JSON.parse(body) as { id: string }).id;
  const headers = (secret: string, timestamp = now(), payload = body) => ({
    'content-type': 'application/json; charset=utf-8',
    'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp }),
  });

  it('stores a stripe-node signed event with subject, type, id and data', async () => {
    const reply = await postWebhook(service.url, 'stripe-main', body, headers(S.stripe[1]));
    expect(reply).toMatchObject({ status: 202, body: { accepted: true, id } });
    const [stored, ...more] = await storedWithId(id);
    expect(more).toEqual([]);
    expect(stored.subject).toBe(`${names.eventsPrefix}.webhook.stripe-main.stripe.payment_intent.succeeded`);
    expect(stored.event).toEqual({
      specversion: '1.0',
      id,
      source: 'webhook/stripe-main',
      type: 'stripe.payment_intent.succeeded',
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      datacontenttype: 'application/json',
      data: JSON.parse(body),
    });
  });

  it('refuses a flipped byte in body, signature or secret, a stale and a future timestamp', async () => {
    const signedForBody = headers(S.stripe[0]);
    const replies = await Promise.all([
      postWebhook(service.url, 'stripe-main', body.replace('2000', '2001'), signedForBody),
      postWebhook(service.url, 'stripe-main', flip(body), signedForBody),
      postWebhook(service.url, 'stripe-main', body, {
        ...signedForBody,
        'stripe-signature': flipHex(signedForBody['stripe-signature'], 30),
      }),
      postWebhook(service.url, 'stripe-main', body, headers(flip(S.stripe[0], 10))),
      postWebhook(service.url, 'stripe-main', body, headers(S.stripe[0], now() - 301)),
      postWebhook(service.url, 'stripe-main', body, headers(S.stripe[0], now() + 305)), // margin: a second may tick before the check
    ]);
    expect(replies.map((r) => [r.status, r.body.reason])).toEqual([
      [401, 'signature_mismatch'],
      [401, 'signature_mismatch'],
      [401, 'signature_mismatch'],
      [401, 'signature_mismatch'],
      [401, 'timestamp_too_old'],
      [401, 'timestamp_too_new'],
    ]);
    expect(replies[0].body).toEqual({
      error: 'unauthorized',
      reason: 'signature_mismatch',
      message: 'no configured secret matches Stripe-Signature',
    });
  });

  it('accepts the old secret of a rotated list and counts which secret matched', async () => {
    const rotated = body.replace(id, `${id}_old`);
    const before = await metricValue(service.url, 'switchboard_webhook_secret_matches_total{source="stripe-main",secret_index="0"}');
    expect((await postWebhook(service.url, 'stripe-main', rotated, headers(S.stripe[0], now(), rotated))).status).toBe(202);
    expect(await storedWithId(`${id}_old`)).toHaveLength(1);
    expect(await metricValue(service.url, 'switchboard_webhook_secret_matches_total{source="stripe-main",secret_index="0"}')).toBe(
      before + 1,
    );
  });
});

describe('GitHub', () => {
  const body = '{"action":"opened","issue":{"number":1},\n  "repository": {"full_name": "acme/api"}}';

  async function headers(secret: string, delivery: string, event = 'issues', payload = body) {
    return {
      'content-type': 'application/json',
      'x-hub-signature-256': await sign(secret, payload),
      'x-github-event': event,
      'x-github-delivery': delivery,
    };
  }

  it('stores an @octokit/webhooks-methods signed delivery with either secret', async () => {
    const delivery = crypto.randomUUID();
    expect((await postWebhook(service.url, 'gh', body, await headers(S.github[0], delivery))).status).toBe(202);
    const [stored] = await storedWithId(delivery);
    expect(stored.subject).toBe(`${names.eventsPrefix}.webhook.gh.github.issues.opened`);
    expect(stored.event).toMatchObject({ type: 'github.issues.opened', source: 'webhook/gh', data: JSON.parse(body) });
    const second = crypto.randomUUID();
    const payload = body.replace('"number":1', '"number":2');
    expect((await postWebhook(service.url, 'gh', payload, await headers(S.github[1], second, 'issues', payload))).status).toBe(202);
  });

  it('answers ping without storing it', async () => {
    const delivery = crypto.randomUUID();
    const ping = '{"zen":"Non-blocking is better than blocking.","hook_id":42}';
    const reply = await postWebhook(service.url, 'gh', ping, await headers(S.github[1], delivery, 'ping', ping));
    expect(reply).toMatchObject({ status: 200, body: { pong: true } });
    expect(await storedWithId(delivery)).toEqual([]);
  });

  it('refuses a flipped byte in body, signature or secret', async () => {
    const h = await headers(S.github[1], crypto.randomUUID());
    const replies = await Promise.all([
      postWebhook(service.url, 'gh', flip(body), h),
      postWebhook(service.url, 'gh', body, { ...h, 'x-hub-signature-256': flipHex(h['x-hub-signature-256'], 20) }),
      postWebhook(service.url, 'gh', body, await headers(flip(S.github[1]), crypto.randomUUID())),
      postWebhook(service.url, 'gh', body, { ...h, 'x-hub-signature-256': '' }),
    ]);
    expect(replies.map((r) => [r.status, r.body.reason])).toEqual([
      [401, 'signature_mismatch'],
      [401, 'signature_mismatch'],
      [401, 'signature_mismatch'],
      [401, 'missing_header'],
    ]);
  });
});

describe('Slack', () => {
  /** Per Slack's docs: v0=hex(HMAC-SHA256(signing secret, "v0:" + timestamp + ":" + raw body)). */
  function headers(secret: string, body: string, timestamp = now()) {
    return {
      'content-type': 'application/json',
      'x-slack-request-timestamp': String(timestamp),
      'x-slack-signature': 'v0=' + createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex'),
    };
  }

  it('answers url_verification with the challenge', async () => {
    const body = JSON.stringify({
      token: 'Jhj5dZrVaK7ZwHHjRyZWjbDl',
      challenge: 'challenge-' + randomBytes(4).toString('hex'),
      type: 'url_verification',
    });
    const reply = await postWebhook(service.url, 'slack', body, headers(S.slack[0], body));
    expect(reply).toEqual({
      status: 200,
      body: { challenge: (JSON.parse(body) as { challenge: string }).challenge },
      headers: expect.anything(),
    });
  });

  it('stores an Events API callback under its event_id', async () => {
    const eventId = 'Ev' + randomBytes(5).toString('hex').toUpperCase();
    const body = JSON.stringify({ type: 'event_callback', event_id: eventId, event: { type: 'app_mention', text: 'hi', user: 'U1' } });
    expect((await postWebhook(service.url, 'slack', body, headers(S.slack[1], body))).status).toBe(202);
    const [stored] = await storedWithId(eventId);
    expect(stored.subject).toBe(`${names.eventsPrefix}.webhook.slack.slack.app_mention`);
    expect(stored.event).toMatchObject({ type: 'slack.app_mention', data: { event: { text: 'hi' } } });
  });

  it('refuses tampering and timestamps outside the window both ways', async () => {
    const body = JSON.stringify({ type: 'event_callback', event_id: 'EvX', event: { type: 'message' } });
    const replies = await Promise.all([
      postWebhook(service.url, 'slack', flip(body), headers(S.slack[1], body)),
      postWebhook(service.url, 'slack', body, headers(flip(S.slack[1]), body)),
      postWebhook(service.url, 'slack', body, headers(S.slack[1], body, now() - 301)),
      postWebhook(service.url, 'slack', body, headers(S.slack[1], body, now() + 305)), // margin: a second may tick before the check
    ]);
    expect(replies.map((r) => [r.status, r.body.reason])).toEqual([
      [401, 'signature_mismatch'],
      [401, 'signature_mismatch'],
      [401, 'timestamp_too_old'],
      [401, 'timestamp_too_new'],
    ]);
  });
});

describe('Shopify', () => {
  /** Per Shopify's docs: base64(HMAC-SHA256(client secret, raw body)). */
  const headers = (secret: string, body: string, id: string) => ({
    'content-type': 'application/json',
    'x-shopify-hmac-sha256': createHmac('sha256', secret).update(body, 'utf8').digest('base64'),
    'x-shopify-topic': 'orders/create',
    'x-shopify-webhook-id': id,
    'x-shopify-shop-domain': 'acme.myshopify.com',
  });

  it('stores a delivery (topic with a slash, id beyond 2^53 in the body) and refuses tampering', async () => {
    const id = crypto.randomUUID();
    const body = '{"id":820982911946154508,"total_price":"199.65","note":"caf\u00e9"}';
    expect((await postWebhook(service.url, 'shop', body, headers(S.shopify[0], body, id))).status).toBe(202);
    const [stored] = await storedWithId(id);
    expect(stored.subject).toBe(`${names.eventsPrefix}.webhook.shop.shopify.orders_create`);
    expect(stored.event).toMatchObject({ type: 'shopify.orders/create', data: { total_price: '199.65', note: 'café' } });
    const tampered = await postWebhook(service.url, 'shop', body.replace('199', '099'), headers(S.shopify[0], body, crypto.randomUUID()));
    expect([tampered.status, tampered.body.reason]).toEqual([401, 'signature_mismatch']);
  });
});

describe('Standard Webhooks', () => {
  function headers(secret: string, body: string, id: string, timestamp = now(), family = 'webhook') {
    return {
      'content-type': 'application/json',
      [`${family}-id`]: id,
      [`${family}-timestamp`]: String(timestamp),
      [`${family}-signature`]: new Webhook(secret).sign(id, new Date(timestamp * 1000), body),
    };
  }
  const body = '{"type":"invoice.paid","timestamp":"2026-01-01T00:00:00Z","data":{"id":"inv_1"}}';

  it('stores a standardwebhooks-signed message, with webhook-* and svix-* headers', async () => {
    const id = 'msg_' + randomBytes(6).toString('hex');
    expect((await postWebhook(service.url, 'svc', body, headers(S.standard[0], body, id))).status).toBe(202);
    const [stored] = await storedWithId(id);
    expect(stored.subject).toBe(`${names.eventsPrefix}.webhook.svc.standard.invoice.paid`);
    expect(stored.event).toMatchObject({ type: 'standard.invoice.paid', data: { data: { id: 'inv_1' } } });
    const svix = 'msg_' + randomBytes(6).toString('hex');
    expect((await postWebhook(service.url, 'svc', body, headers(S.standard[1], body, svix, now(), 'svix'))).status).toBe(202);
  });

  it('refuses tampering and timestamps outside the window both ways', async () => {
    const id = 'msg_' + randomBytes(6).toString('hex');
    const h = headers(S.standard[0], body, id);
    const replies = await Promise.all([
      postWebhook(service.url, 'svc', flip(body), h),
      postWebhook(service.url, 'svc', body, { ...h, 'webhook-id': flip(id) }),
      postWebhook(service.url, 'svc', body, headers(S.standard[0], body, id, now() - 400)),
      postWebhook(service.url, 'svc', body, headers(S.standard[0], body, id, now() + 400)),
    ]);
    expect(replies.map((r) => [r.status, r.body.reason])).toEqual([
      [401, 'signature_mismatch'],
      [401, 'signature_mismatch'],
      [401, 'timestamp_too_old'],
      [401, 'timestamp_too_new'],
    ]);
    expect(await storedWithId(id)).toEqual([]);
  });
});

describe('Twilio', () => {
  const params = { MessageSid: 'SM' + randomBytes(16).toString('hex'), From: '+14158675309', To: '+18005551212', Body: 'Hello & ünïcode' };
  const form = new URLSearchParams(params).toString();

  it('verifies the URL rebuilt from the trusted proxy headers and stores the form fields', async () => {
    const publicUrl = 'https://hooks.example.com/v1/webhooks/sms?tenant=7';
    const token = 'tok-' + randomBytes(6).toString('hex');
    const response = await fetch(`${service.url}/v1/webhooks/sms?tenant=7`, {
      method: 'POST',
      body: form,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'hooks.example.com',
        'x-twilio-signature': getExpectedTwilioSignature(S.twilio[1], publicUrl, params),
        'i-twilio-idempotency-token': token,
      },
    });
    expect(response.status).toBe(202);
    const [stored] = await storedWithId(token);
    expect(stored.subject).toBe(`${names.eventsPrefix}.webhook.sms.twilio.message.inbound`);
    expect(stored.event).toMatchObject({ type: 'twilio.message.inbound', data: params });
  });

  it('refuses the same signature for the URL the proxy did not forward', async () => {
    const reply = await postWebhook(service.url, 'sms', form, {
      'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': getExpectedTwilioSignature(S.twilio[1], 'https://hooks.example.com/v1/webhooks/sms', params),
    });
    expect([reply.status, reply.body.reason]).toEqual([401, 'signature_mismatch']);
  });
});

describe('generic HMAC', () => {
  it('verifies the configured header, prefix and algorithm and takes id and type as configured', async () => {
    const delivery = 'bill-' + randomBytes(6).toString('hex');
    const body = '{"event":{"kind":"invoice.created"},"amount":12}';
    const signature = 'sha512=' + createHmac('sha512', S.hmac[0]).update(body).digest('hex');
    const h = { 'content-type': 'application/json', 'x-billing-signature': signature, 'x-billing-delivery': delivery };
    expect((await postWebhook(service.url, 'billing', body, h)).status).toBe(202);
    const [stored] = await storedWithId(delivery);
    expect(stored.subject).toBe(`${names.eventsPrefix}.webhook.billing.billing.invoice.created`);
    expect(stored.event).toMatchObject({ type: 'billing.invoice.created', data: { amount: 12 } });
    const wrong = await postWebhook(service.url, 'billing', body, {
      ...h,
      'x-billing-signature': 'sha512=' + createHash('sha512').update(body).digest('hex'),
    });
    expect([wrong.status, wrong.body.reason]).toEqual([401, 'signature_mismatch']);
  });
});

describe('metrics', () => {
  it('counts results by source, outcome and reason, and never labels an unknown name', async () => {
    await postWebhook(service.url, 'no-such-source-' + randomBytes(3).toString('hex'), '{}', { 'content-type': 'application/json' });
    const text = await (await fetch(`${service.url}/metrics`)).text();
    expect(text).toMatch(/switchboard_webhook_requests_total\{source="stripe-main",outcome="accepted",reason="stored"\} [1-9]/);
    expect(text).toMatch(/switchboard_webhook_requests_total\{source="stripe-main",outcome="rejected",reason="timestamp_too_new"\} 1/);
    expect(text).toMatch(/switchboard_webhook_requests_total\{source="_unknown",outcome="rejected",reason="unknown_source"\} [1-9]/);
    expect(text).toMatch(/switchboard_webhook_requests_total\{source="slack",outcome="handshake",reason="url_verification"\} 1/);
    expect(text).toMatch(/switchboard_webhook_verify_seconds_count\{provider="twilio"\} [1-9]/);
    expect(text).not.toContain('no-such-source');
    for (const secrets of Object.values(S)) for (const secret of secrets) expect(text).not.toContain(secret);
  });
});
