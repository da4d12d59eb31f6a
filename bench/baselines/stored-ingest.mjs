// The floor of a stored webhook: hmac-verify.mjs's check, then what storing it durably takes
// at the least — one JetStream publish of the event (a CloudEvent around the raw body, with
// the delivery's id as `Nats-Msg-Id`, so JetStream drops a redelivery within its window),
// awaited for its ack, then 202. Into a stream made as the platform makes EVENTS, with the
// same client as ours: nats.js and the engine's `JetStreamPublisher` (nats.js's own
// `js.publish` cost this server ~40 % more CPU per request, and JetStream twice as much,
// since it writes each publish apart: not a floor). What ours does beyond it — the Redis
// delivery ledger (a redelivery answered `duplicate` for 24 h, not only within the stream's
// 2 minutes), the replay guard, rate limits, metrics — is ours' own cost. Run with
// --experimental-transform-types (the publisher is TypeScript with parameter properties).
import { jetstreamManager, StorageType } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { JetStreamPublisher } from '../../libs/engine/src/nats-redis/jetstream-publisher.ts';
import { signatureOk } from './hmac-verify.mjs';

const secret = process.env.WEBHOOK_SECRET ?? 'whsec_bench';
const nc = await connect({ servers: process.env.NATS_URL.split(','), noAsyncTraces: true });
await (
  await jetstreamManager(nc)
).streams.add({
  name: process.env.EVENTS_STREAM,
  subjects: [`${process.env.EVENTS_SUBJECT_PREFIX}.>`],
  storage: StorageType.File,
  duplicate_window: 120 * 1e9,
  max_age: 3600 * 1e9,
});
const js = new JetStreamPublisher(nc, 5000);
const subject = `${process.env.EVENTS_SUBJECT_PREFIX}.webhook.received`;

async function store(req, body) {
  const id = req.headers['x-github-delivery'] ?? JSON.parse(body).id ?? randomUUID();
  const event =
    '{"specversion":"1.0","id":' +
    JSON.stringify(id) +
    ',"source":"bench","type":"webhook.received","time":"' +
    new Date().toISOString() +
    '","datacontenttype":"application/json","data":' +
    body +
    '}';
  await js.publish(subject, event, id);
}

createServer((req, res) => {
  if (req.url === '/healthz') return res.writeHead(200).end('ok');
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    if (!signatureOk(req, body, secret))
      return res.writeHead(401, { 'Content-Type': 'application/json' }).end('{"error":"signature_mismatch"}');
    store(req, body.toString('utf8')).then(
      () => res.writeHead(202, { 'Content-Type': 'application/json' }).end('{"ok":true}'),
      () => res.writeHead(503).end(),
    );
  });
}).listen(Number(process.env.PORT), '127.0.0.1');
