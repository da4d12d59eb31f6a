// Bare HMAC-verify endpoint: POST /v1/webhooks/:source reads the raw body, checks a
// Stripe (`Stripe-Signature` t=…,v1=…) or GitHub (`X-Hub-Signature-256`) signature in
// constant time and answers 202. Nothing is stored: the floor for webhook-ingest.
// `githubSignatureOk` is shared with e2e-bare.mjs, `signatureOk` and `serveWebhooks` with
// stored-ingest.mjs.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';

const equal = (a, b) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/** Whether `header` (X-Hub-Signature-256) is `sha256=<hex HMAC of body>` under `secret`, compared in constant time. */
export function githubSignatureOk(secret, body, header) {
  return typeof header === 'string' && equal(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`, header);
}

/** Whether `req` carries a valid Stripe (within 5 minutes) or GitHub signature of `body` under `secret`. */
export function signatureOk(req, body, secret) {
  const stripe = req.headers['stripe-signature'];
  const github = req.headers['x-hub-signature-256'];
  if (typeof stripe === 'string') {
    const parts = Object.fromEntries(stripe.split(',').map((p) => p.split('=')));
    const expected = createHmac('sha256', secret).update(`${parts.t}.`).update(body).digest('hex');
    return Math.abs(Date.now() / 1000 - Number(parts.t)) < 300 && equal(expected, parts.v1 ?? '');
  }
  return typeof github === 'string' && githubSignatureOk(secret, body, github);
}

/**
 * Serves every request on PORT (but /healthz) with `answer(req, body)`, the status or a
 * promise of it: 2xx `{"ok":true}`, 401 the signature error, anything else (a rejection:
 * 503) without a body. Shared with stored-ingest.mjs.
 */
export function serveWebhooks(answer) {
  const reply = (res, status) => {
    if (status < 300) res.writeHead(status, { 'Content-Type': 'application/json' }).end('{"ok":true}');
    else if (status === 401) res.writeHead(401, { 'Content-Type': 'application/json' }).end('{"error":"signature_mismatch"}');
    else res.writeHead(status).end();
  };
  // The bench stops a profiled server with SIGTERM: exit normally so --cpu-prof writes its profile.
  process.on('SIGTERM', () => process.exit(0));
  createServer((req, res) => {
    if (req.url === '/healthz') return res.writeHead(200).end('ok');
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const status = answer(req, Buffer.concat(chunks));
      if (typeof status === 'number') reply(res, status);
      else
        status.then(
          (s) => reply(res, s),
          () => reply(res, 503),
        );
    });
  }).listen(Number(process.env.PORT), '127.0.0.1');
}

if (import.meta.main) {
  const secret = process.env.WEBHOOK_SECRET ?? 'whsec_bench';
  serveWebhooks((req, body) => (signatureOk(req, body, secret) ? 202 : 401));
}
