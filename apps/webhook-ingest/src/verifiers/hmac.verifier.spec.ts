import type { WebhookSourceOf } from '@switchboard/config';
import { createHash, createHmac } from 'node:crypto';
import { HmacVerifier } from './hmac.verifier';
import { expectRejected, expectVerified, flipByte, webhookRequest } from './verifier.spec-helpers';

function source(extra: Partial<WebhookSourceOf<'hmac'>> = {}): WebhookSourceOf<'hmac'> {
  return {
    name: 'billing',
    provider: 'hmac',
    secrets: ['first', 'second'],
    toleranceSeconds: 300,
    rateLimit: false,
    header: 'x-signature',
    algorithm: 'sha256',
    encoding: 'hex',
    prefix: 'sha256=',
    ...extra,
  };
}

const body = '{"kind":"invoice.created","data":{"id":1}}';

describe('HmacVerifier', () => {
  it('verifies the configured header, prefix, algorithm and encoding', () => {
    const verifier = new HmacVerifier(source());
    const sig = 'sha256=' + createHmac('sha256', 'second').update(body).digest('hex');
    const request = webhookRequest({ headers: { 'x-signature': sig }, body });
    expect(expectVerified(verifier.verify(request))).toMatchObject({ secretIndex: 1, replayable: false });
    expect(verifier.describe(request)).toEqual({
      kind: 'event',
      deliveryId: createHash('sha256').update(body).digest('hex'),
      type: 'billing.event',
      data: { data: JSON.parse(body) },
      dataContentType: 'application/json',
    });
    expectRejected(verifier.verify({ ...request, body: flipByte(request.body) }), 'signature_mismatch');
    expectRejected(verifier.verify({ ...request, headers: { 'x-signature': sig.slice(7) } }), 'malformed_header');
    expectRejected(verifier.verify({ ...request, headers: {} }), 'missing_header');
  });

  it.each([
    ['sha1', 'base64'],
    ['sha512', 'hex'],
    ['sha256', 'base64'],
  ] as const)('supports %s in %s', (algorithm, encoding) => {
    const verifier = new HmacVerifier(source({ algorithm, encoding, prefix: '' }));
    const sig = createHmac(algorithm, 'first').update(body).digest(encoding);
    expectVerified(verifier.verify(webhookRequest({ headers: { 'x-signature': sig }, body })));
    const wrongLength = createHmac('md5', 'first').update(body).digest(encoding);
    expectRejected(verifier.verify(webhookRequest({ headers: { 'x-signature': wrongLength }, body })), 'malformed_header');
  });

  it('takes the delivery id header (then replayable) and the type field when configured', () => {
    const verifier = new HmacVerifier(source({ deliveryIdHeader: 'x-delivery', typeField: 'kind' }));
    const sig = 'sha256=' + createHmac('sha256', 'first').update(body).digest('hex');
    const request = webhookRequest({ headers: { 'x-signature': sig, 'x-delivery': 'del-9' }, body });
    expect(expectVerified(verifier.verify(request)).replayable).toBe(true);
    expect(verifier.describe(request)).toMatchObject({ deliveryId: 'del-9', type: 'billing.invoice.created' });
    expectRejected(verifier.verify({ ...request, headers: { 'x-signature': sig } }), 'missing_header');
  });

  it('carries non-JSON bodies as text or base64', () => {
    const verifier = new HmacVerifier(source());
    const binary = Buffer.from([0xff, 0x00, 0xfe]);
    const sign = (b: Buffer | string) => 'sha256=' + createHmac('sha256', 'first').update(b).digest('hex');
    const bin = webhookRequest({ headers: { 'x-signature': sign(binary) }, body: binary, mediaType: 'application/octet-stream' });
    expectVerified(verifier.verify(bin));
    expect(verifier.describe(bin)).toMatchObject({ data: { dataBase64: '/wD+' }, dataContentType: 'application/octet-stream' });
    const text = webhookRequest({ headers: { 'x-signature': sign('hello') }, body: 'hello', mediaType: 'text/plain' });
    expect(verifier.describe(text)).toMatchObject({ data: { data: 'hello' }, dataContentType: 'text/plain' });
    const badJson = webhookRequest({ headers: { 'x-signature': sign('{') }, body: '{' });
    expect(verifier.describe(badJson)).toMatchObject({ ok: false, reason: 'malformed_body' });
  });
});
