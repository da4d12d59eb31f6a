import { ChannelSequencer } from './channel-sequencer';
import { RetryPolicy } from './retry-policy';

describe('RetryPolicy', () => {
  it('doubles from the base up to the cap', () => {
    const fixed = new RetryPolicy(500, 15_000, () => 0.5);
    expect([1, 2, 3, 4, 5, 6, 7, 10].map((n) => fixed.delayMs(n))).toEqual([500, 1000, 2000, 4000, 8000, 15000, 15000, 15000]);
  });

  it('spreads delays by ±20 %', () => {
    expect(new RetryPolicy(1000, 60_000, () => 0).delayMs(1)).toBe(800);
    expect(new RetryPolicy(1000, 60_000, () => 1).delayMs(1)).toBe(1200);
  });

  it('bounds the whole retry schedule (defaults fit the 120 s idempotency window)', () => {
    const defaults = new RetryPolicy(500, 15_000);
    expect(defaults.worstCaseSpanMs(10)).toBeLessThan(120_000);
    expect(defaults.worstCaseSpanMs(1)).toBe(0);
  });
});

describe('ChannelSequencer', () => {
  const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

  it('runs tasks sharing a key in order, and others alongside', async () => {
    const seq = new ChannelSequencer();
    const log: string[] = [];
    const gates = new Map<string, () => void>();
    const task = (name: string) => () =>
      new Promise<void>((resolve) => {
        log.push(`start ${name}`);
        gates.set(name, () => {
          log.push(`end ${name}`);
          resolve();
        });
      });
    const a1 = seq.run(['a'], task('a1'));
    const b1 = seq.run(['b'], task('b1'));
    const ab = seq.run(['a', 'b'], task('ab'));
    const a2 = seq.run(['a'], task('a2'));
    await tick();
    expect(log).toEqual(['start a1', 'start b1']);
    gates.get('a1')!();
    await tick();
    expect(log).not.toContain('start ab'); // still waits for b1
    gates.get('b1')!();
    await tick();
    expect(log.at(-1)).toBe('start ab');
    gates.get('ab')!();
    await tick();
    expect(log.at(-1)).toBe('start a2');
    gates.get('a2')!();
    await Promise.all([a1, b1, ab, a2]);
    await tick();
    expect(seq.busyKeys).toBe(0);
  });

  it('lets the next task run after a failure, and passes the failure to the caller', async () => {
    const seq = new ChannelSequencer();
    const failed = seq.run(['a'], () => Promise.reject(new Error('boom')));
    const next = seq.run(['a'], () => Promise.resolve('ok'));
    await expect(failed).rejects.toThrow('boom');
    await expect(next).resolves.toBe('ok');
  });
});
