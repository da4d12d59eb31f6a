// `helm test`: checks an installed Switchboard end to end, with nothing but Node.js.
//
// 1. /readyz of every enabled service answers 200 (NATS and Redis reachable).
// 2. With a gateway whose HS256 secret this pod can read: a message published to a fresh
//    channel — through the notifier's publish API when its key is known, else as a client
//    over the gateway's WebSocket — is received by a long-poll on the gateway Service. The
//    poll and the publish may land on different pods, so this crosses Redis and NATS.
//
// Environment: SB_GATEWAY_URL, SB_WEBHOOK_INGEST_URL, SB_NOTIFIER_URL (set for enabled
// services), JWT_SECRET, JWT_ISSUER, JWT_AUDIENCE, PUBLISH_API_KEY, SB_TEST_TIMEOUT_SECONDS.
// Prints one line per check; exits 0 when all pass, 1 with the reason otherwise.

import { createHmac, randomUUID } from 'node:crypto';

const env = process.env;
const deadline = Date.now() + Number(env.SB_TEST_TIMEOUT_SECONDS || 60) * 1000;
const services = [
  ['gateway', env.SB_GATEWAY_URL],
  ['webhook-ingest', env.SB_WEBHOOK_INGEST_URL],
  ['notifier', env.SB_NOTIFIER_URL],
].filter(([, url]) => url);

class CheckFailed extends Error {}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const remainingMs = () => Math.max(0, deadline - Date.now());

async function request(url, init = {}) {
  return fetch(url, { ...init, signal: AbortSignal.timeout(Math.max(1000, remainingMs())) });
}

/** Retries `attempt` (which returns a value, or undefined to retry) until the deadline. */
async function until(what, attempt) {
  let last = 'no answer';
  while (remainingMs() > 0) {
    try {
      const value = await attempt();
      if (value !== undefined) return value;
    } catch (err) {
      if (err instanceof CheckFailed) throw err;
      last = err instanceof Error ? err.message : String(err);
    }
    await sleep(1000);
  }
  throw new CheckFailed(`${what}: timed out (${last})`);
}

function base64url(input) {
  return Buffer.from(input).toString('base64url');
}

function hs256Token(claims) {
  const head = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = base64url(JSON.stringify(claims));
  const signature = createHmac('sha256', env.JWT_SECRET).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${signature}`;
}

async function checkReady(name, url) {
  await until(`${name} /readyz`, async () => {
    const res = await request(`${url}/readyz`);
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
    return true;
  });
  console.log(`ok: ${name} /readyz 200`);
}

async function poll(gateway, token, channel, cursor, timeout) {
  const query = new URLSearchParams({ channel, timeout: String(timeout) });
  if (cursor) query.set('cursor', cursor);
  const res = await request(`${gateway}/v1/poll?${query}`, { headers: { authorization: `Bearer ${token}` } });
  if (res.status === 401) throw new CheckFailed('gateway refused the test token (401): is JWT_SECRET the one the gateway uses?');
  if (res.status !== 200) throw new Error(`poll HTTP ${res.status}`);
  return res.json();
}

async function publishViaNotifier(notifier, channel, data) {
  const res = await request(`${notifier}/v1/publish`, {
    method: 'POST',
    headers: { authorization: `Bearer ${env.PUBLISH_API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ channel, data, idempotencyKey: data.nonce }),
  });
  if (res.status === 401) throw new CheckFailed('notifier refused PUBLISH_API_KEY (401)');
  if (res.status !== 200) throw new Error(`publish HTTP ${res.status}`);
  const body = await res.json();
  if (typeof body.offsets?.[channel] !== 'number') throw new CheckFailed(`publish answered without an offset: ${JSON.stringify(body)}`);
}

function publishViaWebSocket(gateway, token, channel, data) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${gateway.replace(/^http/, 'ws')}/v1/ws?token=${encodeURIComponent(token)}`);
    const timer = setTimeout(
      () => {
        ws.close();
        reject(new Error('no WebSocket publish ack'));
      },
      Math.max(1000, remainingMs()),
    );
    ws.onopen = () => ws.send(JSON.stringify({ op: 'publish', id: 1, channel, data }));
    ws.onerror = () => reject(new Error('WebSocket error'));
    ws.onmessage = (event) => {
      const frame = JSON.parse(String(event.data));
      if (frame.id !== 1) return;
      clearTimeout(timer);
      ws.close();
      if (frame.op === 'ack') resolve();
      else
        reject(
          new CheckFailed(
            `WebSocket publish refused: ${frame.code} ${frame.message ?? ''} (CLIENT_PUBLISH_RATE 0 disables client publish)`,
          ),
        );
    };
  });
}

async function roundTrip() {
  const gateway = env.SB_GATEWAY_URL;
  if (!gateway) return console.log('skipped: round trip (the gateway is not enabled)');
  if (!env.JWT_SECRET) return console.log('skipped: round trip (the gateway verifies tokens with a JWKS: this pod cannot sign one)');
  const channel = `helm-test:${randomUUID()}`;
  const now = Math.floor(Date.now() / 1000);
  const token = hs256Token({
    sub: 'helm-test',
    channels: [channel],
    publish: [channel],
    iat: now,
    exp: now + 300,
    ...(env.JWT_ISSUER ? { iss: env.JWT_ISSUER } : {}),
    ...(env.JWT_AUDIENCE ? { aud: env.JWT_AUDIENCE } : {}),
  });
  const start = await until('gateway long-poll position', () => poll(gateway, token, channel, undefined, 0));
  const data = { nonce: randomUUID() };
  const viaNotifier = Boolean(env.SB_NOTIFIER_URL && env.PUBLISH_API_KEY);
  if (viaNotifier) await until('notifier publish', () => publishViaNotifier(env.SB_NOTIFIER_URL, channel, data).then(() => true));
  else await until('gateway WebSocket publish', () => publishViaWebSocket(gateway, token, channel, data).then(() => true));
  await until('message on the gateway long-poll', async () => {
    const reply = await poll(gateway, token, channel, start.cursor, Math.min(20, Math.ceil(remainingMs() / 1000)));
    return reply.messages.some((m) => m.data?.nonce === data.nonce) ? true : undefined;
  });
  console.log(
    `ok: round trip (published via ${viaNotifier ? 'the notifier publish API' : 'a gateway WebSocket'}, received by a gateway long-poll)`,
  );
}

try {
  if (services.length === 0) throw new CheckFailed('no service URL given');
  for (const [name, url] of services) await checkReady(name, url);
  await roundTrip();
  process.exit(0);
} catch (err) {
  console.error(`failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
