import { PrivateServer, startPrivateServer } from '@switchboard/testing';
import { Redis } from 'ioredis';
import { RetentionOptions } from '../channel-store';
import { Engine } from '../engine';
import { MemoryFanoutBus } from '../memory/memory-fanout-bus';
import { RedisChannelStore } from './redis-channel-store';

const retention: RetentionOptions = {
  historySize: 100,
  historyTtlSeconds: 3600,
  channelMetaTtlSeconds: 3600,
  idempotencyWindowSeconds: 120,
};

/** Until `check` holds (replication is asynchronous). */
async function until(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Redis replication is asynchronous: a master can acknowledge publishes and die before
 * its replica has them. The promoted replica must not hand those offsets out again in
 * the same epoch (clients that saw the lost messages would drop the new ones as
 * duplicates: a silent loss). Two private servers; the replica is promoted while the old
 * master keeps taking writes it never receives, as in a failover.
 */
describe('Redis channel store across a failover', () => {
  let master: PrivateServer;
  let replica: PrivateServer;
  const clients: Redis[] = [];
  const engineOn = (server: PrivateServer): { engine: Engine; redis: Redis } => {
    const redis = new Redis(server.port, '127.0.0.1', { lazyConnect: false });
    clients.push(redis);
    return { engine: new Engine(new RedisChannelStore(redis, retention, 'fo:'), new MemoryFanoutBus(), { syncIntervalMs: 0 }), redis };
  };

  beforeAll(async () => {
    [master, replica] = await Promise.all([startPrivateServer('redis'), startPrivateServer('redis')]);
  });
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await Promise.all([master?.stop(), replica?.stop()]);
  });

  it('a promoted replica starts a new epoch where the old master acknowledged writes it never received', async () => {
    const old = engineOn(master);
    const promoted = engineOn(replica);
    // The full sync at once, not after Redis's default 5 s wait for more replicas.
    await old.redis.config('SET', 'repl-diskless-sync-delay', '0');
    await promoted.redis.replicaof('127.0.0.1', master.port);
    const first = await Promise.all([1, 2, 3].map((n) => old.engine.publish({ channel: 'orders', data: { n } })));
    const epoch = first[0].epoch;
    await until(async () => (await promoted.redis.hget('fo:{orders}:m', 'o')) === '3', 15_000);

    // The failover: the replica is promoted; the old master still acknowledges offset 4.
    await promoted.redis.replicaof('NO', 'ONE');
    const lost = await old.engine.publish({ channel: 'orders', data: { n: 4 } });
    expect(lost).toMatchObject({ offset: 4, epoch });

    // On the new master the channel goes on in a new epoch, not at offset 4 of the old one.
    const next = await promoted.engine.publish({ channel: 'orders', data: { n: 5 } });
    expect(next.epoch).not.toBe(epoch);
    expect(next.offset).toBe(1);
    // A subscriber that had offset 4 is told it cannot be recovered, never handed the new message as a duplicate.
    expect((await promoted.engine.history('orders', { offset: 4, epoch })).recovered).toBe(false);
    // Later publishes stay in the new epoch.
    expect(await promoted.engine.publish({ channel: 'orders', data: { n: 6 } })).toMatchObject({ offset: 2, epoch: next.epoch });
  });

  it('keeps the epoch of a channel written before the master was recorded (an upgrade) and on the same master', async () => {
    const { engine, redis } = engineOn(replica);
    const first = await engine.publish({ channel: 'legacy', data: 1 });
    await redis.hdel('fo:{legacy}:m', 'r');
    expect(await engine.publish({ channel: 'legacy', data: 2 })).toMatchObject({ offset: 2, epoch: first.epoch });
    expect(await engine.publish({ channel: 'legacy', data: 3 })).toMatchObject({ offset: 3, epoch: first.epoch });
  });
});
