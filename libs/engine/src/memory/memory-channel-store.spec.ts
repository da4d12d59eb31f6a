import { eventually, uniqueName } from '@switchboard/testing';
import { ChannelNotFoundError } from '../channel-engine';
import { messageJsonParts } from '../channel-store';
import { MemoryChannelStore } from './memory-channel-store';

describe('MemoryChannelStore', () => {
  it('forgets 100,000 channels that were only read once HISTORY_TTL_SECONDS has passed; a published one stays', async () => {
    // A clock of its own: however long the reads take, nothing expires until it moves.
    let now = Date.now();
    const store = new MemoryChannelStore(
      {
        historySize: 100,
        historyTtlSeconds: 1,
        channelMetaTtlSeconds: 3600,
        idempotencyWindowSeconds: 120,
      },
      () => now,
    );
    try {
      const name = (): string => uniqueName('r') + ':x';
      let created = 0;
      for (let i = 0; i < 1000; i++) if ((await store.history(name())).created) created++;
      for (let i = 0; i < 99; i++) {
        created += (await store.positions(Array.from({ length: 1000 }, name))).filter((p) => p.created).length;
      }
      expect(created).toBe(100_000);
      const published = name();
      const { result } = await store.publish(
        { channel: published, data: 1 },
        messageJsonParts({ channel: published, data: 1 }, Date.now()),
        Date.now(),
      );
      expect(store.size).toBe(100_001);
      now += 1001;
      // The sweep removes what expired: the map does not keep what reads created.
      await eventually(() => expect(store.size).toBe(1), 10_000, 100);
      expect(await store.positions([published], { create: false })).toEqual([{ offset: 1, epoch: result.epoch }]);
    } finally {
      await store.close();
    }
  });

  it('creates nothing on a read with create:false of an untouched channel', async () => {
    const store = new MemoryChannelStore({
      historySize: 10,
      historyTtlSeconds: 300,
      channelMetaTtlSeconds: 3600,
      idempotencyWindowSeconds: 120,
    });
    try {
      await expect(store.history('a:1', undefined, { create: false })).rejects.toBeInstanceOf(ChannelNotFoundError);
      await expect(store.positions(['a:1', 'a:2'], { create: false })).rejects.toBeInstanceOf(ChannelNotFoundError);
      expect(store.size).toBe(0);
    } finally {
      await store.close();
    }
  });
});
