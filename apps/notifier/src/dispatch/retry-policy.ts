/** Spread of the retry delay around its nominal value, so events failed together do not retry in lockstep. */
const JITTER = 0.2;

/**
 * Exponential backoff of failed events (the nak delay): `baseMs · 2^(n-1)` after the n-th
 * failed delivery, capped at `maxMs`, with ±20 % jitter.
 */
export class RetryPolicy {
  constructor(
    readonly baseMs: number,
    readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  /** Delay before delivery `deliveryCount + 1`, after delivery `deliveryCount` failed. */
  delayMs(deliveryCount: number): number {
    const nominal = this.nominalMs(deliveryCount);
    return Math.round(nominal * (1 - JITTER + 2 * JITTER * this.random()));
  }

  /** Longest time from the first to the last of `maxDeliver` deliveries when every attempt fails fast. */
  worstCaseSpanMs(maxDeliver: number): number {
    let total = 0;
    for (let n = 1; n < maxDeliver; n++) total += this.nominalMs(n) * (1 + JITTER);
    return Math.round(total);
  }

  private nominalMs(deliveryCount: number): number {
    const exponent = Math.min(Math.max(deliveryCount - 1, 0), 40);
    return Math.min(this.maxMs, this.baseMs * 2 ** exponent);
  }
}
