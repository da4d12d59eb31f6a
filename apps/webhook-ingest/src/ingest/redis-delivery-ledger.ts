import type { RedisClient } from '@switchboard/engine';
import { Redis } from 'ioredis';
import { hash } from 'node:crypto';
import { Admission, DeliveryLedger } from './delivery-ledger';

/**
 * The admits of one source in one script call. ARGV[1] the TTL, then per delivery its id
 * and how many of KEYS are its own (1: its delivery key; 2: that and its signature key).
 * Per delivery, in order: the signature is claimed for it unless another delivery holds
 * it (Redis < 7 lacks SET NX GET), then its delivery key is looked up. One reply: the
 * verdicts, in order. Running it again (ioredis resends unanswered commands after a
 * reconnect) changes nothing: a claim held by the same id is not a replay, and the rest
 * only reads.
 */
const ADMIT_SCRIPT = `
local ttl = ARGV[1]
local verdicts = {}
local k = 1
for i = 2, #ARGV, 2 do
  local id = ARGV[i]
  local delivery = KEYS[k]
  local verdict = false
  if ARGV[i + 1] == '2' then
    local holder = redis.call('GET', KEYS[k + 1])
    if holder and holder ~= id then verdict = 'replayed' end
    if not holder then redis.call('SET', KEYS[k + 1], id, 'EX', ttl) end
  end
  k = k + tonumber(ARGV[i + 1])
  if not verdict then
    if redis.call('EXISTS', delivery) == 1 then verdict = 'stored' else verdict = 'new' end
  end
  verdicts[#verdicts + 1] = verdict
end
return verdicts
`;

/** The marks of one source in one script call: KEYS the delivery keys, ARGV[1] the TTL. Idempotent. */
const MARK_SCRIPT = `
for _, key in ipairs(KEYS) do redis.call('SET', key, '1', 'EX', ARGV[1]) end
return #KEYS
`;

/** Deliveries per script call at most: a script blocks Redis while it runs. */
export const LEDGER_BATCH_MAX = 256;

interface Commands {
  sbWebhookAdmitMany(numberOfKeys: number, ...keysAndArgs: Array<string | number>): Promise<Admission[]>;
  sbWebhookMarkMany(numberOfKeys: number, ...keysAndArgs: Array<string | number>): Promise<number>;
}

interface PendingAdmit {
  readonly deliveryKey: string;
  readonly signatureKey: string | undefined;
  readonly deliveryId: string;
  readonly resolve: (admission: Admission) => void;
  readonly reject: (err: unknown) => void;
}

/** The marks of one source waiting for the next flush; every caller awaits the same promise. */
interface PendingMarks {
  readonly keys: string[];
  readonly done: Promise<void>;
  readonly settle: (err?: Error) => void;
}

/**
 * The ledger shared by every replica. Keys (one hash slot per source):
 * `<prefix>webhook:{<source>}:d:<sha256(delivery id)>` and `…:s:<sha256(signature)>`,
 * each expiring after the dedupe window. The admits, and separately the marks, that
 * concurrent webhooks ask for within one turn of the event loop leave together, at the
 * loop's check phase: one script call per source for each (one command, one reply, no
 * pipeline), so a busy ingest sends Redis two commands per batch rather than two per
 * webhook. Marks go before admits, so a retry admitted after its original was marked sees
 * it (one connection: Redis runs commands in order). Commands fail at once while Redis is
 * down (no offline queue): the ingest then answers 503 rather than risk a duplicate.
 */
export class RedisDeliveryLedger implements DeliveryLedger {
  private readonly commands: Commands;
  private admits = new Map<string, PendingAdmit[]>();
  private marks = new Map<string, PendingMarks>();
  private scheduled = false;
  private readonly flushBound = (): void => this.flush();

