import type { ChannelEngine } from '@switchboard/engine';
import { RunningService } from '@switchboard/platform';
import { eventually, signToken, TEST_JWT_SECRET, uniqueName, WsTestClient } from '@switchboard/testing';
import { SignJWT } from 'jose';
import { io, Socket } from 'socket.io-client';
import { startGateway, wsUrl } from './support/gateway';
import { interpretEventStream } from './support/sse';

const TOLERANCE_SECONDS = 1;

interface Received {
  offset: number;
  /** Publish time: the memory engine writes to sockets inside the publish call, so this is the write time. */
  ts: number;
}

/** Token lifetime on every transport (SPEC "Token lifetime and refresh"), memory engine in process. */
describe('gateway: token expiry and refresh on every transport', () => {
  let gw: RunningService;
  let engine: ChannelEngine;

  beforeAll(async () => {
    gw = await startGateway({ JWT_CLOCK_TOLERANCE_SECONDS: String(TOLERANCE_SECONDS), CLIENT_PUBLISH_RATE: '1000' });
    engine = gw.platform.runtime.engine;
  });
  afterAll(async () => gw?.stop());

  /** Publishes every 50 ms until `stop` resolves. */
  function publishUntil(channel: string, stop: Promise<unknown>): Promise<void> {
    let done = false;
    void stop.finally(() => (done = true));
    return (async () => {
      while (!done) {
        await engine.publish({ channel, data: { at: Date.now() } });
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
  }

  /** A token expiring in about two seconds, and the instant after which nothing may be delivered. */
  async function shortToken(sub: string): Promise<{ token: string; deadline: number }> {
    const exp = Math.floor(Date.now() / 1000) + 2;
    const token = await new SignJWT({ channels: ['*'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(sub)
      .setExpirationTime(exp)
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    return { token, deadline: exp * 1000 + TOLERANCE_SECONDS * 1000 };
  }

  const expectStoppedInTime = (received: Received[], deadline: number): void => {
    expect(received.length).toBeGreaterThan(5);
    expect(received.map((m) => m.offset)).toEqual(Array.from({ length: received.length }, (_, i) => received[0].offset + i));
    expect(Math.max(...received.map((m) => m.ts))).toBeLessThanOrEqual(deadline);
  };

  it('WebSocket: closed 4001 at exp + tolerance, nothing delivered after it', async () => {
    const channel = `exp:${uniqueName('ws')}`;
    const { token, deadline } = await shortToken('w');
    const c = await WsTestClient.connect(wsUrl(gw, token));
    await c.request('subscribe', { channel });
    const closed = c.waitClosed(8000);
    await publishUntil(channel, closed);
    expect(await closed).toBe(4001);
    expectStoppedInTime(c.messages(channel) as unknown as Received[], deadline);
  });

  it('Socket.IO: an `expired` event, then disconnected; nothing delivered after exp + tolerance', async () => {
    const channel = `exp:${uniqueName('io')}`;
    const { token, deadline } = await shortToken('s');
    const socket = io(gw.url, { path: '/socket.io', auth: { token }, transports: ['websocket'], reconnection: false });
    const received: Received[] = [];
    socket.on('message', (m: Received) => received.push(m));
    const expired = new Promise((resolve) => socket.on('expired', resolve));
    const disconnected = new Promise((resolve) => socket.on('disconnect', resolve));
    await new Promise<void>((resolve) => socket.on('connect', () => resolve()));
    expect(await socket.emitWithAck('subscribe', { channel })).toMatchObject({ ok: true });
    await publishUntil(channel, disconnected);
    await expect(expired).resolves.toEqual({ reason: 'token expired' });
    await expect(disconnected).resolves.toBe('io server disconnect');
    expectStoppedInTime(received, deadline);
  });

  it('SSE: `event: expired` ends the stream; nothing delivered after exp + tolerance', async () => {
    const channel = `exp:${uniqueName('sse')}`;
    const { token, deadline } = await shortToken('e');
    const res = await fetch(`${gw.url}/v1/sse?channel=${channel}`, { headers: { Authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    const body = res.text();
    await publishUntil(channel, body);
    const events = interpretEventStream(await body).events;
    expect(events.at(-1)).toEqual({ type: 'expired', data: '{"reason":"token expired"}', lastEventId: expect.any(String) });
    expectStoppedInTime(
      events.filter((e) => e.type === 'message').map((e) => JSON.parse(e.data) as Received),
      deadline,
    );
  });

  it('long-poll: a held poll answers 401 at exp + tolerance, and so does the next one', async () => {
    const channel = `exp:${uniqueName('poll')}`;
    const { token, deadline } = await shortToken('p');
    const headers = { Authorization: `Bearer ${token}` };
    const received: Received[] = [];
    const loop = (async (): Promise<number> => {
      let cursor = ((await (await fetch(`${gw.url}/v1/poll?channel=${channel}`, { headers })).json()) as { cursor: string }).cursor;
      for (;;) {
        const res = await fetch(`${gw.url}/v1/poll?channel=${channel}&cursor=${cursor}&timeout=25`, { headers });
        if (res.status !== 200) return res.status;
        const body = (await res.json()) as { messages: Received[]; cursor: string };
        received.push(...body.messages);
        cursor = body.cursor;
      }
    })();
    await publishUntil(channel, loop);
    expect(await loop).toBe(401);
    expectStoppedInTime(received, deadline);
    // A poll held on a quiet channel is answered 401 by the expiry itself.
    const quiet = await shortToken('q');
    const start = (await (
      await fetch(`${gw.url}/v1/poll?channel=${channel}-quiet`, { headers: { Authorization: `Bearer ${quiet.token}` } })
    ).json()) as { cursor: string };
    const held = await fetch(`${gw.url}/v1/poll?channel=${channel}-quiet&cursor=${start.cursor}&timeout=25`, {
      headers: { Authorization: `Bearer ${quiet.token}` },
    });
    expect(held.status).toBe(401);
    expect(Date.now()).toBeLessThan(quiet.deadline + 5000);
  });

  /** A client that refreshes its token every 700 ms for ten lifetimes of it. */
  async function refreshLoop(sub: string, refresh: (token: string) => Promise<unknown>, durationMs: number): Promise<void> {
    const end = Date.now() + durationMs;
    while (Date.now() < end) {
      await new Promise((r) => setTimeout(r, 700));
      expect(await refresh(await signToken({ sub, channels: ['*'], expiresIn: 2 }))).toMatchObject({ expiresAt: expect.any(Number) });
    }
  }

  it('a refreshed token keeps WS and Socket.IO connections alive for ten token lifetimes, losing and repeating nothing', async () => {
    const channel = `refresh:${uniqueName('r')}`;
    const ws = await WsTestClient.connect(wsUrl(gw, await signToken({ sub: 'r', channels: ['*'], expiresIn: 2 })));
    await ws.request('subscribe', { channel });
    const socket = io(gw.url, {
      path: '/socket.io',
      auth: { token: await signToken({ sub: 'r', channels: ['*'], expiresIn: 2 }) },
      transports: ['websocket'],
      reconnection: false,
    });
    const ioReceived: number[] = [];
    socket.on('message', (m: Received) => ioReceived.push(m.offset));
    let ioDisconnected = false;
    socket.on('disconnect', () => (ioDisconnected = true));
    await new Promise<void>((resolve) => socket.on('connect', () => resolve()));
    await socket.emitWithAck('subscribe', { channel });

    const refreshing = Promise.all([
      refreshLoop('r', (token) => ws.request('refresh', { token }), 20_000),
      refreshLoop('r', (token) => socket.emitWithAck('refresh', { token }), 20_000),
    ]);
    await publishUntil(channel, refreshing);
    await refreshing;
    const published = (await engine.positions([channel]))[0].offset;
    await eventually(() => expect(ws.offsets(channel)).toHaveLength(published));
    await eventually(() => expect(ioReceived).toHaveLength(published));
    const all = Array.from({ length: published }, (_, i) => i + 1);
    expect(ws.offsets(channel)).toEqual(all);
    expect(ioReceived).toEqual(all);
    expect(ws.closeCode).toBeUndefined();
    expect(ioDisconnected).toBe(false);

    // A token of another user is refused; the connection lives on until the old token's exp, then ends.
    const other = await signToken({ sub: 'mallory', channels: ['*'], expiresIn: 3600 });
    expect(await ws.request('refresh', { token: other })).toMatchObject({ op: 'error', code: 'forbidden', message: /another user/ });
    expect(await socket.emitWithAck('refresh', { token: other })).toMatchObject({ ok: false, code: 'forbidden' });
    expect(await ws.request('ping')).toMatchObject({ op: 'pong' });
    expect(await ws.waitClosed(6000)).toBe(4001);
    await eventually(() => expect(ioDisconnected).toBe(true), 6000);
    socket.close();
  }, 60_000);

  it('a refresh ends the subscriptions the new token no longer allows, with reason forbidden', async () => {
    const keep = `keep:${uniqueName('k')}`;
    const lose = `lose:${uniqueName('l')}`;
    const ws = await WsTestClient.connect(wsUrl(gw, await signToken({ sub: 'n', channels: ['keep:*', 'lose:*'] })));
    await ws.request('subscribe', { channel: keep });
    await ws.request('subscribe', { channel: lose });
    const socket = io(gw.url, {
      path: '/socket.io',
      auth: { token: await signToken({ sub: 'n', channels: ['keep:*', 'lose:*'] }) },
      transports: ['websocket'],
      reconnection: false,
    });
    const ioUnsubscribed: unknown[] = [];
    socket.on('unsubscribed', (u: unknown) => ioUnsubscribed.push(u));
    await new Promise<void>((resolve) => socket.on('connect', () => resolve()));
    await socket.emitWithAck('subscribe', { channel: lose });

    const narrower = await signToken({ sub: 'n', channels: ['keep:*'] });
    expect(await ws.request('refresh', { token: narrower })).toMatchObject({ op: 'refreshed', expiresAt: expect.any(Number) });
    expect(await socket.emitWithAck('refresh', { token: narrower })).toMatchObject({ ok: true, expiresAt: expect.any(Number) });
    expect(ws.frames).toContainEqual({ op: 'unsubscribed', channel: lose, reason: 'forbidden' });
    expect(ioUnsubscribed).toEqual([{ channel: lose, reason: 'forbidden' }]);
    await engine.publish({ channel: lose, data: 'gone' });
    await engine.publish({ channel: keep, data: 'kept' });
    await eventually(() => expect(ws.offsets(keep)).toEqual([1]));
    expect(ws.offsets(lose)).toEqual([]);
    expect(await ws.request('subscribe', { channel: lose })).toMatchObject({ op: 'error', code: 'forbidden' });
    ws.close();
    socket.close();
  });
});

describe('gateway: JWT_REQUIRE_EXP', () => {
  let gw: RunningService;
  beforeAll(async () => {
    gw = await startGateway({ JWT_REQUIRE_EXP: 'true' });
  });
  afterAll(async () => gw?.stop());

  it('refuses a token without exp on every transport, and accepts one with it', async () => {
    const noExp = await new SignJWT({ channels: ['*'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('forever')
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    await expect(WsTestClient.connect(wsUrl(gw, noExp))).rejects.toThrow(/401/);
    const sse = await fetch(`${gw.url}/v1/sse?channel=a:1`, { headers: { Authorization: `Bearer ${noExp}` } });
    expect(sse.status).toBe(401);
    expect(await sse.json()).toEqual({ error: 'unauthorized', message: 'token claim "exp" is required' });
    expect((await fetch(`${gw.url}/v1/poll?channel=a:1`, { headers: { Authorization: `Bearer ${noExp}` } })).status).toBe(401);
    const socket: Socket = io(gw.url, { path: '/socket.io', auth: { token: noExp }, transports: ['websocket'], reconnection: false });
    await expect(new Promise((_, reject) => socket.on('connect_error', reject))).rejects.toThrow('unauthorized');
    socket.close();
    const withExp = await WsTestClient.connect(wsUrl(gw, await signToken({ expiresIn: 60 })));
    withExp.close();
  });
});
