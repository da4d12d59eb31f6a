import { Module } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { WebhookIngestConfig, webhookIngestSchema } from '@switchboard/config';
import { CoreModule, HealthController, Platform, serveAheadOfExpress, ServiceDefinition } from '@switchboard/platform';
import { WebhookRoute } from './ingest/webhook-route';
import { WebhookIngestModule } from './webhook-ingest.module';

@Module({})
class WebhookIngestRootModule {}

/**
 * Per-app setup that the single process repeats: `POST /v1/webhooks/<source>` of each
 * configured source served ahead of Express (the platform's `serveAheadOfExpress`, as the
 * gateway's hot routes and the notifier's publish API).
 */
export function configureWebhookIngest(app: NestExpressApplication, platform: Platform): void {
  serveAheadOfExpress(
    app.getHttpServer(),
    app.get(WebhookRoute).routes(),
    (err) => platform.logger.error({ err }, 'webhook request failed'),
    ['POST'],
  );
}

/** The webhook-ingest service on its own (`node dist/apps/webhook-ingest/main.js`). */
export const webhookIngestDefinition: ServiceDefinition<WebhookIngestConfig> = {
  name: 'webhook-ingest',
  schema: webhookIngestSchema,
  module: (platform) => ({
    module: WebhookIngestRootModule,
    imports: [CoreModule.forPlatform(platform), WebhookIngestModule.forPlatform(platform)],
    controllers: [HealthController],
  }),
  configure: configureWebhookIngest,
};
