// Imported by jest tests and, through Node's type stripping, by the bench's plain .mjs files:
// keep this file free of relative imports and of TypeScript-only syntax that emits code.
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';

/**
 * The settings that give one test file (or one bench run) its own names on the shared NATS
 * and Redis: streams, subject prefixes, Redis key prefix, the notifier's durable. Every
 * service started with them, and every client built from them, sees only that file's state.
 */
export interface IsolatedEnv {
  [name: string]: string;
  NATS_URL: string;
  REDIS_URL: string;
  REDIS_KEY_PREFIX: string;
  NATS_SUBJECT_PREFIX: string;
  EVENTS_STREAM: string;
  EVENTS_SUBJECT_PREFIX: string;
  DLQ_STREAM: string;
  DLQ_SUBJECT_PREFIX: string;
  NOTIFIER_DURABLE: string;
  OUTBOUND_DURABLE: string;
  OUTBOUND_STREAM: string;
  OUTBOUND_SUBJECT_PREFIX: string;
  OUTBOUND_DLQ_STREAM: string;
  OUTBOUND_DLQ_SUBJECT_PREFIX: string;
  OUTBOUND_ENDPOINTS_BUCKET: string;
}

/** The shared servers of NOTES.md, or NATS_URL / REDIS_URL from the environment. */
export const SHARED_NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
export const SHARED_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Names for `label` plus a random part: valid as a stream name, a subject token and a key prefix. */
export function isolatedEnv(label: string, servers: { natsUrl?: string; redisUrl?: string } = {}): IsolatedEnv {
  const id = `${label.replace(/[^A-Za-z0-9_]/g, '_')}_${randomBytes(5).toString('hex')}`;
  return {
    NATS_URL: servers.natsUrl ?? SHARED_NATS_URL,
    REDIS_URL: servers.redisUrl ?? SHARED_REDIS_URL,
    REDIS_KEY_PREFIX: `${id}:`,
    NATS_SUBJECT_PREFIX: `${id}.ch`,
    EVENTS_STREAM: `EV_${id}`,
    EVENTS_SUBJECT_PREFIX: `${id}.ev`,
    DLQ_STREAM: `DLQ_${id}`,
    DLQ_SUBJECT_PREFIX: `${id}.dlq`,
    NOTIFIER_DURABLE: `notifier_${id}`,
    OUTBOUND_DURABLE: `outbound_${id}`,
    OUTBOUND_STREAM: `OB_${id}`,
    OUTBOUND_SUBJECT_PREFIX: `${id}.ob`,
    OUTBOUND_DLQ_STREAM: `OBDLQ_${id}`,
    OUTBOUND_DLQ_SUBJECT_PREFIX: `${id}.obdlq`,
    // Its stream is KV_<bucket>: the id in the name, so cleanup finds it.
    OUTBOUND_ENDPOINTS_BUCKET: `ep_${id}`,
  };
}

/**
 * Deletes what an isolated env left behind: every JetStream stream whose name carries its id
 * (the events and dead-letter streams, and any a service made from them) and every Redis key
 * under its prefix. Failures are ignored: cleanup must not fail a test.
 */
export async function cleanupIsolatedEnv(env: Partial<IsolatedEnv>): Promise<void> {
  if (env.REDIS_KEY_PREFIX === undefined || env.NATS_URL === undefined || env.REDIS_URL === undefined) return;
  // The random id inside every name of the env.
  const id = env.REDIS_KEY_PREFIX.slice(0, -1);
  try {
    const nc = await connect({ servers: env.NATS_URL.split(','), reconnect: false, timeout: 2000 });
    try {
      const jsm = await jetstreamManager(nc);
      for await (const stream of jsm.streams.list()) {
        if (stream.config.name.includes(id)) await jsm.streams.delete(stream.config.name).catch(() => undefined);
      }
    } finally {
      await nc.close();
    }
  } catch {
    // NATS is gone (a fault test stopped it): nothing to delete there.
  }
  const redis = new Redis(env.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${env.REDIS_KEY_PREFIX}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
  } catch {
    // Redis is gone: nothing to delete there.
  } finally {
    redis.disconnect();
  }
}
