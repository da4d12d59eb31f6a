import { eventually, signToken, WsTestClient } from '@switchboard/testing';
import { io, Socket } from 'socket.io-client';
import { TestCluster } from './support/cluster';
import { ServiceProcess } from './support/process';
import { lifecycleOf, PRESENCE_CHANNEL_CONFIG, readEvents } from './support/presence';
import { SseTestClient } from './support/sse';

/**
 * Presence across 3 gateway processes on real NATS and Redis (private servers): join/leave
 * reach subscribers on every transport and gateway, a second device causes no join, the
 * queries answer the same on every transport, and a SIGKILLed gateway's members leave
 * within PRESENCE_TTL_SECONDS + 5 s with each lifecycle event once.
 */

const TTL_SECONDS = 3;
jest.setTimeout(60_000);

interface Notice {
  op: string;
  channel: string;
  user: string;
  info?: Record<string, unknown>;
}

/** A subscriber on one transport, recording the join/leave of its channel. */
interface Watcher {
  name: string;
  notices(): Notice[];
  close(): void;
}

async function wsMember(url: string, sub: string, channel: string, info?: Record<string, unknown>): Promise<WsTestClient> {
  const token = await signToken({ sub, channels: ['room:*', 'plain:*'], info });
  const c = await WsTestClient.connect(`${url}?token=${token}`);
  const reply = await c.request('subscribe', { channel });
  expect(reply.op).toBe('subscribed');
  return c;
}

function wsWatcher(c: WsTestClient, channel: string): Watcher {
  return {
    name: 'ws',
    notices: () => c.frames.filter((f) => (f.op === 'join' || f.op === 'leave') && f.channel === channel) as unknown as Notice[],
    close: () => c.close(),
  };
}

async function sseWatcher(base: string, sub: string, channel: string): Promise<Watcher> {
  const token = await signToken({ sub, channels: ['room:*'] });
  const s = new SseTestClient(`${base}/v1/sse?channel=${channel}`, { token });
  await s.opened();
  return {
    name: 'sse',
    notices: () => s.events.filter((e) => e.type === 'join' || e.type === 'leave').map((e) => JSON.parse(e.data) as Notice),
    close: () => s.close(),
  };
}

