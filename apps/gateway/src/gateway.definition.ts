import { Module } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { GatewayConfig, gatewaySchema } from '@switchboard/config';
import { CoreModule, HealthController, Platform, ServiceDefinition } from '@switchboard/platform';
import { GatewayModule } from './gateway.module';

@Module({})
class GatewayRootModule {}

/** Per-app setup that the single process repeats (body parsers, upgrade handlers). */
export function configureGateway(_app: NestExpressApplication, _platform: Platform): void {}

/** The gateway service on its own (`node dist/apps/gateway/main.js`). */
export const gatewayDefinition: ServiceDefinition<GatewayConfig> = {
  name: 'gateway',
  schema: gatewaySchema,
  module: (platform) => ({
    module: GatewayRootModule,
    imports: [CoreModule.forPlatform(platform), GatewayModule.forPlatform(platform)],
    controllers: [HealthController],
  }),
  configure: configureGateway,
};
