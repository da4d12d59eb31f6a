import { AttemptLog, AttemptQuery, DeliveryAttempt, ListedAttempt } from './attempt-log';

interface Entry {
  id: string;
  at: number;
  attempt: DeliveryAttempt;
}

/** The attempts log of the single process without Redis: the same logs and limits, in memory. */
export class MemoryAttemptLog implements AttemptLog {
  private readonly logs = new Map<string, { all: Entry[]; failed: Entry[] }>();
  private lastMs = 0;
  private lastSeq = 0;

  constructor(
    private readonly maxAgeMs: number,
    private readonly maxPerStatus: number,
  ) {}

  record(attempt: DeliveryAttempt): Promise<void> {
    let log = this.logs.get(attempt.endpointId);
    if (log === undefined) {
      log = { all: [], failed: [] };
      this.logs.set(attempt.endpointId, log);
    }
    const now = Date.now();
    // Ids like Redis stream ids: time, then a sequence within the same millisecond.
    if (now > this.lastMs) {
      this.lastMs = now;
      this.lastSeq = 0;
    } else this.lastSeq++;
    const entry = { id: `${this.lastMs}-${this.lastSeq}`, at: this.lastMs, attempt: structuredClone(attempt) };
    for (const list of attempt.status === 'failed' ? [log.all, log.failed] : [log.all]) {
      list.push(entry);
      while (list.length > 0 && (list.length > this.maxPerStatus || list[0].at < now - this.maxAgeMs)) list.shift();
    }
    return Promise.resolve();
  }

  list(endpointId: string, query: AttemptQuery): Promise<ListedAttempt[]> {
    const log = this.logs.get(endpointId);
    if (log === undefined) return Promise.resolve([]);
    const cutoff = Date.now() - this.maxAgeMs;
    const [bms, bseq] = query.before === undefined ? [Infinity, 0] : query.before.split('-').map(Number);
    const before = (e: Entry): boolean => {
      const [ms, seq] = e.id.split('-').map(Number);
      return ms < bms || (ms === bms && seq < bseq);
    };
    const source = query.status === 'failed' ? log.failed : log.all;
    const result: ListedAttempt[] = [];
    for (let i = source.length - 1; i >= 0 && result.length < query.limit; i--) {
      const e = source[i];
      if (e.at < cutoff || !before(e)) continue;
      if (query.status === undefined || e.attempt.status === query.status) result.push({ id: e.id, ...e.attempt });
    }
    return Promise.resolve(result);
  }

  removeEndpoint(endpointId: string): Promise<void> {
    this.logs.delete(endpointId);
    return Promise.resolve();
  }
}
