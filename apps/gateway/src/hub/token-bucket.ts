/** A token bucket: `rate` tokens per second, burst = rate. `take()` is false when empty. */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly rate: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = rate;
    this.updatedAt = now();
  }

  /** True when a token is there to take. */
  available(): boolean {
    this.refill();
    return this.tokens >= 1;
  }

  take(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Takes a token even when none is left (the work already happened); the debt delays the next `take`. */
  charge(): void {
    this.refill();
    this.tokens -= 1;
  }

  private refill(): void {
    if (this.rate <= 0) {
      this.tokens = 0;
      return;
    }
    const t = this.now();
    this.tokens = Math.min(this.rate, this.tokens + ((t - this.updatedAt) / 1000) * this.rate);
    this.updatedAt = t;
  }
}
