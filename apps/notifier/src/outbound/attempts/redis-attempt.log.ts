import type { RedisClient } from '@switchboard/engine';
import { AttemptLog, AttemptQuery, DeliveryAttempt, ListedAttempt } from './attempt-log';

/** How often one endpoint's log is trimmed by age and has its expiry renewed (count is trimmed on every write). */
const AGE_TRIM_INTERVAL_MS = 1000;
/** Entries a `status=succeeded` listing reads at most per entry it returns (it filters the whole log). */
const SCAN_FACTOR = 10;

/**
 * One write: the attempt into the endpoint's log, and a failure also into its failed log
 * under the same id (so ids are unique and ordered across both, and a cursor means the
 * same in either); count trimming on both. Both keys share the endpoint's hash slot.
 */
const RECORD_SCRIPT = `
local id = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[1], '*', 'a', ARGV[2])
if ARGV[3] == 'failed' then redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[1], id, 'a', ARGV[2]) end
if ARGV[4] ~= '' then
  for i = 1, 2 do
    redis.call('XTRIM', KEYS[i], 'MINID', ARGV[4])
    redis.call('PEXPIRE', KEYS[i], ARGV[5])
  end
end
return id
`;

interface PendingWrite {
  /** RECORD_SCRIPT (args: script, numkeys, keys, argv) or a plain XADD (args: key, …). */
  script: boolean;
  args: Array<string | number>;
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * The attempts log in Redis: per endpoint a stream of every attempt,
 * `<REDIS_KEY_PREFIX>ob:{<endpoint>}:attempts`, and one of the failed ones, `…:attempts:failed`
 * (kept apart so that a flood of successes never pushes the failures out), each entry one
 * JSON field. Every write trims by count: a success is one XADD, a failure one script call
 * (both keys); about once a second per endpoint the write is the script call that also trims
 * by age and renews the keys' expiry. The writes of one event-loop turn go out together.
 * Reads stop at the age limit.
 */
export class RedisAttemptLog implements AttemptLog {
  private readonly trimmedAt = new Map<string, number>();
  /** Writes waiting for the end of this event-loop turn, per endpoint, in call order. */
  private readonly pending = new Map<string, PendingWrite[]>();
  private flushing = false;

  constructor(
    private readonly redis: RedisClient,
    private readonly keyPrefix: string,
    private readonly maxAgeMs: number,
    private readonly maxPerStatus: number,
  ) {}

  record(attempt: DeliveryAttempt): Promise<void> {
    const [all, failed] = this.keys(attempt.endpointId);
    const now = Date.now();
    let minId = '';
    if (now - (this.trimmedAt.get(all) ?? 0) >= AGE_TRIM_INTERVAL_MS) {
      if (this.trimmedAt.size >= 100_000) this.trimmedAt.clear();
      this.trimmedAt.set(all, now);
      minId = String(now - this.maxAgeMs);
    }
    const entry = JSON.stringify(attempt);
    // The common case, a success between two age trims, touches one key: a plain XADD, no script
    // (a script call costs Redis several times an XADD: the body hashed and looked up, Lua entered).
    const script = attempt.status === 'failed' || minId !== '';
    const args: Array<string | number> = script
      ? [RECORD_SCRIPT, 2, all, failed, this.maxPerStatus, entry, attempt.status, minId, this.maxAgeMs]
      : [all, 'MAXLEN', this.maxPerStatus, '*', 'a', entry];
    return new Promise<void>((resolve, reject) => {
      let queue = this.pending.get(attempt.endpointId);
      if (queue === undefined) this.pending.set(attempt.endpointId, (queue = []));
      queue.push({ script, args, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /**
   * Sends the writes of one event-loop turn: per endpoint, one command alone, or several as one
   * pipeline (one socket write, one read for Redis instead of one each; an endpoint's keys share
   * a hash slot, so a pipeline of them is valid on a Cluster too). Order per endpoint is kept.
   */
  private flush(): void {
    this.flushing = false;
    for (const queue of this.pending.values()) {
      try {
        this.send(queue);
      } catch (err) {
        // A client that throws instead of rejecting: the writes fail, the process does not.
        for (const w of queue) w.reject(err);
      }
    }
    this.pending.clear();
  }

  private send(queue: PendingWrite[]): void {
    if (queue.length === 1) {
      const w = queue[0];
      const sent = w.script
        ? this.redis.eval(...(w.args as [string, number, ...Array<string | number>]))
        : this.redis.xadd(...(w.args as [string, ...Array<string | number>]));
      sent.then(() => w.resolve(), w.reject);
      return;
    }
    const pipeline = this.redis.pipeline();
    for (const w of queue) {
      if (w.script) pipeline.eval(...(w.args as [string, number, ...Array<string | number>]));
      else pipeline.xadd(...(w.args as [string, ...Array<string | number>]));
    }
    pipeline.exec().then(
      (results) =>
        queue.forEach((w, i) => {
          const err = results?.[i]?.[0];
          if (err) w.reject(err);
          else w.resolve();
        }),
      (err: unknown) => queue.forEach((w) => w.reject(err)),
    );
  }

  async list(endpointId: string, query: AttemptQuery): Promise<ListedAttempt[]> {
    const [all, failed] = this.keys(endpointId);
    const start = String(Date.now() - this.maxAgeMs);
    let end = query.before === undefined ? '+' : `(${query.before}`;
    const result: ListedAttempt[] = [];
    const key = query.status === 'failed' ? failed : all;
    // Successes only: read the whole log newest first and keep them, up to a bounded scan.
    let budget = query.status === 'succeeded' ? query.limit * SCAN_FACTOR : query.limit;
    while (result.length < query.limit && budget > 0) {
      const count = Math.min(budget, Math.max(query.limit - result.length, 100));
      const page = await this.redis.xrevrange(key, end, start, 'COUNT', count);
      budget -= page.length;
      for (const [id, fields] of page) {
        const attempt = JSON.parse(fields[1]) as DeliveryAttempt;
        if (query.status === undefined || attempt.status === query.status) result.push({ id, ...attempt });
        if (result.length >= query.limit) break;
      }
      if (page.length < count) break;
      end = `(${page[page.length - 1][0]}`;
    }
    return result;
  }

  async removeEndpoint(endpointId: string): Promise<void> {
    await this.redis.del(...this.keys(endpointId));
  }

  private keys(endpointId: string): [string, string] {
    const base = `${this.keyPrefix}ob:{${endpointId}}:attempts`;
    return [base, `${base}:failed`];
  }
}
