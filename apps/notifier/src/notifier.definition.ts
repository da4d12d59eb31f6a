import { Module } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { NotifierConfig, notifierSchema } from '@switchboard/config';
import { CoreModule, HealthController, Platform, serveAheadOfExpress, ServiceDefinition } from '@switchboard/platform';
import { PUBLISH_PATH, PublishRoute } from './api/publish-route';
import { NotifierModule } from './notifier.module';

@Module({})
class NotifierRootModule {}

/**
 * Per-app setup that the single process repeats: `POST /v1/publish` served ahead of
 * Express (the gateway's mechanism for its hot routes, `serveAheadOfExpress`).
 */
export function configureNotifier(app: NestExpressApplication, platform: Platform): void {
  const publish = app.get(PublishRoute);
  serveAheadOfExpress(
    app.getHttpServer(),
    { [PUBLISH_PATH]: (req, res) => publish.handle(req, res) },
    (err) => platform.logger.error({ err }, 'publish request failed'),
    ['POST'],
  );
}

/** The notifier service on its own (`node dist/apps/notifier/main.js`). */
export const notifierDefinition: ServiceDefinition<NotifierConfig> = {
  name: 'notifier',
  schema: notifierSchema,
  module: (platform) => ({
    module: NotifierRootModule,
    imports: [CoreModule.forPlatform(platform), NotifierModule.forPlatform(platform)],
    controllers: [HealthController],
  }),
  configure: configureNotifier,
};
