import type { EngineLogger, EngineRuntime, EventBus } from '@switchboard/engine';
import type { Metrics } from '@switchboard/observability';
import type { NotifierSettings } from '../notifier-settings';
import { EndpointsService } from './api/endpoints.service';
import type { AttemptLog } from './attempts/attempt-log';
import { MemoryAttemptLog } from './attempts/memory-attempt.log';
import { RedisAttemptLog } from './attempts/redis-attempt.log';
import { DeliveryEngineService } from './delivery/delivery-engine.service';
import { EndpointHealth } from './delivery/endpoint-health';
import { DeliveryContext } from './delivery/endpoint-worker';
import { FanOutService } from './delivery/fan-out.service';
import { OutboundNotices } from './delivery/outbound-notices';
import { MemoryRateLimiter, RateLimiter, RedisRateLimiter } from './delivery/rate-limiter';
import { RetrySchedule } from './delivery/retry-schedule';
import { EndpointRegistry } from './endpoints/endpoint-registry';
import type { EndpointStore } from './endpoints/endpoint-store';
import { KvEndpointStore } from './endpoints/kv-endpoint.store';
import { MemoryEndpointStore } from './endpoints/memory-endpoint.store';
import { syncPusherEndpoints } from './pusher/pusher-endpoints';
import { AddressPolicy } from './http/address-policy';
import { HostLookup, SafeHttpClient } from './http/safe-http.client';
import type { DeliveryQueue } from './queue/delivery-queue';
import { JetStreamDeliveryQueue } from './queue/jetstream-delivery.queue';
import { MemoryDeliveryQueue } from './queue/memory-delivery.queue';

/** Added to the attempt timeout for a job's ack wait: a killed replica's attempt is retried this long after it could have ended. */
const ACK_WAIT_MARGIN_MS = 5000;

/** The storage of outbound webhooks: JetStream KV + JetStream + Redis with NATS and Redis, memory without. */
export interface OutboundBackends {
  store: EndpointStore;
  queue: DeliveryQueue;
  attempts: AttemptLog;
  limiter: RateLimiter;
}

export function outboundBackends(runtime: EngineRuntime, s: NotifierSettings, logger: EngineLogger): OutboundBackends {
  const attemptsMaxAgeMs = s.OUTBOUND_ATTEMPTS_MAX_AGE_SECONDS * 1000;
  if (runtime.nats === undefined || runtime.redis === undefined) {
    return {
      store: new MemoryEndpointStore(),
      queue: new MemoryDeliveryQueue(s.EVENTS_DUPLICATE_WINDOW_SECONDS * 1000, s.DLQ_MAX_AGE_SECONDS * 1000),
      attempts: new MemoryAttemptLog(attemptsMaxAgeMs, s.OUTBOUND_ATTEMPTS_MAX_PER_ENDPOINT),
      limiter: new MemoryRateLimiter(),
    };
  }
  return {
    store: new KvEndpointStore(runtime.nats, {
      bucket: s.OUTBOUND_ENDPOINTS_BUCKET,
      replicas: s.NATS_STREAM_REPLICAS,
      setupTimeoutMs: s.STARTUP_TIMEOUT_SECONDS * 1000,
      logger,
    }),
    queue: new JetStreamDeliveryQueue(
      runtime.nats,
      {
        stream: s.OUTBOUND_STREAM,
        subjectPrefix: s.OUTBOUND_SUBJECT_PREFIX,
        dlqStream: s.OUTBOUND_DLQ_STREAM,
        dlqSubjectPrefix: s.OUTBOUND_DLQ_SUBJECT_PREFIX,
        schedulerDurable: `${s.OUTBOUND_DURABLE}_scheduler`,
      },
      {
        replicas: s.NATS_STREAM_REPLICAS,
        duplicateWindowSeconds: s.EVENTS_DUPLICATE_WINDOW_SECONDS,
        dlqMaxAgeSeconds: s.DLQ_MAX_AGE_SECONDS,
        setupTimeoutMs: s.STARTUP_TIMEOUT_SECONDS * 1000,
      },
      logger,
      () => runtime.readiness().nats ?? false,
    ),
    attempts: new RedisAttemptLog(runtime.redis, s.REDIS_KEY_PREFIX, attemptsMaxAgeMs, s.OUTBOUND_ATTEMPTS_MAX_PER_ENDPOINT),
    limiter: new RedisRateLimiter(runtime.redis, s.REDIS_KEY_PREFIX),
  };
}

/** The outbound object graph of one process: the API's service and the delivery engine. */
export interface Outbound {
  endpoints: EndpointsService;
  engine: DeliveryEngineService;
  registry: EndpointRegistry;
}

export interface OutboundDeps {
  runtime: EngineRuntime;
  bus: EventBus;
  metrics: Metrics;
  logger: EngineLogger;
  settings: NotifierSettings;
  /** Name resolution of the SSRF-safe client (tests). */
  lookup?: HostLookup;
}

export function createOutbound(deps: OutboundDeps): Outbound {
  const { settings: s, logger, metrics, bus } = deps;
  const backends = outboundBackends(deps.runtime, s, logger);
  const policy = new AddressPolicy({ allowCidrs: s.OUTBOUND_ALLOW_CIDRS, allowHttp: s.OUTBOUND_ALLOW_HTTP });
  const timeoutMs = Math.round(s.OUTBOUND_TIMEOUT_SECONDS * 1000);
  const client = new SafeHttpClient({
    policy,
    timeoutMs,
    ...(deps.lookup === undefined ? {} : { lookup: deps.lookup }),
  });
  const registry = new EndpointRegistry(backends.store, logger, (store) => syncPusherEndpoints(store, s.PUSHER_APPS, logger));
  const notices = new OutboundNotices(bus, logger);
  const health = new EndpointHealth(registry, notices, logger, s.OUTBOUND_DISABLE_AFTER_HOURS * 3600 * 1000);
  const ctx: DeliveryContext = {
    queue: backends.queue,
    client,
    attempts: backends.attempts,
    limiter: backends.limiter,
    schedule: new RetrySchedule(s.OUTBOUND_RETRY_SCHEDULE),
    health,
    notices,
    metrics,
    logger,
    concurrency: s.OUTBOUND_CONCURRENCY,
    ackWaitMs: timeoutMs + ACK_WAIT_MARGIN_MS,
    breaker: {
      windowMs: s.OUTBOUND_BREAKER_WINDOW_SECONDS * 1000,
      minAttempts: s.OUTBOUND_BREAKER_MIN_ATTEMPTS,
      failureRatio: s.OUTBOUND_BREAKER_FAILURE_RATIO,
      openMs: s.OUTBOUND_BREAKER_OPEN_SECONDS * 1000,
    },
  };
  const fanOut = new FanOutService(bus, registry, backends.queue, metrics, logger, {
    durable: s.OUTBOUND_DURABLE,
    ackWaitMs: s.NOTIFIER_ACK_WAIT_SECONDS * 1000,
    concurrency: s.OUTBOUND_FANOUT_CONCURRENCY,
  });
  const engine = new DeliveryEngineService(bus, registry, backends.queue, fanOut, client, ctx, metrics, logger, s.OUTBOUND_ENABLED);
  const endpoints = new EndpointsService(registry, backends.queue, backends.attempts, policy, client, health, metrics, logger);
  return { endpoints, engine, registry };
}
