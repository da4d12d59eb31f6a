import { DynamicModule, Inject, MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { adminApiKey, loadRoutesFile } from '@switchboard/config';
import type { ChannelEngine, EventBus } from '@switchboard/engine';
import type { Metrics } from '@switchboard/observability';
import { CHANNEL_ENGINE, CoreModule, EVENT_BUS, METRICS, Platform, presenceService, type PresenceConfig } from '@switchboard/platform';
import { requireBearerKey } from './api/bearer-key.middleware';
import { DlqController } from './api/dlq.controller';
import { DocsController, OPENAPI_DOCUMENT } from './api/docs.controller';
import { jsonBody } from './api/json-body.middleware';
import { openApiDocument } from './api/openapi';
import { NOTIFIER_PRESENCE, PresenceController } from './api/presence.controller';
import { PublishController } from './api/publish.controller';
import { PublishRoute, type PublishRouteOptions } from './api/publish-route';
import { MAX_PUBLISH_DEPTH } from './api/publish-request';
import { PublishService } from './api/publish.service';
import { DeadLetterQueue } from './dispatch/dead-letter-queue';
import { EventConsumerService } from './dispatch/event-consumer.service';
import { EventDispatcher } from './dispatch/event-dispatcher';
import { RetryPolicy } from './dispatch/retry-policy';
import { notifierSettings, type NotifierSettings } from './notifier-settings';
import { EndpointsController } from './outbound/api/endpoints.controller';
import { EndpointsService } from './outbound/api/endpoints.service';
import { DeliveryEngineService } from './outbound/delivery/delivery-engine.service';
import { createOutbound, Outbound } from './outbound/outbound.factory';
import { EventRouter } from './routing/event-router';

const NOTIFIER_SETTINGS = Symbol('NotifierSettings');
const OUTBOUND = Symbol('Outbound');
/** Largest body of an endpoints API request. */
const ADMIN_BODY_BYTES = 64 * 1024;

/**
 * The notifier feature, wired explicitly: the EVENTS consumer (routing → channel publish →
 * ack / retry / dead letter), the HTTP publish API, the dead-letter endpoints and /docs,
 * and outbound webhooks (the endpoints API and the delivery engine, `outbound/`).
 */
@Module({})
export class NotifierModule implements NestModule {
  constructor(
    @Inject(NOTIFIER_SETTINGS) private readonly settings: NotifierSettings,
    @Inject(METRICS) private readonly metrics: Metrics,
  ) {}

  static forPlatform(platform: Platform): DynamicModule {
    const settings = notifierSettings(platform.config);
    // A bad ROUTES_CONFIG stops the process here, before it listens, with one line.
    const routes = loadRoutesFile(settings.ROUTES_CONFIG).routes;
    const retry = new RetryPolicy(settings.NOTIFIER_RETRY_BASE_MS, settings.NOTIFIER_RETRY_MAX_MS);
    const logger = platform.logger.child({ component: 'notifier' });
    logger.info(
      {
        routes: routes.length,
        durable: settings.NOTIFIER_DURABLE,
        publishApi: settings.PUBLISH_API_KEY !== undefined,
        adminApi: adminApiKey(settings) !== undefined,
      },
      'notifier configured',
    );
    if (settings.ADMIN_API_KEY === undefined && settings.DLQ_API_KEY !== undefined) {
      logger.warn({}, 'DLQ_API_KEY is deprecated: rename it ADMIN_API_KEY (it is the key of every admin route now)');
    }
    const outboundLogger = platform.logger.child({ component: 'outbound' });
    const span = retry.worstCaseSpanMs(settings.NOTIFIER_MAX_DELIVER);
    if (span > settings.IDEMPOTENCY_WINDOW_SECONDS * 1000) {
      // Past the window a retried event can reach channels that already took it a second time.
      logger.warn(
        { retrySpanMs: span, idempotencyWindowSeconds: settings.IDEMPOTENCY_WINDOW_SECONDS },
        'retries of one event can outlast IDEMPOTENCY_WINDOW_SECONDS; lower NOTIFIER_RETRY_MAX_MS or NOTIFIER_MAX_DELIVER',
      );
    }
    return {
      module: NotifierModule,
      imports: [CoreModule.forPlatform(platform)],
      controllers: [PublishController, PresenceController, DlqController, EndpointsController, DocsController],
      providers: [
        { provide: NOTIFIER_SETTINGS, useValue: settings },
        { provide: NOTIFIER_PRESENCE, useFactory: () => presenceService(platform as Platform<PresenceConfig>) },
        {
          provide: OUTBOUND,
          useFactory: (bus: EventBus, metrics: Metrics) =>
            createOutbound({ runtime: platform.runtime, bus, metrics, logger: outboundLogger, settings }),
          inject: [EVENT_BUS, METRICS],
        },
        { provide: EndpointsService, useFactory: (o: Outbound) => o.endpoints, inject: [OUTBOUND] },
        { provide: DeliveryEngineService, useFactory: (o: Outbound) => o.engine, inject: [OUTBOUND] },
        { provide: EventRouter, useValue: new EventRouter(routes) },
        { provide: OPENAPI_DOCUMENT, useValue: openApiDocument(settings.MAX_MESSAGE_BYTES) },
        {
          provide: PublishService,
          useFactory: (engine: ChannelEngine, metrics: Metrics) => new PublishService(engine, () => countTooLarge(metrics)),
          inject: [CHANNEL_ENGINE, METRICS],
        },
        {
          // The same route served ahead of Express (configureNotifier); the controller keeps the other spellings.
          provide: PublishRoute,
          useFactory: (service: PublishService, metrics: Metrics) =>
            new PublishRoute(service, publishRouteOptions(settings, metrics), platform.logger),
          inject: [PublishService, METRICS],
        },
        { provide: DeadLetterQueue, useFactory: (bus: EventBus) => new DeadLetterQueue(bus), inject: [EVENT_BUS] },
        {
          provide: EventDispatcher,
          useFactory: (engine: ChannelEngine, router: EventRouter, dlq: DeadLetterQueue, metrics: Metrics, endpoints: EndpointsService) =>
            new EventDispatcher(engine, router, dlq, metrics, logger, {
              maxDeliver: settings.NOTIFIER_MAX_DELIVER,
              retry,
              // Platform notices, and events an endpoint takes, are not lost when no channel wants them.
              deliveredElsewhere: (event) => event.type.startsWith('switchboard.') || endpoints.wants(event),
            }),
          inject: [CHANNEL_ENGINE, EventRouter, DeadLetterQueue, METRICS, EndpointsService],
        },
        {
          provide: EventConsumerService,
          useFactory: (bus: EventBus, dispatcher: EventDispatcher) =>
            new EventConsumerService(bus, dispatcher, logger, {
              durable: settings.NOTIFIER_DURABLE,
              ackWaitMs: settings.NOTIFIER_ACK_WAIT_SECONDS * 1000,
              maxDeliver: settings.NOTIFIER_MAX_DELIVER,
              concurrency: settings.NOTIFIER_CONCURRENCY,
            }),
          inject: [EVENT_BUS, EventDispatcher],
        },
      ],
    };
  }

  /** Route-scoped middleware only: the key is checked before the body is read (401 before 413). */
  configure(consumer: MiddlewareConsumer): void {
    const settings = this.settings;
    const publish = publishRouteOptions(settings, this.metrics);
    consumer.apply(requireBearerKey(publish.key, 'publish'), jsonBody(publish.limitBytes, publish.body)).forRoutes(PublishController);
    consumer.apply(requireBearerKey(settings.PUBLISH_API_KEY, 'publish')).forRoutes(PresenceController);
    // Every admin route takes ADMIN_API_KEY, never the publish key.
    const admin = requireBearerKey(adminApiKey(settings), 'admin', 'the admin API is disabled: set ADMIN_API_KEY');
    consumer.apply(admin).forRoutes(DlqController);
    consumer.apply(admin, jsonBody(ADMIN_BODY_BYTES, { maxDepth: MAX_PUBLISH_DEPTH })).forRoutes(EndpointsController);
  }
}

/** Key, body limit and limit metric of `POST /v1/publish`, the same for the route ahead of Express and the Nest route. */
function publishRouteOptions(settings: NotifierSettings, metrics: Metrics): PublishRouteOptions {
  return {
    key: settings.PUBLISH_API_KEY,
    limitBytes: settings.MAX_MESSAGE_BYTES,
    body: { maxDepth: MAX_PUBLISH_DEPTH, onTooLarge: () => countTooLarge(metrics) },
  };
}

/** A publish API request refused for MAX_MESSAGE_BYTES (body or built message). */
function countTooLarge(metrics: Metrics): void {
  metrics.limitHits.inc({ limit: 'max_message_bytes', transport: 'http' });
}
