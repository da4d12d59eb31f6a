import { RunningService, startService } from '@switchboard/platform';
import { eventually, TEST_JWT_SECRET } from '@switchboard/testing';
import { Webhook } from 'standardwebhooks';
import { notifierDefinition } from '../apps/notifier/src/notifier.definition';
import { standaloneDefinition } from '../apps/standalone/src/standalone.definition';
import { WebhookReceiver } from './support/webhook-receiver';

/**
 * The endpoints API and delivery on the memory engine (the single process without NATS):
 * admin key, validation, Standard Webhooks signing checked with the official library,
 * rotation, attempts log, test event.
 */
// JSON answers, read field by field in the assertions.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;
const ADMIN = 'admin-key-for-tests';
const PUBLISH = 'publish-key-for-tests';

describe('outbound webhooks: endpoints API (memory engine)', () => {
  let service: RunningService;
  const receiver = new WebhookReceiver();
  let hook: string;

  const admin = async (method: string, path: string, body?: unknown, key = ADMIN) => {
    const res = await fetch(service.url + path, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text === '' ? undefined : (JSON.parse(text) as Json) };
  };
  const publish = (id: string, type: string, data: unknown) =>
    service.platform.runtime.eventBus.publish(`events.app.${type}`, {
      specversion: '1.0',
      id,
      source: 'tests',
      type,
      data,
      time: '2026-11-02T10:00:00.000Z',
    });

  beforeAll(async () => {
    hook = await receiver.start();
    service = await startService(notifierDefinition, {
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      ADMIN_API_KEY: ADMIN,
      PUBLISH_API_KEY: PUBLISH,
      OUTBOUND_ALLOW_HTTP: 'true',
      OUTBOUND_ALLOW_CIDRS: '127.0.0.1/32',
      OUTBOUND_RETRY_SCHEDULE: '0.2,0.2',
    });
  });
  afterAll(async () => {
    await service.stop();
    await receiver.close();
  });

  it('takes ADMIN_API_KEY on every admin route, never the publish key', async () => {
    for (const [method, path] of [
      ['GET', '/v1/endpoints'],
      ['POST', '/v1/endpoints'],
      ['GET', '/v1/dlq'],
    ]) {
      for (const key of [PUBLISH, 'wrong', '']) {
        const res = await admin(method, path, undefined, key);
        expect({ path, key, status: res.status, body: res.body }).toMatchObject({
          status: 401,
          body: { error: 'unauthorized', message: 'missing or wrong API key' },
        });
      }
    }
    expect((await admin('GET', '/v1/dlq')).status).toBe(200);
    expect((await admin('GET', '/v1/endpoints')).status).toBe(200);
  });

  it('validates endpoints with a clear message', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ url: hook, events: [] }, /events: must list at least one pattern/],
      [{ url: 'not a url', events: ['*'] }, /url is not an absolute URL/],
      [{ url: 'ftp://example.com/x', events: ['*'] }, /url must be an http or https URL/],
      [{ url: 'http://10.0.0.1/hook', events: ['*'] }, /url 10\.0\.0\.1 is in a blocked range/],
      [{ url: 'http://[::ffff:169.254.169.254]/', events: ['*'] }, /blocked range/],
      [{ url: hook, events: ['*'], secret: 'nope' }, /secret: must be a string "whsec_<base64 key>"/],
      [{ url: hook, events: ['*'], secret: 'whsec_' + Buffer.alloc(8).toString('base64') }, /key of 24–64 bytes/],
      [{ url: hook, events: ['*'], rateLimitPerSecond: 0 }, /rateLimitPerSecond: must be > 0/],
      [{ url: hook, events: ['*'], colour: 'red' }, /unknown field "colour"/],
      ['[1]', /body must be a JSON object/],
      ['{nope', /body is not valid JSON/],
    ];
    for (const [body, message] of cases) {
      const res = await admin('POST', '/v1/endpoints', body);
      expect({ body, status: res.status, error: res.body?.error }).toEqual({ body, status: 400, error: 'bad_request' });
      expect(res.body?.message).toMatch(message);
    }
    expect((await admin('GET', '/v1/endpoints/ep_nope')).status).toBe(404);
    expect((await admin('PATCH', '/v1/endpoints/ep_000000000000000000000000', { description: 'x' })).status).toBe(404);
  });

  it('delivers matching events signed as Standard Webhooks, verified by the official library', async () => {
    const created = await admin('POST', '/v1/endpoints', { url: `${hook}/orders`, events: ['orders.*'], description: 'orders' });
    expect(created.status).toBe(201);
    const ep = created.body!;
    expect(ep).toMatchObject({ url: `${hook}/orders`, events: ['orders.*'], disabled: false, format: 'standard' });
    expect(ep.id).toMatch(/^ep_[0-9a-f]{24}$/);
    expect(ep.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(ep.secret.slice(6), 'base64').length).toBeGreaterThanOrEqual(24);
    // The secret is shown on create (and rotation) only.
    expect((await admin('GET', `/v1/endpoints/${ep.id}`)).body).not.toHaveProperty('secret');

    await publish('o-1', 'orders.paid', { order: 42, total: 9.5 });
    await publish('x-1', 'users.created', { user: 'alice' });
    const [req] = await eventually(() => {
      const got = receiver.byPath('/orders');
      expect(got).toHaveLength(1);
      return got;
    });
    const verified = new Webhook(ep.secret).verify(req.body, req.headers as Record<string, string>);
    expect(verified).toEqual({ type: 'orders.paid', timestamp: '2026-11-02T10:00:00.000Z', data: { order: 42, total: 9.5 } });
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['webhook-id']).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(Math.abs(Number(req.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(30);
    expect(() =>
      new Webhook('whsec_' + Buffer.alloc(32, 1).toString('base64')).verify(req.body, req.headers as Record<string, string>),
    ).toThrow();

    const attempts = await eventually(async () => {
      const res = await admin('GET', `/v1/endpoints/${ep.id}/attempts?status=succeeded`);
      expect(res.body?.attempts).toHaveLength(1);
      return res;
    });
    expect(attempts.body?.attempts).toEqual([
      expect.objectContaining({
        webhookId: req.headers['webhook-id'],
        eventId: 'o-1',
        status: 'succeeded',
        statusCode: 200,
        attempt: 1,
        responseBody: 'ok',
      }),
    ]);
  });

  it('signs with both secrets while a rotation overlaps, each verifying with its own secret', async () => {
    const created = await admin('POST', '/v1/endpoints', { url: `${hook}/rotate`, events: ['rotate.me'] });
    const oldSecret = created.body!.secret as string;
    const rotated = await admin('POST', `/v1/endpoints/${created.body!.id}/rotate-secret`);
    expect(rotated.status).toBe(200);
    const newSecret = rotated.body!.secret as string;
    expect(newSecret).not.toBe(oldSecret);
    const overlapEnds = Date.parse(rotated.body!.previousSecretExpiresAt);
    expect(overlapEnds - Date.now()).toBeGreaterThan(23.9 * 3600_000);

    await publish('r-1', 'rotate.me', { n: 1 });
    const [req] = await eventually(() => {
      const got = receiver.byPath('/rotate');
      expect(got).toHaveLength(1);
      return got;
    });
    const signatures = String(req.headers['webhook-signature']).split(' ');
    expect(signatures).toHaveLength(2);
    expect(signatures.every((s) => s.startsWith('v1,'))).toBe(true);
    const headers = req.headers as Record<string, string>;
    for (const secret of [newSecret, oldSecret])
      expect(new Webhook(secret).verify(req.body, headers)).toEqual(expect.objectContaining({ data: { n: 1 } }));
    // Each signature on its own verifies with its own secret.
    expect(() => new Webhook(newSecret).verify(req.body, { ...headers, 'webhook-signature': signatures[0] })).not.toThrow();
    expect(() => new Webhook(oldSecret).verify(req.body, { ...headers, 'webhook-signature': signatures[1] })).not.toThrow();
    expect(() => new Webhook(oldSecret).verify(req.body, { ...headers, 'webhook-signature': signatures[0] })).toThrow();
  });

  it('updates, lists, sends a test event and deletes', async () => {
    const created = await admin('POST', '/v1/endpoints', { url: `${hook}/misc`, events: ['a.b'], rateLimitPerSecond: 5 });
    const id = created.body!.id as string;
    const patched = await admin('PATCH', `/v1/endpoints/${id}`, { events: ['c.*'], rateLimitPerSecond: null, description: 'changed' });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ events: ['c.*'], description: 'changed' });
    expect(patched.body).not.toHaveProperty('rateLimitPerSecond');
    expect((await admin('PATCH', `/v1/endpoints/${id}`, { secret: 'whsec_x' })).body?.message).toMatch(/rotate-secret/);

    const listed = await admin('GET', '/v1/endpoints');
    expect(listed.body?.endpoints.map((e: { id: string }) => e.id)).toContain(id);
    expect(listed.body?.endpoints.every((e: Record<string, unknown>) => !('secret' in e) && !('secrets' in e))).toBe(true);

    const test = await admin('POST', `/v1/endpoints/${id}/test`);
    expect(test.status).toBe(200);
    expect(test.body?.attempt).toMatchObject({ status: 'succeeded', statusCode: 200, test: true, eventType: 'switchboard.endpoint.test' });
    const [req] = receiver.byPath('/misc');
    expect(new Webhook(created.body!.secret).verify(req.body, req.headers as Record<string, string>)).toMatchObject({
      type: 'switchboard.endpoint.test',
    });

    expect((await admin('DELETE', `/v1/endpoints/${id}`)).status).toBe(204);
    expect((await admin('GET', `/v1/endpoints/${id}`)).status).toBe(404);
    expect((await admin('DELETE', `/v1/endpoints/${id}`)).status).toBe(404);
  });

  it('documents every endpoints route in the OpenAPI description', async () => {
    const doc = (await (await fetch(`${service.url}/docs/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(doc.paths['/v1/endpoints']).sort()).toEqual(['get', 'post']);
    expect(Object.keys(doc.paths['/v1/endpoints/{id}']).sort()).toEqual(['delete', 'get', 'patch']);
    for (const p of ['rotate-secret', 'replay', 'test']) expect(Object.keys(doc.paths[`/v1/endpoints/{id}/${p}`])).toEqual(['post']);
    expect(Object.keys(doc.paths['/v1/endpoints/{id}/attempts'])).toEqual(['get']);
  });
});

describe('outbound webhooks in the single process (npm start, memory engine)', () => {
  it('serves the endpoints API and delivers', async () => {
    const receiver = new WebhookReceiver();
    const hook = await receiver.start();
    const service = await startService(standaloneDefinition, {
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      JWT_SECRET: TEST_JWT_SECRET,
      DRAIN_SECONDS: '0',
      ADMIN_API_KEY: ADMIN,
      OUTBOUND_ALLOW_HTTP: 'true',
      OUTBOUND_ALLOW_CIDRS: '127.0.0.1/32',
    });
    try {
      const created = await fetch(`${service.url}/v1/endpoints`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ url: `${hook}/single`, events: ['*.created'] }),
      });
      expect(created.status).toBe(201);
      const { secret } = (await created.json()) as { secret: string };
      await service.platform.runtime.eventBus.publish('events.app.user', {
        specversion: '1.0',
        id: 'u-1',
        source: 'app',
        type: 'user.created',
        data: { name: 'alice' },
      });
      const [req] = await eventually(() => {
        const got = receiver.byPath('/single');
        expect(got).toHaveLength(1);
        return got;
      });
      expect(new Webhook(secret).verify(req.body, req.headers as Record<string, string>)).toMatchObject({
        type: 'user.created',
        data: { name: 'alice' },
      });
    } finally {
      await service.stop();
      await receiver.close();
    }
  });
});
