import { DynamicModule, Module } from '@nestjs/common';
import { CoreModule, Platform } from '@switchboard/platform';
import { createIngestPipeline, WebhookIngestSettings } from './ingest/ingest.factory';
import { IngestPipeline } from './ingest/ingest.pipeline';
import { WebhookController } from './ingest/webhook.controller';
import { WebhookRoute } from './ingest/webhook-route';

/**
 * The webhook-ingest feature: `POST /v1/webhooks/:source`, wired explicitly. It registers
 * no body parser: the controller reads the raw bytes itself, after the cheaper checks.
 */
@Module({})
export class WebhookIngestModule {
  static forPlatform(platform: Platform<WebhookIngestSettings>): DynamicModule {
    return {
      module: WebhookIngestModule,
      imports: [CoreModule.forPlatform(platform)],
      controllers: [WebhookController],
      providers: [
        { provide: IngestPipeline, useFactory: () => createIngestPipeline(platform) },
        {
          provide: WebhookRoute,
          inject: [IngestPipeline],
          useFactory: (pipeline: IngestPipeline) => new WebhookRoute(pipeline, platform.logger.child({ component: 'webhook-ingest' })),
        },
      ],
    };
  }
}
