import { Module } from '@nestjs/common';
import { StandaloneConfig, standaloneSchema } from '@switchboard/config';
import { CoreModule, HealthController, ServiceDefinition } from '@switchboard/platform';
import { configureGateway, GatewayModule } from '@switchboard/gateway';
import { configureNotifier, NotifierModule } from '@switchboard/notifier';
import { configureWebhookIngest, WebhookIngestModule } from '@switchboard/webhook-ingest';
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
    // `/` leads a browser to the page to watch the process from, when that page is served.
    controllers: [
      HealthController,
      ...(platform.config.INSPECTOR_ENABLED || platform.config.CONSOLE_ENABLED ? [ConsoleRedirectController] : []),
    ],
  }),
  configure: (app, platform) => {
    configureGateway(app, platform);
    configureWebhookIngest(app, platform);
    configureNotifier(app, platform);
  },
};
