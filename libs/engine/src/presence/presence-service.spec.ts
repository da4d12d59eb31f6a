import { eventually } from '@switchboard/testing';
import { MemoryEventBus } from '../memory/memory-event-bus';
import { ChannelOptionsResolver } from './channel-options';
import { MemoryPresenceSignalBus } from './memory/memory-presence-signal-bus';
import { MemoryPresenceStore } from './memory/memory-presence-store';
import { CuttableStore } from './presence.conformance';
import { PresenceService } from './presence-service';
import { PresenceSignal } from './presence-signal-bus';

const RULES = [{ match: 'c:*', presence: true, joinLeave: true, lifecycleEvents: true }];

async function setup(ttlMs = 3000) {
  const memory = new MemoryPresenceStore();
  const store = new CuttableStore(memory);
  const signals = new MemoryPresenceSignalBus();
  const eventBus = new MemoryEventBus(
    { eventsMaxAgeSeconds: 3600, duplicateWindowSeconds: 120, dlqMaxAgeSeconds: 3600 },
    { eventsStream: 'EVENTS', eventsSubjectPrefix: 'events', dlqStream: 'EVENTS_DLQ', dlqSubjectPrefix: 'dlq.events' },
  );
  await eventBus.ensureStreams();
  const service = new PresenceService(store, signals, eventBus, { ttlMs, maxMembers: 10, channels: new ChannelOptionsResolver(RULES) });
  return { memory, store, signals, eventBus, service };
}

function signal(op: 'join' | 'leave', user: string, seq: number, epoch = 'e1'): PresenceSignal {
  return { op, channel: 'c:1', user, epoch, seq, json: JSON.stringify({ op, channel: 'c:1', user }) };
}

describe('PresenceService', () => {
  it('passes each user only signals newer than the last one it passed (repeats and stale ones dropped)', async () => {
    const { signals, service } = await setup();
    const got: string[] = [];
    const l = await service.listen('c:1', (s) => got.push(`${s.op} ${s.user} ${s.seq}`));
    // Two deciders announce out of order; a retried delivery repeats one.
    for (const s of [
      signal('join', 'a', 5),
      signal('leave', 'a', 7),
      signal('join', 'a', 5),
      signal('join', 'b', 6),
      signal('join', 'a', 6),
    ]) {
      signals.announce(s);
    }
    // A new epoch (the store lost the channel's counter) starts over.
    signals.announce(signal('join', 'a', 1, 'e2'));
    await eventually(() => expect(got).toEqual(['join a 5', 'leave a 7', 'join b 6', 'join a 1']));
    l.close();
    signals.announce(signal('leave', 'a', 2, 'e2'));
    await new Promise((r) => setImmediate(r));
    expect(got).toHaveLength(4);
  });

  it('writes nothing while its lease is not confirmed, and everything once it is again', async () => {
    const { memory, store, service } = await setup(600);
    await service.start();
    const heartbeat = store.heartbeat;
    // Heartbeats fail, everything else works: a gateway cut off the lease set only.
    store.heartbeat = () => Promise.reject(new Error('no heartbeat'));
    expect(service.isReady()).toBe(true);
    // Writes stop one heartbeat interval before the lease could have expired.
    await eventually(() => expect(service.isReady()).toBe(false), 3000);
    await expect(service.join('c:1', 'x', { user: 'u', info: {} })).rejects.toMatchObject({ code: 'unavailable' });
    expect(await memory.count('c:1')).toEqual({ count: 0, connections: 0 });
    store.heartbeat = heartbeat;
    await eventually(async () => expect(await memory.count('c:1')).toEqual({ count: 1, connections: 1 }), 3000);
    await service.close();
    expect(await memory.count('c:1')).toEqual({ count: 0, connections: 0 });
  });

  it('runs a leave after its join, even when called while the join is in flight', async () => {
    const { memory, store, service } = await setup();
    await service.start();
    const decided: string[] = [];
    service.onTransition((t) => decided.push(t.type));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const join = store.join;
    store.join = async (...args) => {
      await gate;
      return join(...args);
    };
    const joined = service.join('c:2', 'x', { user: 'u', info: {} });
    await eventually(async () => expect(await memory.heldBy(service.holderId, 10)).toHaveLength(1));
    const left = service.leave('c:2', 'x');
    release();
    await Promise.all([joined, left]);
    expect(decided).toEqual(['channel.occupied', 'member.added', 'member.removed', 'channel.vacated']);
    expect(await memory.count('c:2')).toEqual({ count: 0, connections: 0 });
    expect(await memory.heldBy(service.holderId, 10)).toEqual([]);
    store.join = join;
    await service.close();
  });

  it('skips a join left before it was written; a rejoin of the key waits for that leave', async () => {
    const { memory, service } = await setup();
    await service.start();
    const decided: string[] = [];
    service.onTransition((t) => decided.push(t.type));
    await Promise.all([
      service.join('c:3', 'x', { user: 'u', info: {} }),
      service.leave('c:3', 'x'),
      service.join('c:3', 'x', { user: 'u', info: { again: true } }),
    ]);
    expect(decided).toEqual(['channel.occupied', 'member.added']);
    expect((await memory.members('c:3', 10)).members).toEqual([{ user: 'u', info: { again: true }, connections: 1 }]);
    await service.close();
  });

  it('shares one store query among concurrent callers, but never one that started before its own write', async () => {
    const { store, service } = await setup();
    await service.start();
    await service.join('c:4', 'x', { user: 'u', info: {} });
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const members = store.members;
    store.members = async (...args) => {
      calls++;
      await gate;
      return members(...args);
    };
    const early = Array.from({ length: 10 }, () => service.query('c:4'));
    expect(calls).toBe(1);
    await service.join('c:4', 'y', { user: 'v', info: {} });
    const late = service.query('c:4');
    expect(calls).toBe(2);
    release();
    const answers = await Promise.all(early);
    expect(new Set(answers).size).toBe(1);
    expect((await late).count).toBe(2);
    store.members = members;
    await service.close();
  });

  it('does nothing for channels without presence options', async () => {
    const { store, service } = await setup();
    await service.start();
    store.cut = true;
    await service.join('other', 'x', { user: 'u', info: {} });
    await service.leave('other', 'x');
    await expect(service.count('other')).rejects.toMatchObject({ code: 'not_found' });
    store.cut = false;
    await service.close();
  });
});
