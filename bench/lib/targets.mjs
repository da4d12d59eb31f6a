// The servers compared: ours (the built single process, memory or NATS+Redis engine) and
// the bare baselines of bench/baselines/.
import { SignJWT } from 'jose';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ROOT, ServerProcess } from './harness.mjs';

export const JWT_SECRET = 'bench-secret-bench-secret-bench-secret';
export const PUBLISH_API_KEY = 'bench-publish-key';

export function token(sub = 'bench') {
  return new SignJWT({ channels: ['*'], publish: ['*'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime('2h')
    .sign(new TextEncoder().encode(JWT_SECRET));
}

/** Settings that give one bench run its own keys, subjects and streams on the shared NATS and Redis. */
export function realEngineEnv() {
  const id = `bench_${randomBytes(4).toString('hex')}`;
  return {
    NATS_URL: process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    REDIS_KEY_PREFIX: `${id}:`,
    NATS_SUBJECT_PREFIX: id,
    EVENTS_STREAM: `EV_${id}`,
    EVENTS_SUBJECT_PREFIX: `${id}.ev`,
    DLQ_STREAM: `DLQ_${id}`,
    DLQ_SUBJECT_PREFIX: `${id}.dlq`,
    OUTBOUND_DURABLE: `${id}_outbound`,
    OUTBOUND_STREAM: `OB_${id}`,
    OUTBOUND_SUBJECT_PREFIX: `${id}.ob`,
    OUTBOUND_DLQ_STREAM: `OBDLQ_${id}`,
    OUTBOUND_DLQ_SUBJECT_PREFIX: `${id}.obdlq`,
    OUTBOUND_ENDPOINTS_BUCKET: `ep_${id}`,
  };
}

/** Our single process (gateway + publish API + ingest + notifier), from `dist/`. */
export function startOurs(engine, extraEnv = {}) {
  const env = {
    JWT_SECRET,
    PUBLISH_API_KEY,
    MAX_CONNECTIONS: '200000',
    MAX_SUBSCRIPTIONS_PER_CONNECTION: '100',
    ...(process.env.BENCH_PROFILE ? { DRAIN_SECONDS: '1' } : {}),
    ...(engine === 'real' ? realEngineEnv() : {}),
    ...extraEnv,
  };
  return ServerProcess.start(`switchboard (${engine})`, join(ROOT, 'dist/apps/standalone/main.js'), env, '/readyz');
}

export const BASELINES = { ws: 'ws-broadcast.mjs', sio: 'socketio.mjs', sse: 'sse.mjs', lp: 'longpoll.mjs', hmac: 'hmac-verify.mjs' };

export function startBaseline(kind, env = {}) {
  return ServerProcess.start(`bare ${kind}`, join(ROOT, 'bench/baselines', BASELINES[kind]), env);
}
