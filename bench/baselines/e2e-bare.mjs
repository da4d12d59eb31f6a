// Bare end to end: the least a hand-written server does for webhook → WebSocket and SSE
// clients, in one node:http process. POST /v1/webhooks/gh checks the GitHub signature in
// constant time (hmac-verify.mjs), answers 202 and sends the event's payload, framed once,
// to every WebSocket (ws-broadcast.mjs) and SSE (sse.mjs) subscriber of CHANNEL. No
// store, no routing rules, no dedupe, no second process: the floor of the end to end rows.
import { readBody, serve } from './common.mjs';
import { githubSignatureOk } from './hmac-verify.mjs';
import { sseEvent, sseSubscribers } from './sse.mjs';
import { wsSubscribers } from './ws-broadcast.mjs';

const secret = process.env.WEBHOOK_SECRET ?? 'whsec_bench';
const channel = process.env.CHANNEL ?? 'bench:e2e';

const sse = sseSubscribers();
let ws;
/** `{channel, data}` encoded once, sent as one WebSocket frame and one SSE event. */
const broadcast = (to, data) => {
  const json = JSON.stringify({ channel: to, data });
  ws(to, Buffer.from(json));
  sse.send(to, sseEvent(json));
};
const server = serve(broadcast, async (req, res) => {
  if (req.method !== 'POST' || req.url !== '/v1/webhooks/gh') return sse.accept(req, res);
  const body = await readBody(req).catch(() => undefined);
  if (body === undefined || !githubSignatureOk(secret, body, req.headers['x-hub-signature-256'])) {
    return res.writeHead(401, { 'Content-Type': 'application/json' }).end('{"error":"signature_mismatch"}');
  }
  let data;
  try {
    data = JSON.parse(body.toString('utf8'));
  } catch {
    return res.writeHead(400).end();
  }
  res.writeHead(202, { 'Content-Type': 'application/json' }).end('{"ok":true}');
  broadcast(channel, data);
});
ws = wsSubscribers(server);
