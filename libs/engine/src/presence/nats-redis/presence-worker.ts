/**
 * A gateway's presence in its own process, for tests that kill one (bundled and forked by
 * presence-processes.int-spec.ts). Config from `PRESENCE_WORKER` (JSON); requests and
 * replies over the IPC channel.
 */
import { EventBusNames } from '../../event-bus';
import { connectNats, connectRedis } from '../../nats-redis/connections';
import { JetStreamEventBus } from '../../nats-redis/jetstream-event-bus';
import { NatsHealth } from '../../nats-redis/nats-health';
import { ChannelOptionsResolver, ChannelOptionsRule } from '../channel-options';
import { PresenceService } from '../presence-service';
import { NatsPresenceSignalBus } from './nats-presence-signal-bus';
import { RedisPresenceStore } from './redis-presence-store';

export interface PresenceWorkerConfig {
  natsUrl: string;
  redisUrl: string;
  keyPrefix: string;
  subjectPrefix: string;
  names: EventBusNames;
  ttlMs: number;
  rules: ChannelOptionsRule[];
}

export type PresenceWorkerRequest = { id: number } & (
  | { op: 'join'; channel: string; connection: string; user: string; info: Record<string, unknown> }
  | { op: 'leave'; channel: string; connection: string }
  /** Toggles random (user, device) connections of `users` users `ops` times, `concurrency` at once. */
  | { op: 'race'; channel: string; users: number; ops: number; seed: number; concurrency: number }
  | { op: 'close' }
);

/** What a race leaves joined here: connection → user; and how many transitions of the channel this process decided. */
export interface RaceResult {
  joined: Array<[string, string]>;
  decided: number;
}

export type PresenceWorkerMessage =
  | { ready: true; holder: string }
  | { id: number; ok: true; value?: unknown }
  | { id: number; ok: false; error: string }
  | { progress: number };

function send(message: PresenceWorkerMessage): void {
  process.send!(message);
}

async function race(service: PresenceService, r: Extract<PresenceWorkerRequest, { op: 'race' }>): Promise<RaceResult> {
  const joined = new Map<string, string>();
  let decided = 0;
  service.onTransition((t) => {
    if (t.channel === r.channel) decided++;
  });
  let x = r.seed;
  const next = (n: number): number => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x % n;
  };
  let done = 0;
  const run = async (): Promise<void> => {
    while (done < r.ops) {
      done++;
      if (done % 100 === 0) send({ progress: done });
      const u = next(r.users);
      const connection = `${u}-${next(2)}`;
      if (joined.has(connection)) {
        joined.delete(connection);
        await service.leave(r.channel, connection);
      } else {
        joined.set(connection, `user-${u}`);
        await service.join(r.channel, connection, { user: `user-${u}`, info: { u } });
      }
    }
  };
  await Promise.all(Array.from({ length: r.concurrency }, run));
  return { joined: [...joined], decided };
}

async function main(): Promise<void> {
  const config = JSON.parse(process.env.PRESENCE_WORKER ?? '') as PresenceWorkerConfig;
  const [nc, redis] = await Promise.all([
    connectNats(config.natsUrl, 'presence-worker', 5000),
    connectRedis(config.redisUrl, 'presence-worker', 5000),
  ]);
  const health = new NatsHealth(nc);
  const eventBus = await JetStreamEventBus.create(
    nc,
    health,
    { eventsMaxAgeSeconds: 3600, duplicateWindowSeconds: 120, dlqMaxAgeSeconds: 3600 },
    config.names,
  );
  const service = new PresenceService(
    new RedisPresenceStore(redis, { keyPrefix: config.keyPrefix }),
    new NatsPresenceSignalBus(nc, health, config.subjectPrefix),
    eventBus,
    { ttlMs: config.ttlMs, maxMembers: 1000, channels: new ChannelOptionsResolver(config.rules), name: `worker-${process.pid}` },
  );
  await service.start();
  process.on('message', (request: PresenceWorkerRequest) => {
    const handle = async (): Promise<unknown> => {
      switch (request.op) {
        case 'join':
          return service.join(request.channel, request.connection, { user: request.user, info: request.info });
        case 'leave':
          return service.leave(request.channel, request.connection);
        case 'race':
          return race(service, request);
        case 'close':
          await service.close();
          await nc.close();
          redis.disconnect();
          return undefined;
      }
    };
    handle().then(
      (value) => send({ id: request.id, ok: true, value }),
      (err: unknown) => send({ id: request.id, ok: false, error: String(err) }),
    );
  });
  send({ ready: true, holder: service.holderId });
}

// Only as a forked worker: importing this file (for its types) must not start anything.
if (process.env.PRESENCE_WORKER !== undefined && process.send !== undefined) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
