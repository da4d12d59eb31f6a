import type { GatewayConfig } from '@switchboard/config';
import type { RunningService } from '@switchboard/platform';
import { deferred, eventually, signToken, uniqueName, WsTestClient } from '@switchboard/testing';
import { createHash, createHmac } from 'node:crypto';
import PusherServer from 'pusher';
import PusherJs from 'pusher-js';
import WebSocket from 'ws';
import { PusherTransport } from '../apps/gateway/src/transports/pusher/pusher-transport';
import { startGateway, wsUrl } from './support/gateway';
import { localConnection, type PusherClient, pusherClient, pusherServer } from './support/pusher';

// pusher-js, Laravel Echo and the `pusher` server library, all unmodified, against the gateway's Pusher endpoints.
const APP = { id: 'app-1', key: 'key-1', secret: 'secret-one-0123456789' };
const QUIET = { id: 'app-2', key: 'key-2', secret: 'secret-two-0123456789' };

interface PresenceMembers {
  count: number;
  me: unknown;
  each(fn: (m: { id: string; info: unknown }) => void): void;
}

describe('Pusher protocol compatibility (memory engine)', () => {
  let gw: RunningService<GatewayConfig>;
  let server: PusherServer;
  const clients: PusherClient[] = [];

  const connect = async (app = APP, user?: { user_id: string; user_info?: Record<string, unknown> }): Promise<PusherClient> => {
    const signer = pusherServer(gw, app);
    // The app's auth endpoint, as the official server library signs it.
    const client = pusherClient(gw, app.key, (socketId, channel) =>
      signer.authorizeChannel(socketId, channel, channel.startsWith('presence-') ? user : undefined),
    );
    clients.push(client);
    await new Promise<void>((resolve, reject) => {
      client.connection.bind('connected', () => resolve());
      client.connection.bind('failed', () => reject(new Error('pusher-js failed to connect')));
    });
    return client;
  };

  const subscribed = (client: PusherClient, channel: string) =>
    new Promise<ReturnType<PusherClient['subscribe']>>((resolve, reject) => {
      const ch = client.subscribe(channel);
      ch.bind('pusher:subscription_succeeded', () => resolve(ch));
      ch.bind('pusher:subscription_error', (e: unknown) => reject(new Error(`subscription_error ${JSON.stringify(e)}`)));
    });

  const nextEvent = (ch: ReturnType<PusherClient['subscribe']>, event: string) => {
    const d = deferred<unknown>();
    ch.bind(event, (data: unknown) => d.resolve(data));
    return d.promise;
  };

  beforeAll(async () => {
    gw = await startGateway({
      PUSHER_APPS: JSON.stringify([{ ...APP, clientEvents: true }, QUIET]),
      CLIENT_PUBLISH_RATE: '5',
      // The gateway's own presence on the same channels: Pusher connections must not be entered twice.
      CHANNEL_CONFIG: '[{"match":"presence-*","presence":true,"joinLeave":true},{"match":"occupancy-*","presence":true}]',
    });
    server = pusherServer(gw, APP);
  });
  afterEach(() => clients.splice(0).forEach((c) => c.disconnect()));
  afterAll(async () => gw?.stop());

  it('public channel: trigger and triggerBatch reach pusher-js, /v1/ws and SSE subscribers as one message', async () => {
    const channel = uniqueName('orders');
    const client = await connect();
    const ch = await subscribed(client, channel);
    const ws = await WsTestClient.connect(wsUrl(gw, await signToken({ sub: 'v1', channels: [channel] })));
    await ws.request('subscribe', { channel });
    const sse = await fetch(`${gw.url}/v1/sse?channel=${channel}&token=${await signToken({ sub: 'sse', channels: [channel] })}`);
    const first = nextEvent(ch, 'order-shipped');
    const viaWs = ws.waitFor((f) => f.op === 'message');
    const res = await server.trigger(channel, 'order-shipped', { id: 42, items: ['a'] });
    expect(res.status).toBe(200);
    expect(await first).toEqual({ id: 42, items: ['a'] });
    expect(await viaWs).toMatchObject({ channel, offset: 1, type: 'order-shipped', data: { id: 42, items: ['a'] } });
    const reader = sse.body!.getReader();
    let text = '';
    while (!text.includes('order-shipped')) text += new TextDecoder().decode((await reader.read()).value);
    expect(text).toMatch(/"type":"order-shipped"/);
    await reader.cancel();

    const batched = nextEvent(ch, 'b2');
    const batch = await server.triggerBatch([
      { channel, name: 'b1', data: 'plain text' },
      { channel, name: 'b2', data: { n: 2 } },
    ]);
    expect(batch.status).toBe(200);
    expect(await batched).toEqual({ n: 2 });
    expect(await ws.waitFor((f) => f.op === 'message' && f.type === 'b1')).toMatchObject({ data: 'plain text', offset: 2 });
    ws.close();
  });

  it('a /v1/ws publish reaches pusher-js clients as event "message"', async () => {
    const channel = uniqueName('chat');
    const client = await connect();
    const ch = await subscribed(client, channel);
    const received = nextEvent(ch, 'message');
    const ws = await WsTestClient.connect(wsUrl(gw, await signToken({ sub: 'pub', channels: [channel], publish: [channel] })));
    await ws.request('publish', { channel, data: { hello: 'pusher' } });
    expect(await received).toEqual({ hello: 'pusher' });
    ws.close();
  });

  it('private channel: a signature from the app subscribes; a wrong one is refused with subscription_error', async () => {
    const channel = 'private-' + uniqueName('user');
    const client = await connect();
    const ch = await subscribed(client, channel);
    const got = nextEvent(ch, 'secret');
    await server.trigger(channel, 'secret', { ok: true });
    expect(await got).toEqual({ ok: true });

    // A raw client presenting a signature made with another secret, and one with another key.
    for (const auth of [
      (socketId: string) => `${APP.key}:${createHmac('sha256', 'not-the-secret-000000').update(`${socketId}:${channel}`).digest('hex')}`,
      (socketId: string) => `${QUIET.key}:${createHmac('sha256', QUIET.secret).update(`${socketId}:${channel}`).digest('hex')}`,
    ]) {
      const raw = await RawPusher.connect(gw.port, APP.key);
      raw.send({ event: 'pusher:subscribe', data: { channel, auth: auth(raw.socketId) } });
      expect(await raw.next((f) => f.event !== undefined)).toMatchObject({
        event: 'pusher:subscription_error',
        channel,
        data: { type: 'AuthError', status: 401 },
      });
      raw.close();
    }
  });

  it('client events: delivered to the others on the channel, never echoed to the sender, rate-limited', async () => {
    const channel = 'private-' + uniqueName('room');
    const [a, b] = [await connect(), await connect()];
    const [chA, chB] = [await subscribed(a, channel), await subscribed(b, channel)];
    const echoed: unknown[] = [];
    chA.bind('client-typing', (d: unknown) => echoed.push(d));
    const atB = nextEvent(chB, 'client-typing');
    expect(chA.trigger('client-typing', { user: 'a' })).toBe(true);
    expect(await atB).toEqual({ user: 'a' });
    // The channel is ordered: once A has the server event published after its client event, the
    // client event would have reached A before it if it were echoed.
    const after = nextEvent(chA, 'after');
    await server.trigger(channel, 'after', {});
    await after;
    expect(echoed).toEqual([]);

    // A trigger naming a socket_id (Laravel's toOthers()) skips that connection only.
    const others = nextEvent(chB, 'from-a');
    const skipped: unknown[] = [];
    chA.bind('from-a', (d: unknown) => skipped.push(d));
    await server.trigger(channel, 'from-a', { n: 1 }, { socket_id: a.connection.socket_id });
    expect(await others).toEqual({ n: 1 });
    const marker = nextEvent(chA, 'marker');
    await server.trigger(channel, 'marker', {});
    await marker;
    expect(skipped).toEqual([]);

    // CLIENT_PUBLISH_RATE=5: the sixth in a burst is refused with 4301.
    const raw = await RawPusher.connect(gw.port, APP.key);
    raw.send({ event: 'pusher:subscribe', data: { channel, auth: server.authorizeChannel(raw.socketId, channel).auth } });
    await raw.next((f) => f.event === 'pusher_internal:subscription_succeeded');
    for (let i = 0; i < 6; i++) raw.send({ event: 'client-burst', channel, data: { i } });
    expect(await raw.next((f) => f.event === 'pusher:error')).toMatchObject({ data: { code: 4301 } });
    raw.close();
  });

  it('client events are refused on public channels and when the app has not enabled them', async () => {
    const raw = await RawPusher.connect(gw.port, APP.key);
    const publicChannel = uniqueName('pub');
    raw.send({ event: 'pusher:subscribe', data: { channel: publicChannel } });
    await raw.next((f) => f.event === 'pusher_internal:subscription_succeeded');
    raw.send({ event: 'client-x', channel: publicChannel, data: {} });
    expect(await raw.next((f) => f.event === 'pusher:error')).toMatchObject({
      data: { message: expect.stringMatching(/private and presence/) },
    });
    raw.close();

    const quiet = await RawPusher.connect(gw.port, QUIET.key);
    const channel = 'private-' + uniqueName('q');
    const signer = new PusherServer({ appId: QUIET.id, key: QUIET.key, secret: QUIET.secret, host: '127.0.0.1' });
    quiet.send({ event: 'pusher:subscribe', data: { channel, auth: signer.authorizeChannel(quiet.socketId, channel).auth } });
    await quiet.next((f) => f.event === 'pusher_internal:subscription_succeeded');
    quiet.send({ event: 'client-x', channel, data: {} });
    expect(await quiet.next((f) => f.event === 'pusher:error')).toMatchObject({ data: { message: expect.stringMatching(/not enabled/) } });
    quiet.close();
  });

  it('ping/pong, unknown key (4001) and a missing protocol (4008) as the protocol says', async () => {
    const raw = await RawPusher.connect(gw.port, APP.key);
    expect(JSON.parse(raw.established.data as string)).toEqual({ socket_id: raw.socketId, activity_timeout: 120 });
    raw.send({ event: 'pusher:ping', data: {} });
    expect(await raw.next((f) => f.event !== undefined)).toMatchObject({ event: 'pusher:pong' });
    raw.close();

    for (const [path, code] of [
      ['/app/no-such-key?protocol=7', 4001],
      [`/app/${APP.key}`, 4008],
      [`/app/${APP.key}?protocol=5`, 4007],
    ] as const) {
      const ws = new WebSocket(`ws://127.0.0.1:${gw.port}${path}`);
      const frames: unknown[] = [];
      ws.on('message', (d) => frames.push(JSON.parse((d as Buffer).toString())));
      const closed = await new Promise<number>((resolve) => ws.on('close', (c) => resolve(c)));
      expect(closed).toBe(code);
      expect(frames).toEqual([{ event: 'pusher:error', data: { code, message: expect.any(String) } }]);
    }
  });

  it('reconnect: pusher-js told 4200 by a draining server reconnects with a new socket id and resubscribes', async () => {
    const channel = uniqueName('live');
    const client = await connect();
    const ch = await subscribed(client, channel);
    const firstId = client.connection.socket_id;
    const transport = gw.app.get(PusherTransport);
    // pusher-js subscribes again on its new connection and says so with a second subscription_succeeded.
    const resubscribed = deferred<void>();
    ch.bind('pusher:subscription_succeeded', () => resubscribed.resolve());
    for (const c of (transport as unknown as { connections: Set<{ socketId: string; session: { drain(ms: number): void } }> })
      .connections) {
      if (c.socketId === firstId) c.session.drain(0);
    }
    await resubscribed.promise;
    expect(client.connection.state).toBe('connected');
    expect(client.connection.socket_id).not.toBe(firstId);
    const got = nextEvent(ch, 'again');
    await server.trigger(channel, 'again', { n: 1 });
    expect(await got).toEqual({ n: 1 });
  });

  it('presence: subscription_succeeded lists the members, member_added/removed follow, the HTTP API answers from the store', async () => {
    const channel = 'presence-' + uniqueName('room');
    const alice = await connect(APP, { user_id: 'alice', user_info: { name: 'Alice' } });
    const chA = (await subscribed(alice, channel)) as ReturnType<PusherClient['subscribe']> & { members: PresenceMembers };
    expect(chA.members.count).toBe(1);
    expect(chA.members.me).toEqual({ id: 'alice', info: { name: 'Alice' } });

    const added = nextEvent(chA, 'pusher:member_added');
    const bob = await connect(APP, { user_id: 'bob', user_info: { name: 'Bob' } });
    const chB = (await subscribed(bob, channel)) as ReturnType<PusherClient['subscribe']> & { members: PresenceMembers };
    const seen: Record<string, unknown> = {};
    chB.members.each((m: { id: string; info: unknown }) => (seen[m.id] = m.info));
    expect(seen).toEqual({ alice: { name: 'Alice' }, bob: { name: 'Bob' } });
    expect(await added).toEqual({ id: 'bob', info: { name: 'Bob' } });
    expect(chA.members.count).toBe(2);

    // A second connection of bob is no new member; the official library's queries see two users, three connections.
    const bob2 = await connect(APP, { user_id: 'bob' });
    await subscribed(bob2, channel);
    const info = await server.get({ path: `/channels/${channel}`, params: { info: 'user_count,subscription_count' } });
    expect(await info.json()).toEqual({ occupied: true, user_count: 2, subscription_count: 3 });
    const users = await server.get({ path: `/channels/${channel}/users` });
    expect(((await users.json()) as { users: Array<{ id: string }> }).users.map((u) => u.id).sort()).toEqual(['alice', 'bob']);
    const list = await server.get({ path: '/channels', params: { filter_by_prefix: 'presence-', info: 'user_count' } });
    expect(((await list.json()) as { channels: Record<string, unknown> }).channels[channel]).toEqual({ user_count: 2 });

    // bob's last connection leaves: member_removed.
    const removed = nextEvent(chA, 'pusher:member_removed');
    bob2.unsubscribe(channel);
    bob.disconnect();
    expect(await removed).toEqual({ id: 'bob', info: { name: 'Bob' } });
    expect(chA.members.count).toBe(1);

    // A presence auth over other channel_data than the client sends is refused.
    const raw = await RawPusher.connect(gw.port, APP.key);
    const signed = server.authorizeChannel(raw.socketId, channel, { user_id: 'alice' });
    raw.send({ event: 'pusher:subscribe', data: { channel, auth: signed.auth, channel_data: JSON.stringify({ user_id: 'mallory' }) } });
    expect(await raw.next((f) => f.event !== undefined)).toMatchObject({ event: 'pusher:subscription_error', data: { status: 401 } });
    raw.close();
  });

  it('channel queries: occupied public channels and subscription counts; vacated ones disappear', async () => {
    const channel = uniqueName('occupancy');
    const client = await connect();
    await subscribed(client, channel);
    const one = await server.get({ path: `/channels/${channel}`, params: { info: 'subscription_count' } });
    expect(await one.json()).toEqual({ occupied: true, subscription_count: 1 });
    const list = await server.get({ path: '/channels', params: { filter_by_prefix: channel } });
    expect(await list.json()).toEqual({ channels: { [channel]: {} } });
    client.unsubscribe(channel);
    await eventually(async () => {
      const after = await server.get({ path: `/channels/${channel}` });
      expect(await after.json()).toEqual({ occupied: false });
    });
    const empty = await server.get({ path: '/channels', params: { filter_by_prefix: channel } });
    expect(await empty.json()).toEqual({ channels: {} });
  });

  it('Laravel Echo (Pusher connector): public and private listen, presence here/joining, whisper', async () => {
    // The ES module build: laravel-echo's `require` build is CommonJS in a "type": "module" package, which Node cannot load.
    const { default: Echo } = await import('laravel-echo');
    const signer = pusherServer(gw, APP);
    const echo = (user: string) =>
      new Echo({
        broadcaster: 'pusher',
        key: APP.key,
        ...localConnection(gw),
        Pusher: PusherJs as never,
        // What Laravel's /broadcasting/auth answers, signed by the official library.
        authorizer: (channel: { name: string }) => ({
          authorize: (socketId: string, callback: (error: Error | null, data: { auth: string; channel_data?: string }) => void) =>
            callback(
              null,
              signer.authorizeChannel(
                socketId,
                channel.name,
                channel.name.startsWith('presence-') ? { user_id: user, user_info: { user } } : undefined,
              ),
            ),
        }),
      });
    const [a, b] = [echo('ann'), echo('ben')];
    try {
      const id = uniqueName('order').replace(/-/g, '_');
      // Echo prefixes "private-"/"presence-" and, with a leading dot, listens to the raw event name.
      const shipped = deferred<unknown>();
      a.private(`orders.${id}`).listen('.OrderShipped', (e: unknown) => shipped.resolve(e));
      const publicEvent = deferred<unknown>();
      a.channel(`news.${id}`).listen('.Published', (e: unknown) => publicEvent.resolve(e));
      const here = deferred<unknown[]>();
      const joining = deferred<unknown>();
      const whisper = deferred<unknown>();
      a.join(`room.${id}`)
        .here((members: unknown[]) => here.resolve(members))
        .joining((m: unknown) => joining.resolve(m))
        .listenForWhisper('typing', (e: unknown) => whisper.resolve(e));
      expect(await here.promise).toEqual([{ user: 'ann' }]);
      const room = b.join(`room.${id}`);
      const bHere = deferred<unknown[]>();
      room.here((m: unknown[]) => bHere.resolve(m));
      expect((await bHere.promise).length).toBe(2);
      expect(await joining.promise).toEqual({ user: 'ben' });
      room.whisper('typing', { who: 'ben' });
      expect(await whisper.promise).toEqual({ who: 'ben' });
      // Subscriptions are in place once the presence channel answered (one connection, frames in order).
      await server.trigger(`private-orders.${id}`, 'OrderShipped', { order: id });
      await server.trigger(`news.${id}`, 'Published', { title: 't' });
      expect(await shipped.promise).toEqual({ order: id });
      expect(await publicEvent.promise).toEqual({ title: 't' });
    } finally {
      a.disconnect();
      b.disconnect();
    }
  });

  describe('HTTP API request signing', () => {
    const path = `/apps/${APP.id}/events`;
    const body = JSON.stringify({ name: 'e', channels: ['signed'], data: '{}' });
    const sign = (method: string, p: string, params: Record<string, string>, secret = APP.secret): string => {
      const query = Object.keys(params)
        .sort()
        .map((k) => `${k}=${params[k]}`)
        .join('&');
      return createHmac('sha256', secret).update(`${method}\n${p}\n${query}`).digest('hex');
    };
    const post = (params: Record<string, string>, b = body) => {
      const qs = new URLSearchParams(params).toString();
      return fetch(`${gw.url}${path}?${qs}`, { method: 'POST', body: b, headers: { 'content-type': 'application/json' } });
    };
    const params = (overrides: Record<string, string> = {}) => ({
      auth_key: APP.key,
      auth_timestamp: String(Math.floor(Date.now() / 1000)),
      auth_version: '1.0',
      body_md5: createHash('md5').update(body).digest('hex'),
      ...overrides,
    });

    it('accepts a correctly signed request made by hand (the scheme, not only the library)', async () => {
      const p = params();
      const res = await post({ ...p, auth_signature: sign('POST', path, p) });
      expect([res.status, await res.json()]).toEqual([200, {}]);
    });

    it.each([
      [
        'a wrong signature (another secret)',
        () => {
          const p = params();
          return { ...p, auth_signature: sign('POST', path, p, 'another-secret-00000') };
        },
      ],
      [
        'a wrong key',
        () => {
          const p = params({ auth_key: QUIET.key });
          return { ...p, auth_signature: sign('POST', path, p) };
        },
      ],
      [
        'a stale auth_timestamp (601 s old)',
        () => {
          const p = params({ auth_timestamp: String(Math.floor(Date.now() / 1000) - 601) });
          return { ...p, auth_signature: sign('POST', path, p) };
        },
      ],
      [
        'a timestamp 605 s in the future (the server reads its clock later: 601 could be 600 by then)',
        () => {
          const p = params({ auth_timestamp: String(Math.floor(Date.now() / 1000) + 605) });
          return { ...p, auth_signature: sign('POST', path, p) };
        },
      ],
    ])('refuses %s with 401', async (_name, make) => {
      const res = await post(make());
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error: 'unauthorized', message: expect.any(String) });
    });

    it('refuses a tampered body (body_md5 no longer matches) with 401, and publishes nothing', async () => {
      const p = params();
      const tampered = JSON.stringify({ name: 'e', channels: ['signed-tampered'], data: '{}' });
      const res = await post({ ...p, auth_signature: sign('POST', path, p) }, tampered);
      expect([res.status, ((await res.json()) as { message: string }).message]).toEqual([401, 'body_md5 does not match the body']);
      const [position] = await gw.platform.runtime.engine.positions(['signed-tampered']);
      expect(position.offset).toBe(0);
    });

    it('the official library with a wrong secret is refused too', async () => {
      const wrong = new PusherServer({
        appId: APP.id,
        key: APP.key,
        secret: 'wrong-secret-00000000',
        host: '127.0.0.1',
        port: String(gw.port),
        useTLS: false,
      });
      await expect(wrong.trigger('x', 'e', {})).rejects.toMatchObject({ status: 401 });
    });
  });
});

