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

  take(): boolean {
    if (this.rate <= 0) return false;
    const t = this.now();
    this.tokens = Math.min(this.rate, this.tokens + ((t - this.updatedAt) / 1000) * this.rate);
    this.updatedAt = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
