import { CommonConfig, loadWebhookSources, WebhookIngestConfig } from '@switchboard/config';
import type { Platform } from '@switchboard/platform';
import { MemoryDeliveryLedger } from './delivery-ledger';
import { Forwarding } from '@switchboard/platform';
import { IngestPipeline } from './ingest.pipeline';
import { MemoryRateLimiter, RateLimit, RateLimiter } from './rate-limiter';
import { ReadSlots } from './read-slots';
import { RedisDeliveryLedger } from './redis-delivery-ledger';
import { RedisRateLimiter } from './redis-rate-limiter';
import { SourceRegistry } from './source-registry';

/** The settings webhook-ingest reads, by name: present in its own config and in the single process's. */
export type WebhookIngestSettings = CommonConfig &
  Pick<
    WebhookIngestConfig,
    | 'WEBHOOK_CONFIG'
    | 'WEBHOOK_SOURCES'
    | 'WEBHOOK_MAX_BYTES'
    | 'WEBHOOK_DEDUPE_SECONDS'
    | 'TRUSTED_PROXIES'
    | 'WEBHOOK_UNVERIFIED_RATE'
    | 'WEBHOOK_BODY_TIMEOUT_SECONDS'
    | 'WEBHOOK_MAX_CONCURRENT_READS'
  >;

/** Envelope and escaping head-room between a body and the event stored for it. */
const ENVELOPE_ALLOWANCE = 4096;

/**
 * Builds the pipeline from the platform: Redis-backed limiter and ledger when the process
 * runs the NATS/Redis engine (shared by every replica), in-process ones with the memory
 * engine. Creates or updates the event streams first (idempotent; the notifier does the
 * same), so the first webhook has somewhere to go. No sources configured is valid: every
 * source is then unknown (404).
 */
export async function createIngestPipeline(platform: Platform<WebhookIngestSettings>): Promise<IngestPipeline> {
  const { config, runtime } = platform;
  const logger = platform.logger.child({ component: 'webhook-ingest' });
  const sources = new SourceRegistry(loadWebhookSources(config));
  const redis = runtime.redis;
  const maxEventBytes = (): number => runtime.nats?.info?.max_payload ?? Number.POSITIVE_INFINITY;
  logger.info(
    { sources: sources.list().map((s) => ({ name: s.name, provider: s.config.provider, secretCount: s.config.secrets.length })) },
    sources.list().length === 0 ? 'no webhook sources configured (WEBHOOK_CONFIG, WEBHOOK_SOURCES)' : 'webhook sources loaded',
  );
  if (config.WEBHOOK_MAX_BYTES + ENVELOPE_ALLOWANCE > maxEventBytes()) {
    logger.warn(
      { WEBHOOK_MAX_BYTES: config.WEBHOOK_MAX_BYTES, natsMaxPayload: maxEventBytes() },
      'WEBHOOK_MAX_BYTES is close to or above NATS max_payload: bodies near the limit will be refused with 413',
    );
  }
  await runtime.eventBus.ensureStreams();
  const prefix = config.REDIS_KEY_PREFIX;
  const limiter = (keyOf: (key: string) => string): RateLimiter =>
    redis === undefined ? new MemoryRateLimiter() : new RedisRateLimiter(redis, keyOf);
  const readSlots = new ReadSlots(config.WEBHOOK_MAX_CONCURRENT_READS);
  platform.metrics.probes.webhookBodyReads = () => readSlots.inUse;
  return new IngestPipeline({
    sources,
    forwarding: new Forwarding(config.TRUSTED_PROXIES),
    sourceLimiter: limiter((source) => `${prefix}webhook:{${source}}:rate`),
    clientLimiter: limiter((client) => `${prefix}webhook:client:{${client}}`),
    unverifiedRate: unverifiedRate(config.WEBHOOK_UNVERIFIED_RATE),
    readSlots,
    bodyTimeoutMs: config.WEBHOOK_BODY_TIMEOUT_SECONDS * 1000,
    ledger:
      redis === undefined
        ? new MemoryDeliveryLedger(config.WEBHOOK_DEDUPE_SECONDS)
        : new RedisDeliveryLedger(redis, prefix, config.WEBHOOK_DEDUPE_SECONDS),
    eventBus: runtime.eventBus,
    metrics: platform.metrics,
    logger,
    maxBodyBytes: config.WEBHOOK_MAX_BYTES,
    maxEventBytes,
  });
}

/** WEBHOOK_UNVERIFIED_RATE as a bucket (burst 2 × rate, as a source's default); 0: off. */
export function unverifiedRate(perSecond: number): RateLimit | undefined {
  return perSecond === 0 ? undefined : { perSecond, burst: Math.max(1, Math.ceil(2 * perSecond)) };
}
