/** A named readiness condition (e.g. `nats`, `redis`). */
export interface ReadinessCheck {
  name: string;
  isReady(): boolean;
}

/**
 * Process lifecycle shared by every module of a process: readiness checks and the drain
 * state. `/readyz` is ready only while every check passes and the process is not draining.
 */
export class Lifecycle {
  private readonly checks: ReadinessCheck[] = [];
  private drainingSince: number | undefined;
  private readonly drainListeners: Array<() => void> = [];

  addCheck(check: ReadinessCheck): void {
    this.checks.push(check);
  }

  get draining(): boolean {
    return this.drainingSince !== undefined;
  }

  /** Marks the process as draining (readiness false from this moment). Idempotent. */
  startDrain(): void {
    if (this.drainingSince !== undefined) return;
    this.drainingSince = Date.now();
    for (const listener of this.drainListeners) listener();
  }

  onDrain(listener: () => void): void {
    this.drainListeners.push(listener);
  }

  status(): { ready: boolean; draining: boolean; checks: Record<string, boolean> } {
    const checks: Record<string, boolean> = {};
    let ready = !this.draining;
    for (const c of this.checks) {
      const ok = c.isReady();
      checks[c.name] = ok;
      if (!ok) ready = false;
    }
    return { ready, draining: this.draining, checks };
  }
}
