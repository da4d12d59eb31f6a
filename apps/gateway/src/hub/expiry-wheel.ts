/** Something that ends at a deadline (a session whose token expires). */
export interface Expirable {
  expire(): void;
}

/** Width of a slot, ms. */
const SLOT_MS = 250;
/** How late a deadline may fire: its slot's end, plus up to one tick. */
export const EXPIRY_MAX_LATE_MS = 2 * SLOT_MS;

/**
 * One timer for every deadline of the process, in quarter-second slots: a connection costs
 * a Set entry, not a Node timer of its own. A slot fires once its end has passed, so a
 * deadline fires up to EXPIRY_MAX_LATE_MS late, never early; callers that must not be late
 * schedule that much earlier (`ClientSession` does, within the clock tolerance).
 */
export class ExpiryWheel {
  private readonly slots = new Map<number, Set<Expirable>>();
  private readonly slotOf = new WeakMap<Expirable, number>();
  private timer?: NodeJS.Timeout;

  constructor(private readonly now: () => number = Date.now) {}

  /** Fires `item.expire()` once `at` (ms since the epoch) has passed; replaces an earlier schedule of it. */
  schedule(item: Expirable, at: number): void {
    this.cancel(item);
    const slot = Math.floor(at / SLOT_MS);
    let set = this.slots.get(slot);
    if (set === undefined) {
      set = new Set();
      this.slots.set(slot, set);
    }
    set.add(item);
    this.slotOf.set(item, slot);
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.tick(), SLOT_MS);
      this.timer.unref();
    }
  }

  cancel(item: Expirable): void {
    const slot = this.slotOf.get(item);
    if (slot === undefined) return;
    this.slotOf.delete(item);
    const set = this.slots.get(slot);
    if (set === undefined) return;
    set.delete(item);
    if (set.size === 0) this.slots.delete(slot);
  }

  get size(): number {
    let n = 0;
    for (const set of this.slots.values()) n += set.size;
    return n;
  }

  /** Fires every slot whose end has passed. */
  tick(): void {
    const current = Math.floor(this.now() / SLOT_MS);
    for (const [slot, set] of this.slots) {
      if (slot >= current) continue;
      this.slots.delete(slot);
      for (const item of set) {
        this.slotOf.delete(item);
        item.expire();
      }
    }
    if (this.slots.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.slots.clear();
  }
}
