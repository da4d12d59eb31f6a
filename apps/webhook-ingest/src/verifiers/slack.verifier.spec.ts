import type { WebhookSourceOf } from '@switchboard/config';
import { createHmac } from 'node:crypto';
import { SlackVerifier } from './slack.verifier';
import { expectRejected, expectVerified, flipByte, flipChar, NOW, webhookRequest } from './verifier.spec-helpers';

const SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
const source = (secrets: string[], toleranceSeconds = 300): WebhookSourceOf<'slack'> => ({
  name: 'slack',
  provider: 'slack',
  secrets,
  toleranceSeconds,
  rateLimit: false,
});

/** Built as Slack's "Verifying requests from Slack" describes: v0=hex(HMAC-SHA256(secret, "v0:" + ts + ":" + body)). */
function signed(body: string, secret: string, timestamp = NOW, mediaType = 'application/json') {
  const signature = 'v0=' + createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex');
  return webhookRequest({ headers: { 'x-slack-signature': signature, 'x-slack-request-timestamp': String(timestamp) }, body, mediaType });
}

// Slack's documented example (a slash command).
const DOC_BODY =
  'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
const DOC_SIGNATURE = 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503';
const DOC_TS = 1531420618;

const event = '{"type":"event_callback","event_id":"Ev123","event":{"type":"app_mention","text":"hi"}}';

describe('SlackVerifier', () => {
  const verifier = new SlackVerifier(source(['old-slack-secret', SECRET]));

  it("verifies Slack's documented example and describes the slash command", () => {
    const request = webhookRequest({
      headers: { 'x-slack-signature': DOC_SIGNATURE, 'x-slack-request-timestamp': String(DOC_TS) },
      body: DOC_BODY,
      mediaType: 'application/x-www-form-urlencoded',
    });
    const verified = expectVerified(verifier.verify(request, DOC_TS + 10));
    expect(verified).toMatchObject({ secretIndex: 1, replayable: false });
    expect(verifier.describe(request, verified)).toMatchObject({
      kind: 'event',
      deliveryId: `${DOC_TS}:${DOC_SIGNATURE.slice(3)}`,
      type: 'slack.slash_command',
      data: { data: { command: '/webhook-collect', team_id: 'T1DC2JH3J' } },
    });
  });

  it('takes delivery id and type from an Events API body', () => {
    const request = signed(event, SECRET);
    const verified = expectVerified(verifier.verify(request, NOW));
    expect(verifier.describe(request, verified)).toEqual({
      kind: 'event',
      deliveryId: 'Ev123',
      type: 'slack.app_mention',
      data: { data: JSON.parse(event) },
      dataContentType: 'application/json',
    });
  });

  it('answers url_verification with its challenge', () => {
    const request = signed(
      '{"token":"t","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}',
      SECRET,
    );
    const verified = expectVerified(verifier.verify(request, NOW));
    expect(verifier.describe(request, verified)).toEqual({
      kind: 'handshake',
      name: 'url_verification',
      reply: { challenge: '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P' },
    });
  });

  it('reads interactivity payloads', () => {
    const form = 'payload=' + encodeURIComponent('{"type":"block_actions","actions":[]}');
    const request = signed(form, SECRET, NOW, 'application/x-www-form-urlencoded');
    const verified = expectVerified(verifier.verify(request, NOW));
    expect(verifier.describe(request, verified)).toMatchObject({ type: 'slack.block_actions', data: { data: { type: 'block_actions' } } });
  });

  it('refuses one flipped byte in the body, the signature, the timestamp or the secret', () => {
    const request = signed(event, SECRET);
    expectRejected(verifier.verify({ ...request, body: flipByte(request.body) }, NOW), 'signature_mismatch');
    const sig = String(request.headers['x-slack-signature']);
    expectRejected(
      verifier.verify({ ...request, headers: { ...request.headers, 'x-slack-signature': flipChar(sig, 10) } }, NOW),
      'signature_mismatch',
    );
    const ts = { ...request.headers, 'x-slack-request-timestamp': String(NOW + 1) };
    expectRejected(verifier.verify({ ...request, headers: ts }, NOW), 'signature_mismatch');
    expectRejected(verifier.verify(signed(event, flipByte(SECRET, 0).toString()), NOW), 'signature_mismatch');
  });

  it('refuses stale and future timestamps', () => {
    const strict = new SlackVerifier(source([SECRET], 120));
    expectVerified(strict.verify(signed(event, SECRET, NOW - 120), NOW));
    expectRejected(strict.verify(signed(event, SECRET, NOW - 121), NOW), 'timestamp_too_old');
    expectRejected(strict.verify(signed(event, SECRET, NOW + 121), NOW), 'timestamp_too_new');
  });

  it('names missing and malformed headers', () => {
    const request = signed(event, SECRET);
    expectRejected(verifier.verify({ ...request, headers: { ...request.headers, 'x-slack-signature': undefined } }, NOW), 'missing_header');
    expectRejected(
      verifier.verify({ ...request, headers: { ...request.headers, 'x-slack-request-timestamp': undefined } }, NOW),
      'missing_header',
    );
    expectRejected(
      verifier.verify({ ...request, headers: { ...request.headers, 'x-slack-request-timestamp': '1e9' } }, NOW),
      'malformed_header',
    );
    expectRejected(verifier.verify({ ...request, headers: { ...request.headers, 'x-slack-signature': 'v1=00' } }, NOW), 'malformed_header');
    expectRejected(verifier.verify({ ...request, mediaType: 'application/xml' }, NOW), 'unsupported_media_type');
  });
});
