import { AttemptLog, AttemptQuery, AttemptStatus, DeliveryAttempt, ListedAttempt } from './attempt-log';

interface Entry {
  ms: number;
  seq: number;
  attempt: DeliveryAttempt;
}

function compare(a: Entry, b: Entry): number {
  return a.ms - b.ms || a.seq - b.seq;
}

/** The attempts log of the single process without Redis: the same limits, in memory. */
export class MemoryAttemptLog implements AttemptLog {
  private readonly logs = new Map<string, Record<AttemptStatus, Entry[]>>();
  private lastMs = 0;
  private lastSeq = 0;

  constructor(
    private readonly maxAgeMs: number,
    private readonly maxPerStatus: number,
  ) {}

  record(attempt: DeliveryAttempt): Promise<void> {
    let log = this.logs.get(attempt.endpointId);
    if (log === undefined) {
      log = { succeeded: [], failed: [] };
      this.logs.set(attempt.endpointId, log);
    }
    const now = Date.now();
    // Ids like Redis stream ids: time, then a sequence within the same millisecond.
    if (now > this.lastMs) {
      this.lastMs = now;
      this.lastSeq = 0;
    } else this.lastSeq++;
    const list = log[attempt.status];
    list.push({ ms: this.lastMs, seq: this.lastSeq, attempt: structuredClone(attempt) });
    const cutoff = now - this.maxAgeMs;
    while (list.length > 0 && (list.length > this.maxPerStatus || list[0].ms < cutoff)) list.shift();
    return Promise.resolve();
  }

  list(endpointId: string, query: AttemptQuery): Promise<ListedAttempt[]> {
    const log = this.logs.get(endpointId);
    if (log === undefined) return Promise.resolve([]);
    const cutoff = Date.now() - this.maxAgeMs;
    const entries = query.status === undefined ? [...log.succeeded, ...log.failed] : [...log[query.status]];
    let before: Entry | undefined;
    if (query.before !== undefined) {
      const [ms, seq] = query.before.split('-').map(Number);
      before = { ms, seq, attempt: undefined as unknown as DeliveryAttempt };
    }
    return Promise.resolve(
      entries
        .filter((e) => e.ms >= cutoff && (before === undefined || compare(e, before) < 0))
        .sort((a, b) => compare(b, a))
        .slice(0, query.limit)
        .map((e) => ({ id: `${e.ms}-${e.seq}`, ...e.attempt })),
    );
  }

  removeEndpoint(endpointId: string): Promise<void> {
    this.logs.delete(endpointId);
    return Promise.resolve();
  }
}
