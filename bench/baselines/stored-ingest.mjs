// The floor of a stored webhook: hmac-verify.mjs's check, then what storing it once takes
// at the least. Is the delivery already stored (one Redis `EXISTS` of its key: the
// long-window dedupe the platform promises, 72 h by default)? If not, one JetStream publish
// of the event (a CloudEvent around the raw body, the delivery's id as `Nats-Msg-Id`),
// awaited for its ack; then 202, and the delivery's key set for the window (not awaited, as
// ours). A stored one is answered 200. Into a stream made as the platform makes EVENTS,
// with the same clients as ours: ioredis, nats.js and the engine's `JetStreamPublisher`
// (nats.js's own `js.publish` cost this server ~40 % more CPU per request, and JetStream
// twice as much, since it writes each publish apart: not a floor). What ours does beyond
// it — the replay guard (a Stripe signature claimed by its first delivery), rate limits,
// validation, metrics — is ours' own cost. Run with --experimental-transform-types (the
// publisher is TypeScript with parameter properties).
import { jetstreamManager, StorageType } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { JetStreamPublisher } from '../../libs/engine/src/nats-redis/jetstream-publisher.ts';
import { serveWebhooks, signatureOk } from './hmac-verify.mjs';

const DEDUPE_SECONDS = 259_200;
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
const redis = new Redis(process.env.REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));

/** Whether the webhook was stored now (false: an earlier delivery of it was). */
async function store(req, body) {
  const id = req.headers['x-github-delivery'] ?? JSON.parse(body).id ?? randomUUID();
  const key = `${process.env.REDIS_KEY_PREFIX}wh:${id}`;
  if ((await redis.exists(key)) === 1) return false;
  const event =
    '{"specversion":"1.0","id":' +
    JSON.stringify(id) +
    ',"source":"bench","type":"webhook.received","time":"' +
    new Date().toISOString() +
    '","datacontenttype":"application/json","data":' +
    body +
    '}';
  await js.publish(subject, event, id);
  redis.set(key, '1', 'EX', DEDUPE_SECONDS).catch(() => undefined);
  return true;
}

serveWebhooks((req, body) =>
  signatureOk(req, body, secret) ? store(req, body.toString('utf8')).then((stored) => (stored ? 202 : 200)) : 401,
);
