import { eventually } from '@switchboard/testing';
import { randomBytes } from 'node:crypto';
import { DeliveryJob, DeliveryQueue, JobConsumer, JobDelivery } from './delivery-queue';

let counter = 0;

function job(endpointId: string, overrides: Partial<DeliveryJob> = {}): DeliveryJob {
  counter++;
  return {
    webhookId: `msg_${randomBytes(8).toString('hex')}`,
    endpointId,
    attempt: 1,
    eventId: `evt-${counter}`,
    eventType: 'orders.paid',
    queuedAt: Date.now(),
    body: Buffer.from(JSON.stringify({ type: 'orders.paid', n: counter })),
    ...overrides,
  };
}

const endpointId = (): string => 'ep_' + randomBytes(12).toString('hex');

/** Collects what a consumer yields; `hold` keeps deliveries unacknowledged. */
class Taker {
  readonly taken: JobDelivery[] = [];
  private readonly loop: Promise<void>;

  constructor(
    private readonly consumer: JobConsumer,
    autoAck: boolean,
  ) {
    this.loop = (async () => {
      for await (const d of consumer) {
        this.taken.push(d);
        if (autoAck) await d.ack();
      }
    })();
  }

  async stop(): Promise<void> {
    await this.consumer.stop();
    await this.loop.catch(() => undefined);
  }
}

/**
 * The DeliveryQueue contract, run unchanged against every implementation
 * (memory-delivery.queue.spec.ts, jetstream-delivery.queue.int-spec.ts).
 */
