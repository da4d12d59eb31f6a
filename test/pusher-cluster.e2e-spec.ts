import type { GatewayConfig } from '@switchboard/config';
import type { RunningService } from '@switchboard/platform';
import { cleanupIsolatedEnv, deferred, eventually, isolatedEnv, requireSharedServers, uniqueName } from '@switchboard/testing';
import { startGateway } from './support/gateway';
import { type PusherClient, pusherClient, pusherServer } from './support/pusher';

// Two gateways on the shared NATS + Redis: a Pusher app sees one cluster, whichever pod each client reaches.
const APP = { id: 'clu-app', key: 'clu-key', secret: 'clu-secret-0123456789' };

describe('Pusher protocol on two gateways (NATS + Redis)', () => {
  let a: RunningService<GatewayConfig>;
  let b: RunningService<GatewayConfig>;
  let env: Record<string, string>;
  const clients: Array<PusherClient> = [];

  const api = (gw: RunningService) => pusherServer(gw, APP);

  const connect = async (gw: RunningService, user: string) => {
    const signer = api(gw);
    const client = pusherClient(gw, APP.key, (socketId, channel) =>
      signer.authorizeChannel(socketId, channel, { user_id: user, user_info: { user } }),
    );
    clients.push(client);
    return client;
  };
  const subscribed = (client: PusherClient, channel: string) =>
    new Promise<ReturnType<PusherClient['subscribe']>>((resolve) => {
      const ch = client.subscribe(channel);
      ch.bind('pusher:subscription_succeeded', () => resolve(ch));
    });

  beforeAll(async () => {
    const { natsUrl, redisUrl } = await requireSharedServers();
    env = { ...isolatedEnv('pusher', { natsUrl, redisUrl }), PUSHER_APPS: JSON.stringify([APP]) };
    a = await startGateway(env);
    b = await startGateway(env);
  });
  afterAll(async () => {
    clients.forEach((c) => c.disconnect());
    await a?.stop();
    await b?.stop();
    if (env) await cleanupIsolatedEnv(env);
  });

  it('presence members, member_added/removed, triggers and channel queries cross pods', async () => {
    const channel = 'presence-' + uniqueName('room');
    const onA = await connect(a, 'ann');
    const chA = await subscribed(onA, channel);
    const added = deferred<unknown>();
    chA.bind('pusher:member_added', (m: unknown) => added.resolve(m));
    const onB = await connect(b, 'ben');
    const chB = (await subscribed(onB, channel)) as unknown as { members: { count: number } };
    expect(chB.members.count).toBe(2);
    expect(await added.promise).toEqual({ id: 'ben', info: { user: 'ben' } });

    // An event triggered through B's HTTP API reaches the client on A.
    const got = deferred<unknown>();
    chA.bind('ping', (d: unknown) => got.resolve(d));
    await api(b).trigger(channel, 'ping', { from: 'b' });
    expect(await got.promise).toEqual({ from: 'b' });

    // Either pod answers channel queries from the shared store.
    for (const gw of [a, b]) {
      const res = await api(gw).get({ path: `/channels/${channel}`, params: { info: 'user_count,subscription_count' } });
      expect(await res.json()).toEqual({ occupied: true, user_count: 2, subscription_count: 2 });
    }
    const listed = await api(a).get({ path: '/channels', params: { filter_by_prefix: channel } });
    expect(await listed.json()).toEqual({ channels: { [channel]: {} } });

    const removed = deferred<unknown>();
    chA.bind('pusher:member_removed', (m: unknown) => removed.resolve(m));
    onB.disconnect();
    expect(await removed.promise).toEqual({ id: 'ben', info: { user: 'ben' } });
    onA.unsubscribe(channel);
    await eventually(async () => {
      const res = await api(b).get({ path: `/channels/${channel}` });
      expect(await res.json()).toEqual({ occupied: false });
    });
    const empty = await api(b).get({ path: '/channels', params: { filter_by_prefix: channel } });
    expect(await empty.json()).toEqual({ channels: {} });
  });
});
