import type { RunningService } from '@switchboard/platform';
import PusherServer from 'pusher';
import PusherJs from 'pusher-js';

/** One entry of PUSHER_APPS, as the tests configure it. */
export interface PusherTestApp {
  id: string;
  key: string;
  secret: string;
}

export type PusherClient = InstanceType<typeof PusherJs>;

/** The official `pusher` server library pointed at a gateway's `/apps/<id>/…` HTTP API. */
export function pusherServer(gw: RunningService, app: PusherTestApp): PusherServer {
  return new PusherServer({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1', port: String(gw.port), useTLS: false });
}

/** pusher-js's connection options for a gateway on loopback: its port, WebSocket only, no stats (laravel-echo takes them too). */
export function localConnection(gw: RunningService) {
  return {
    cluster: 'local',
    wsHost: '127.0.0.1',
    wsPort: gw.port,
    forceTLS: false,
    enabledTransports: ['ws' as const],
    disableStats: true,
  };
}

/**
 * Unmodified pusher-js on a gateway's `/app/<key>` (WebSocket only, no stats). `authorize`
 * answers its channel auth as an app's auth endpoint would (usually `server.authorizeChannel`).
 */
export function pusherClient(
  gw: RunningService,
  key: string,
  authorize: (socketId: string, channel: string) => PusherServer.ChannelAuthResponse,
): PusherClient {
  return new PusherJs(key, {
    ...localConnection(gw),
    channelAuthorization: {
      endpoint: '',
      transport: 'ajax',
      customHandler: ({ socketId, channelName }, callback) => callback(null, authorize(socketId, channelName)),
    },
  });
}
