import type { WebhookIngestConfig } from '@switchboard/config';
import type { CloudEvent } from '@switchboard/engine';
import { RunningService, startService } from '@switchboard/platform';
import { cleanupIsolatedEnv, isolatedEnv, NATS_URL, REDIS_URL, requireSharedServers } from '@switchboard/testing';
import { webhookIngestDefinition } from '@switchboard/webhook-ingest';

/** Names one test file owns on the shared servers: its streams, subjects and Redis keys. */
export interface WebhookTestNames {
  eventsStream: string;
  eventsPrefix: string;
  dlqStream: string;
  dlqPrefix: string;
  redisPrefix: string;
  channelPrefix: string;
}

export function webhookTestNames(label: string): WebhookTestNames {
  const env = isolatedEnv(label);
  return {
    eventsStream: env.EVENTS_STREAM,
    eventsPrefix: env.EVENTS_SUBJECT_PREFIX,
    dlqStream: env.DLQ_STREAM,
    dlqPrefix: env.DLQ_SUBJECT_PREFIX,
    redisPrefix: env.REDIS_KEY_PREFIX,
    channelPrefix: env.NATS_SUBJECT_PREFIX,
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
    NATS_SUBJECT_PREFIX: names.channelPrefix,
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
export function cleanUp(names: WebhookTestNames, natsUrl = NATS_URL): Promise<void> {
  return cleanupIsolatedEnv({ NATS_URL: natsUrl, REDIS_URL, REDIS_KEY_PREFIX: names.redisPrefix });
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
