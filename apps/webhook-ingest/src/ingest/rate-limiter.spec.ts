import { gcra, MemoryRateLimiter } from './rate-limiter';

describe('rate limiting (GCRA)', () => {
  it('allows a burst, then one request per interval, and says how long to wait', () => {
    const limit = { perSecond: 2, burst: 3 };
    let tat: number | undefined;
    const at = (now: number): number => {
      const step = gcra(tat, now, limit);
      tat = step.tat;
      return step.waitMs;
    };
    expect([at(0), at(0), at(0)]).toEqual([0, 0, 0]);
    expect(at(0)).toBe(500);
    expect(at(499)).toBe(1);
    expect(at(500)).toBe(0);
    expect(at(600)).toBe(400);
    // After a quiet period the full burst is back.
    expect([at(10_000), at(10_000), at(10_000), at(10_000)]).toEqual([0, 0, 0, 500]);
  });

  it('keeps one bucket per source in process', async () => {
    let now = 1_000;
    const limiter = new MemoryRateLimiter(() => now);
    const limit = { perSecond: 1, burst: 1 };
    expect(await limiter.take('a', limit)).toBe(0);
    expect(await limiter.take('a', limit)).toBe(1000);
    expect(await limiter.take('b', limit)).toBe(0);
    now += 1000;
    expect(await limiter.take('a', limit)).toBe(0);
  });

  it('gives a request back, never beyond a full bucket', async () => {
    let now = 1_000;
    const limiter = new MemoryRateLimiter(() => now);
    const limit = { perSecond: 1, burst: 2 };
    expect(await limiter.take('a', limit)).toBe(0);
    expect(await limiter.take('a', limit)).toBe(0);
    expect(await limiter.take('a', limit)).toBe(1000);
    await limiter.refund('a', limit);
    expect(await limiter.take('a', limit)).toBe(0);
    // Refunds on a full bucket do not raise it past the burst.
    now += 10_000;
    await limiter.refund('a', limit);
    await limiter.refund('a', limit);
    expect([await limiter.take('a', limit), await limiter.take('a', limit), await limiter.take('a', limit)]).toEqual([0, 0, 1000]);
  });

  it('keeps at most maxKeys buckets, dropping full ones first, then the least recently used', async () => {
    let now = 0;
    const limiter = new MemoryRateLimiter(() => now, 3);
    const limit = { perSecond: 1, burst: 1 };
    for (const key of ['a', 'b', 'c']) await limiter.take(key, limit);
    now = 1_500;
    await limiter.take('d', limit);
    // a, b and c are full again by now (TAT 1000): dropped, nothing lost.
    expect(limiter.size).toBe(1);
    for (const key of ['e', 'f', 'g']) await limiter.take(key, limit);
    expect(limiter.size).toBe(3);
    // d, the least recently used, made room; g is still limited.
    expect(await limiter.take('g', limit)).toBeGreaterThan(0);
    expect(await limiter.take('d', limit)).toBe(0);
  });
});
