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
import { ClusterStats } from './console/cluster-stats';
import { ConsoleController } from './console/console.controller';
import { STATS_BUS, statsBusFor, StatsPublisher } from './console/stats-publisher';
import { IceServersController } from './webrtc/ice-servers.controller';

/** The gateway: every client transport over one hub and one channel engine. */
@Module({})
export class GatewayModule {
  static forPlatform(platform: Platform): DynamicModule {
    const config = platform.config as GatewayConfig;
    const console = consoleServed(config);
    return {
      module: GatewayModule,
      imports: [CoreModule.forPlatform(platform)],
      controllers: [
        IceServersController,
        ...(config.INSPECTOR_ENABLED ? [InspectorController] : []),
        ...(console ? [ConsoleController] : []),
      ],
      providers: [
        // Every gateway tells the cluster its stats; a console listens to them.
        { provide: STATS_BUS, useValue: statsBusFor(platform) },
        StatsPublisher,
        ...(console ? [ClusterStats] : []),
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

/** The console is served with CONSOLE_ENABLED and only behind an admin key. */
export function consoleServed(config: Pick<GatewayConfig, 'CONSOLE_ENABLED' | 'ADMIN_API_KEY'>): boolean {
  return config.CONSOLE_ENABLED && config.ADMIN_API_KEY !== undefined;
}