export function deliveryQueueConformance(name: string, make: () => Promise<{ queue: DeliveryQueue; dispose(): Promise<void> }>): void {
  describe(`DeliveryQueue conformance: ${name}`, () => {
    let queue: DeliveryQueue;
    let dispose: () => Promise<void>;
    const takers: Taker[] = [];
    const take = async (ep: string, concurrency: number, autoAck: boolean, ackWaitMs = 10_000): Promise<Taker> => {
      const t = new Taker(await queue.consume(ep, { concurrency, ackWaitMs }), autoAck);
      takers.push(t);
      return t;
    };

    beforeEach(async () => {
      ({ queue, dispose } = await make());
      await queue.ensure();
    });
    afterEach(async () => {
      await Promise.all(takers.splice(0).map((t) => t.stop()));
      await dispose();
    });

    it('hands each queued job to one worker, intact, and not again once acked', async () => {
      const ep = endpointId();
      const jobs = [job(ep), job(ep), job(ep)];
      await queue.enqueue(jobs.map((j) => ({ job: j, dedupeId: j.webhookId })));
      const t = await take(ep, 5, true);
      await eventually(() => expect(t.taken).toHaveLength(3));
      const got = t.taken.map((d) => ({ ...d.job, body: Buffer.from(d.job.body).toString() }));
      expect(got.sort((a, b) => a.eventId.localeCompare(b.eventId))).toEqual(
        jobs.map((j) => ({ ...j, body: Buffer.from(j.body).toString() })).sort((a, b) => a.eventId.localeCompare(b.eventId)),
      );
      expect(t.taken.every((d) => d.deliveryCount === 1)).toBe(true);
      await new Promise((r) => setTimeout(r, 100));
      expect(t.taken).toHaveLength(3);
    });

    it('stores a job once per dedupe id', async () => {
      const ep = endpointId();
      const j = job(ep);
      await queue.enqueue([{ job: j, dedupeId: j.webhookId }]);
      await queue.enqueue([{ job: j, dedupeId: j.webhookId }]);
      const t = await take(ep, 5, true);
      await eventually(() => expect(t.taken).toHaveLength(1));
      await new Promise((r) => setTimeout(r, 100));
      expect(t.taken).toHaveLength(1);
    });

    it('keeps at most `concurrency` jobs unacknowledged per endpoint, across consumers', async () => {
      const ep = endpointId();
      const jobs = Array.from({ length: 6 }, () => job(ep));
      await queue.enqueue(jobs.map((j) => ({ job: j, dedupeId: j.webhookId })));
      const a = await take(ep, 2, false);
      const b = await take(ep, 2, false);
      await eventually(() => expect(a.taken.length + b.taken.length).toBe(2));
      await new Promise((r) => setTimeout(r, 150));
      expect(a.taken.length + b.taken.length).toBe(2);
      // Each ack frees one slot.
      await [...a.taken, ...b.taken][0].ack();
      await eventually(() => expect(a.taken.length + b.taken.length).toBe(3));
      for (const d of [...a.taken, ...b.taken]) await d.ack();
      await eventually(async () => {
        const all = [...a.taken, ...b.taken];
        for (const d of all) await d.ack();
        expect(new Set(all.map((d) => d.job.webhookId)).size).toBe(6);
      });
    });

    it('never lets one endpoint’s held jobs delay another endpoint', async () => {
      const stuck = endpointId();
      const other = endpointId();
      const stuckJobs = Array.from({ length: 4 }, () => job(stuck));
      await queue.enqueue(stuckJobs.map((j) => ({ job: j, dedupeId: j.webhookId })));
      const s = await take(stuck, 1, false);
      await eventually(() => expect(s.taken).toHaveLength(1));
      const otherJobs = Array.from({ length: 5 }, () => job(other));
      await queue.enqueue(otherJobs.map((j) => ({ job: j, dedupeId: j.webhookId })));
      const o = await take(other, 1, true);
      await eventually(() => expect(o.taken).toHaveLength(5));
      expect(s.taken).toHaveLength(1);
    });

    it('hands a job whose worker went silent to another, unchanged', async () => {
      const ep = endpointId();
      const j = job(ep, { attempt: 3 });
      await queue.enqueue([{ job: j, dedupeId: j.webhookId }]);
      const dead = await take(ep, 1, false, 400);
      await eventually(() => expect(dead.taken).toHaveLength(1));
      await dead.stop();
      const alive = await take(ep, 1, true, 400);
      await eventually(() => expect(alive.taken).toHaveLength(1), 10_000);
      expect(alive.taken[0].job.webhookId).toBe(j.webhookId);
      expect(alive.taken[0].job.attempt).toBe(3);
      expect(alive.taken[0].deliveryCount).toBe(2);
    });

    it('keeps a job a worker is still working on', async () => {
      const ep = endpointId();
      const j = job(ep);
      await queue.enqueue([{ job: j, dedupeId: j.webhookId }]);
      const a = await take(ep, 1, false, 300);
      const b = await take(ep, 1, false, 300);
      await eventually(() => expect(a.taken.length + b.taken.length).toBe(1));
      const held = [...a.taken, ...b.taken][0];
      for (let i = 0; i < 6; i++) {
        held.working();
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(a.taken.length + b.taken.length).toBe(1);
      await held.ack();
    });

    it('parks a scheduled job outside the endpoint’s window until it is due', async () => {
      const scheduler = await queue.startScheduler();
      try {
        const ep = endpointId();
        const later = job(ep, { attempt: 2, notBefore: Date.now() + 600 });
        const far = job(ep, { attempt: 5, notBefore: Date.now() + 60_000 });
        await queue.schedule(later);
        await queue.schedule(far);
        await queue.schedule(later); // the same retry scheduled twice is parked once
        const fresh = job(ep);
        await queue.enqueue([{ job: fresh, dedupeId: fresh.webhookId }]);
        const t = await take(ep, 1, true);
        // Parked jobs hold no slot: the fresh one goes first, at once.
        await eventually(() => expect(t.taken.map((d) => d.job.webhookId)).toEqual([fresh.webhookId]));
        await eventually(() => expect(t.taken.map((d) => d.job.webhookId)).toEqual([fresh.webhookId, later.webhookId]), 10_000);
        const arrived = t.taken[1];
        expect(arrived.job.attempt).toBe(2);
        expect(Date.now()).toBeGreaterThanOrEqual(later.notBefore!);
        expect(await queue.depth()).toMatchObject({ scheduled: 1 });
        await new Promise((r) => setTimeout(r, 200));
        expect(t.taken).toHaveLength(2);
      } finally {
        await scheduler.stop();
      }
    });

    it('parks a replay’s retry even right after the first run parked the same attempt', async () => {
      const scheduler = await queue.startScheduler();
      try {
        const ep = endpointId();
        const first = job(ep, { attempt: 2, notBefore: Date.now() + 100 });
        await queue.schedule(first);
        await queue.schedule({ ...first, run: 'replay-1' });
        const t = await take(ep, 5, true);
        await eventually(() => expect(t.taken.map((d) => d.job.run ?? 'first').sort()).toEqual(['first', 'replay-1']), 10_000);
      } finally {
        await scheduler.stop();
      }
    });

    it('removes an endpoint’s queued and parked jobs and its dead letters', async () => {
      const scheduler = await queue.startScheduler();
      try {
        const ep = endpointId();
        const kept = endpointId();
        const q = job(ep);
        const keptJob = job(kept);
        await queue.enqueue([
          { job: q, dedupeId: q.webhookId },
          { job: keptJob, dedupeId: keptJob.webhookId },
        ]);
        await queue.schedule(job(ep, { attempt: 2, notBefore: Date.now() + 500 }));
        await queue.deadLetter(deadLetter(ep, 'msg_gone'));
        await queue.removeEndpoint(ep);
        expect(await queue.deadLetters(ep, 0, 10)).toEqual([]);
        const t = await take(ep, 5, true);
        const k = await take(kept, 5, true);
        await eventually(() => expect(k.taken).toHaveLength(1));
        await new Promise((r) => setTimeout(r, 800));
        expect(t.taken).toHaveLength(0);
      } finally {
        await scheduler.stop();
      }
    });

    it('lists dead letters of an endpoint since a time, oldest first', async () => {
      const ep = endpointId();
      await queue.deadLetter(deadLetter(ep, 'msg_a'));
      await new Promise((r) => setTimeout(r, 30));
      const since = Date.now();
      await new Promise((r) => setTimeout(r, 30));
      await queue.deadLetter(deadLetter(ep, 'msg_b'));
      await queue.deadLetter(deadLetter(ep, 'msg_c'));
      await queue.deadLetter(deadLetter(endpointId(), 'msg_elsewhere'));
      expect((await queue.deadLetters(ep, 0, 10)).map((d) => d.webhookId)).toEqual(['msg_a', 'msg_b', 'msg_c']);
      expect((await queue.deadLetters(ep, since, 10)).map((d) => d.webhookId)).toEqual(['msg_b', 'msg_c']);
      expect((await queue.deadLetters(ep, since, 1)).map((d) => d.webhookId)).toEqual(['msg_b']);
      expect(await queue.deadLetters(endpointId(), 0, 10)).toEqual([]);
    });

    it('gives a released job back at once', async () => {
      const ep = endpointId();
      const j = job(ep);
      await queue.enqueue([{ job: j, dedupeId: j.webhookId }]);
      const a = await take(ep, 1, false, 30_000);
      await eventually(() => expect(a.taken).toHaveLength(1));
      a.taken[0].release();
      // Far sooner than the 30 s ack wait, and not counted as an attempt (the job is unchanged).
      await eventually(
        () =>
          expect(a.taken.map((d) => [d.job.webhookId, d.job.attempt])).toEqual([
            [j.webhookId, 1],
            [j.webhookId, 1],
          ]),
        3000,
      );
      expect(a.taken[1].deliveryCount).toBe(2);
      await a.taken[1].ack();
    });
  });
}

function deadLetter(endpointId: string, webhookId: string) {
  return {
    webhookId,
    endpointId,
    eventId: 'e',
    eventType: 'orders.paid',
    reason: 'exhausted' as const,
    attempts: 8,
    error: 'answered 500',
    statusCode: 500,
    queuedAt: new Date().toISOString(),
    deadLetteredAt: new Date().toISOString(),
    body: '{}',
  };
}
