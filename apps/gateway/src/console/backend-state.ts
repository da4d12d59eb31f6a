import { jetstreamManager } from '@nats-io/jetstream';
import type { Platform } from '@switchboard/platform';

/** NATS and Redis as this process sees them, for the console's cluster view. */
export interface BackendState {
  mode: 'memory' | 'nats-redis';
  ready: Record<string, boolean>;
  nats?: {
    server?: string;
    version?: string;
    rttMs?: number;
    inMsgs: number;
    outMsgs: number;
    streams: { name: string; messages: number; bytes: number; consumers: number }[];
    error?: string;
  };
  redis?: { status: string; version?: string; usedMemory?: string; clients?: number; keys?: number; error?: string };
}

const TIMEOUT_MS = 2000;

function withTimeout<T>(p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** `field:value` lines of Redis INFO. */
function infoFields(info: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of info.split('\r\n')) {
    const at = line.indexOf(':');
    if (at > 0) fields[line.slice(0, at)] = line.slice(at + 1);
  }
  return fields;
}

/** Reads the backends' state; a backend that does not answer is reported with its error, never hides the others. */
export async function readBackendState(platform: Platform): Promise<BackendState> {
  const { runtime, config } = platform;
  const state: BackendState = { mode: runtime.mode, ready: runtime.readiness() };
  const { nats, redis } = runtime;
  await Promise.all([
    (async () => {
      if (nats === undefined) return;
      const stats = nats.stats();
      state.nats = { server: nats.getServer(), inMsgs: stats.inMsgs, outMsgs: stats.outMsgs, streams: [] };
      try {
        state.nats.version = nats.info?.version;
        state.nats.rttMs = await withTimeout(nats.rtt());
        const jsm = await withTimeout(jetstreamManager(nats));
        for (const name of [config.EVENTS_STREAM, config.DLQ_STREAM]) {
          const info = await withTimeout(jsm.streams.info(name)).catch(() => undefined);
          if (info !== undefined) {
            state.nats.streams.push({ name, messages: info.state.messages, bytes: info.state.bytes, consumers: info.state.consumer_count });
          }
        }
      } catch (err) {
        state.nats.error = (err as Error).message;
      }
    })(),
    (async () => {
      if (redis === undefined) return;
      state.redis = { status: redis.status };
      try {
        const [info, keys] = await withTimeout(Promise.all([redis.info(), redis.dbsize()]));
        const fields = infoFields(info);
        state.redis = {
          ...state.redis,
          version: fields.redis_version,
          usedMemory: fields.used_memory_human,
          clients: Number(fields.connected_clients),
          keys,
        };
      } catch (err) {
        state.redis.error = (err as Error).message;
      }
    })(),
  ]);
  return state;
}
