/**
 * WEBHOOK_MAX_CONCURRENT_READS: how many unverified bodies this process reads at once.
 * Each read holds up to WEBHOOK_MAX_BYTES until the body ends or its timeout, so this
 * bounds the memory that slow or stalled uploads can pin. Per process, not shared.
 */
export class ReadSlots {
  private used = 0;

  constructor(readonly capacity: number) {}

  /** Takes a slot; false when all are in use (the request is refused, not queued). */
  tryAcquire(): boolean {
    if (this.used >= this.capacity) return false;
    this.used++;
    return true;
  }

  release(): void {
    if (this.used > 0) this.used--;
  }

  get inUse(): number {
    return this.used;
  }
}
