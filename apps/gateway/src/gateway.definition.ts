import { Module } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { GatewayConfig, gatewaySchema } from '@switchboard/config';
import { CoreModule, HealthController, Platform, ServiceDefinition } from '@switchboard/platform';
import { GatewayModule } from './gateway.module';
import { SwitchboardIoAdapter } from './transports/socketio/socketio.adapter';
import { WsTransport } from './transports/ws/ws-transport';

@Module({})
class GatewayRootModule {}

/** Per-app setup that the single process repeats: Socket.IO's adapter and the /v1/ws upgrade route. */
export function configureGateway(app: NestExpressApplication, platform: Platform): void {
  app.useWebSocketAdapter(new SwitchboardIoAdapter(app, platform as Platform<GatewayConfig>));
  app.get(WsTransport).attach(app.getHttpServer());
}

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
