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
});
