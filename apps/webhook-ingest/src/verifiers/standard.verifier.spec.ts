import type { WebhookSourceOf } from '@switchboard/config';
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { StandardVerifier } from './standard.verifier';
import { expectRejected, expectVerified, flipByte, flipChar, NOW, webhookRequest } from './verifier.spec-helpers';

const OLD = 'whsec_' + randomBytes(32).toString('base64');
const NEW = 'whsec_' + randomBytes(24).toString('base64');
const source = (secrets: string[], toleranceSeconds = 300): WebhookSourceOf<'standard'> => ({
  name: 'std',
  provider: 'standard',
  secrets,
  toleranceSeconds,
  rateLimit: false,
});

const body = '{"type":"invoice.paid", "timestamp":"2026-01-01T00:00:00Z","data":{"id":"inv_1"}}';

/** Signed by the official `standardwebhooks` library. */
function signed(payload: string, secret: string, timestamp = NOW, family: 'webhook' | 'svix' = 'webhook', id = 'msg_2Lh9') {
  const signature = new Webhook(secret).sign(id, new Date(timestamp * 1000), payload);
  return webhookRequest({
    headers: { [`${family}-id`]: id, [`${family}-timestamp`]: String(timestamp), [`${family}-signature`]: signature },
    body: payload,
  });
}

describe('StandardVerifier', () => {
  const verifier = new StandardVerifier(source([OLD, NEW]));

  it('accepts the library signature (base64-decoded whsec_ key) and describes the event', () => {
    const request = signed(body, NEW);
    expect(expectVerified(verifier.verify(request, NOW))).toMatchObject({ secretIndex: 1, replayable: false });
    expect(verifier.describe(request)).toEqual({
      kind: 'event',
      deliveryId: 'msg_2Lh9',
      type: 'standard.invoice.paid',
      data: { data: JSON.parse(body) },
      dataContentType: 'application/json',
    });
    // The library accepts what we accept (it reads the clock: sign for now).
    const now = Math.floor(Date.now() / 1000);
    const current = signed(body, NEW, now);
    expectVerified(verifier.verify(current, now));
    expect(() => new Webhook(NEW).verify(body, current.headers as Record<string, string>)).not.toThrow();
  });

  it("accepts Svix's header names", () => {
    const request = signed(body, OLD, NOW, 'svix', 'msg_svix');
    expect(expectVerified(verifier.verify(request, NOW)).secretIndex).toBe(0);
    expect(verifier.describe(request)).toMatchObject({ deliveryId: 'msg_svix' });
  });

  it('accepts any v1 entry of a space-separated list and ignores other versions', () => {
    const ours = String(signed(body, OLD).headers['webhook-signature']);
    const theirs = String(signed(body, 'whsec_' + randomBytes(32).toString('base64')).headers['webhook-signature']);
    const request = signed(body, OLD);
    const headers = { ...request.headers, 'webhook-signature': `v1a,${randomBytes(64).toString('base64')} ${theirs} ${ours}` };
    expect(expectVerified(verifier.verify({ ...request, headers }, NOW)).secretIndex).toBe(0);
  });

  it('refuses one flipped byte in the body, the id, the signature or the secret', () => {
    const request = signed(body, NEW);
    expectRejected(verifier.verify({ ...request, body: flipByte(request.body) }, NOW), 'signature_mismatch');
    expectRejected(verifier.verify({ ...request, headers: { ...request.headers, 'webhook-id': 'msg_2Lh8' } }, NOW), 'signature_mismatch');
    const sig = String(request.headers['webhook-signature']);
    expectRejected(
      verifier.verify({ ...request, headers: { ...request.headers, 'webhook-signature': flipChar(sig, 5) } }, NOW),
      'signature_mismatch',
    );
    const other = new StandardVerifier(source(['whsec_' + flipByte(Buffer.from(NEW.slice(6), 'base64'), 0).toString('base64')]));
    expectRejected(other.verify(request, NOW), 'signature_mismatch');
  });

  it('refuses stale and future timestamps', () => {
    expectRejected(verifier.verify(signed(body, NEW, NOW - 301), NOW), 'timestamp_too_old');
    expectRejected(verifier.verify(signed(body, NEW, NOW + 301), NOW), 'timestamp_too_new');
    expectVerified(verifier.verify(signed(body, NEW, NOW + 300), NOW));
  });

  it('names missing and malformed headers; a body without type is standard.event', () => {
    const request = signed(body, NEW);
    expectRejected(verifier.verify({ ...request, headers: {} }, NOW), 'missing_header');
    expectRejected(verifier.verify({ ...request, headers: { ...request.headers, 'webhook-id': undefined } }, NOW), 'missing_header');
    expectRejected(
      verifier.verify({ ...request, headers: { ...request.headers, 'webhook-signature': 'v1,short' } }, NOW),
      'malformed_header',
    );
    expectRejected(verifier.verify({ ...request, headers: { ...request.headers, 'webhook-timestamp': 'now' } }, NOW), 'malformed_header');
    expect(verifier.describe(signed('{"data":{}}', NEW))).toMatchObject({ type: 'standard.event' });
  });
});
