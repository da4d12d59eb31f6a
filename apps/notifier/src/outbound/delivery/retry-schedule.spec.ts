import { MAX_RETRY_AFTER_SECONDS, RetrySchedule } from './retry-schedule';

describe('RetrySchedule', () => {
  it('gives each delay of the schedule after the matching failure, then nothing', () => {
    const s = new RetrySchedule([5, 300, 1800], () => 0.5);
    expect(s.maxAttempts).toBe(4);
    expect([1, 2, 3, 4].map((n) => s.nextDelayMs(n))).toEqual([5000, 300_000, 1_800_000, undefined]);
  });

  it('spreads each delay within ±20 %', () => {
    expect(new RetrySchedule([10], () => 0).nextDelayMs(1)).toBe(8000);
    expect(new RetrySchedule([10], () => 0.999999).nextDelayMs(1)).toBe(12000);
    const values = new Set(Array.from({ length: 200 }, () => new RetrySchedule([10]).nextDelayMs(1)!));
    for (const v of values) expect(v >= 8000 && v <= 12000).toBe(true);
    expect(values.size).toBeGreaterThan(50);
  });

  it('waits at least Retry-After, capped at a day', () => {
    const s = new RetrySchedule([5], () => 0.5);
    expect(s.nextDelayMs(1, 60)).toBe(60_000);
    expect(s.nextDelayMs(1, 2)).toBe(5000);
    expect(s.nextDelayMs(1, 10 ** 9)).toBe(MAX_RETRY_AFTER_SECONDS * 1000);
    // Retry-After does not extend a message past its last attempt.
    expect(s.nextDelayMs(2, 60)).toBeUndefined();
  });
});
