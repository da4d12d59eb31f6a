import { Webhook } from 'standardwebhooks';
import { StandardWebhooksFormat } from './standard-webhooks.format';
import { generateWebhookSecret, webhookSecretError, webhookSigningKey } from './webhook-secret';

describe('Standard Webhooks format', () => {
  const format = new StandardWebhooksFormat();
  const event = { id: 'e1', source: 's', type: 'orders.paid', timestamp: '2026-11-02T10:00:00.000Z', data: { a: [1, 'x'], n: null } };

  it('builds {type, timestamp, data} once, in that order', () => {
    expect(Buffer.from(format.body(event)).toString()).toBe(
      '{"type":"orders.paid","timestamp":"2026-11-02T10:00:00.000Z","data":{"a":[1,"x"],"n":null}}',
    );
    expect(Buffer.from(format.body({ ...event, data: undefined })).toString()).toContain('"data":null');
  });

  it('signs as the official library verifies, one v1 signature per active secret', () => {
    const current = generateWebhookSecret();
    const previous = generateWebhookSecret();
    const body = format.body(event);
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = format.headers(
      { webhookId: 'msg_1', timestamp, body },
      { keys: [webhookSigningKey(current), webhookSigningKey(previous)] },
    );
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    for (const secret of [current, previous]) {
      expect(new Webhook(secret).verify(Buffer.from(body).toString(), headers)).toEqual(expect.objectContaining({ type: 'orders.paid' }));
    }
    expect(() => new Webhook(generateWebhookSecret()).verify(Buffer.from(body).toString(), headers)).toThrow();
    // The official signer gives the same signature for the same id, time and body.
    const official = new Webhook(current).sign('msg_1', new Date(timestamp * 1000), Buffer.from(body).toString());
    expect(headers['webhook-signature'].split(' ')[0]).toBe(official);
  });

  it('accepts secrets of 24–64 bytes only', () => {
    expect(webhookSecretError(generateWebhookSecret())).toBeUndefined();
    expect(webhookSecretError('whsec_' + Buffer.alloc(24).toString('base64'))).toBeUndefined();
    expect(webhookSecretError('whsec_' + Buffer.alloc(64).toString('base64'))).toBeUndefined();
    expect(webhookSecretError('whsec_' + Buffer.alloc(23).toString('base64'))).toMatch(/24–64 bytes/);
    expect(webhookSecretError('whsec_' + Buffer.alloc(65).toString('base64'))).toMatch(/24–64 bytes/);
    expect(webhookSecretError('sk_abc')).toMatch(/whsec_/);
    expect(webhookSecretError('whsec_not base64!')).toMatch(/base64/);
  });
});
