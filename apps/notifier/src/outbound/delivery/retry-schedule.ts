/** Spread of each delay around its nominal value, so messages failed together do not retry in lockstep. */
export const RETRY_JITTER = 0.2;
/** Longest `Retry-After` honoured; a larger one is cut to this (a day). */
export const MAX_RETRY_AFTER_SECONDS = 86_400;

/**
 * OUTBOUND_RETRY_SCHEDULE: after attempt n fails, attempt n+1 follows `delays[n-1]` later
 * (±20 % jitter), or later still when the answer was 429/503 with `Retry-After`. After the
 * last delay's attempt fails, the message is a dead letter. The first attempt is immediate.
 */
export class RetrySchedule {
  constructor(
    readonly delaysSeconds: readonly number[],
    private readonly random: () => number = Math.random,
  ) {}

  /** Attempts a message gets in all. */
  get maxAttempts(): number {
    return this.delaysSeconds.length + 1;
  }

  /**
   * Milliseconds to wait before the attempt after `failedAttempt`, or undefined when that
   * was the last. `retryAfterSeconds` is a lower bound (capped at a day).
   */
  nextDelayMs(failedAttempt: number, retryAfterSeconds?: number): number | undefined {
    const nominal = this.delaysSeconds[failedAttempt - 1];
    if (nominal === undefined) return undefined;
    const jittered = nominal * 1000 * (1 - RETRY_JITTER + 2 * RETRY_JITTER * this.random());
    const floor = retryAfterSeconds === undefined ? 0 : Math.min(retryAfterSeconds, MAX_RETRY_AFTER_SECONDS) * 1000;
    return Math.round(Math.max(jittered, floor));
  }
}
