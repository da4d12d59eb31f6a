// The servers compared: ours (the built single process, memory or NATS+Redis engine) and
// the bare baselines of bench/baselines/.
import { SignJWT } from 'jose';
import { join } from 'node:path';
import { cleanupIsolatedEnv, isolatedEnv } from '../../libs/testing/src/isolated-env.ts';
import { ROOT, ServerProcess } from './harness.mjs';

/**
 * The built entry of one of our apps. BENCH_DIST=<a copy of dist/ inside the repository>
 * runs another build (the "before" of a before → after comparison, same harness).
 */
export function built(app) {
  return join(process.env.BENCH_DIST ?? join(ROOT, 'dist'), 'apps', app, 'main.js');
}

export const JWT_SECRET = 'bench-secret-bench-secret-bench-secret';
export const PUBLISH_API_KEY = 'bench-publish-key';

export function token(sub = 'bench') {
  return new SignJWT({ channels: ['*'], publish: ['*'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime('2h')
    .sign(new TextEncoder().encode(JWT_SECRET));
}

const madeEnvs = [];

/** Settings that give one bench run its own keys, subjects and streams on the shared NATS and Redis. */
export function realEngineEnv() {
  const env = isolatedEnv('bench');
  madeEnvs.push(env);
  return env;
}

/**
 * Deletes the streams and keys of every env `realEngineEnv` made in this process, and only
 * those: another bench (or the bench-quick test) may be running on the same servers.
 */
export async function cleanUpEngineEnvs() {
  for (const env of madeEnvs.splice(0)) await cleanupIsolatedEnv(env);
}

/** Our single process (gateway + publish API + ingest + notifier), from `dist/`; `nodeArgs`: more node flags. */
export function startOurs(engine, extraEnv = {}, nodeArgs = []) {
  const env = {
    JWT_SECRET,
    PUBLISH_API_KEY,
    MAX_CONNECTIONS: '200000',
    MAX_SUBSCRIPTIONS_PER_CONNECTION: '100',
    ...(process.env.BENCH_PROFILE ? { DRAIN_SECONDS: '1' } : {}),
    ...(engine === 'real' ? realEngineEnv() : {}),
    ...extraEnv,
  };
  return ServerProcess.start(`switchboard (${engine})`, built('standalone'), env, '/readyz', nodeArgs);
}

export const BASELINES = {
  ws: 'ws-broadcast.mjs',
  sio: 'socketio.mjs',
  'sio-emit': 'socketio-emit.mjs',
  sse: 'sse.mjs',
  lp: 'longpoll.mjs',
  hmac: 'hmac-verify.mjs',
  e2e: 'e2e-bare.mjs',
  publish: 'publish-floor.mjs',
  'stored-ws': 'stored-ws.mjs',
  'stored-ingest': 'stored-ingest.mjs',
};

export function startBaseline(kind, env = {}, nodeArgs = []) {
  return ServerProcess.start(`bare ${kind}`, join(ROOT, 'bench/baselines', BASELINES[kind]), env, '/healthz', nodeArgs);
}