/** A bare Pusher protocol client (the `ws` package) for what pusher-js hides: frames, codes. */
class RawPusher {
  private readonly frames: Array<Record<string, unknown>> = [];
  private waiters: Array<() => void> = [];
  socketId = '';
  established!: Record<string, unknown>;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (d) => {
      this.frames.push(JSON.parse((d as Buffer).toString()) as Record<string, unknown>);
      this.waiters.splice(0).forEach((w) => w());
    });
  }

  static async connect(port: number, key: string): Promise<RawPusher> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/app/${key}?protocol=7&client=raw&version=1`);
    const raw = new RawPusher(ws);
    raw.established = await raw.next((f) => f.event === 'pusher:connection_established');
    raw.socketId = (JSON.parse(raw.established.data as string) as { socket_id: string }).socket_id;
    return raw;
  }

  send(frame: object): void {
    this.ws.send(JSON.stringify(frame));
  }

  /** The first frame not yet taken that matches (frames before it are dropped). */
  async next(match: (f: Record<string, unknown>) => boolean, timeoutMs = 5000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.frames.length > 0) {
        const f = this.frames.shift()!;
        if (match(f)) return f;
      }
      if (Date.now() > deadline) throw new Error('no matching frame');
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  close(): void {
    this.ws.close();
  }
}
