import type { GatewayConfig } from '@switchboard/config';
import { RunningService, startService } from '@switchboard/platform';
import { TEST_JWT_SECRET, uniqueName } from '@switchboard/testing';
import { gatewayDefinition } from '../../apps/gateway/src/gateway.definition';

/** Env of an in-process gateway on a free port: memory engine unless NATS/Redis URLs are given. */
export function gatewayEnv(overrides: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', JWT_SECRET: TEST_JWT_SECRET, DRAIN_SECONDS: '1', ...overrides };
}

export function startGateway(overrides: Record<string, string | undefined> = {}): Promise<RunningService<GatewayConfig>> {
  return startService(gatewayDefinition, gatewayEnv(overrides));
}

/** Settings that isolate a test file on the shared NATS/Redis. */
export function isolatedEngineEnv(natsUrl: string, redisUrl: string): Record<string, string> {
  const id = uniqueName('gw').replace(/-/g, '_');
  return {
    NATS_URL: natsUrl,
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: `${id}:`,
    NATS_SUBJECT_PREFIX: id,
    EVENTS_STREAM: `EV_${id}`,
    EVENTS_SUBJECT_PREFIX: `${id}.ev`,
    DLQ_STREAM: `DLQ_${id}`,
    DLQ_SUBJECT_PREFIX: `${id}.dlq`,
    // Outbound webhooks (the notifier inside the single process).
    OUTBOUND_DURABLE: `${id}_outbound`,
    OUTBOUND_STREAM: `OB_${id}`,
    OUTBOUND_SUBJECT_PREFIX: `${id}.ob`,
    OUTBOUND_DLQ_STREAM: `OBDLQ_${id}`,
    OUTBOUND_DLQ_SUBJECT_PREFIX: `${id}.obdlq`,
    OUTBOUND_ENDPOINTS_BUCKET: `ep_${id}`,
  };
}

export function wsUrl(service: RunningService, token?: string): string {
  return service.url.replace(/^http/, 'ws') + '/v1/ws' + (token === undefined ? '' : `?token=${token}`);
}

/** Deletes what a test's isolated engine settings left in Redis. */
export async function cleanupEngineEnv(env: Record<string, string>): Promise<void> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(env.REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${env.REDIS_KEY_PREFIX}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
