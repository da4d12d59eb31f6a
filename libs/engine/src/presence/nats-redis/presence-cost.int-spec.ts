import { eventually, PrivateServer, startPrivateServer } from '@switchboard/testing';
import type { Redis } from 'ioredis';
import { MemoryEventBus } from '../../memory/memory-event-bus';
import { connectRedis } from '../../nats-redis/connections';
import { ChannelOptionsResolver } from '../channel-options';
import { MemoryPresenceSignalBus } from '../memory/memory-presence-signal-bus';
import { PresenceService } from '../presence-service';
import { RedisPresenceStore } from './redis-presence-store';

/** Commands a Redis server has run, those inside scripts included and INFO excluded (INFO commandstats). */
async function commandsRun(redis: Redis): Promise<number> {
  const info = await redis.info('commandstats');
  let total = 0;
  for (const m of info.matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)) if (m[1] !== 'info') total += Number(m[2]);
  return total;
}

/**
 * SPEC "Presence": leases are renewed "in batches in the background, one round trip per
 * gateway per interval, not per connection". On a private redis-server (nothing else
 * talks to it), idle gateways' commands are counted against their heartbeats.
 */
describe('presence lease renewal cost', () => {
  let server: PrivateServer;
  let admin: Redis;
  const opened: Redis[] = [];

  beforeAll(async () => {
    server = await startPrivateServer('redis');
    admin = await connectRedis(server.url, 'cost-admin', 5000);
  });
  afterAll(async () => {
    for (const r of opened) r.disconnect();
    admin.disconnect();
    await server.stop();
  });

  /** `count` gateways holding `connectionsEach` connections each; counts their heartbeats and the commands their connections send. */
  async function gateways(
    count: number,
    connectionsEach: number,
  ): Promise<{ services: PresenceService[]; beats: () => number; sent: () => number }> {
    let beats = 0;
    let sent = 0;
    const services: PresenceService[] = [];
    const eventBus = new MemoryEventBus(
      { eventsMaxAgeSeconds: 60, duplicateWindowSeconds: 120, dlqMaxAgeSeconds: 60 },
      { eventsStream: 'EVENTS', eventsSubjectPrefix: 'events', dlqStream: 'EVENTS_DLQ', dlqSubjectPrefix: 'dlq.events' },
    );
    await eventBus.ensureStreams();
    for (let g = 0; g < count; g++) {
      const redis = await connectRedis(server.url, 'cost', 5000);
      opened.push(redis);
      const send = redis.sendCommand.bind(redis);
      redis.sendCommand = (...args: Parameters<Redis['sendCommand']>) => {
        sent++;
        return send(...args);
      };
      const store = new RedisPresenceStore(redis, { keyPrefix: `cost${count}x${connectionsEach}:` });
      const heartbeat = store.heartbeat.bind(store);
      store.heartbeat = (...args) => {
        beats++;
        return heartbeat(...args);
      };
      const service = new PresenceService(store, new MemoryPresenceSignalBus(), eventBus, {
        ttlMs: 6000,
        maxMembers: 1000,
        channels: new ChannelOptionsResolver([{ match: '*', presence: true, joinLeave: true, lifecycleEvents: true }]),
      });
      await service.start();
      services.push(service);
      for (let i = 0; i < connectionsEach; i += 200) {
        await Promise.all(
          Array.from({ length: Math.min(200, connectionsEach - i) }, (_, k) =>
            service.join(`room:${(i + k) % 100}`, `conn-${i + k}`, { user: `user-${g}-${i + k}`, info: {} }),
          ),
        );
      }
    }
    return { services, beats: () => beats, sent: () => sent };
  }

  /** What happens on the server and the wire while at least `window` heartbeats go by, nothing else going on. */
  async function measure(
    g: { beats: () => number; sent: () => number },
    window: number,
  ): Promise<{ heartbeats: number; roundTrips: number; serverCommands: number }> {
    const [beatsBefore, sentBefore] = [g.beats(), g.sent()];
    const before = await commandsRun(admin);
    await eventually(() => expect(g.beats()).toBeGreaterThanOrEqual(beatsBefore + window), 30_000, 20);
    const after = await commandsRun(admin);
    return { heartbeats: g.beats() - beatsBefore, roundTrips: g.sent() - sentBefore, serverCommands: after - before };
  }

  it('costs one round trip per gateway per heartbeat, and the same server work, with 10 or 2,000 connections each', async () => {
    const perHeartbeat: number[] = [];
    for (const connections of [10, 2000]) {
      const g = await gateways(2, connections);
      const { heartbeats, roundTrips, serverCommands } = await measure(g, 16);
      // A heartbeat in flight at either end of the window is counted on one side only.
      expect(Math.abs(roundTrips - heartbeats)).toBeLessThanOrEqual(2);
      perHeartbeat.push(serverCommands / heartbeats);
      for (const s of g.services) await s.close();
    }
    // Inside the script: TIME, ZSCORE, ZADD and the two claim lookups, whatever the connections.
    expect(perHeartbeat[1]).toBeCloseTo(perHeartbeat[0], 0);
    expect(perHeartbeat[1]).toBeLessThan(8);
  }, 120_000);
});
