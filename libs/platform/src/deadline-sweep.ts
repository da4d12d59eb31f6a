/**
 * Many deadlines kept by one timer instead of a timer each (the gateway's token expiries,
 * the webhook body reads' deadlines): a deadline lands in the slot of the first tick at or
 * after it, and one interval — running only while deadlines are pending — expires every
 * slot whose time has come. Setting and cancelling one is a Set insert and delete.
 *
 * A deadline never expires before its time, and at most `maxLateMs` (two ticks) after it:
 * its slot starts less than a tick after the deadline, and the interval, whose phase is
 * not aligned with the slots, comes round less than a tick after that (plus the event
 * loop's own lateness). Callers that must not be late schedule that much earlier.
 *
 * `onExpire(item)` is called once per expired item; an item may cancel itself or others
 * from inside it. An item holds one deadline at a time: its owner cancels the old one
 * before adding another (adding it again to the same slot changes nothing).
 */
export class DeadlineSweep<T> {
  private readonly slots = new Map<number, Set<T>>();
  private timer: NodeJS.Timeout | undefined;
  private pending = 0;

  constructor(
    readonly tickMs: number,
    private readonly onExpire: (item: T) => void,
    /** Milliseconds on the clock deadlines are given in: monotonic by default; `Date.now` for wall-clock deadlines such as a token's `exp`. */
    readonly clock: () => number = () => performance.now(),
  ) {}

  /** How late an expiry may come, at most (the event loop's own lateness aside). */
  get maxLateMs(): number {
    return 2 * this.tickMs;
  }

  /** Expires `item` once the clock has reached `at`, unless cancelled first; returns the slot to cancel it with. */
  add(at: number, item: T): number {
    const slot = Math.ceil(at / this.tickMs);
    const set = this.slots.get(slot);
    if (set === undefined) this.slots.set(slot, new Set([item]));
    else if (set.has(item)) return slot;
    else set.add(item);
    this.pending++;
    this.timer ??= setInterval(() => this.sweep(), this.tickMs).unref();
    return slot;
  }

  /** `add(clock() + delayMs, item)`. */
  addAfter(delayMs: number, item: T): number {
    return this.add(this.clock() + delayMs, item);
  }

  /** Forgets the deadline `add` returned `slot` for; nothing when it has expired or was cancelled. */
  cancel(slot: number, item: T): void {
    const set = this.slots.get(slot);
    if (set === undefined || !set.delete(item)) return;
    this.pending--;
    if (set.size === 0) this.slots.delete(slot);
  }

  /** Deadlines not yet expired or cancelled. */
  get size(): number {
    return this.pending;
  }

  /** Expires every slot whose time has come (the interval's work; tests call it with their own clock). */
  sweep(): void {
    const now = this.clock();
    for (const [slot, set] of this.slots) {
      if (slot * this.tickMs > now) continue;
      this.slots.delete(slot);
      this.pending -= set.size;
      for (const item of set) this.onExpire(item);
    }
    if (this.pending === 0) this.stop();
  }

  /** Drops every deadline without expiring it. */
  close(): void {
    this.slots.clear();
    this.pending = 0;
    this.stop();
  }

  private stop(): void {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
