import { Module } from '@nestjs/common';
import { StandaloneConfig, standaloneSchema } from '@switchboard/config';
import { CoreModule, HealthController, ServiceDefinition } from '@switchboard/platform';
import { configureGateway } from '../../gateway/src/gateway.definition';
import { GatewayModule } from '../../gateway/src/gateway.module';
import { configureNotifier } from '../../notifier/src/notifier.definition';
import { NotifierModule } from '../../notifier/src/notifier.module';
import { configureWebhookIngest } from '../../webhook-ingest/src/webhook-ingest.definition';
import { WebhookIngestModule } from '../../webhook-ingest/src/webhook-ingest.module';
import { ConsoleRedirectController } from './console-redirect.controller';

@Module({})
class StandaloneRootModule {}

/**
 * The whole platform in one process (`npm start`): gateway, webhook-ingest and notifier
 * on one port, sharing one engine (in memory unless NATS_URL and REDIS_URL are set).
 */
export const standaloneDefinition: ServiceDefinition<StandaloneConfig> = {
  name: 'switchboard',
  schema: standaloneSchema,
  module: (platform) => ({
    module: StandaloneRootModule,
    imports: [
      CoreModule.forPlatform(platform),
      GatewayModule.forPlatform(platform),
      WebhookIngestModule.forPlatform(platform),
      NotifierModule.forPlatform(platform),
    ],
    controllers: [HealthController, ConsoleRedirectController],
  }),
  configure: (app, platform) => {
    configureGateway(app, platform);
    configureWebhookIngest(app, platform);
    configureNotifier(app, platform);
  },
};
