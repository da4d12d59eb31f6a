import {
  attemptKey,
  type ConsumeJobsOptions,
  type DeliveryJob,
  type DeliveryQueue,
  type JobConsumer,
  type JobDelivery,
  type OutboundDeadLetter,
  type QueueDepth,
  type QueuedJob,
} from './delivery-queue';

interface Entry {
  job: DeliveryJob;
  deliveries: number;
}

/** One endpoint's queue: ready jobs, jobs held by workers (with their ack timers), waiting consumers. */
class EndpointQueue {
  readonly ready: Entry[] = [];
  readonly held = new Map<Entry, NodeJS.Timeout>();
  concurrency = 1;
  ackWaitMs = 30_000;
  private readonly waiters = new Set<() => void>();

  signal(): void {
    for (const w of this.waiters) w();
    this.waiters.clear();
  }

  wait(): Promise<void> {
    return new Promise((resolve) => this.waiters.add(resolve));
  }

  take(): Entry | undefined {
    if (this.held.size >= this.concurrency) return undefined;
    const entry = this.ready.shift();
    if (entry === undefined) return undefined;
    entry.deliveries++;
    this.arm(entry);
    return entry;
  }

  arm(entry: Entry): void {
    clearTimeout(this.held.get(entry));
    const timer = setTimeout(() => this.giveBack(entry, true), this.ackWaitMs);
    timer.unref();
    this.held.set(entry, timer);
  }

  settle(entry: Entry): boolean {
    const timer = this.held.get(entry);
    if (timer === undefined) return false;
    clearTimeout(timer);
    this.held.delete(entry);
    this.signal();
    return true;
  }

  giveBack(entry: Entry, front: boolean): void {
    if (!this.settle(entry)) return;
    if (front) this.ready.unshift(entry);
    else this.ready.push(entry);
    this.signal();
  }

  clear(): void {
    for (const timer of this.held.values()) clearTimeout(timer);
    this.held.clear();
    this.ready.length = 0;
    this.signal();
  }
}

/**
 * The delivery queues of the single process without NATS: the same semantics as the
 * JetStream queues (per-endpoint in-flight limit, parked retries outside it, redelivery
 * after the ack wait, dedupe window), held in memory and lost with the process.
 */
export class MemoryDeliveryQueue implements DeliveryQueue {
  private readonly queues = new Map<string, EndpointQueue>();
  private readonly parked = new Map<string, Set<NodeJS.Timeout>>();
  private readonly dead = new Map<string, Array<{ at: number; entry: OutboundDeadLetter }>>();
  private readonly seen = new Map<string, number>();
  private closed = false;

  constructor(
    private readonly duplicateWindowMs = 120_000,
    private readonly deadLetterMaxAgeMs = 30 * 86_400_000,
  ) {}

  ensure(): Promise<void> {
    return Promise.resolve();
  }

  enqueue(jobs: readonly QueuedJob[]): Promise<void> {
    for (const { job, dedupeId } of jobs) {
      if (this.duplicate(dedupeId)) continue;
      const queue = this.queue(job.endpointId);
      queue.ready.push({ job, deliveries: 0 });
      queue.signal();
    }
    return Promise.resolve();
  }

  schedule(job: DeliveryJob): Promise<void> {
    if (this.duplicate(attemptKey(job))) return Promise.resolve();
    const timers = this.parked.get(job.endpointId) ?? new Set();
    this.parked.set(job.endpointId, timers);
    const timer = setTimeout(
      () => {
        timers.delete(timer);
        const queue = this.queue(job.endpointId);
        queue.ready.push({ job, deliveries: 0 });
        queue.signal();
      },
      Math.max(0, (job.notBefore ?? 0) - Date.now()),
    );
    timer.unref();
    timers.add(timer);
    return Promise.resolve();
  }

  startScheduler(): Promise<{ stop(): Promise<void> }> {
    // Parked jobs are timers here: nothing to run.
    return Promise.resolve({ stop: () => Promise.resolve() });
  }

  consume(endpointId: string, options: ConsumeJobsOptions): Promise<JobConsumer> {
    const queue = this.queue(endpointId);
    queue.concurrency = options.concurrency;
    queue.ackWaitMs = options.ackWaitMs;
    let stopped = false;
    const deliveries = async function* (owner: MemoryDeliveryQueue): AsyncGenerator<JobDelivery> {
      while (!stopped && !owner.closed) {
        const entry = queue.take();
        if (entry === undefined) {
          await queue.wait();
          continue;
        }
        yield owner.delivery(queue, entry);
      }
    };
    return Promise.resolve({
      [Symbol.asyncIterator]: () => deliveries(this),
      stop: () => {
        stopped = true;
        queue.signal();
        return Promise.resolve();
      },
    });
  }

  removeEndpoint(endpointId: string): Promise<void> {
    this.queues.get(endpointId)?.clear();
    this.queues.delete(endpointId);
    for (const timer of this.parked.get(endpointId) ?? []) clearTimeout(timer);
    this.parked.delete(endpointId);
    this.dead.delete(endpointId);
    return Promise.resolve();
  }

  deadLetter(entry: OutboundDeadLetter): Promise<void> {
    const list = this.dead.get(entry.endpointId) ?? [];
    this.dead.set(entry.endpointId, list);
    const now = Date.now();
    list.push({ at: now, entry });
    while (list.length > 0 && list[0].at < now - this.deadLetterMaxAgeMs) list.shift();
    return Promise.resolve();
  }

  deadLetters(endpointId: string, since: number, limit: number): Promise<OutboundDeadLetter[]> {
    const list = this.dead.get(endpointId) ?? [];
    return Promise.resolve(
      list
        .filter((d) => d.at >= since)
        .slice(0, limit)
        .map((d) => d.entry),
    );
  }

  depth(): Promise<QueueDepth> {
    let queued = 0;
    let scheduled = 0;
    for (const q of this.queues.values()) queued += q.ready.length + q.held.size;
    for (const timers of this.parked.values()) scheduled += timers.size;
    return Promise.resolve({ queued, scheduled });
  }

  isReady(): boolean {
    return !this.closed;
  }

  close(): void {
    this.closed = true;
    for (const q of this.queues.values()) q.clear();
    for (const timers of this.parked.values()) for (const t of timers) clearTimeout(t);
  }

  private queue(endpointId: string): EndpointQueue {
    let queue = this.queues.get(endpointId);
    if (queue === undefined) {
      queue = new EndpointQueue();
      this.queues.set(endpointId, queue);
    }
    return queue;
  }

  private duplicate(id: string): boolean {
    const now = Date.now();
    const at = this.seen.get(id);
    if (at !== undefined && now - at < this.duplicateWindowMs) return true;
    this.seen.set(id, now);
    if (this.seen.size > 100_000) {
      for (const [key, t] of this.seen) if (now - t >= this.duplicateWindowMs) this.seen.delete(key);
    }
    return false;
  }

  private delivery(queue: EndpointQueue, entry: Entry): JobDelivery {
    return {
      job: entry.job,
      deliveryCount: entry.deliveries,
      ack: () => {
        queue.settle(entry);
        return Promise.resolve();
      },
      working: () => {
        if (queue.held.has(entry)) queue.arm(entry);
      },
      release: () => queue.giveBack(entry, true),
    };
  }
}
