import { RunningService, ServiceDefinition, startService } from '@switchboard/platform';
import { signToken, TEST_JWT_SECRET } from '@switchboard/testing';
import { gatewayDefinition } from '@switchboard/gateway';
import { notifierDefinition } from '@switchboard/notifier';
import { standaloneDefinition } from '@switchboard/standalone';
import { webhookIngestDefinition } from '@switchboard/webhook-ingest';

const PUBLISH_KEY = 'error-bodies-publish-key-0123456789';
const ADMIN_KEY = 'error-bodies-admin-key-0123456789';
const SOURCES = JSON.stringify([{ name: 'billing', provider: 'hmac', secrets: ['billing-secret'], header: 'X-Signature' }]);

/** Every service in the memory engine, on a free port. */
const env = {
  PORT: '0',
  HOST: '127.0.0.1',
  LOG_LEVEL: 'silent',
  DRAIN_SECONDS: '0',
  JWT_SECRET: TEST_JWT_SECRET,
  PUBLISH_API_KEY: PUBLISH_KEY,
  ADMIN_API_KEY: ADMIN_KEY,
  MAX_MESSAGE_BYTES: '1024',
  WEBHOOK_SOURCES: SOURCES,
  WEBHOOK_MAX_BYTES: '1024',
};

/** One refused request and the code its body must carry. */
interface Refusal {
  name: string;
  path: string;
  init?: RequestInit;
  status: number;
  error: string;
}

const json = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});
const withKey = { authorization: `Bearer ${PUBLISH_KEY}` };
const withAdminKey = { authorization: `Bearer ${ADMIN_KEY}` };

function gatewayRefusals(token: string): Refusal[] {
  return [
    { name: 'unknown route', path: '/nope', status: 404, error: 'not_found' },
    { name: 'poll without a token', path: '/v1/poll?channel=orders:1', status: 401, error: 'unauthorized' },
    { name: 'SSE with a bad token', path: '/v1/sse?channel=orders:1&token=nope', status: 401, error: 'unauthorized' },
    { name: 'ICE servers without a token', path: '/v1/webrtc/ice-servers', status: 401, error: 'unauthorized' },
    { name: 'poll of an invalid channel', path: `/v1/poll?channel=bad..name&token=${token}`, status: 400, error: 'bad_request' },
    {
      name: 'poll with a malformed cursor',
      path: `/v1/poll?channel=orders:1&cursor=%%%&token=${token}`,
      status: 400,
      error: 'bad_request',
    },
  ];
}

const notifierRefusals: Refusal[] = [
  { name: 'unknown route', path: '/v1/nope', status: 404, error: 'not_found' },
  { name: 'publish without a key', path: '/v1/publish', init: json({ channel: 'a', data: 1 }), status: 401, error: 'unauthorized' },
  { name: 'publish of invalid JSON', path: '/v1/publish', init: json('{"channel":', withKey), status: 400, error: 'bad_request' },
  {
    name: 'publish to an invalid channel',
    path: '/v1/publish',
    init: json({ channel: 'a b', data: 1 }, withKey),
    status: 400,
    error: 'bad_request',
  },
  {
    name: 'publish over MAX_MESSAGE_BYTES',
    path: '/v1/publish',
    init: json({ channel: 'a', data: 'x'.repeat(4096) }, withKey),
    status: 413,
    error: 'too_large',
  },
  { name: 'dead letters without a key', path: '/v1/dlq', status: 401, error: 'unauthorized' },
  { name: 'dead letters with the publish key', path: '/v1/dlq', init: { headers: withKey }, status: 401, error: 'unauthorized' },
  { name: 'dead letter of a bad sequence', path: '/v1/dlq/abc', init: { headers: withAdminKey }, status: 400, error: 'bad_request' },
];

const webhookRefusals: Refusal[] = [
  { name: 'unknown route', path: '/v1/nope', status: 404, error: 'not_found' },
  { name: 'unknown source', path: '/v1/webhooks/nobody', init: json({}), status: 404, error: 'not_found' },
  { name: 'unsigned delivery', path: '/v1/webhooks/billing', init: json({ type: 'x' }), status: 401, error: 'unauthorized' },
  {
    name: 'body over WEBHOOK_MAX_BYTES',
    path: '/v1/webhooks/billing',
    init: json({ data: 'x'.repeat(8192) }, { 'x-signature': 'ab' }),
    status: 413,
    error: 'too_large',
  },
];

/** docs/PROTOCOL.md "Errors": every HTTP error of every service is `{"error","message"}`, whatever refused it. */
describe.each<[string, ServiceDefinition<never>, (token: string) => Refusal[]]>([
  ['gateway', gatewayDefinition as ServiceDefinition<never>, gatewayRefusals],
  ['notifier', notifierDefinition as ServiceDefinition<never>, () => notifierRefusals],
  ['webhook-ingest', webhookIngestDefinition as ServiceDefinition<never>, () => webhookRefusals],
  [
    'single process',
    standaloneDefinition as ServiceDefinition<never>,
    (token) => [...gatewayRefusals(token), ...notifierRefusals, ...webhookRefusals.filter((r) => r.name !== 'unknown route')],
  ],
])('error bodies of the %s', (_name, definition, refusals) => {
  let service: RunningService;
  let token: string;
  beforeAll(async () => {
    service = await startService(definition, env);
    token = await signToken({ channels: ['*'] });
  });
  afterAll(() => service.stop());

  it('are {"error":"<code>","message":"<text>"} JSON, with the code of the refusal', async () => {
    const answers = [];
    for (const refusal of refusals(token)) {
      const res = await fetch(service.url + refusal.path, refusal.init);
      const text = await res.text();
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        // Left empty: the comparison below shows the text.
      }
      answers.push({
        name: refusal.name,
        status: res.status,
        type: res.headers.get('content-type')?.split(';')[0],
        error: body.error,
        message: typeof body.message === 'string' && body.message.length > 0 ? 'text' : text,
        nestShape: 'statusCode' in body,
      });
    }
    expect(answers).toEqual(
      refusals(token).map((r) => ({
        name: r.name,
        status: r.status,
        type: 'application/json',
        error: r.error,
        message: 'text',
        nestShape: false,
      })),
    );
  });
});
