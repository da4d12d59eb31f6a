import { performance } from 'node:perf_hooks';

/** How often held polls are checked for their end, ms. */
export const HOLD_TICK_MS = 100;

/**
 * A held poll's place in the HoldQueue. The links live in the poll itself, so a hold
 * allocates nothing (a Node timer per poll was a Timeout object, a closure and the timer
 * list's bookkeeping, twice per poll).
 */
export interface Held {
  /** When the hold ends (the queue's clock, ms). */
  holdEnd: number;
  holdPrev: Held | undefined;
  holdNext: Held | undefined;
  /** The lane it waits in; undefined when not held. */
  holdLane: HoldLane | undefined;
  /** The hold ended without an answer: answer now. */
  holdEnded(): void;
}

/** Holds of one duration: appended in the order they end (the clock is monotonic). */
export class HoldLane {
  head: Held | undefined;
  tail: Held | undefined;
}

/**
 * Every held poll of the process, ended by one timer. Polls with the same `timeout` end
 * in the order they were held, so each duration is a list appended at its tail and ended
 * from its head; an answered poll leaves its list in O(1). A hold ends within half a tick
 * of its end (HOLD_TICK_MS / 2 early at most, plus what the event loop adds); the timer
 * runs only while something is held.
 */
export class HoldQueue {
  private readonly lanes = new Map<number, HoldLane>();
  private held = 0;
  private timer?: NodeJS.Timeout;

  constructor(private readonly now: () => number = () => performance.now()) {}

  get size(): number {
    return this.held;
  }

  /** Holds `item` for `durationMs` (it must not be held already). */
  hold(item: Held, durationMs: number): void {
    let lane = this.lanes.get(durationMs);
    if (lane === undefined) {
      lane = new HoldLane();
      this.lanes.set(durationMs, lane);
    }
    item.holdEnd = this.now() + durationMs;
    item.holdLane = lane;
    item.holdNext = undefined;
    item.holdPrev = lane.tail;
    if (lane.tail === undefined) lane.head = item;
    else lane.tail.holdNext = item;
    lane.tail = item;
    this.held++;
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.tick(), HOLD_TICK_MS);
      this.timer.unref();
    }
  }

  /** Ends `item`'s hold without calling it (it was answered); nothing if it is not held. */
  release(item: Held): void {
    const lane = item.holdLane;
    if (lane === undefined) return;
    const { holdPrev: prev, holdNext: next } = item;
    if (prev === undefined) lane.head = next;
    else prev.holdNext = next;
    if (next === undefined) lane.tail = prev;
    else next.holdPrev = prev;
    item.holdLane = item.holdPrev = item.holdNext = undefined;
    this.held--;
  }

  /** Ends every hold due by now (within half a tick). */
  tick(): void {
    const due = this.now() + HOLD_TICK_MS / 2;
    for (const lane of this.lanes.values()) {
      while (lane.head !== undefined && lane.head.holdEnd <= due) {
        const item = lane.head;
        this.release(item);
        item.holdEnded();
      }
    }
    if (this.held === 0) this.close();
  }

  /** Stops the timer (what is held stays held until released). */
  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
