import { MemoryRateLimiter } from './rate-limiter';

describe('MemoryRateLimiter', () => {
  it('allows a second’s worth at once, then one per 1/rate s, per endpoint', async () => {
    let now = 0;
    const limiter = new MemoryRateLimiter(() => now);
    const allowed = async (ep: string) => (await limiter.acquire(ep, 5)) === 0;
    for (let i = 0; i < 5; i++) expect(await allowed('a')).toBe(true);
    expect(await limiter.acquire('a', 5)).toBe(200);
    expect(await allowed('b')).toBe(true);
    now += 200;
    expect(await allowed('a')).toBe(true);
    expect(await allowed('a')).toBe(false);
  });

  it('handles rates below one per second', async () => {
    let now = 0;
    const limiter = new MemoryRateLimiter(() => now);
    expect(await limiter.acquire('a', 0.5)).toBe(0);
    expect(await limiter.acquire('a', 0.5)).toBe(2000);
    now += 2000;
    expect(await limiter.acquire('a', 0.5)).toBe(0);
  });
});
