export interface BackoffOptions {
  /** First retry waits up to this, ms (default 1000). */
  baseMs: number;
  /** Upper bound of any wait, ms (default 30000). */
  capMs: number;
  /** Attempts before giving up (default Infinity). */
  maxAttempts: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 1000, capMs: 30_000, maxAttempts: Infinity };

/**
 * Exponential backoff with full jitter: attempt n waits a uniformly random time in
 * [0, min(cap, base·2ⁿ)], so clients cut off together come back spread out, not as a spike.
 */
export function backoffDelay(attempt: number, o: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(o.capMs, o.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
