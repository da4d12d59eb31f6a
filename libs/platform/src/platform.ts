import { CommonConfig } from '@switchboard/config';
import { createEngineRuntime, EngineRuntime, redisTargetFromConfig } from '@switchboard/engine';
import { createLogger, engineMetrics, Lifecycle, Logger, createMetrics, Metrics } from '@switchboard/observability';
import { hostname } from 'node:os';

/**
 * Everything one process shares between its modules: config, logger, metrics, lifecycle
 * and the engine runtime. Created once in `main`, before Nest, so that config errors and
 * unreachable backends stop the process with one clear line.
 */
export interface Platform<C extends CommonConfig = CommonConfig> {
  readonly service: string;
  readonly config: C;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly lifecycle: Lifecycle;
  readonly runtime: EngineRuntime;
}

export async function createPlatform<C extends CommonConfig>(service: string, config: C): Promise<Platform<C>> {
  const logger = createLogger({ name: service, level: config.LOG_LEVEL, pretty: config.LOG_PRETTY });
  const metrics = createMetrics();
  const lifecycle = new Lifecycle();
  const runtime = await createEngineRuntime(
    {
      natsUrl: config.NATS_URL,
      redis: redisTargetFromConfig(config),
      redisKeyPrefix: config.REDIS_KEY_PREFIX,
      natsSubjectPrefix: config.NATS_SUBJECT_PREFIX,
      retention: {
        historySize: config.HISTORY_SIZE,
        historyTtlSeconds: config.HISTORY_TTL_SECONDS,
        channelMetaTtlSeconds: config.CHANNEL_META_TTL_SECONDS,
        idempotencyWindowSeconds: config.IDEMPOTENCY_WINDOW_SECONDS,
      },
      eventBusNames: {
        eventsStream: config.EVENTS_STREAM,
        eventsSubjectPrefix: config.EVENTS_SUBJECT_PREFIX,
        dlqStream: config.DLQ_STREAM,
        dlqSubjectPrefix: config.DLQ_SUBJECT_PREFIX,
      },
      eventBusRetention: {
        eventsMaxAgeSeconds: config.EVENTS_MAX_AGE_SECONDS,
        duplicateWindowSeconds: config.EVENTS_DUPLICATE_WINDOW_SECONDS,
        dlqMaxAgeSeconds: config.DLQ_MAX_AGE_SECONDS,
      },
      streamReplicas: config.NATS_STREAM_REPLICAS,
      maxMessageBytes: config.MAX_MESSAGE_BYTES,
      gapWaitMs: config.GAP_WAIT_MS,
      syncIntervalMs: config.SYNC_INTERVAL_MS,
      startupTimeoutMs: config.STARTUP_TIMEOUT_SECONDS * 1000,
      clientName: `switchboard-${service}@${config.INSTANCE_NAME ?? hostname()}`,
    },
    logger,
    engineMetrics(metrics),
  );
  for (const name of Object.keys(runtime.readiness())) {
    lifecycle.addCheck({ name, isReady: () => runtime.readiness()[name] ?? false });
  }
  // Backend state and readiness are read at scrape time.
  metrics.probes.backends = () => runtime.readiness();
  metrics.probes.ready = () => lifecycle.status().ready;
  return { service, config, logger, metrics, lifecycle, runtime };
}
