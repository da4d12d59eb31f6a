import { Held, HOLD_TICK_MS, HoldLane, HoldQueue } from './hold-queue';

class Poll implements Held {
  holdEnd = 0;
  holdPrev: Held | undefined;
  holdNext: Held | undefined;
  holdLane: HoldLane | undefined;
  ended = 0;
  constructor(readonly name: string) {}
  holdEnded(): void {
    this.ended++;
  }
}

describe('HoldQueue (one timer for every held poll)', () => {
  let now = 0;
  let queue: HoldQueue;
  beforeEach(() => {
    now = 1000;
    queue = new HoldQueue(() => now);
  });
  afterEach(() => queue.close());

  it('ends each hold once its time has come, per duration in order, and never one that was released', () => {
    const a = new Poll('a');
    const b = new Poll('b');
    const c = new Poll('c');
    const short = new Poll('short');
    queue.hold(a, 25_000);
    now += 10;
    queue.hold(b, 25_000);
    queue.hold(short, 1_000);
    now += 10;
    queue.hold(c, 25_000);
    expect(queue.size).toBe(4);
    queue.release(b);
    queue.release(b);
    expect(queue.size).toBe(3);
    now = 1000 + 1010 - HOLD_TICK_MS;
    queue.tick();
    expect(short.ended).toBe(0);
    now = 1000 + 1010;
    queue.tick();
    expect([a.ended, short.ended, c.ended]).toEqual([0, 1, 0]);
    now = 1000 + 25_000 - HOLD_TICK_MS / 2;
    queue.tick();
    expect([a.ended, b.ended, c.ended]).toEqual([1, 0, 0]);
    now = 1000 + 25_020;
    queue.tick();
    queue.tick();
    expect([a.ended, b.ended, c.ended, short.ended]).toEqual([1, 0, 1, 1]);
    expect(queue.size).toBe(0);
  });

  it('releases from the middle, the head and the tail of a lane', () => {
    const polls = ['p0', 'p1', 'p2', 'p3'].map((n) => new Poll(n));
    for (const p of polls) queue.hold(p, 5000);
    queue.release(polls[1]);
    queue.release(polls[0]);
    queue.release(polls[3]);
    now += 5000;
    queue.tick();
    expect(polls.map((p) => p.ended)).toEqual([0, 0, 1, 0]);
    // Held again after its hold ended: a new place at the tail.
    queue.hold(polls[2], 5000);
    queue.hold(polls[0], 5000);
    queue.release(polls[2]);
    now += 5000;
    queue.tick();
    expect(polls.map((p) => p.ended)).toEqual([1, 0, 1, 0]);
  });
});
