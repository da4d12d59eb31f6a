import { connect, JoinNotice, LeaveNotice, Subscription, SwitchboardClient } from '@switchboard/client';
import { RunningService } from '@switchboard/platform';
import { eventually, signToken, uniqueName } from '@switchboard/testing';
import { startGateway } from './support/gateway';
import { PRESENCE_CHANNEL_CONFIG } from './support/presence';
import { TestProxy } from './support/proxy';

const fast = { baseMs: 50, capMs: 300 };

/** The SDK's presence against a real gateway: queries, join/leave, and the live member set across a reconnect. */
describe('client SDK presence', () => {
  let gw: RunningService;
  const clients: SwitchboardClient[] = [];
  const open = async (url: string, sub: string, transport: 'websocket' | 'sse'): Promise<SwitchboardClient> => {
    const token = await signToken({ sub, channels: ['room:*'], info: { name: sub.toUpperCase() } });
    const c = connect(url, { token, transports: [transport], backoff: fast });
    clients.push(c);
    return c;
  };
  const subscribed = (s: Subscription): Promise<void> => new Promise((resolve) => s.on('subscribed', () => resolve()));
  const users = (s: Subscription): string[] => [...s.members.keys()].sort();

  beforeAll(async () => {
    gw = await startGateway({ CHANNEL_CONFIG: PRESENCE_CHANNEL_CONFIG });
  });
  afterEach(() => clients.splice(0).forEach((c) => c.close()));
  afterAll(async () => gw?.stop());

  it('queries presence and reports join/leave over WebSocket and SSE', async () => {
    const channel = `room:${uniqueName('sdk')}`;
    const a = (await open(gw.url, 'a', 'websocket')).subscribe(channel);
    await subscribed(a);
    const notices: Array<JoinNotice | LeaveNotice> = [];
    a.on('join', (n) => notices.push(n));
    a.on('leave', (n) => notices.push(n));
    const bClient = await open(gw.url, 'b', 'sse');
    const b = bClient.subscribe(channel);
    await subscribed(b);
    await eventually(() => expect(notices).toEqual([{ op: 'join', channel, user: 'b', info: { name: 'B' } }]));
    const answer = await b.presence();
    expect(answer).toMatchObject({ channel, count: 2, connections: 2 });
    expect(answer.members.map((m) => m.user).sort()).toEqual(['a', 'b']);
    b.unsubscribe();
    await eventually(() => expect(notices.at(-1)).toEqual({ op: 'leave', channel, user: 'b' }));
    await expect((await open(gw.url, 'c', 'websocket')).subscribe('room:x').presence()).resolves.toMatchObject({ count: 0 });
    const off = (await open(gw.url, 'd', 'websocket')).subscribe('other:x');
    await expect(off.presence()).rejects.toMatchObject({ code: 'forbidden' });
  });

  it('keeps a live member set from join/leave and reads it again after a reconnect', async () => {
    const channel = `room:${uniqueName('members')}`;
    const proxy = new TestProxy(gw.url);
    await proxy.start();
    try {
      const a = (await open(proxy.url, 'a', 'websocket')).subscribe(channel, { presence: true });
      await eventually(() => expect(users(a)).toEqual(['a']));
      const b = (await open(gw.url, 'b', 'websocket')).subscribe(channel);
      await eventually(() => expect(users(a)).toEqual(['a', 'b']));
      expect(a.members.get('b')?.info).toEqual({ name: 'B' });

      // a is cut off: meanwhile b leaves and c arrives, which a cannot hear about.
      proxy.blockWebSocket = true;
      proxy.cutAll();
      b.unsubscribe();
      const c = (await open(gw.url, 'c', 'websocket')).subscribe(channel);
      await subscribed(c);
      expect(users(a)).toEqual(['a', 'b']);
      proxy.blockWebSocket = false;
      await eventually(() => expect(users(a)).toEqual(['a', 'c']), 10_000);
    } finally {
      await proxy.stop();
    }
  });
});
