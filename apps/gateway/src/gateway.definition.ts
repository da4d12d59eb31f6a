import { Module } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { GatewayConfig, gatewaySchema } from '@switchboard/config';
import { CoreModule, HealthController, Platform, serveAheadOfExpress, ServiceDefinition } from '@switchboard/platform';
import { consoleServed, GatewayModule } from './gateway.module';
import { PRESENCE_PATH, PresenceRoute } from './transports/http/presence-route';
import { PollTransport } from './transports/longpoll/poll-transport';
import { SwitchboardIoAdapter } from './transports/socketio/socketio.adapter';
import { SseTransport } from './transports/sse/sse-transport';
import { WsTransport } from './transports/ws/ws-transport';
import { PusherHttpApi } from './pusher/pusher-http-api';
import { PusherTransport } from './transports/pusher/pusher-transport';

@Module({})
class GatewayRootModule {}

/** Per-app setup that the single process repeats: Socket.IO's adapter, the /v1/ws upgrade route, SSE and long-poll. */
export function configureGateway(app: NestExpressApplication, platform: Platform): void {
  warnIfAnyOrigin(platform as Platform<GatewayConfig>);
  const config = platform.config as GatewayConfig;
  if (config.CONSOLE_ENABLED && !consoleServed(config)) {
    platform.logger.warn(
      { setting: 'ADMIN_API_KEY' },
      'CONSOLE_ENABLED is on but ADMIN_API_KEY is not set: the console (/console) is not served',
    );
  }
  app.useWebSocketAdapter(new SwitchboardIoAdapter(app, platform as Platform<GatewayConfig>));
  const server = app.getHttpServer();
  app.get(WsTransport).attach(server);
  app.get(PusherTransport).attach(server);
  const sse = app.get(SseTransport);
  const poll = app.get(PollTransport);
  const presence = app.get(PresenceRoute);
  serveAheadOfExpress(
    server,
    {
      '/v1/sse': (req, res) => sse.handle(req, res),
      '/v1/poll': (req, res) => poll.handle(req, res),
      [PRESENCE_PATH]: (req, res) => presence.handle(req, res),
    },
    (err) => platform.logger.error({ err }, 'HTTP transport request failed'),
  );
  app.get(PusherHttpApi).attach(server);
}

/**
 * One warning at startup when ALLOWED_ORIGINS is empty: then a page on any site may open
 * connections with a token it holds (tokens are bearer, so this is not CSRF, but it is
 * rarely what a production deployment wants, and easy to miss).
 */
function warnIfAnyOrigin(platform: Platform<GatewayConfig>): void {
  if (platform.config.ALLOWED_ORIGINS.length === 0) {
    platform.logger.warn(
      { setting: 'ALLOWED_ORIGINS' },
      "ALLOWED_ORIGINS is empty: browser pages from any origin may connect (set it to your apps' origins, comma-separated)",
    );
  }
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
