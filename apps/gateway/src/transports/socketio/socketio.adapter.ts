import type { INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { MessageMappingProperties } from '@nestjs/websockets';
import { createAdapter, createShardedAdapter } from '@socket.io/redis-adapter';
import type { RedisClient } from '@switchboard/engine';
import type { GatewayConfig } from '@switchboard/config';
import type { Platform } from '@switchboard/platform';
import { Cluster } from 'ioredis';
import type { Observable } from 'rxjs';
import type { Server, ServerOptions, Socket } from 'socket.io';

export const SOCKETIO_PATH = '/socket.io';

/**
 * Socket.IO server options from config, and the Redis adapter for Socket.IO's own
 * cluster-wide operations (`fetchSockets`, `serverSideEmit`, …) when Redis is configured:
 * on a Redis Cluster the sharded adapter (Redis 7 sharded pub/sub, SPUBLISH/SSUBSCRIBE,
 * so adapter traffic reaches one shard instead of every node), else the classic one.
 * Channel messages never travel through the adapter: they come from the channel engine.
 */
export class SwitchboardIoAdapter extends IoAdapter {
  private readonly redisClients: RedisClient[] = [];

  constructor(
    app: INestApplicationContext,
    private readonly platform: Platform<GatewayConfig>,
  ) {
    super(app);
  }

  override createIOServer(port: number, options?: ServerOptions): Server {
    const c = this.platform.config;
    const server = super.createIOServer(port, {
      ...options,
      path: SOCKETIO_PATH,
      maxHttpBufferSize: c.MAX_MESSAGE_BYTES,
      pingInterval: c.WS_PING_SECONDS * 1000,
      pingTimeout: 20_000,
      // Other upgrade paths (/v1/ws) belong to the plain WebSocket transport.
      destroyUpgrade: false,
      serveClient: false,
      cors: c.ALLOWED_ORIGINS.length > 0 ? { origin: [...c.ALLOWED_ORIGINS], credentials: true } : { origin: true, credentials: true },
      allowRequest: (req, callback) => {
        const origin = req.headers.origin;
        callback(null, c.ALLOWED_ORIGINS.length === 0 || origin === undefined || c.ALLOWED_ORIGINS.includes(origin));
      },
    } as ServerOptions);
    const redis = this.platform.runtime.redis;
    if (redis !== undefined) {
      const cluster = redis instanceof Cluster;
      const pub = cluster
        ? redis.duplicate(undefined, { enableOfflineQueue: true, lazyConnect: false })
        : redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
      const sub = cluster
        ? redis.duplicate(undefined, { enableOfflineQueue: true, lazyConnect: false })
        : redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
      for (const client of [pub, sub])
        client.on('error', (err: Error) => this.platform.logger.warn({ err: err.message }, 'Socket.IO Redis adapter error'));
      this.redisClients.push(pub, sub);
      const key = `${c.REDIS_KEY_PREFIX}socket.io`;
      server.adapter(cluster ? createShardedAdapter(pub, sub, { channelPrefix: key }) : createAdapter(pub, sub, { key }));
    }
    return server;
  }

  /**
   * One plain listener per handled event and socket. Nest's own binds, per event and per
   * socket, an rxjs chain that lives as long as the socket (fromEvent → mergeMap →
   * takeUntil(disconnect) and their subscribers): the largest part of what an idle
   * Socket.IO connection held beyond a bare socket.io server. Same behaviour: the payload
   * is split into data and ack, a handler's result (if any, and unless it acks by hand) is
   * the ack, `{event, data}` is emitted; rxjs is used per message only.
   */
  override bindMessageHandlers(
    socket: Socket,
    handlers: MessageMappingProperties[],
    transform: (data: unknown) => Observable<unknown>,
  ): void {
    for (const { message, callback, isAckHandledManually } of handlers) {
      socket.on(String(message), (...args: unknown[]) => {
        const { data, ack } = this.mapPayload(args.length === 1 ? args[0] : args);
        let result: Observable<unknown>;
        try {
          result = transform(callback(data, ack));
        } catch (err) {
          // A handler that throws at once is logged like one that fails later (Nest's `defer`).
          this.logger.error(err);
          return;
        }
        result.subscribe({
          next: (response) => {
            if (response === undefined || response === null) return;
            const event = response as { event?: string; data?: unknown };
            if (event.event) socket.emit(event.event, event.data);
            else if (!isAckHandledManually && typeof ack === 'function') (ack as (r: unknown) => void)(response);
          },
          error: (err: unknown) => this.logger.error(err),
        });
      });
    }
  }

  override async dispose(): Promise<void> {
    await super.dispose();
    for (const client of this.redisClients) client.disconnect();
  }
}
