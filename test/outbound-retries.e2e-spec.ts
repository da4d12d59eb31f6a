import { jetstreamManager } from '@nats-io/jetstream';
import { eventually } from '@switchboard/testing';
import { Webhook } from 'standardwebhooks';
import { OutboundNotifier } from './support/outbound';
import { WebhookReceiver } from './support/webhook-receiver';

/**
 * Retries, Retry-After, redirects, 410, dead letters, notices and replay on the real engine
 * (JetStream queues and scheduler, KV registry, Redis attempts log), with the retry
 * schedule compressed to 0.6 s, 1.2 s, 1.8 s.
 */
const SCHEDULE = [0.6, 1.2, 1.8];

describe('outbound webhooks: retries and outcomes (NATS + Redis)', () => {
  let notifier: OutboundNotifier;
  const receiver = new WebhookReceiver();
  let hook: string;

  beforeAll(async () => {
    hook = await receiver.start();
    notifier = await OutboundNotifier.start({
      OUTBOUND_RETRY_SCHEDULE: SCHEDULE.join(','),
      OUTBOUND_TIMEOUT_SECONDS: '3',
      // The breaker is tested on its own; here every failure must be an attempt.
      OUTBOUND_BREAKER_MIN_ATTEMPTS: '100000',
    });
    // An endpoint taking every platform notice, to see them arrive.
    await notifier.createEndpoint({ url: `${hook}/watcher`, events: ['switchboard.*'] });
  });
  afterAll(async () => {
    await notifier?.stop();
    await receiver.close();
  });

  const notices = (type: string): Array<{ type: string; data: Record<string, unknown> }> =>
    receiver
      .byPath('/watcher')
      .map((r) => JSON.parse(r.body) as { type: string; data: Record<string, unknown> })
      .filter((b) => b.type === type);

  it('retries 500×3 then 200 with the same webhook-id, at the schedule (±20 % jitter)', async () => {
    receiver.answer = (req, nth) => (req.path === '/flaky' && nth <= 3 ? { status: 500, body: 'not yet' } : { status: 200 });
    const ep = await notifier.createEndpoint({ url: `${hook}/flaky`, events: ['flaky.*'] });
    await notifier.publish('flaky-1', 'flaky.event', { n: 1 });

    const requests = await eventually(() => {
      const got = receiver.byPath('/flaky');
      expect(got).toHaveLength(4);
      return got;
    }, 20_000);
    const ids = new Set(requests.map((r) => r.headers['webhook-id']));
    expect(ids.size).toBe(1);
    const timestamps = requests.map((r) => Number(r.headers['webhook-timestamp']));
    for (const r of requests) {
      // Every attempt is signed afresh (new timestamp) and verifies with the official library.
      expect(new Webhook(ep.secret).verify(r.body, r.headers as Record<string, string>)).toEqual(
        expect.objectContaining({ type: 'flaky.event', data: { n: 1 } }),
      );
    }
    expect(timestamps[3]).toBeGreaterThanOrEqual(timestamps[0] + 3);

    // A retry never comes before 80 % of its delay after the failed answer.
    for (let i = 1; i < 4; i++) expect(requests[i].at - requests[i - 1].at).toBeGreaterThanOrEqual(SCHEDULE[i - 1] * 1000 * 0.8 - 5);
    // The delays the engine chose are each within ±20 % of the schedule.
    const failed = (await notifier.attempts(ep.id, '&status=failed')).reverse();
    expect(failed.map((a) => [a.attempt, a.statusCode, a.outcome, a.responseBody])).toEqual([
      [1, 500, 'retry_scheduled', 'not yet'],
      [2, 500, 'retry_scheduled', 'not yet'],
      [3, 500, 'retry_scheduled', 'not yet'],
    ]);
    // The delay counts from the failed answer (at + durationMs): nothing done after it adds to
    // the delay; 2 ms of slack for the log's rounding (whole ms, the duration to 0.1 ms).
    for (let i = 0; i < 3; i++) {
      const chosen = Date.parse(failed[i].nextAttemptAt) - Date.parse(failed[i].at) - failed[i].durationMs;
      expect(chosen).toBeGreaterThanOrEqual(SCHEDULE[i] * 1000 * 0.8 - 2);
      expect(chosen).toBeLessThanOrEqual(SCHEDULE[i] * 1000 * 1.2 + 2);
    }
    await eventually(async () =>
      expect((await notifier.attempts(ep.id, '&status=succeeded')).map((a) => [a.attempt, a.webhookId])).toEqual([[4, [...ids][0]]]),
    );
  });

  it('waits at least Retry-After on 429 and 503', async () => {
    receiver.answer = (req, nth) => {
      if (req.path === '/busy' && nth === 1) return { status: 503, headers: { 'retry-after': '2' } };
      if (req.path === '/slow-down' && nth === 1) return { status: 429, headers: { 'retry-after': '3' } };
      return { status: 200 };
    };
    await notifier.createEndpoint({ url: `${hook}/busy`, events: ['busy.*'] });
    await notifier.createEndpoint({ url: `${hook}/slow-down`, events: ['busy.*'] });
    await notifier.publish('busy-1', 'busy.event');
    for (const [path, seconds] of [
      ['/busy', 2],
      ['/slow-down', 3],
    ] as const) {
      const [first, second] = await eventually(() => {
        const got = receiver.byPath(path);
        expect(got).toHaveLength(2);
        return got;
      }, 20_000);
      // The schedule alone would retry after ~0.6 s.
      expect(second.at - first.at).toBeGreaterThanOrEqual(seconds * 1000);
      expect(second.headers['webhook-id']).toBe(first.headers['webhook-id']);
    }
  });

  it('treats a redirect as a failure, never requests its Location, dead-letters after the last attempt, and replays', async () => {
    let moved = true;
    receiver.answer = (req) =>
      req.path === '/moved' && moved ? { status: 302, headers: { location: `${hook}/elsewhere` } } : { status: 200 };
    // It also asks for exhaustion notices: never about itself (that would feed on its own failures).
    const ep = await notifier.createEndpoint({ url: `${hook}/moved`, events: ['moved.*', 'switchboard.webhook.exhausted'] });
    const before = new Date().toISOString();
    await notifier.publish('moved-1', 'moved.event', { n: 7 });

    await eventually(() => expect(notices('switchboard.webhook.exhausted').map((n) => n.data.endpointId)).toContain(ep.id), 20_000);
    const requests = receiver.byPath('/moved');
    expect(requests).toHaveLength(SCHEDULE.length + 1);
    expect(receiver.byPath('/elsewhere')).toHaveLength(0);
    const failed = await eventually(async () => {
      const logged = await notifier.attempts(ep.id, '&status=failed');
      expect(logged[0]?.outcome).toBe('dead_lettered');
      return logged;
    });
    expect(failed).toHaveLength(SCHEDULE.length + 1);
    expect(failed.every((a) => a.statusCode === 302 && String(a.error).startsWith('redirect:'))).toBe(true);
    const notice = notices('switchboard.webhook.exhausted').find((n) => n.data.endpointId === ep.id)!;
    expect(notice.data).toMatchObject({
      webhookId: requests[0].headers['webhook-id'],
      eventId: 'moved-1',
      attempts: SCHEDULE.length + 1,
      statusCode: 302,
    });

    // The dead letter is on `<OUTBOUND_DLQ_SUBJECT_PREFIX>.<endpoint id>`.
    const jsm = await jetstreamManager(notifier.runtime.nats!);
    const subject = `${notifier.env.OUTBOUND_DLQ_SUBJECT_PREFIX}.${ep.id}`;
    const info = await jsm.streams.info(notifier.env.OUTBOUND_DLQ_STREAM, { subjects_filter: subject });
    expect(info.state.subjects?.[subject]).toBe(1);

    // Fixed: replay since before the event delivers it once more, with the same webhook-id.
    moved = false;
    const replay = await notifier.admin('POST', `/v1/endpoints/${ep.id}/replay`, { since: before });
    expect(replay).toEqual({ status: 202, body: { since: before, replayed: 1 } });
    await eventually(() => expect(receiver.byPath('/moved')).toHaveLength(SCHEDULE.length + 2), 10_000);
    const replayed = receiver.byPath('/moved').at(-1)!;
    expect(replayed.headers['webhook-id']).toBe(requests[0].headers['webhook-id']);
    expect(JSON.parse(replayed.body)).toMatchObject({ type: 'moved.event', data: { n: 7 } });
    // Its own exhaustion notice never came to it.
    expect(receiver.byPath('/moved').filter((r) => r.body.includes('switchboard.webhook.exhausted'))).toHaveLength(0);
  });

  it('disables an endpoint answering 410 after one attempt', async () => {
    receiver.answer = (req) => (req.path === '/gone' ? { status: 410 } : { status: 200 });
    const gone = await notifier.createEndpoint({ url: `${hook}/gone`, events: ['gone.*'] });
    const control = await notifier.createEndpoint({ url: `${hook}/control`, events: ['gone.*'] });
    await notifier.publish('gone-1', 'gone.event');
    await eventually(async () => {
      const res = await notifier.admin('GET', `/v1/endpoints/${gone.id}`);
      expect(res.body).toMatchObject({ disabled: true, disabledReason: 'gone' });
    }, 10_000);
    await eventually(
      () =>
        expect(notices('switchboard.endpoint.disabled').map((n) => n.data)).toContainEqual(
          expect.objectContaining({ endpointId: gone.id, reason: 'gone', statusCode: 410 }),
        ),
      10_000,
    );
    // A later event reaches the control endpoint, not the disabled one.
    await notifier.publish('gone-2', 'gone.event');
    await eventually(() => expect(receiver.byPath('/control')).toHaveLength(2), 10_000);
    expect(receiver.byPath('/gone')).toHaveLength(1);
    await eventually(async () =>
      expect((await notifier.attempts(gone.id)).map((a) => [a.attempt, a.statusCode, a.outcome])).toEqual([[1, 410, 'endpoint_disabled']]),
    );
    expect(control.id).not.toBe(gone.id);
    // Replay is refused until it is enabled again.
    expect((await notifier.admin('POST', `/v1/endpoints/${gone.id}/replay`, { since: new Date(0).toISOString() })).body?.message).toMatch(
      /endpoint is disabled/,
    );
  });
});
