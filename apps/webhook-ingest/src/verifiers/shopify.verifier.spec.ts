import type { WebhookSourceOf } from '@switchboard/config';
import { createHmac } from 'node:crypto';
import { ShopifyVerifier } from './shopify.verifier';
import { expectRejected, expectVerified, flipByte, flipChar, webhookRequest } from './verifier.spec-helpers';

const SECRET = 'shpss_0123456789abcdef';
const source = (secrets: string[]): WebhookSourceOf<'shopify'> => ({
  name: 'shop',
  provider: 'shopify',
  secrets,
  toleranceSeconds: 300,
  rateLimit: false,
});

/** Built as Shopify's docs describe: base64(HMAC-SHA256(client secret, raw body)). */
function signed(body: string, secret: string) {
  return webhookRequest({
    headers: {
      'x-shopify-hmac-sha256': createHmac('sha256', secret).update(body, 'utf8').digest('base64'),
      'x-shopify-topic': 'orders/create',
      'x-shopify-webhook-id': 'b54557e4-bdd9-4b37-8a5f-bf7d70bcd043',
      'x-shopify-shop-domain': 'acme.myshopify.com',
    },
    body,
  });
}

const body = '{"id":820982911946154508,"email":"jon@example.com","total_price":"199.65"}';

describe('ShopifyVerifier', () => {
  const verifier = new ShopifyVerifier(source(['previous-secret', SECRET]));

  it('accepts a signed delivery and describes it from its headers', () => {
    const request = signed(body, SECRET);
    expect(expectVerified(verifier.verify(request))).toMatchObject({ secretIndex: 1, replayable: true });
    const described = verifier.describe(request);
    expect(described).toMatchObject({ kind: 'event', deliveryId: 'b54557e4-bdd9-4b37-8a5f-bf7d70bcd043', type: 'shopify.orders/create' });
    // The id is beyond 2^53: the data is JSON.parse's view, the signature was over the exact bytes.
    expect(described).toMatchObject({ data: { data: { email: 'jon@example.com' } } });
  });

  it('refuses one flipped byte in the body, the signature or the secret', () => {
    const request = signed(body, SECRET);
    expectRejected(verifier.verify({ ...request, body: flipByte(request.body) }), 'signature_mismatch');
    const sig = String(request.headers['x-shopify-hmac-sha256']);
    expectRejected(
      verifier.verify({ ...request, headers: { ...request.headers, 'x-shopify-hmac-sha256': flipChar(sig, 3) } }),
      'signature_mismatch',
    );
    expectRejected(verifier.verify(signed(body, flipByte(SECRET, 6).toString())), 'signature_mismatch');
  });

  it('requires its headers and a base64 signature of the right length', () => {
    const request = signed(body, SECRET);
    for (const name of ['x-shopify-hmac-sha256', 'x-shopify-topic', 'x-shopify-webhook-id']) {
      expectRejected(verifier.verify({ ...request, headers: { ...request.headers, [name]: undefined } }), 'missing_header');
    }
    expectRejected(verifier.verify({ ...request, headers: { ...request.headers, 'x-shopify-hmac-sha256': 'abc=' } }), 'malformed_header');
    expectRejected(
      verifier.verify({ ...request, headers: { ...request.headers, 'x-shopify-hmac-sha256': '!'.repeat(44) } }),
      'malformed_header',
    );
    expectRejected(verifier.verify({ ...request, mediaType: 'application/xml' }), 'unsupported_media_type');
  });
});