async function socketIoWatcher(base: string, sub: string, channel: string): Promise<{ watcher: Watcher; socket: Socket }> {
  const token = await signToken({ sub, channels: ['room:*'] });
  const socket = io(base, { path: '/socket.io', auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
  const seen: Notice[] = [];
  socket.on('join', (n: Notice) => seen.push(n));
  socket.on('leave', (n: Notice) => seen.push(n));
  const ack = (await socket.timeout(5000).emitWithAck('subscribe', { channel })) as { ok: boolean };
  expect(ack.ok).toBe(true);
  return { watcher: { name: 'socketio', notices: () => seen, close: () => socket.close() }, socket };
}

function noticesOf(w: Watcher, user: string): string[] {
  return w
    .notices()
    .filter((n) => n.user === user)
    .map((n) => n.op);
}

describe('presence with 3 gateways', () => {
  let cluster: TestCluster;
  const open: Array<{ close(): void }> = [];

  beforeAll(async () => {
    cluster = await TestCluster.start(3, { CHANNEL_CONFIG: PRESENCE_CHANNEL_CONFIG, PRESENCE_TTL_SECONDS: String(TTL_SECONDS) });
  }, 60_000);
  afterAll(async () => {
    for (const c of open) c.close();
    await cluster?.stop();
  });

  const gw = (i: number): ServiceProcess => cluster.gateways[i]!;
  const ws = (i: number): string => gw(i).url.replace(/^http/, 'ws') + '/v1/ws';

  it('delivers each join/leave to every subscriber on every transport, once per user, and answers queries everywhere', async () => {
    const channel = 'room:lobby';
    const w0 = await wsMember(ws(0), 'watch-ws', channel);
    const w1 = await sseWatcher(gw(1).url, 'watch-sse', channel);
    const sio = await socketIoWatcher(gw(2).url, 'watch-sio', channel);
    open.push(w0, w1, sio.watcher);
    const watchers = [wsWatcher(w0, channel), w1, sio.watcher];

    // alice's first device on gateway 0, her second on gateway 1, then bob on gateway 2.
    const alice1 = await wsMember(ws(0), 'alice', channel, { name: 'Alice' });
    const alice2 = await wsMember(ws(1), 'alice', channel, { name: 'Alice' });
    const bob = await wsMember(ws(2), 'bob', channel);
    open.push(alice1, alice2, bob);
    await eventually(() => {
      for (const w of watchers) expect({ w: w.name, bob: noticesOf(w, 'bob') }).toEqual({ w: w.name, bob: ['join'] });
    }, 5000);
    for (const w of watchers) {
      expect({ w: w.name, alice: noticesOf(w, 'alice') }).toEqual({ w: w.name, alice: ['join'] });
      const join = w.notices().find((n) => n.user === 'alice')!;
      expect(join).toEqual({ op: 'join', channel, user: 'alice', info: { name: 'Alice' } });
    }

    // The same answer on every transport and gateway: 5 members, 6 connections.
    const reply = await w0.request('presence', { channel });
    expect(reply).toMatchObject({ op: 'presence', channel, count: 5, connections: 6 });
    const members = (reply.members as Array<{ user: string; connections: number; info?: unknown }>).sort((a, b) =>
      a.user.localeCompare(b.user),
    );
    expect(members.map((m) => [m.user, m.connections])).toEqual([
      ['alice', 2],
      ['bob', 1],
      ['watch-sio', 1],
      ['watch-sse', 1],
      ['watch-ws', 1],
    ]);
    expect(members[0].info).toEqual({ name: 'Alice' });
    expect(reply.truncated).toBeUndefined();
    const ack = (await sio.socket.timeout(5000).emitWithAck('presence', { channel })) as Record<string, unknown>;
    expect(ack).toMatchObject({ ok: true, channel, count: 5, connections: 6 });
    const token = await signToken({ sub: 'reader', channels: ['room:*'] });
    const res = await fetch(`${gw(1).url}/v1/presence?channel=${channel}`, { headers: { Authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ channel, count: 5, connections: 6 });

    // alice's first device goes: she is still there (no leave); her last one leaves: one leave.
    alice1.close();
    await eventually(async () => expect((await w0.request('presence', { channel })).connections).toBe(5), 5000);
    expect((await alice2.request('unsubscribe', { channel })).op).toBe('unsubscribed');
    await eventually(() => {
      for (const w of watchers) expect({ w: w.name, alice: noticesOf(w, 'alice') }).toEqual({ w: w.name, alice: ['join', 'leave'] });
    }, 5000);
    expect(watchers[0].notices().find((n) => n.user === 'alice' && n.op === 'leave')).toEqual({ op: 'leave', channel, user: 'alice' });
    expect(await w0.request('presence', { channel })).toMatchObject({ count: 4, connections: 4 });
  });

  it('refuses queries with the protocol errors', async () => {
    const token = await signToken({ sub: 'q', channels: ['room:*', 'plain:*'] });
    const c = await WsTestClient.connect(`${ws(0)}?token=${token}`);
    open.push(c);
    expect(await c.request('presence', { channel: 'plain:x' })).toMatchObject({ op: 'error', code: 'not_found' });
    expect(await c.request('presence', { channel: 'secret:x' })).toMatchObject({ op: 'error', code: 'forbidden' });
    expect(await c.request('presence', { channel: 'bad..name' })).toMatchObject({ op: 'error', code: 'bad_request' });
    const get = async (query: string, auth = `Bearer ${token}`): Promise<[number, unknown]> => {
      const res = await fetch(`${gw(0).url}/v1/presence${query}`, { headers: { Authorization: auth } });
      return [res.status, await res.json()];
    };
    expect(await get('?channel=plain:x')).toEqual([404, { error: 'not_found', message: expect.any(String) }]);
    expect(await get('?channel=secret:x')).toEqual([403, { error: 'forbidden', message: expect.any(String) }]);
    expect(await get('')).toEqual([400, { error: 'bad_request', message: expect.any(String) }]);
    expect(await get('?channel=a&channel=b')).toEqual([400, { error: 'bad_request', message: expect.any(String) }]);
    expect(await get('?channel=room:x', 'Bearer nope')).toEqual([401, { error: 'unauthorized', message: expect.any(String) }]);
    // An `info` claim over 1 KiB is refused at connect.
    const big = await signToken({ sub: 'big', channels: ['room:*'], info: { blob: 'x'.repeat(1100) } });
    await expect(WsTestClient.connect(`${ws(0)}?token=${big}`)).rejects.toThrow('401');
  });

  it('serves GET /v1/channels/<channel>/presence on the notifier with the publish key', async () => {
    const member = await wsMember(ws(0), 'carol', 'room:api', { role: 'admin' });
    open.push(member);
    const notifier = await ServiceProcess.start('notifier', { ...cluster.env, PUBLISH_API_KEY: 'pk-test' });
    try {
      const res = await fetch(`${notifier.url}/v1/channels/room:api/presence`, { headers: { Authorization: 'Bearer pk-test' } });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({
        channel: 'room:api',
        count: 1,
        connections: 1,
        members: [{ user: 'carol', info: { role: 'admin' }, connections: 1 }],
      });
      const noKey = await fetch(`${notifier.url}/v1/channels/room:api/presence`);
      expect(noKey.status).toBe(401);
      const off = await fetch(`${notifier.url}/v1/channels/plain:x/presence`, { headers: { Authorization: 'Bearer pk-test' } });
      expect([off.status, ((await off.json()) as { error: string }).error]).toEqual([404, 'not_found']);
    } finally {
      notifier.kill('SIGKILL');
    }
  });

  it('a SIGKILLed gateway: its members leave within the TTL + 5 s, each event once, vacated only when the last member anywhere is gone', async () => {
    // room:k1 is held on gateways 0 and 2 (shared has a device on each); room:k2 only on gateway 2.
    const watcher = await wsMember(ws(0), 'watch', 'room:k1');
    const shared0 = await wsMember(ws(0), 'shared', 'room:k1');
    const shared2 = await wsMember(ws(2), 'shared', 'room:k1');
    const k = await wsMember(ws(2), 'k', 'room:k1');
    const z = await wsMember(ws(2), 'z', 'room:k2');
    open.push(watcher, shared0, shared2, k, z);
    await watcher.waitFor((f) => f.op === 'join' && f.user === 'k');

    const killedAt = Date.now();
    await cluster.killGateway(2, 'SIGKILL');
    await watcher.waitFor((f) => f.op === 'leave' && f.user === 'k', (TTL_SECONDS + 5) * 1000);
    expect(Date.now() - killedAt).toBeLessThan((TTL_SECONDS + 5) * 1000);
    const reply = await watcher.request('presence', { channel: 'room:k1' });
    expect(reply).toMatchObject({ count: 2, connections: 2 });
    expect((reply.members as Array<{ user: string }>).map((m) => m.user).sort()).toEqual(['shared', 'watch']);
    expect(watcher.frames.filter((f) => f.op === 'leave').map((f) => f.user)).toEqual(['k']);

    await eventually(async () => {
      const events = await readEvents(cluster.nats.url);
      expect(lifecycleOf(events, 'room:k2')).toEqual(['channel.occupied', 'member.added:z', 'member.removed:z', 'channel.vacated']);
    }, 5000);
    const events = await readEvents(cluster.nats.url);
    const k1 = lifecycleOf(events, 'room:k1');
    expect(k1.filter((e) => e === 'member.removed:k')).toHaveLength(1);
    expect(k1.filter((e) => e.startsWith('member.removed:shared'))).toHaveLength(0);
    expect(k1).not.toContain('channel.vacated');
  });
});
