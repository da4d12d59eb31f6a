import { TokenBucket } from './token-bucket';

describe('TokenBucket', () => {
  it('allows a burst of `rate`, then refills at `rate` per second', () => {
    let now = 0;
    const bucket = new TokenBucket(5, () => now);
    expect(Array.from({ length: 7 }, () => bucket.take())).toEqual([true, true, true, true, true, false, false]);
    now += 200;
    expect(bucket.take()).toBe(true);
    expect(bucket.take()).toBe(false);
    now += 10_000;
    expect(Array.from({ length: 6 }, () => bucket.take()).filter(Boolean)).toHaveLength(5);
  });

  it('refuses everything at rate 0', () => {
    expect(new TokenBucket(0).take()).toBe(false);
  });
});
