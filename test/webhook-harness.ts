import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { WebhookIngestConfig } from '@switchboard/config';
import type { CloudEvent } from '@switchboard/engine';
import { RunningService, startService } from '@switchboard/platform';
import { NATS_URL, REDIS_URL, requireSharedServers, uniqueName } from '@switchboard/testing';
import { Redis } from 'ioredis';
import { webhookIngestDefinition } from '../apps/webhook-ingest/src/webhook-ingest.definition';

/** Names one test file owns on the shared servers: its streams, subjects and Redis keys. */
export interface WebhookTestNames {
  eventsStream: string;
  eventsPrefix: string;
  dlqStream: string;
  dlqPrefix: string;
  redisPrefix: string;
}

export function webhookTestNames(label: string): WebhookTestNames {
  const id = uniqueName(label).replace(/[^A-Za-z0-9]/g, '_');
  return {
    eventsStream: `EV_${id}`,
    eventsPrefix: `${id}.events`,
    dlqStream: `DLQ_${id}`,
    dlqPrefix: `${id}.dlq`,
    redisPrefix: `test:${id}:`,
  };
}

/** The env of a webhook-ingest on the real engine, isolated by `names`. */
export function webhookEnv(names: WebhookTestNames, sources: unknown[], extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    NATS_URL,
    REDIS_URL,
    EVENTS_STREAM: names.eventsStream,
    EVENTS_SUBJECT_PREFIX: names.eventsPrefix,
    DLQ_STREAM: names.dlqStream,
    DLQ_SUBJECT_PREFIX: names.dlqPrefix,
    REDIS_KEY_PREFIX: names.redisPrefix,
    NATS_SUBJECT_PREFIX: names.eventsPrefix.replace('.events', '.ch'),
    STARTUP_TIMEOUT_SECONDS: '10',
    WEBHOOK_SOURCES: JSON.stringify(sources),
    ...extra,
  };
}

export type IngestService = RunningService<WebhookIngestConfig>;

export async function startIngest(env: NodeJS.ProcessEnv): Promise<IngestService> {
  return startService(webhookIngestDefinition, env);
}

/** A stored event as read back from the stream. */
export interface StoredWebhook {
  seq: number;
  subject: string;
  event: CloudEvent;
}

/** Every event on the service's events stream. */
export async function readEvents(service: IngestService, stream = service.platform.config.EVENTS_STREAM): Promise<StoredWebhook[]> {
  const stored = await service.platform.runtime.eventBus.read(stream, 1, 10_000);
  return stored.map((m) => ({ seq: m.seq, subject: m.subject, event: JSON.parse(Buffer.from(m.data).toString('utf8')) as CloudEvent }));
}

/** Deletes the streams and Redis keys a test file created. */
export async function cleanUp(names: WebhookTestNames, natsUrl = NATS_URL): Promise<void> {
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    for (const stream of [names.eventsStream, names.dlqStream]) await jsm.streams.delete(stream).catch(() => false);
  } finally {
    await nc.close();
  }
  const redis = new Redis(REDIS_URL, { lazyConnect: true });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${names.redisPrefix}*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

export { requireSharedServers };

/** A POST to `/v1/webhooks/<source>` with a body given as bytes or text. */
export async function postWebhook(
  url: string,
  source: string,
  body: string | Buffer,
  headers: Record<string, string>,
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const response = await fetch(`${url}/v1/webhooks/${source}`, {
    method: 'POST',
    body: typeof body === 'string' ? body : new Uint8Array(body),
    headers,
  });
  const text = await response.text();
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { text };
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

/** The value of one sample in Prometheus text, or 0. */
export async function metricValue(url: string, sample: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(sample + ' '));
  return line === undefined ? 0 : Number(line.slice(sample.length + 1));
}
