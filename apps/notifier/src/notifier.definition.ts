import { Module } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { NotifierConfig, notifierSchema } from '@switchboard/config';
import { CoreModule, HealthController, Platform, ServiceDefinition } from '@switchboard/platform';
import { NotifierModule } from './notifier.module';

@Module({})
class NotifierRootModule {}

/** Per-app setup that the single process repeats (body parsers, upgrade handlers). */
export function configureNotifier(_app: NestExpressApplication, _platform: Platform): void {}

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
