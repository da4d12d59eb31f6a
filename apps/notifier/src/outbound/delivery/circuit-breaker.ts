export interface BreakerSettings {
  /** OUTBOUND_BREAKER_WINDOW_SECONDS, in ms. */
  windowMs: number;
  /** OUTBOUND_BREAKER_MIN_ATTEMPTS */
  minAttempts: number;
  /** OUTBOUND_BREAKER_FAILURE_RATIO */
  failureRatio: number;
  /** OUTBOUND_BREAKER_OPEN_SECONDS, in ms. */
  openMs: number;
}

export type BreakerState = 'closed' | 'open' | 'half_open';

/** May an attempt start: yes (as the half-open probe or not), or not for `waitMs`. */
export type BreakerPermit = { allowed: true; probe: boolean } | { allowed: false; waitMs: number };

/** Buckets the window is counted in. */
const BUCKETS = 10;

/**
 * One endpoint's circuit breaker (per replica). Closed: attempts flow and their outcomes
 * are counted over a sliding window; once it holds at least `minAttempts` and the failed
 * share reaches `failureRatio`, it opens. Open: no attempt starts for `openMs` — jobs wait
 * in hand, so the endpoint is paused without spending any message's attempts. Then one
 * probe attempt goes (half-open): success closes it with a fresh window, failure opens it again.
 */
export class CircuitBreaker {
  private stateValue: BreakerState = 'closed';
  private openedAt = 0;
  private probing = false;
  private readonly ok = new Array<number>(BUCKETS).fill(0);
  private readonly failed = new Array<number>(BUCKETS).fill(0);
  private bucketStart = 0;
  private bucket = 0;

  constructor(
    private readonly settings: BreakerSettings,
    private readonly now: () => number = Date.now,
  ) {}

  get state(): BreakerState {
    if (this.stateValue === 'open' && this.now() - this.openedAt >= this.settings.openMs) this.stateValue = 'half_open';
    return this.stateValue;
  }

  permit(): BreakerPermit {
    switch (this.state) {
      case 'closed':
        return { allowed: true, probe: false };
      case 'open':
        return { allowed: false, waitMs: Math.max(1, this.openedAt + this.settings.openMs - this.now()) };
      case 'half_open':
        if (this.probing) return { allowed: false, waitMs: Math.max(50, Math.min(1000, this.settings.openMs)) };
        this.probing = true;
        return { allowed: true, probe: true };
    }
  }

  /** The outcome of an attempt that `permit()` allowed. */
  record(success: boolean, probe: boolean): void {
    if (probe) {
      this.probing = false;
      if (success) this.close();
      else this.open();
      return;
    }
    // Outcomes of attempts started before the breaker opened change nothing while it is open.
    if (this.stateValue !== 'closed') return;
    this.rotate();
    if (success) this.ok[this.bucket]++;
    else this.failed[this.bucket]++;
    let ok = 0;
    let failed = 0;
    for (let i = 0; i < BUCKETS; i++) {
      ok += this.ok[i];
      failed += this.failed[i];
    }
    const total = ok + failed;
    if (total >= this.settings.minAttempts && failed / total >= this.settings.failureRatio) this.open();
  }

  /** A probe that could not run (shutdown): let the next caller probe. */
  abandonProbe(): void {
    this.probing = false;
  }

  private open(): void {
    this.stateValue = 'open';
    this.openedAt = this.now();
  }

  private close(): void {
    this.stateValue = 'closed';
    this.ok.fill(0);
    this.failed.fill(0);
    this.bucketStart = this.now();
  }

  /** Moves the window to now, clearing buckets that fell out of it. */
  private rotate(): void {
    const width = this.settings.windowMs / BUCKETS;
    const now = this.now();
    if (this.bucketStart === 0) this.bucketStart = now;
    let steps = Math.floor((now - this.bucketStart) / width);
    if (steps <= 0) return;
    this.bucketStart += steps * width;
    if (steps > BUCKETS) steps = BUCKETS;
    for (let i = 0; i < steps; i++) {
      this.bucket = (this.bucket + 1) % BUCKETS;
      this.ok[this.bucket] = 0;
      this.failed[this.bucket] = 0;
    }
  }
}
