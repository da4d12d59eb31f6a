// The floor of a publish: what POST /v1/publish must do at the least, done bare. Per
// message one Redis call of the channel store's own publish script (offset, history,
// expiries) and one NATS core publish of the announcement, with the same clients (ioredis,
// nats.js) and connection options. No auth, no validation, no metrics, no idempotency keys.
// `storedPublisher` is shared with stored-ws.mjs, the floor of a stored broadcast.
import { connect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { PUBLISH_SCRIPT } from '../../libs/engine/src/nats-redis/redis-scripts.ts';
import { serve } from './common.mjs';

/**
 * Connects to the Redis and NATS of `REDIS_URL`/`NATS_URL`; `publish(channel, data)` stores
 * one message with the store's script, announces it on `<NATS_SUBJECT_PREFIX>.<channel>`
 * and resolves to its offset.
 */
export async function storedPublisher() {
  const prefix = process.env.REDIS_KEY_PREFIX;
  const subjectPrefix = process.env.NATS_SUBJECT_PREFIX;
  const redis = new Redis(process.env.REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  redis.defineCommand('sbPublish', { numberOfKeys: 3, lua: PUBLISH_SCRIPT });
  const nc = await connect({ servers: process.env.NATS_URL.split(','), noAsyncTraces: true });
  const encoder = new TextEncoder();

  // The candidate epoch of a channel that the script may create: 6 random bytes, cut from one draw per 512 (as the store does).
  let pool = Buffer.alloc(0);
  let used = 0;
  function candidateEpoch() {
    if (used >= pool.length) [pool, used] = [randomBytes(6 * 512), 0];
    used += 6;
    return pool.toString('base64url', used - 6, used);
  }

  async function publish(channel, data) {
    const receivedAt = Date.now();
    const base = `${prefix}{${channel}}:`;
    const head = '{"channel":' + JSON.stringify(channel);
    const tail = ',"data":' + JSON.stringify(data ?? null) + ',"ts":' + receivedAt + '}';
    const epochCandidate = candidateEpoch();
    const reply = await redis.sbPublish(base + 'm', base + 'h', base + 'i:', epochCandidate, head, tail, receivedAt, 100, 300, 86_400, '');
    const [, epoch, offset, json] = reply;
    nc.publish(`${subjectPrefix}.${channel}`, encoder.encode(offset + ' ' + epoch + ' ' + receivedAt + '\n' + json));
    return offset;
  }

  if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
  return { publish, nc, subjectPrefix };
}

if (import.meta.main) {
  const { publish } = await storedPublisher();
  serve(
    () => undefined,
    (req, res) => {
      if (req.method !== 'POST' || req.url !== '/floor') return res.writeHead(404).end();
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const { channel, data } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        publish(channel, data).then(
          (offset) => res.writeHead(200, { 'Content-Type': 'application/json' }).end(`{"offset":${offset}}`),
          () => res.writeHead(503).end(),
        );
      });
    },
  );
}