  constructor(
    private readonly redis: RedisClient,
    private readonly keyPrefix: string,
    private readonly windowSeconds: number,
  ) {
    redis.defineCommand('sbWebhookAdmitMany', { lua: ADMIT_SCRIPT });
    redis.defineCommand('sbWebhookMarkMany', { lua: MARK_SCRIPT });
    this.commands = redis as unknown as Commands;
  }

  admit(source: string, deliveryId: string, signature?: string): Promise<Admission> {
    return new Promise<Admission>((resolve, reject) => {
      const entry: PendingAdmit = {
        deliveryKey: this.key(source, 'd', deliveryId),
        signatureKey: signature === undefined ? undefined : this.key(source, 's', signature),
        deliveryId,
        resolve,
        reject,
      };
      const queue = this.admits.get(source);
      if (queue === undefined) this.admits.set(source, [entry]);
      else queue.push(entry);
      this.schedule();
    });
  }

  markStored(source: string, deliveryId: string): Promise<void> {
    let pending = this.marks.get(source);
    if (pending === undefined) {
      let settle!: (err?: Error) => void;
      const done = new Promise<void>((resolve, reject) => {
        settle = (err?: Error): void => (err === undefined ? resolve() : reject(err));
      });
      pending = { keys: [], done, settle };
      this.marks.set(source, pending);
    }
    pending.keys.push(this.key(source, 'd', deliveryId));
    this.schedule();
    return pending.done;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.flushBound);
  }

  private flush(): void {
    this.scheduled = false;
    const marks = this.marks;
    const admits = this.admits;
    this.marks = new Map();
    this.admits = new Map();
    // The script calls of this flush leave in one write (one `writev`), not one system call each.
    const stream =
      this.redis instanceof Redis && this.redis.status === 'ready' && this.redis.stream.writable ? this.redis.stream : undefined;
    stream?.cork();
    try {
      for (const pending of marks.values()) this.sendMarks(pending);
      for (const queue of admits.values()) {
        for (let start = 0; start < queue.length; start += LEDGER_BATCH_MAX) this.sendAdmits(queue.slice(start, start + LEDGER_BATCH_MAX));
      }
    } finally {
      stream?.uncork();
    }
  }

  private sendMarks(pending: PendingMarks): void {
    const calls: Array<Promise<number>> = [];
    for (let start = 0; start < pending.keys.length; start += LEDGER_BATCH_MAX) {
      const keys = pending.keys.slice(start, start + LEDGER_BATCH_MAX);
      calls.push(this.commands.sbWebhookMarkMany(keys.length, ...keys, this.windowSeconds));
    }
    Promise.all(calls).then(
      () => pending.settle(),
      (err: unknown) => pending.settle(err instanceof Error ? err : new Error(`the dedupe mark failed: ${String(err)}`)),
    );
  }

  private sendAdmits(batch: PendingAdmit[]): void {
    const keys: string[] = [];
    const args: Array<string | number> = [this.windowSeconds];
    for (const entry of batch) {
      keys.push(entry.deliveryKey);
      if (entry.signatureKey === undefined) args.push(entry.deliveryId, '1');
      else {
        keys.push(entry.signatureKey);
        args.push(entry.deliveryId, '2');
      }
    }
    this.commands.sbWebhookAdmitMany(keys.length, ...keys, ...args).then(
      (verdicts) => {
        for (let i = 0; i < batch.length; i++) {
          const verdict = verdicts[i];
          if (verdict === 'new' || verdict === 'stored' || verdict === 'replayed') batch[i].resolve(verdict);
          else batch[i].reject(new Error(`unexpected dedupe verdict: ${String(verdict)}`));
        }
      },
      (err: unknown) => {
        for (const entry of batch) entry.reject(err);
      },
    );
  }

  /** Hashed: delivery ids come from the sender (any length, any bytes). One-shot `hash`: no Hash object per key. */
  private key(source: string, kind: 'd' | 's', value: string): string {
    return `${this.keyPrefix}webhook:{${source}}:${kind}:${hash('sha256', value)}`;
  }
}
