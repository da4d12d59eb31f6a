import { standaloneDefinition } from '@switchboard/standalone';
import { RunningService, ServiceDefinition, startService } from '@switchboard/platform';
import { deferred, eventually, TEST_JWT_SECRET, uniqueName } from '@switchboard/testing';
import PusherServer from 'pusher';
import PusherJs from 'pusher-js';
import { WebhookReceiver } from './support/webhook-receiver';
import { pusherClient, pusherServer } from './support/pusher';

// Pusher webhooks sent by the outbound engine of the single process, checked with the official library's webhook() helper.
const APP = { id: 'hooks-app', key: 'hooks-key', secret: 'hooks-secret-0123456789' };

describe('Pusher webhooks (single process, memory engine)', () => {
  const receiver = new WebhookReceiver();
  let service: RunningService;
  let verifier: PusherServer;
  const clients: Array<InstanceType<typeof PusherJs>> = [];

  beforeAll(async () => {
    const hook = await receiver.start();
    // The first delivery fails: the webhook arrives on the outbound engine's retry.
    receiver.answer = (_req, nth) => (nth === 1 ? { status: 503, body: 'busy' } : { status: 200, body: 'ok' });
    service = await startService(standaloneDefinition as ServiceDefinition<never>, {
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      DRAIN_SECONDS: '0',
      JWT_SECRET: TEST_JWT_SECRET,
      PUBLISH_API_KEY: 'publish-key-0123456789abcdef',
      ADMIN_API_KEY: 'admin-key-0123456789abcdef01',
      OUTBOUND_ALLOW_HTTP: 'true',
      OUTBOUND_ALLOW_CIDRS: '127.0.0.1/32',
      OUTBOUND_RETRY_SCHEDULE: '0.2,0.2',
      PUSHER_APPS: JSON.stringify([{ ...APP, clientEvents: true, webhooks: [{ url: `${hook}/pusher` }] }]),
    });
    verifier = pusherServer(service, APP);
  });
  afterAll(async () => {
    clients.forEach((c) => c.disconnect());
    await service?.stop();
    await receiver.close();
  });

  const connect = async (user: string) => {
    const client = pusherClient(service, APP.key, (socketId, channel) =>
      verifier.authorizeChannel(socketId, channel, channel.startsWith('presence-') ? { user_id: user } : undefined),
    );
    clients.push(client);
    const subscribe = (channel: string) =>
      new Promise<ReturnType<typeof client.subscribe>>((resolve) => {
        const ch = client.subscribe(channel);
        ch.bind('pusher:subscription_succeeded', () => resolve(ch));
      });
    return { client, subscribe };
  };

  /** Every webhook accepted so far (the first request was answered 503) that the official helper validates, flattened to its events. */
  const validEvents = (): Array<Record<string, unknown>> =>
    receiver
      .byPath('/pusher')
      .slice(1)
      .flatMap((r) => {
        const webhook = verifier.webhook({ headers: r.headers, rawBody: r.body });
        return webhook.isValid() ? (webhook.getEvents() as unknown as Array<Record<string, unknown>>) : [];
      });

  it('channel_occupied, member_added, client_event, member_removed, channel_vacated — signed as the pusher library checks', async () => {
    const presence = 'presence-' + uniqueName('room');
    const plain = uniqueName('news');
    const ann = await connect('ann');
    const ben = await connect('ben');
    await ann.subscribe(plain);
    const room = await ann.subscribe(presence);
    const benRoom = await ben.subscribe(presence);
    const got = deferred<void>();
    room.bind('client-wave', () => got.resolve());
    benRoom.trigger('client-wave', { hi: 1 });
    await got.promise;
    ben.client.unsubscribe(presence);
    ann.client.unsubscribe(presence);
    ann.client.unsubscribe(plain);

    const wanted = [
      { name: 'channel_occupied', channel: plain },
      { name: 'channel_occupied', channel: presence },
      { name: 'member_added', channel: presence, user_id: 'ann' },
      { name: 'member_added', channel: presence, user_id: 'ben' },
      {
        name: 'client_event',
        channel: presence,
        event: 'client-wave',
        data: '{"hi":1}',
        socket_id: ben.client.connection.socket_id,
        user_id: 'ben',
      },
      { name: 'member_removed', channel: presence, user_id: 'ben' },
      { name: 'member_removed', channel: presence, user_id: 'ann' },
      { name: 'channel_vacated', channel: presence },
      { name: 'channel_vacated', channel: plain },
    ];
    const events = await eventually(() => {
      const e = validEvents().filter((x) => x.channel === presence || x.channel === plain);
      expect(e).toHaveLength(wanted.length);
      return e;
    }, 15_000);
    expect(events).toEqual(expect.arrayContaining(wanted));
    // The public channel's connection count is one "member" in the store: no member events for it.
    expect(events.filter((e) => e.channel === plain && String(e.name).startsWith('member_'))).toEqual([]);
    // The first attempt was refused (503) and retried: nothing was lost.
    expect(receiver.byPath('/pusher')[0].body).toMatch(/time_ms/);

    // A body changed on the way fails the helper's check, so receivers can tell.
    const r = receiver.byPath('/pusher').at(-1)!;
    expect(verifier.webhook({ headers: r.headers, rawBody: r.body.replace('"', ' "') }).isValid()).toBe(false);
    expect(r.headers['x-pusher-key']).toBe(APP.key);
  });
});
