import type { EngineRuntime } from '@switchboard/engine';
import { RunningService, startService } from '@switchboard/platform';
import { createPublisher, Publisher } from '@switchboard/publisher';
import { eventually, PrivateServer, requireSharedServers, startPrivateServer } from '@switchboard/testing';
import type { DeadLetterPage } from '../apps/notifier/src/api/dlq.controller';
import type { ReplayAllResult } from '../apps/notifier/src/dispatch/dead-letter-queue';
import { notifierDefinition } from '@switchboard/notifier';
import { ChannelRecorder, cleanUp, isolatedEnv, metricValue, runDlqCli, testRuntime } from './support/notifier-harness';

const PUBLISH_KEY = 'publish-key-dlq-test';
const ADMIN_KEY = 'admin-key-dlq-test';

/**
 * SPEC "Event bus and notifier": a channel publish that keeps failing (Redis stopped) is
 * retried with backoff, then dead-lettered with the event, the error and the delivery
 * count; replaying after Redis is back delivers each event once.
 */
describe('notifier dead letters (Redis stopped)', () => {
  let redis: PrivateServer;
  let env: Record<string, string>;
  let service: RunningService | undefined;
  let runtime: EngineRuntime | undefined;
  let publisher: Publisher | undefined;
  const admin = { authorization: `Bearer ${ADMIN_KEY}` };

  beforeAll(async () => {
    const { natsUrl } = await requireSharedServers();
    redis = await startPrivateServer('redis');
    env = isolatedEnv(natsUrl, redis.url, {
      NOTIFIER_MAX_DELIVER: '3',
      NOTIFIER_RETRY_BASE_MS: '100',
      NOTIFIER_RETRY_MAX_MS: '400',
      PUBLISH_API_KEY: PUBLISH_KEY,
      ADMIN_API_KEY: ADMIN_KEY,
    });
    service = await startService(notifierDefinition, env);
    runtime = await testRuntime(env);
    publisher = await createPublisher({ servers: natsUrl, source: 'dlq-test', subjectPrefix: env.EVENTS_SUBJECT_PREFIX });
  });

  afterAll(async () => {
    await publisher?.close();
    await service?.stop();
    await cleanUp(runtime, env);
    await redis?.stop();
  });

  const metrics = async (): Promise<string> => (await fetch(`${service!.url}/metrics`)).text();
  const listDlq = async (): Promise<DeadLetterPage> => {
    const res = await fetch(`${service!.url}/v1/dlq`, { headers: admin });
    expect(res.status).toBe(200);
    return (await res.json()) as DeadLetterPage;
  };

  it('retries, dead-letters, and replays each event exactly once after Redis is back', async () => {
    await redis.kill();
    for (let n = 0; n < 4; n++) {
      await publisher!.publish({ type: 'orders.paid', id: `dl-${n}`, data: { n }, channels: [n % 2 === 0 ? 'dl:a' : 'dl:b'] });
    }

    // The publish API answers 503 while the engine cannot store.
    const refused = await fetch(`${service!.url}/v1/publish`, {
      method: 'POST',
      headers: { authorization: `Bearer ${PUBLISH_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'dl:a', data: 1 }),
    });
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({ code: 'unavailable' });

    const page = await eventually(async () => {
      const p = await listDlq();
      expect(p.deadLetters).toHaveLength(4);
      return p;
    }, 20_000);
    for (const entry of page.deadLetters) {
      expect(entry.dlqSubject).toBe(`${env.DLQ_SUBJECT_PREFIX}.orders.paid`);
      expect(entry.deadLetter).toMatchObject({
        reason: 'publish_failed',
        deliveryCount: 3,
        subject: `${env.EVENTS_SUBJECT_PREFIX}.orders.paid`,
        error: expect.stringMatching(/^dl:[ab]: unavailable: /),
        delivered: [],
        event: { specversion: '1.0', source: 'dlq-test', type: 'orders.paid', id: expect.stringMatching(/^dl-\d$/) },
      });
    }
    expect(page.deadLetters.map((e) => e.deadLetter.event!.id).sort()).toEqual(['dl-0', 'dl-1', 'dl-2', 'dl-3']);
    // Two naks (with backoff) per event before the third, last delivery dead-lettered it.
    const text = await metrics();
    expect(metricValue(text, 'switchboard_notifier_events_total', 'outcome="retried"')).toBe(8);
    expect(metricValue(text, 'switchboard_notifier_events_total', 'outcome="dead_lettered"')).toBe(4);
    expect(metricValue(text, 'switchboard_notifier_events_total', 'outcome="processed"')).toBe(0);

    // The publish key is not the admin key.
    expect((await fetch(`${service!.url}/v1/dlq`, { headers: { authorization: `Bearer ${PUBLISH_KEY}` } })).status).toBe(401);

    await redis.start();
    await eventually(async () => expect((await fetch(`${service!.url}/readyz`)).status).toBe(200), 15_000, 100);
    await eventually(() => expect(runtime!.redis!.status).toBe('ready'), 15_000, 100);
    const recorder = new ChannelRecorder(runtime!);
    await recorder.subscribe(['dl:a', 'dl:b']);

    // One through the command line…
    const list = await runDlqCli(env, ['list']);
    expect(list.code).toBe(0);
    const lines = list.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { dlqSeq: number; eventId: string; reason: string });
    expect(lines.map((l) => l.reason)).toEqual(['publish_failed', 'publish_failed', 'publish_failed', 'publish_failed']);
    const first = lines[0];
    const replayOne = await runDlqCli(env, ['replay', String(first.dlqSeq)]);
    expect(replayOne).toMatchObject({ code: 0 });
    expect(JSON.parse(replayOne.stdout)).toMatchObject({ dlqSeq: first.dlqSeq, eventId: first.eventId });

    // …the rest over HTTP.
    const all = await fetch(`${service!.url}/v1/dlq/replay`, { method: 'POST', headers: admin });
    expect(all.status).toBe(200);
    const replayed = (await all.json()) as ReplayAllResult;
    expect(replayed.failed).toEqual([]);
    expect(replayed.replayed.map((r) => r.eventId).sort()).toEqual(['dl-0', 'dl-1', 'dl-2', 'dl-3'].filter((id) => id !== first.eventId));

    // Each channel: both of its events, once, at offsets 1 and 2 (in replay order).
    await eventually(() => {
      for (const [channel, ids] of [
        ['dl:a', ['dl-0', 'dl-2']],
        ['dl:b', ['dl-1', 'dl-3']],
      ] as const) {
        const got = recorder.received.get(channel)!;
        expect(got.map((m) => m.offset)).toEqual([1, 2]);
        expect(got.map((m) => m.id).sort()).toEqual(ids);
      }
    }, 10_000);
    await eventually(async () => expect(metricValue(await metrics(), 'switchboard_notifier_events_total', 'outcome="processed"')).toBe(4));
    expect((await listDlq()).deadLetters).toEqual([]);
    expect((await runtime!.engine.positions(['dl:a', 'dl:b'])).map((p) => p.offset)).toEqual([2, 2]);

    // A dead letter is replayed once: it is gone afterwards.
    const again = await fetch(`${service!.url}/v1/dlq/${first.dlqSeq}/replay`, { method: 'POST', headers: admin });
    expect(again.status).toBe(404);
  }, 60_000);
});
