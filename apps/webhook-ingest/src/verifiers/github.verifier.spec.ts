import type { WebhookSourceOf } from '@switchboard/config';
import { GithubVerifier } from './github.verifier';
import { expectRejected, expectVerified, flipByte, flipChar, webhookRequest } from './verifier.spec-helpers';

// ESM-only package: loaded with import() (jest runs with --experimental-vm-modules).
type Sign = (secret: string, payload: string) => Promise<string>;
let sign: Sign;
beforeAll(async () => {
  ({ sign } = await import('@octokit/webhooks-methods'));
});

const OLD = 'old-github-secret';
const NEW = 'new-github-secret';
const source = (secrets: string[]): WebhookSourceOf<'github'> => ({
  name: 'gh',
  provider: 'github',
  secrets,
  toleranceSeconds: 300,
  rateLimit: false,
});
const body = '{"action":"opened", "number": 7,\n "repository":{"full_name":"acme/api"}}';

async function signed(payload: string, secret: string, event = 'pull_request', mediaType = 'application/json') {
  return webhookRequest({
    headers: { 'x-hub-signature-256': await sign(secret, payload), 'x-github-event': event, 'x-github-delivery': 'd-1' },
    body: payload,
    mediaType,
  });
}

describe('GithubVerifier', () => {
  const verifier = new GithubVerifier(source([OLD, NEW]));

  it("verifies GitHub's documented example", () => {
    const documented = new GithubVerifier(source(["It's a Secret to Everybody"]));
    const request = webhookRequest({
      headers: {
        'x-hub-signature-256': 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17',
        'x-github-event': 'push',
        'x-github-delivery': 'd-0',
      },
      body: 'Hello, World!',
    });
    expectVerified(documented.verify(request));
  });

  it('accepts @octokit/webhooks-methods signatures with every listed secret and describes the event', async () => {
    const request = await signed(body, OLD);
    const verified = expectVerified(verifier.verify(request));
    expect(verified).toMatchObject({ secretIndex: 0, replayable: true });
    expect(verifier.describe(request)).toEqual({
      kind: 'event',
      deliveryId: 'd-1',
      type: 'github.pull_request.opened',
      data: { data: JSON.parse(body) },
      dataContentType: 'application/json',
    });
    expect(expectVerified(verifier.verify(await signed(body, NEW))).secretIndex).toBe(1);
  });

  it('takes the type from X-GitHub-Event alone when the body has no action', async () => {
    expect(verifier.describe(await signed('{"ref":"refs/heads/main"}', NEW, 'push'))).toMatchObject({ type: 'github.push' });
  });

  it('reads form-encoded deliveries from their payload field', async () => {
    const form = 'payload=' + encodeURIComponent('{"action":"created","zen":"Keep it logically awesome."}');
    const request = await signed(form, NEW, 'issue_comment', 'application/x-www-form-urlencoded');
    expectVerified(verifier.verify(request));
    expect(verifier.describe(request)).toMatchObject({ type: 'github.issue_comment.created', data: { data: { action: 'created' } } });
  });

  it('answers ping as a handshake', async () => {
    const request = await signed('{"zen":"Design for failure.","hook_id":1}', NEW, 'ping');
    expectVerified(verifier.verify(request));
    expect(verifier.describe(request)).toEqual({ kind: 'handshake', name: 'ping', reply: { pong: true } });
  });

  it('refuses one flipped byte in the body, the signature or the secret', async () => {
    const request = await signed(body, NEW);
    expectRejected(verifier.verify({ ...request, body: flipByte(request.body) }), 'signature_mismatch');
    const sig = String(request.headers['x-hub-signature-256']);
    expectRejected(
      verifier.verify({ ...request, headers: { ...request.headers, 'x-hub-signature-256': flipChar(sig, 20) } }),
      'signature_mismatch',
    );
    expectRejected(verifier.verify(await signed(body, flipByte(NEW, 3).toString())), 'signature_mismatch');
  });

  it('requires its headers, the sha256= form and a JSON or form body', async () => {
    const request = await signed(body, NEW);
    for (const name of ['x-hub-signature-256', 'x-github-event', 'x-github-delivery']) {
      expectRejected(verifier.verify({ ...request, headers: { ...request.headers, [name]: undefined } }), 'missing_header');
    }
    const sha1 = { ...request.headers, 'x-hub-signature-256': String(request.headers['x-hub-signature-256']).replace('sha256=', 'sha1=') };
    expectRejected(verifier.verify({ ...request, headers: sha1 }), 'malformed_header');
    expectRejected(verifier.verify({ ...request, headers: { ...request.headers, 'x-github-event': 'a b' } }), 'malformed_header');
    expectRejected(verifier.verify({ ...request, mediaType: 'text/plain' }), 'unsupported_media_type');
  });
});
