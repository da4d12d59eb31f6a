import type { WebhookSourceOf } from '@switchboard/config';
import Stripe from 'stripe';
import { StripeVerifier } from './stripe.verifier';
import { expectRejected, expectVerified, flipByte, flipChar, NOW, webhookRequest } from './verifier.spec-helpers';

const stripe = new Stripe('sk_test_not_used');
const OLD = 'whsec_old_0123456789abcdef';
const NEW = 'whsec_new_fedcba9876543210';

function source(secrets: string[], toleranceSeconds = 300): WebhookSourceOf<'stripe'> {
  return { name: 'stripe-main', provider: 'stripe', secrets, toleranceSeconds, rateLimit: false };
}

// Pretty-printed, keys in Stripe's order: what was signed is these bytes, not a re-serialisation.
const body = '{\n  "id": "evt_1", "object": "event",\n  "type": "payment_intent.succeeded",\n  "data": {"object": {"amount": 100}}\n}';

function signed(payload: string | Buffer, secret: string, timestamp = NOW) {
  const header = stripe.webhooks.generateTestHeaderString({ payload: payload.toString(), secret, timestamp });
  return webhookRequest({ headers: { 'stripe-signature': header }, body: payload });
}

describe('StripeVerifier', () => {
  const verifier = new StripeVerifier(source([OLD, NEW]));

  it('accepts a request signed by stripe-node and describes the event from the body', () => {
    const request = signed(body, NEW);
    const verified = expectVerified(verifier.verify(request, NOW));
    expect(verified.secretIndex).toBe(1);
    expect(verified.replayable).toBe(false);
    expect(verifier.describe(request)).toEqual({
      kind: 'event',
      deliveryId: 'evt_1',
      type: 'stripe.payment_intent.succeeded',
      data: { data: JSON.parse(body) },
      dataContentType: 'application/json',
    });
  });

  it('verifies the raw bytes: the same JSON re-serialised does not match', () => {
    const request = signed(body, OLD);
    expect(expectVerified(verifier.verify(request, NOW)).secretIndex).toBe(0);
    const reserialised = webhookRequest({ headers: request.headers, body: JSON.stringify(JSON.parse(body)) });
    expectRejected(verifier.verify(reserialised, NOW), 'signature_mismatch');
  });

  it('refuses one flipped byte in the body, the signature or the secret', () => {
    const request = signed(body, NEW);
    expectRejected(verifier.verify({ ...request, body: flipByte(request.body) }, NOW), 'signature_mismatch');
    const header = String(request.headers['stripe-signature']);
    const flipped = flipChar(header, header.length - 5);
    expectRejected(verifier.verify({ ...request, headers: { 'stripe-signature': flipped } }, NOW), 'signature_mismatch');
    expectRejected(verifier.verify(signed(body, flipByte(NEW, 8).toString()), NOW), 'signature_mismatch');
  });

  it('refuses timestamps too old and too far in the future, both ways of the tolerance', () => {
    const strict = new StripeVerifier(source([NEW], 60));
    expectVerified(strict.verify(signed(body, NEW, NOW - 60), NOW));
    expectVerified(strict.verify(signed(body, NEW, NOW + 60), NOW));
    expectRejected(strict.verify(signed(body, NEW, NOW - 61), NOW), 'timestamp_too_old');
    expectRejected(strict.verify(signed(body, NEW, NOW + 61), NOW), 'timestamp_too_new');
  });

  it('accepts any v1 entry (Stripe signs with old and new secret while it rolls one)', () => {
    const other = stripe.webhooks.generateTestHeaderString({ payload: body, secret: 'whsec_someone_else', timestamp: NOW });
    const ours = stripe.webhooks.generateTestHeaderString({ payload: body, secret: OLD, timestamp: NOW });
    const header = `${other},v1=${ours.split('v1=')[1]},v0=deadbeef`;
    const verified = expectVerified(verifier.verify(webhookRequest({ headers: { 'stripe-signature': header }, body }), NOW));
    expect(verified.secretIndex).toBe(0);
    expectRejected(new StripeVerifier(source([NEW])).verify(signed(body, OLD), NOW), 'signature_mismatch');
  });

  it('names missing and malformed headers and wrong content types', () => {
    expectRejected(verifier.verify(webhookRequest({ body }), NOW), 'missing_header');
    expectRejected(verifier.verify(webhookRequest({ headers: { 'stripe-signature': 'v1=abc' }, body }), NOW), 'malformed_header');
    expectRejected(verifier.verify(webhookRequest({ headers: { 'stripe-signature': `t=${NOW}` }, body }), NOW), 'malformed_header');
    expectRejected(
      verifier.verify(webhookRequest({ headers: { 'stripe-signature': `t=soon,v1=${'a'.repeat(64)}` }, body }), NOW),
      'malformed_header',
    );
    expectRejected(verifier.verify({ ...signed(body, NEW), mediaType: 'text/plain' }, NOW), 'unsupported_media_type');
  });

  it('refuses a verified body that is not a Stripe event', () => {
    expect(verifier.describe(signed('{"id":"evt_2"}', NEW))).toMatchObject({ ok: false, reason: 'malformed_body' });
    expect(verifier.describe(signed('[1,2]', NEW))).toMatchObject({ ok: false, reason: 'malformed_body' });
  });
});
