import { randomBytes } from 'node:crypto';
import { AttemptLog, AttemptStatus, DeliveryAttempt } from './attempt-log';

const endpointId = (): string => 'ep_' + randomBytes(12).toString('hex');

function attempt(ep: string, n: number, status: AttemptStatus): DeliveryAttempt {
  return {
    webhookId: `msg_${n}`,
    endpointId: ep,
    eventId: `e${n}`,
    eventType: 'orders.paid',
    attempt: 1,
    status,
    at: new Date().toISOString(),
    durationMs: 12.5,
    ...(status === 'failed' ? { statusCode: 500, error: 'http_status: answered 500', responseBody: 'oops' } : { statusCode: 200 }),
  };
}

/**
 * The AttemptLog contract, run unchanged against every implementation
 * (memory-attempt.log.spec.ts, redis-attempt.log.int-spec.ts). `make(maxAgeMs, maxPerStatus)`.
 */
export function attemptLogConformance(
  name: string,
  make: (maxAgeMs: number, maxPerStatus: number) => Promise<{ log: AttemptLog; dispose(): Promise<void> }>,
): void {
  describe(`AttemptLog conformance: ${name}`, () => {
    const disposers: Array<() => Promise<void>> = [];
    const open = async (maxAgeMs = 60_000, maxPerStatus = 100): Promise<AttemptLog> => {
      const { log, dispose } = await make(maxAgeMs, maxPerStatus);
      disposers.push(dispose);
      return log;
    };
    afterEach(async () => {
      for (const d of disposers.splice(0)) await d();
    });

    it('lists newest first, by status or both, in pages', async () => {
      const log = await open();
      const ep = endpointId();
      const statuses: AttemptStatus[] = ['failed', 'failed', 'succeeded', 'failed', 'succeeded'];
      for (let i = 0; i < statuses.length; i++) await log.record(attempt(ep, i, statuses[i]));
      await log.record(attempt(endpointId(), 99, 'failed'));

      const all = await log.list(ep, { limit: 10 });
      expect(all.map((a) => a.webhookId)).toEqual(['msg_4', 'msg_3', 'msg_2', 'msg_1', 'msg_0']);
      expect(all[1]).toMatchObject({
        status: 'failed',
        statusCode: 500,
        error: 'http_status: answered 500',
        responseBody: 'oops',
        durationMs: 12.5,
      });
      expect((await log.list(ep, { status: 'failed', limit: 10 })).map((a) => a.webhookId)).toEqual(['msg_3', 'msg_1', 'msg_0']);
      expect((await log.list(ep, { status: 'succeeded', limit: 10 })).map((a) => a.webhookId)).toEqual(['msg_4', 'msg_2']);

      const first = await log.list(ep, { limit: 2 });
      expect(first.map((a) => a.webhookId)).toEqual(['msg_4', 'msg_3']);
      const second = await log.list(ep, { limit: 2, before: first[1].id });
      expect(second.map((a) => a.webhookId)).toEqual(['msg_2', 'msg_1']);
      const failedPage = await log.list(ep, { status: 'failed', limit: 5, before: first[1].id });
      expect(failedPage.map((a) => a.webhookId)).toEqual(['msg_1', 'msg_0']);
    });

    it('keeps the newest attempts, and as many failures besides that successes never push out', async () => {
      const log = await open(60_000, 3);
      const ep = endpointId();
      for (let i = 0; i < 4; i++) await log.record(attempt(ep, i, 'failed'));
      for (let i = 4; i < 10; i++) await log.record(attempt(ep, i, 'succeeded'));
      expect((await log.list(ep, { status: 'failed', limit: 10 })).map((a) => a.webhookId)).toEqual(['msg_3', 'msg_2', 'msg_1']);
      expect((await log.list(ep, { limit: 10 })).map((a) => a.webhookId)).toEqual(['msg_9', 'msg_8', 'msg_7']);
      expect((await log.list(ep, { status: 'succeeded', limit: 2 })).map((a) => a.webhookId)).toEqual(['msg_9', 'msg_8']);
    });

    it('keeps call order and the count limit per endpoint for writes made together', async () => {
      const log = await open(60_000, 3);
      const [a, b] = [endpointId(), endpointId()];
      await Promise.all(Array.from({ length: 10 }, (_, i) => log.record(attempt(i % 2 === 0 ? a : b, i, i < 4 ? 'failed' : 'succeeded'))));
      expect((await log.list(a, { limit: 10 })).map((x) => x.webhookId)).toEqual(['msg_8', 'msg_6', 'msg_4']);
      expect((await log.list(a, { status: 'failed', limit: 10 })).map((x) => x.webhookId)).toEqual(['msg_2', 'msg_0']);
      expect((await log.list(b, { limit: 10 })).map((x) => x.webhookId)).toEqual(['msg_9', 'msg_7', 'msg_5']);
      expect((await log.list(b, { status: 'failed', limit: 10 })).map((x) => x.webhookId)).toEqual(['msg_3', 'msg_1']);
    });

    it('orders and pages attempts written within one millisecond', async () => {
      const log = await open();
      const ep = endpointId();
      await Promise.all(Array.from({ length: 20 }, (_, i) => log.record(attempt(ep, i, i % 3 === 0 ? 'succeeded' : 'failed'))));
      const seen: string[] = [];
      let before: string | undefined;
      for (;;) {
        const page = await log.list(ep, { limit: 3, ...(before === undefined ? {} : { before }) });
        seen.push(...page.map((a) => a.webhookId));
        if (page.length < 3) break;
        before = page[page.length - 1].id;
      }
      expect(seen.sort()).toEqual(Array.from({ length: 20 }, (_, i) => `msg_${i}`).sort());
      const failedOnly: string[] = [];
      before = undefined;
      for (;;) {
        const page = await log.list(ep, { status: 'failed', limit: 4, ...(before === undefined ? {} : { before }) });
        failedOnly.push(...page.map((a) => a.webhookId));
        if (page.length < 4) break;
        before = page[page.length - 1].id;
      }
      expect(failedOnly).toHaveLength(13);
    });

    it('forgets attempts older than the retention', async () => {
      // The fresh attempt must still be within the retention when it is listed: 1.5 s, not
      // 0.3 s, so a worker stalled between the write and the read (a loaded CI run) keeps it.
      const log = await open(1500, 100);
      const ep = endpointId();
      await log.record(attempt(ep, 0, 'failed'));
      await new Promise((r) => setTimeout(r, 1600));
      await log.record(attempt(ep, 1, 'failed'));
      expect((await log.list(ep, { limit: 10 })).map((a) => a.webhookId)).toEqual(['msg_1']);
    });

    it('removes an endpoint’s log', async () => {
      const log = await open();
      const ep = endpointId();
      await log.record(attempt(ep, 0, 'failed'));
      await log.record(attempt(ep, 1, 'succeeded'));
      await log.removeEndpoint(ep);
      expect(await log.list(ep, { limit: 10 })).toEqual([]);
    });
  });
}
