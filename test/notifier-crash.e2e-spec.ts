import type { EngineRuntime } from '@switchboard/engine';
import { createPublisher, Publisher } from '@switchboard/publisher';
import { eventually, requireSharedServers } from '@switchboard/testing';
import { ChannelRecorder, cleanUp, isolatedEnv, NotifierProcess, testRuntime } from './support/notifier-harness';

const EVENTS = 1000;
const CHANNELS = ['orders:0', 'orders:1', 'orders:2', 'orders:3', 'orders:4'];
const KILL_AFTER = 300;

/**
 * SPEC "Event bus and notifier": at-least-once consumption with exactly-once effect. The
 * notifier (its own process, from the build) is SIGKILLed while it works through 1,000
 * events and started again: every subscriber gets every event once, in channel order.
 */
describe('notifier killed mid-stream', () => {
  let env: Record<string, string>;
  let runtime: EngineRuntime | undefined;
  let publisher: Publisher | undefined;
  const notifiers: NotifierProcess[] = [];

  beforeAll(async () => {
    const { natsUrl, redisUrl } = await requireSharedServers();
    // A short ack wait: events the killed process held come back after it.
    env = isolatedEnv(natsUrl, redisUrl, { NOTIFIER_ACK_WAIT_SECONDS: '2' });
    runtime = await testRuntime(env);
    await runtime.eventBus.ensureStreams();
    publisher = await createPublisher({ servers: natsUrl, source: 'crash-test', subjectPrefix: env.EVENTS_SUBJECT_PREFIX });
  });

  afterAll(async () => {
    for (const n of notifiers) await n.stop();
    await publisher?.close();
    await cleanUp(runtime, env);
  });

  it('delivers each of 1,000 events exactly once per subscriber, in offset order, across a SIGKILL and restart', async () => {
    const recorder = new ChannelRecorder(runtime!);
    await recorder.subscribe(CHANNELS);
    const first = new NotifierProcess(env);
    notifiers.push(first);
    await first.start();

    let killedAt = -1;
    recorder.onMessage = () => {
      if (killedAt < 0 && recorder.total >= KILL_AFTER) {
        killedAt = recorder.total;
        first.kill(); // mid-stream: a batch is in flight, some of it published to channels but not acked
      }
    };
    for (let i = 0; i < EVENTS; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, (_, k) => i + k).map((n) =>
          publisher!.publish({ type: 'orders.updated', id: `evt-${n}`, data: { n }, channels: [CHANNELS[n % CHANNELS.length]] }),
        ),
      );
    }
    await eventually(() => expect(killedAt).toBeGreaterThan(0), 20_000);
    expect(killedAt).toBeLessThan(EVENTS);

    const second = new NotifierProcess(env);
    notifiers.push(second);
    await second.start();
    await eventually(() => expect(recorder.total).toBeGreaterThanOrEqual(EVENTS), 30_000, 100);

    for (const [index, channel] of CHANNELS.entries()) {
      const got = recorder.received.get(channel)!;
      const expected = Array.from({ length: EVENTS / CHANNELS.length }, (_, k) => `evt-${k * CHANNELS.length + index}`);
      // Offsets 1..200 in order, no gap; every event once, in the order it was published.
      expect(got.map((m) => m.offset)).toEqual(expected.map((_, k) => k + 1));
      expect(got.map((m) => m.id)).toEqual(expected);
      for (const m of got) expect(m).toMatchObject({ type: 'orders.updated', data: { n: Number(m.id!.slice(4)) } });
    }
    // The channels hold exactly those messages: redeliveries made no new offsets.
    const positions = await runtime!.engine.positions(CHANNELS);
    expect(positions.map((p) => p.offset)).toEqual(CHANNELS.map(() => EVENTS / CHANNELS.length));
  }, 60_000);
});
