import { jetstreamManager } from '@nats-io/jetstream';
import type { EngineRuntime } from '@switchboard/engine';
import { RunningService, startService } from '@switchboard/platform';
import { createPublisher, Publisher } from '@switchboard/publisher';
import { eventually, requireSharedServers } from '@switchboard/testing';
import { notifierDefinition } from '@switchboard/notifier';
import { ChannelRecorder, cleanUp, isolatedEnv, metricValue, testRuntime } from './support/notifier-harness';

const EVENTS = 400;
const CHANNELS = Array.from({ length: 8 }, (_, i) => `team:${i}`);

/** SPEC "Event bus and notifier": replicas with one durable name share EVENTS; no event is processed twice. */
describe('two notifier replicas', () => {
  let env: Record<string, string>;
  let runtime: EngineRuntime | undefined;
  let publisher: Publisher | undefined;
  const replicas: RunningService[] = [];

  beforeAll(async () => {
    const { natsUrl, redisUrl } = await requireSharedServers();
    env = isolatedEnv(natsUrl, redisUrl, { NOTIFIER_CONCURRENCY: '8' });
    runtime = await testRuntime(env);
    publisher = await createPublisher({ servers: natsUrl, source: 'replica-test', subjectPrefix: env.EVENTS_SUBJECT_PREFIX });
  });

  afterAll(async () => {
    for (const r of replicas) await r.stop();
    await publisher?.close();
    await cleanUp(runtime, env);
  });

  const processed = async (r: RunningService): Promise<{ processed: number; duplicates: number }> => {
    const text = await r.platform.metrics.registry.metrics();
    return {
      processed: metricValue(text, 'switchboard_notifier_events_total', 'outcome="processed"'),
      duplicates: metricValue(text, 'switchboard_notifier_channel_publishes_total', 'result="duplicate"'),
    };
  };

  it('split the events between them, and every subscriber gets each event once', async () => {
    replicas.push(await startService(notifierDefinition, env), await startService(notifierDefinition, env));
    const recorder = new ChannelRecorder(runtime!);
    await recorder.subscribe(CHANNELS);
    for (let n = 0; n < EVENTS; n++) {
      await publisher!.publish({ type: 'team.note', id: `r-${n}`, data: { n }, channels: [CHANNELS[n % CHANNELS.length]] });
    }
    await eventually(() => expect(recorder.total).toBe(EVENTS), 20_000, 50);
    for (const [index, channel] of CHANNELS.entries()) {
      const got = recorder.received.get(channel)!;
      const expected = Array.from({ length: EVENTS / CHANNELS.length }, (_, k) => `r-${k * CHANNELS.length + index}`);
      expect(got.map((m) => m.offset)).toEqual(expected.map((_, k) => k + 1));
      expect(got.map((m) => m.id).sort()).toEqual([...expected].sort());
    }
    const [a, b] = await Promise.all(replicas.map(processed));
    // Each event was taken by exactly one replica, and no channel publish was a repeat.
    expect(a.processed + b.processed).toBe(EVENTS);
    expect(a.processed).toBeGreaterThan(0);
    expect(b.processed).toBeGreaterThan(0);
    expect(a.duplicates + b.duplicates).toBe(0);
    expect((await runtime!.engine.positions(CHANNELS)).map((p) => p.offset)).toEqual(CHANNELS.map(() => EVENTS / CHANNELS.length));
  });

  it('applies NOTIFIER_ACK_WAIT_SECONDS and NOTIFIER_MAX_DELIVER to the existing consumer at startup', async () => {
    for (const r of replicas.splice(0)) await r.stop();
    const restarted = await startService(notifierDefinition, { ...env, NOTIFIER_ACK_WAIT_SECONDS: '7', NOTIFIER_MAX_DELIVER: '4' });
    replicas.push(restarted);
    const jsm = await jetstreamManager(runtime!.nats!);
    await eventually(async () => {
      const info = await jsm.consumers.info(env.EVENTS_STREAM, env.NOTIFIER_DURABLE);
      expect(info.config).toMatchObject({ ack_wait: 7_000_000_000, max_deliver: 4, deliver_policy: 'all', ack_policy: 'explicit' });
    });
    // It resumes where the durable left off: nothing is processed again.
    await publisher!.publish({ type: 'team.note', id: 'r-after', data: {}, channels: ['team:0'] });
    await eventually(async () => expect((await processed(restarted)).processed).toBe(1));
  });
});
