import { Module } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { WebhookIngestConfig, webhookIngestSchema } from '@switchboard/config';
import { CoreModule, HealthController, Platform, ServiceDefinition } from '@switchboard/platform';
import { WebhookIngestModule } from './webhook-ingest.module';

@Module({})
class WebhookIngestRootModule {}

/** Per-app setup that the single process repeats (body parsers, upgrade handlers). */
export function configureWebhookIngest(_app: NestExpressApplication, _platform: Platform): void {}

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
