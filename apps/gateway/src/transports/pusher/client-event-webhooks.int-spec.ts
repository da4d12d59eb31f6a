import type { NatsConnection } from '@nats-io/nats-core';
import { connectNats, JetStreamEventBus, NatsHealth } from '@switchboard/engine';
import type { Logger } from '@switchboard/observability';
import { eventually, PrivateServer, startPrivateServer } from '@switchboard/testing';
import { clientEventPublisher } from './client-event-webhooks';

const retention = { eventsMaxAgeSeconds: 3600, duplicateWindowSeconds: 120, dlqMaxAgeSeconds: 3600 };
const names = { eventsStream: 'EV_CE', eventsSubjectPrefix: 'evce', dlqStream: 'DLQ_CE', dlqSubjectPrefix: 'dlqce' };
const record = (channel: string) => ({ channel, event: 'client-typing', data: '{"on":true}', socket_id: '1.2' });

/** A private NATS server the test stops and starts; the shared one is never touched. */
describe('Pusher client_event webhooks through a NATS outage', () => {
  let nats: PrivateServer;
  let nc: NatsConnection;
  let bus: JetStreamEventBus;
  const logged: Array<{ level: string; msg: string }> = [];
  const logger = {
    warn: (_: object, msg: string) => logged.push({ level: 'warn', msg }),
    error: (_: object, msg: string) => logged.push({ level: 'error', msg }),
  } as unknown as Logger;

  beforeAll(async () => {
    nats = await startPrivateServer('nats');
    nc = await connectNats(nats.url, 'client-event-test', 5000);
    bus = await JetStreamEventBus.create(nc, new NatsHealth(nc), retention, names, { publishTimeoutMs: 500 });
    await bus.ensureStreams();
  });
  afterAll(async () => {
    await nc.close();
    await nats.stop();
  });

  const stored = async (): Promise<string[]> =>
    (await bus.read(names.eventsStream, 1, 100)).map(
      (e) => (JSON.parse(new TextDecoder().decode(e.data)) as { data: { channel: string } }).data.channel,
    );

  it('stores the webhook once when NATS comes back within the retries, and counts one that never could be stored', async () => {
    let lost = 0;
    await nats.kill('SIGKILL');

    // NATS stays away longer than this publisher's retries: counted and logged as lost.
    clientEventPublisher(bus, logger, () => lost++, { retryDelaysMs: [100, 100], maxPending: 10 })(record('private-gone'));
    await eventually(() => expect(lost).toBe(1));
    expect(logged).toContainEqual({ level: 'error', msg: 'client_event webhook lost: EVENTS did not store it' });

    // NATS back within this one's retries (the same message id on every attempt: stored once).
    clientEventPublisher(bus, logger, () => lost++, { retryDelaysMs: [500, 1000, 2000, 4000], maxPending: 10 })(record('private-kept'));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await nats.start();
    await eventually(async () => expect(await stored()).toEqual(['private-kept']), 15_000);
    expect(lost).toBe(1);
    expect(logged.filter((l) => l.msg === 'client_event webhook not stored yet; retrying')).toHaveLength(2);
  }, 30_000);
});
