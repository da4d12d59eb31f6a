import { requireSharedServers, uniqueName } from '@switchboard/testing';
import { Redis } from 'ioredis';
import { DeliveryLedger, MemoryDeliveryLedger } from './delivery-ledger';
import { ADMITTED_KEYS_MAX, RedisDeliveryLedger } from './redis-delivery-ledger';

/** The same contract for the memory ledger and the Redis one (on the shared Redis). */
describe.each(['memory', 'redis'] as const)('DeliveryLedger (%s)', (kind) => {
  let redis: Redis | undefined;
  let prefix: string;
  let n = 0;
  /** A fresh ledger per test (the Redis one under its own key prefix). */
  const ledger = (windowSeconds = 60): DeliveryLedger =>
    kind === 'memory' ? new MemoryDeliveryLedger(windowSeconds) : new RedisDeliveryLedger(redis!, `${prefix}${++n}:`, windowSeconds);

  beforeAll(async () => {
    if (kind === 'memory') return;
    const { redisUrl } = await requireSharedServers();
    redis = new Redis(redisUrl);
    prefix = `${uniqueName('ledger')}:`;
  });
  afterAll(async () => {
    if (redis === undefined) return;
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it('admits a new delivery, then reports it stored once marked, per source', async () => {
    const l = ledger();
    expect(await l.admit('a', 'd1')).toBe('new');
    expect(await l.admit('a', 'd1')).toBe('new');
    await l.markStored('a', 'd1');
    expect(await l.admit('a', 'd1')).toBe('stored');
    expect(await l.admit('b', 'd1')).toBe('new');
  });

  it('tells a replayed signature (another delivery id) from a retry (the same one)', async () => {
    const l = ledger();
    expect(await l.admit('a', 'd1', 'sig')).toBe('new');
    expect(await l.admit('a', 'd1', 'sig')).toBe('new');
    expect(await l.admit('a', 'd2', 'sig')).toBe('replayed');
    expect(await l.admit('b', 'd2', 'sig')).toBe('new');
    // A retry of a stored delivery is a duplicate, not a replay.
    await l.markStored('a', 'd1');
    expect(await l.admit('a', 'd1', 'sig')).toBe('stored');
  });

  it('answers each of many concurrent admits and marks with its own verdict', async () => {
    const l = ledger();
    // Started in one turn of the event loop: the Redis ledger sends them as one batch per source (several past its size cap).
    const ids = Array.from({ length: 600 }, (_, i) => `c${i}`);
    await Promise.all(ids.filter((_, i) => i % 3 === 0).map((id) => l.markStored('a', id)));
    const verdicts = await Promise.all([
      ...ids.map((id, i) => l.admit('a', id, i % 2 === 0 ? `sig${i}` : undefined)),
      l.admit('a', 'c1', 'sig0'),
      l.admit('b', 'c0'),
    ]);
    expect(verdicts.slice(0, 600)).toEqual(ids.map((_, i) => (i % 3 === 0 ? 'stored' : 'new')));
    // sig0 was claimed by c0 earlier in the same batch: another delivery presenting it is a replay.
    expect(verdicts.slice(600)).toEqual(['replayed', 'new']);
  });

  it('sees the marks asked for before an admit of the same turn (past the batch size too)', async () => {
    const l = ledger();
    const ids = Array.from({ length: 300 }, (_, i) => `m${i}`);
    // The Redis ledger sends these in one flush: 256 marks, then 44 marks and the admits.
    const marked = Promise.all(ids.map((id) => l.markStored('a', id)));
    const verdicts = Promise.all([...ids.map((id) => l.admit('a', id)), l.admit('a', 'unmarked')]);
    await marked;
    expect(await verdicts).toEqual([...ids.map(() => 'stored'), 'new']);
  });

  it('marks the right key for admits long past, and for ids never admitted', async () => {
    const l = ledger();
    // More new admits than the Redis ledger keeps keys of for their marks: the first one's is gone.
    const ids = Array.from({ length: ADMITTED_KEYS_MAX + 1 }, (_, i) => `p${i}`);
    expect(new Set(await Promise.all(ids.map((id) => l.admit('a', id))))).toEqual(new Set(['new']));
    await Promise.all([l.markStored('a', 'p0'), l.markStored('a', ids.at(-1)!), l.markStored('a', 'never-admitted')]);
    expect(await Promise.all(['p0', ids.at(-1)!, 'never-admitted', 'p1'].map((id) => l.admit('a', id)))).toEqual([
      'stored',
      'stored',
      'stored',
      'new',
    ]);
  });

  it('forgets after the window', async () => {
    const l = ledger(1);
    await l.markStored('a', 'd1');
    expect(await l.admit('a', 'd2', 'sig')).toBe('new');
    expect(await l.admit('a', 'd1')).toBe('stored');
    await new Promise((r) => setTimeout(r, 1100));
    expect(await l.admit('a', 'd1')).toBe('new');
    expect(await l.admit('a', 'd3', 'sig')).toBe('new');
  });
});

describe('MemoryDeliveryLedger', () => {
  it('is bounded per source: the oldest entries go first', async () => {
    const ledger = new MemoryDeliveryLedger(60, Date.now, 3);
    for (const id of ['1', '2', '3', '4']) await ledger.markStored('a', id);
    await ledger.markStored('b', 'x');
    expect(await Promise.all(['1', '2', '3', '4'].map((id) => ledger.admit('a', id)))).toEqual(['new', 'stored', 'stored', 'stored']);
    expect(await ledger.admit('b', 'x')).toBe('stored');
  });
});
