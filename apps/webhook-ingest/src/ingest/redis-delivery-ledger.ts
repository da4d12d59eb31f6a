import type { RedisClient } from '@switchboard/engine';
import { Redis } from 'ioredis';
import { hash } from 'node:crypto';
import { Admission, DeliveryLedger } from './delivery-ledger';

/**
 * One source's ledger work of one flush in one script call: its marks first (each delivery
 * key set for the window), then its admits, so an admit sees every mark sent before it.
 * KEYS: the marks' delivery keys, then per admit its delivery key and, for a signature, its
 * signature key. ARGV[1] the TTL, ARGV[2] how many of KEYS are marks, then per admit its id
 * and how many of KEYS are its own (1: its delivery key; 2: that and its signature key).
 * Per admit, in order: the signature is claimed for it unless another delivery holds it
 * (Redis < 7 lacks SET NX GET), then its delivery key is looked up. One reply: the admits'
 * verdicts, in order. Running it again (ioredis resends unanswered commands after a
 * reconnect) changes nothing: a mark sets the same value, a claim held by the same id is
 * not a replay, and the rest only reads.
 */
const LEDGER_SCRIPT = `
local ttl = ARGV[1]
local marks = tonumber(ARGV[2])
for k = 1, marks do redis.call('SET', KEYS[k], '1', 'EX', ttl) end
local verdicts = {}
local k = marks + 1
for i = 3, #ARGV, 2 do
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

/** Marks plus admits per script call at most: a script blocks Redis while it runs. */
export const LEDGER_BATCH_MAX = 256;

/** Delivery keys of new admits kept per source for their mark; past this the oldest go (their mark hashes again). */
export const ADMITTED_KEYS_MAX = 4096;

interface Commands {
  sbWebhookLedger(numberOfKeys: number, ...keysAndArgs: Array<string | number>): Promise<Admission[]>;
}

interface PendingAdmit {
  readonly source: string;
  readonly deliveryKey: string;
  readonly signatureKey: string | undefined;
  readonly deliveryId: string;
  readonly resolve: (admission: Admission) => void;
  readonly reject: (err: unknown) => void;
}

/** One source's admits and marks waiting for the next flush; every mark's caller awaits the same promise. */
interface PendingWork {
  readonly admits: PendingAdmit[];
  readonly marks: string[];
  marked: Promise<void> | undefined;
  settleMarks: ((err?: Error) => void) | undefined;
}

/**
 * The ledger shared by every replica. Keys (one hash slot per source):
 * `<prefix>webhook:{<source>}:d:<sha256(delivery id)>` and `…:s:<sha256(signature)>`,
 * each expiring after the dedupe window. The admits and the marks that concurrent webhooks
 * ask for within one turn of the event loop leave together, at the loop's check phase:
 * one script call per source for both (one command, one reply, no pipeline), so a busy
 * ingest sends Redis one command per batch rather than two per webhook. Marks go before
 * admits, in the script and across calls, so a retry admitted after its original was
 * marked sees it (one connection: Redis runs commands in order). Commands fail at once
 * while Redis is down (no offline queue): the ingest then answers 503 rather than risk a
 * duplicate.
 */
export class RedisDeliveryLedger implements DeliveryLedger {
  private readonly commands: Commands;
  private pending = new Map<string, PendingWork>();
  /** Per source, delivery id → key of the deliveries admitted as new: their mark follows, without a second hash. */
  private readonly admitted = new Map<string, Map<string, string>>();
  private scheduled = false;
  private readonly flushBound = (): void => this.flush();

  constructor(
    private readonly redis: RedisClient,
    private readonly keyPrefix: string,
    private readonly windowSeconds: number,
  ) {
    redis.defineCommand('sbWebhookLedger', { lua: LEDGER_SCRIPT });
    this.commands = redis as unknown as Commands;
  }

  admit(source: string, deliveryId: string, signature?: string): Promise<Admission> {
    return new Promise<Admission>((resolve, reject) => {
      this.work(source).admits.push({
        source,
        deliveryKey: this.key(source, 'd', deliveryId),
        signatureKey: signature === undefined ? undefined : this.key(source, 's', signature),
        deliveryId,
        resolve,
        reject,
      });
    });
  }

  markStored(source: string, deliveryId: string): Promise<void> {
    const work = this.work(source);
    const admitted = this.admitted.get(source);
    const key = admitted?.get(deliveryId);
    if (key === undefined) work.marks.push(this.key(source, 'd', deliveryId));
    else {
      admitted!.delete(deliveryId);
      work.marks.push(key);
    }
    return (work.marked ??= new Promise<void>((resolve, reject) => {
      work.settleMarks = (err?: Error): void => (err === undefined ? resolve() : reject(err));
    }));
  }

  /** The source's work for the next flush, which is scheduled. */
  private work(source: string): PendingWork {
    let work = this.pending.get(source);
    if (work === undefined) {
      work = { admits: [], marks: [], marked: undefined, settleMarks: undefined };
      this.pending.set(source, work);
    }
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushBound);
    }
    return work;
  }

  private flush(): void {
    this.scheduled = false;
    const pending = this.pending;
    this.pending = new Map();
    // The script calls of this flush leave in one write (one `writev`), not one system call each.
    const stream =
      this.redis instanceof Redis && this.redis.status === 'ready' && this.redis.stream.writable ? this.redis.stream : undefined;
    stream?.cork();
    try {
      for (const work of pending.values()) this.send(work);
    } finally {
      stream?.uncork();
    }
  }

  /** One call per LEDGER_BATCH_MAX entries (usually one), the marks ahead of the admits. */
  private send({ admits, marks, settleMarks }: PendingWork): void {
    const markCalls: Array<Promise<unknown>> = [];
    let m = 0;
    let a = 0;
    do {
      const markCount = Math.min(marks.length - m, LEDGER_BATCH_MAX);
      const admitCount = Math.min(admits.length - a, LEDGER_BATCH_MAX - markCount);
      const call = this.call(marks, m, markCount, admits, a, admitCount);
      if (markCount > 0) markCalls.push(call);
      m += markCount;
      a += admitCount;
    } while (m < marks.length || a < admits.length);
    if (settleMarks === undefined) return;
    Promise.all(markCalls).then(
      () => settleMarks(),
      (err: unknown) => settleMarks(err instanceof Error ? err : new Error(`the dedupe mark failed: ${String(err)}`)),
    );
  }

  /** Sends marks[m, m + markCount) and admits[a, a + admitCount); the admits are answered from its reply. */
  private call(marks: string[], m: number, markCount: number, admits: PendingAdmit[], a: number, admitCount: number): Promise<unknown> {
    const keys: string[] = [];
    for (let i = m; i < m + markCount; i++) keys.push(marks[i]);
    const args: Array<string | number> = [this.windowSeconds, markCount];
    for (let i = a; i < a + admitCount; i++) {
      const entry = admits[i];
      keys.push(entry.deliveryKey);
      if (entry.signatureKey === undefined) args.push(entry.deliveryId, '1');
      else {
        keys.push(entry.signatureKey);
        args.push(entry.deliveryId, '2');
      }
    }
    const reply = this.commands.sbWebhookLedger(keys.length, ...keys, ...args);
    reply.then(
      (verdicts) => {
        for (let i = 0; i < admitCount; i++) {
          const verdict = verdicts[i];
          const entry = admits[a + i];
          if (verdict === 'new') this.remember(entry);
          if (verdict === 'new' || verdict === 'stored' || verdict === 'replayed') entry.resolve(verdict);
          else entry.reject(new Error(`unexpected dedupe verdict: ${String(verdict)}`));
        }
      },
      (err: unknown) => {
        for (let i = a; i < a + admitCount; i++) admits[i].reject(err);
      },
    );
    return reply;
  }

  /** Keeps a new delivery's key for its mark; the oldest kept go past ADMITTED_KEYS_MAX (never marked: not stored). */
  private remember({ source, deliveryId, deliveryKey }: PendingAdmit): void {
    let admitted = this.admitted.get(source);
    if (admitted === undefined) this.admitted.set(source, (admitted = new Map()));
    admitted.set(deliveryId, deliveryKey);
    if (admitted.size > ADMITTED_KEYS_MAX) admitted.delete(admitted.keys().next().value!);
  }

  /** Hashed: delivery ids come from the sender (any length, any bytes). One-shot `hash`: no Hash object per key. */
  private key(source: string, kind: 'd' | 's', value: string): string {
    return `${this.keyPrefix}webhook:{${source}}:${kind}:${hash('sha256', value)}`;
  }
}
