import { DynamicModule, Module } from '@nestjs/common';
import type { GatewayConfig } from '@switchboard/config';
import { CoreModule, Platform, presenceService } from '@switchboard/platform';
import { GatewayTokenVerifier } from './auth/token-verifier';
import { DrainService } from './drain/drain.service';
import { ConnectionRegistry } from './hub/connection-registry';
import { GATEWAY_OPTIONS, gatewayOptions } from './hub/gateway-options';
import { Hub } from './hub/hub';
import { PRESENCE_SERVICE, PresenceHub } from './hub/presence-hub';
import { PresenceRoute } from './transports/http/presence-route';
import { PollTransport } from './transports/longpoll/poll-transport';
import { SocketIoGateway } from './transports/socketio/socketio.gateway';
import { SseTransport } from './transports/sse/sse-transport';
import { WsTransport } from './transports/ws/ws-transport';
import { PUSHER_APPS, PusherApps } from './pusher/pusher-apps';
import { PusherHttpApi } from './pusher/pusher-http-api';
import { createPusherPresence, PUSHER_PRESENCE } from './pusher/pusher-presence';
import { PusherTransport } from './transports/pusher/pusher-transport';
import { InspectorController } from './inspector/inspector.controller';
import { IceServersController } from './webrtc/ice-servers.controller';

/** The gateway: every client transport over one hub and one channel engine. */
@Module({})
export class GatewayModule {
  static forPlatform(platform: Platform): DynamicModule {
    return {
      module: GatewayModule,
      imports: [CoreModule.forPlatform(platform)],
      controllers: [IceServersController, ...((platform.config as GatewayConfig).INSPECTOR_ENABLED ? [InspectorController] : [])],
      providers: [
        { provide: GATEWAY_OPTIONS, useValue: gatewayOptions(platform.config as GatewayConfig) },
        GatewayTokenVerifier,
        ConnectionRegistry,
        { provide: PRESENCE_SERVICE, useFactory: () => presenceService(platform as Platform<GatewayConfig>) },
        PresenceHub,
        Hub,
        WsTransport,
        SseTransport,
        PollTransport,
        SocketIoGateway,
        PresenceRoute,
        DrainService,
        {
          provide: PUSHER_APPS,
          useValue: new PusherApps(
            (platform.config as GatewayConfig).PUSHER_APPS,
            (platform.config as GatewayConfig).PUSHER_ACTIVITY_TIMEOUT_SECONDS,
          ),
        },
        { provide: PUSHER_PRESENCE, useFactory: () => createPusherPresence(platform) },
        PusherTransport,
        PusherHttpApi,
      ],
    };
  }
}
