import { eventually, redisCli, RedisSentinelSet } from '@switchboard/testing';
import { Redis } from 'ioredis';
import { createRedisClient, RedisClient } from './connections';

/** The port sentinel `port` names as master now. */
async function masterPortSeenBy(port: number, name: string): Promise<number> {
  return Number((await redisCli(port, 'sentinel', 'get-master-addr-by-name', name)).trim().split('\n')[1]);
}

/**
 * The Redis client made for a Sentinel set-up follows a failover whatever the moment the
 * sentinels announce it (a private master, replica and three sentinels; the shared Redis
 * is not touched).
 */
describe('createRedisClient with Redis Sentinel', () => {
  let set: RedisSentinelSet;
  let redis: RedisClient | undefined;
  let watcher: Redis | undefined;

  beforeAll(async () => {
    set = await RedisSentinelSet.start();
  }, 60_000);
  afterAll(async () => {
    redis?.disconnect();
    watcher?.disconnect();
    await set?.stop();
  });

  it('follows the promoted master when +switch-master arrives while it is asking a sentinel for the master', async () => {
    const [first, ...others] = set.sentinels;
    redis = createRedisClient({ sentinels: set.sentinelList.split(','), sentinelName: set.masterName }, 'sentinel-race');
    redis.on('error', () => undefined);
    await redis.connect();
    await redis.set('sentinel-race:k', '1');
    // Every sentinel has the client's +switch-master subscriber (the failover detector is up).
    await eventually(
      async () => {
        for (const s of set.sentinels) {
          if (!/ sub=1 /.test(await redisCli(s.port, 'client', 'list'))) throw new Error(`no subscriber on sentinel ${s.port}`);
        }
      },
      10_000,
      100,
    );
    // The test's own view of the announcements, from the sentinels that carry out the failover.
    watcher = new Redis({ port: others[0].port, host: '127.0.0.1', lazyConnect: true });
    const watcher2 = watcher.duplicate({ port: others[1].port });
    const announcedBy = new Set<Redis>();
    for (const w of [watcher, watcher2]) {
      w.on('error', () => undefined);
      w.on('message', () => announcedBy.add(w));
      await w.subscribe('+switch-master');
    }

    // The sentinel the client asks first answers nothing for now (its process is stopped):
    // the client's reconnect after the master dies waits on that answer...
    first.pause();
    try {
      await set.master.kill('SIGKILL');
      // ...while the other two sentinels promote the replica and announce it.
      await eventually(
        async () => {
          for (const s of others) {
            if ((await masterPortSeenBy(s.port, set.masterName)) !== set.replica.port) throw new Error('not failed over yet');
          }
          if (announcedBy.size < 2) throw new Error('+switch-master not seen yet');
        },
        30_000,
        100,
      );
    } finally {
      first.resume();
      watcher2.disconnect();
    }

    // Once the sentinel answers (still naming the dead master, or the new one), the client
    // must keep trying until it reaches the promoted master, whatever the detector did meanwhile.
    await eventually(
      async () => {
        expect(await redis!.set('sentinel-race:k', '2')).toBe('OK');
      },
      20_000,
      100,
    );
    expect(redis.status).toBe('ready');
    expect(await redis.get('sentinel-race:k')).toBe('2');
  }, 90_000);

  it('reaches the promoted master when the sentinel it asks first never answers', async () => {
    const fresh = await RedisSentinelSet.start();
    const client = createRedisClient({ sentinels: fresh.sentinelList.split(','), sentinelName: fresh.masterName }, 'sentinel-frozen');
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.set('sentinel-frozen:k', '1');
      // The first sentinel stays stopped (it takes connections, answers nothing) from before
      // the master dies until the client has written to the promoted one.
      fresh.sentinels[0].pause();
      await fresh.master.kill('SIGKILL');
      await eventually(
        async () => {
          expect(await client.set('sentinel-frozen:k', '2')).toBe('OK');
        },
        40_000,
        100,
      );
      expect(await masterPortSeenBy(fresh.sentinels[1].port, fresh.masterName)).toBe(fresh.replica.port);
    } finally {
      client.disconnect();
      await fresh.stop();
    }
  }, 90_000);
});
