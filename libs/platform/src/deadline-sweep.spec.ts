import { DeadlineSweep } from './deadline-sweep';

describe('DeadlineSweep', () => {
  it('expires a deadline at the first tick at or after it, never before, and not once cancelled', () => {
    let now = 1000;
    const expired: string[] = [];
    const sweep = new DeadlineSweep<string>(
      100,
      (item) => expired.push(item),
      () => now,
    );
    sweep.addAfter(250, 'a'); // due at 1250: the slot of 1300
    const slotB = sweep.add(1250, 'b');
    sweep.add(1500, 'c');
    sweep.cancel(slotB, 'b');
    expect(sweep.size).toBe(2);
    now = 1299;
    sweep.sweep();
    expect(expired).toEqual([]);
    now = 1300;
    sweep.sweep();
    expect(expired).toEqual(['a']);
    now = 1499;
    sweep.sweep();
    expect(expired).toEqual(['a']);
    now = 1500;
    sweep.sweep();
    expect(expired).toEqual(['a', 'c']);
    expect(sweep.size).toBe(0);
  });

  it('counts an item added twice to one slot once', () => {
    let now = 0;
    const expired: string[] = [];
    const sweep = new DeadlineSweep<string>(
      10,
      (item) => expired.push(item),
      () => now,
    );
    sweep.add(5, 'a');
    sweep.add(7, 'a');
    expect(sweep.size).toBe(1);
    now = 10;
    sweep.sweep();
    expect(expired).toEqual(['a']);
    expect(sweep.size).toBe(0);
  });

  it('lets an expiring item cancel itself or others without losing any', () => {
    let now = 0;
    const expired: number[] = [];
    const slots: number[] = [];
    const sweep = new DeadlineSweep<number>(
      10,
      (i) => {
        expired.push(i);
        // As readRawBody's clean-up does: cancels its own deadline while it expires.
        sweep.cancel(slots[i], i);
      },
      () => now,
    );
    for (const i of [0, 1, 2]) slots.push(sweep.add(5, i));
    now = 10;
    sweep.sweep();
    expect(expired).toEqual([0, 1, 2]);
    expect(sweep.size).toBe(0);
  });

  it('drops every deadline on close without expiring it', () => {
    const expired: string[] = [];
    const sweep = new DeadlineSweep<string>(10, (item) => expired.push(item));
    sweep.addAfter(5, 'a');
    sweep.close();
    expect(sweep.size).toBe(0);
    sweep.sweep();
    expect(expired).toEqual([]);
  });

  it('expires through its own interval, never early, and then has nothing pending', async () => {
    const sweep = new DeadlineSweep<() => void>(20, (resolve) => resolve());
    const started = performance.now();
    await new Promise<void>((resolve) => sweep.addAfter(50, resolve));
    expect(performance.now()).toBeGreaterThanOrEqual(started + 49);
    expect(sweep.size).toBe(0);
  });
});
