import type { WebhookSourceOf } from '@switchboard/config';
import { createHash } from 'node:crypto';
import { getExpectedTwilioSignature } from 'twilio/lib/webhooks/webhooks';
import { TwilioVerifier } from './twilio.verifier';
import { expectRejected, expectVerified, flipByte, flipChar, webhookRequest } from './verifier.spec-helpers';

const TOKEN = '12345';
const source = (secrets: string[], extra: Partial<WebhookSourceOf<'twilio'>> = {}): WebhookSourceOf<'twilio'> => ({
  name: 'sms',
  provider: 'twilio',
  secrets,
  toleranceSeconds: 300,
  rateLimit: false,
  eventType: 'message',
  ...extra,
});

const URL = 'https://mycompany.com/myapp.php?foo=1&bar=2';
const PARAMS = { CallSid: 'CA1234567890ABCDE', Caller: '+14158675309', Digits: '1234', From: '+14158675309', To: '+18005551212' };
const FORM = new URLSearchParams(PARAMS).toString();

function signed(url: string, form: string, token: string, params: Record<string, string | string[]>, signedUrl = url) {
  return webhookRequest({
    headers: { 'x-twilio-signature': getExpectedTwilioSignature(token, signedUrl, params) },
    body: form,
    mediaType: 'application/x-www-form-urlencoded',
    url,
  });
}

describe('TwilioVerifier', () => {
  const verifier = new TwilioVerifier(source(['old-token', TOKEN]));

  it("verifies Twilio's documented example, signed by the twilio library too", () => {
    const request = signed(URL, FORM, TOKEN, PARAMS);
    expect(request.headers['x-twilio-signature']).toBe('RSOYDt4T1cUTdK1PDd93/VVr8B8=');
    const verified = expectVerified(verifier.verify(request));
    expect(verified).toMatchObject({ secretIndex: 1, replayable: true });
    expect(verifier.describe({ ...request, headers: { ...request.headers, 'i-twilio-idempotency-token': 'tok-1' } }, verified)).toEqual({
      kind: 'event',
      deliveryId: 'tok-1',
      type: 'twilio.message',
      data: { data: { ...PARAMS } },
      dataContentType: 'application/json',
    });
    expect(verifier.describe(request, verified)).toMatchObject({ deliveryId: `sig:${verified.signature}` });
  });

  it('sorts repeated fields like the library and tries the URL with and without the default port', () => {
    const params = { b: ['2', '1'], a: 'x y' };
    const form = 'b=2&a=x+y&b=1';
    expectVerified(verifier.verify(signed('https://h.example/cb', form, TOKEN, params, 'https://h.example:443/cb')));
    expectVerified(verifier.verify(signed('https://h.example:443/cb', form, TOKEN, params, 'https://h.example/cb')));
  });

  it('uses publicUrl (with the request query) when configured', () => {
    const proxied = new TwilioVerifier(source([TOKEN], { publicUrl: 'https://public.example/hooks/sms' }));
    const request = signed('http://10.0.0.5:8080/v1/webhooks/sms?x=1', FORM, TOKEN, PARAMS, 'https://public.example/hooks/sms?x=1');
    expectVerified(proxied.verify(request));
    expectRejected(verifier.verify(request), 'signature_mismatch');
  });

  it('verifies JSON bodies through bodySHA256', () => {
    const body = '{"event":"status","sid":"SM1"}';
    const url = `https://h.example/cb?bodySHA256=${createHash('sha256').update(body).digest('hex')}`;
    const request = webhookRequest({
      headers: { 'x-twilio-signature': getExpectedTwilioSignature(TOKEN, url, {}) },
      body,
      url,
    });
    expectVerified(verifier.verify(request));
    expectRejected(verifier.verify({ ...request, body: flipByte(request.body) }), 'signature_mismatch');
    expectRejected(verifier.verify({ ...request, url: 'https://h.example/cb' }), 'signature_mismatch');
  });

  it('refuses one flipped byte in the body, the URL, the signature or the token', () => {
    const request = signed(URL, FORM, TOKEN, PARAMS);
    expectRejected(verifier.verify({ ...request, body: Buffer.from(FORM.replace('1234', '1235')) }), 'signature_mismatch');
    expectRejected(verifier.verify({ ...request, url: URL.replace('foo=1', 'foo=2') }), 'signature_mismatch');
    const sig = String(request.headers['x-twilio-signature']);
    expectRejected(verifier.verify({ ...request, headers: { 'x-twilio-signature': flipChar(sig, 4) } }), 'signature_mismatch');
    expectRejected(verifier.verify(signed(URL, FORM, '12346', PARAMS)), 'signature_mismatch');
  });

  it('names missing and malformed signatures', () => {
    const request = signed(URL, FORM, TOKEN, PARAMS);
    expectRejected(verifier.verify({ ...request, headers: {} }), 'missing_header');
    expectRejected(verifier.verify({ ...request, headers: { 'x-twilio-signature': 'abcd' } }), 'malformed_header');
    expectRejected(verifier.verify({ ...request, mediaType: 'text/xml' }), 'unsupported_media_type');
  });
});
