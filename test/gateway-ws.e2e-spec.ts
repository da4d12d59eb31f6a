import { RunningService } from '@switchboard/platform';
import type { ChannelEngine } from '@switchboard/engine';
import { eventually, signToken, uniqueName, unsignedToken, WsTestClient } from '@switchboard/testing';
import { startGateway, wsUrl } from './support/gateway';

describe('gateway: WebSocket /v1/ws (memory engine)', () => {
  let gw: RunningService;
  let engine: ChannelEngine;
  const clients: WsTestClient[] = [];
  const connect = async (claims: Parameters<typeof signToken>[0] = {}): Promise<WsTestClient> => {
    const c = await WsTestClient.connect(wsUrl(gw, await signToken(claims)));
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    gw = await startGateway({ CLIENT_PUBLISH_RATE: '5', MAX_SUBSCRIPTIONS_PER_CONNECTION: '3', JWT_CLOCK_TOLERANCE_SECONDS: '1' });
    engine = gw.platform.runtime.engine;
  });
  afterEach(() => clients.splice(0).forEach((c) => c.close()));
  afterAll(async () => gw?.stop());

  it('subscribes, receives in offset order, publishes with an ack, and unsubscribes', async () => {
    const channel = uniqueName('orders') + ':42';
    const a = await connect({ sub: 'alice', channels: ['orders*'], publish: ['orders*'] });
    const b = await connect({ sub: 'bob', channels: [channel] });
    const subA = await a.request('subscribe', { channel });
    expect(subA).toMatchObject({ op: 'subscribed', channel, offset: 0 });
    expect(subA).not.toHaveProperty('recovered');
    await b.request('subscribe', { channel });
    for (let i = 1; i <= 20; i++) await engine.publish({ channel, data: { i }, id: `e${i}`, type: 'order.updated' });
    const ack = await a.request('publish', { channel, data: { from: 'client' }, idempotencyKey: 'k1' });
    expect(ack).toEqual({ op: 'ack', id: ack.id, offset: 21 });
    await eventually(() => expect(b.offsets(channel)).toHaveLength(21));
    expect(b.offsets(channel)).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
    const first = b.messages(channel)[0];
    expect(first).toEqual({
      op: 'message',
      channel,
      offset: 1,
      epoch: subA.epoch,
      data: { i: 1 },
      id: 'e1',
      type: 'order.updated',
      ts: expect.any(Number),
    });
    // The publisher gets its own message; `from` is the verified sub.
    await eventually(() => expect(a.offsets(channel)).toHaveLength(21));
    expect(a.messages(channel)[20]).toMatchObject({ data: { from: 'client' }, from: 'alice' });
    // Idempotent client publish: same offset, nothing new delivered.
    expect(await a.request('publish', { channel, data: { from: 'client' }, idempotencyKey: 'k1' })).toMatchObject({
      op: 'ack',
      offset: 21,
    });
    expect(await b.request('unsubscribe', { channel })).toMatchObject({ op: 'unsubscribed', channel });
    await engine.publish({ channel, data: 'after' });
    await eventually(() => expect(a.offsets(channel)).toHaveLength(22));
    expect(b.offsets(channel)).toHaveLength(21);
  });

  it('stamps `from` from the token even when the publish frame carries its own (WebRTC signaling relies on it)', async () => {
    const channel = `rtc:${uniqueName('room')}`;
    const mallory = await connect({ sub: 'mallory', channels: [channel], publish: [channel] });
    const bob = await connect({ sub: 'bob', channels: [channel] });
    await bob.request('subscribe', { channel });
    expect(await mallory.request('publish', { channel, from: 'alice', data: { to: 'bob', kind: 'offer', sdp: 'v=0' } })).toMatchObject({
      op: 'ack',
      offset: 1,
    });
    await eventually(() => expect(bob.messages(channel)).toHaveLength(1));
    expect(bob.messages(channel)[0]).toMatchObject({ from: 'mallory', data: { to: 'bob', kind: 'offer' } });
  });

  it('answers forbidden, already_subscribed, not_found and rate limits, keeping the connection', async () => {
    const mine = uniqueName('room') + ':1';
    const c = await connect({ sub: 'carol', channels: [mine], publish: [] });
    expect(await c.request('subscribe', { channel: 'secret:1' })).toMatchObject({ op: 'error', code: 'forbidden' });
    expect(await c.request('subscribe', { channel: 'user:carol' })).toMatchObject({ op: 'subscribed' });
    expect(await c.request('subscribe', { channel: 'user:dave' })).toMatchObject({ op: 'error', code: 'forbidden' });
    expect(await c.request('subscribe', { channel: mine })).toMatchObject({ op: 'subscribed' });
    expect(await c.request('subscribe', { channel: mine })).toMatchObject({ op: 'error', code: 'already_subscribed' });
    expect(await c.request('unsubscribe', { channel: 'user:nobody' })).toMatchObject({ op: 'error', code: 'not_found' });
    expect(await c.request('publish', { channel: mine, data: 1 })).toMatchObject({ op: 'error', code: 'forbidden' });
    expect(await c.request('ping')).toMatchObject({ op: 'pong' });
    expect(c.closeCode).toBeUndefined();
  });

  it('limits subscriptions and publish rate per connection; a refused publish takes no offset', async () => {
    const channel = uniqueName('rate') + ':1';
    const c = await connect({ channels: ['*'], publish: ['*'] });
    for (let i = 0; i < 3; i++) expect(await c.request('subscribe', { channel: `${channel}.${i}` })).toMatchObject({ op: 'subscribed' });
    expect(await c.request('subscribe', { channel: `${channel}.x` })).toMatchObject({ op: 'error', code: 'rate_limited' });
    // 20 publishes at once against a bucket of 5 per second: most are refused, and only the
    // accepted ones take offsets (the bucket may refill a token or two while they run).
    const ids = Array.from({ length: 20 }, (_, i) => c.send('publish', { channel, data: i }));
    const replies = await Promise.all(ids.map((id) => c.waitFor((f) => f.id === id)));
    const acks = replies.filter((r) => r.op === 'ack');
    const refused = replies.filter((r) => r.op === 'error' && r.code === 'rate_limited');
    expect(acks.length + refused.length).toBe(20);
    expect(acks.length).toBeGreaterThanOrEqual(5);
    expect(refused.length).toBeGreaterThanOrEqual(10);
    expect(acks.map((a) => a.offset)).toEqual(Array.from({ length: acks.length }, (_, i) => i + 1));
    expect((await engine.positions([channel]))[0].offset).toBe(acks.length);
  });

  it('answers bad frames with bad_request and stays open', async () => {
    const c = await connect();
    c.ws.send('not json');
    expect(await c.waitFor((f) => f.op === 'error')).toMatchObject({ code: 'bad_request' });
    c.ws.send(JSON.stringify({ op: 'dance', id: 7 }));
    expect(await c.waitFor((f) => f.id === 7)).toMatchObject({
      op: 'error',
      code: 'bad_request',
      message: expect.stringContaining('unknown op'),
    });
    c.ws.send(JSON.stringify({ op: 'subscribe', id: 8, channel: 'bad..name' }));
    expect(await c.waitFor((f) => f.id === 8)).toMatchObject({ op: 'error', code: 'bad_request' });
    c.ws.send(JSON.stringify({ op: 'subscribe', id: 9, channel: 'ok:1', since: { offset: -1, epoch: 'x' } }));
    expect(await c.waitFor((f) => f.id === 9)).toMatchObject({ op: 'error', code: 'bad_request' });
    expect(await c.request('ping')).toMatchObject({ op: 'pong' });
  });

  it('refuses missing, invalid, expired and alg:none tokens at the handshake with 401', async () => {
    const url = wsUrl(gw);
    await expect(WsTestClient.connect(url)).rejects.toThrow('401');
    await expect(WsTestClient.connect(url + '?token=garbage')).rejects.toThrow('401');
    await expect(WsTestClient.connect(url + '?token=' + (await signToken({ expiresIn: -10 })))).rejects.toThrow('401');
    await expect(WsTestClient.connect(url + '?token=' + unsignedToken())).rejects.toThrow('401');
    await expect(
      WsTestClient.connect(url + '?token=' + (await signToken({}, 'another-secret-that-is-long-enough-for-hs256'))),
    ).rejects.toThrow('401');
    // Authorization header works too.
    const ok = await WsTestClient.connect(url, { headers: { Authorization: `Bearer ${await signToken()}` } });
    ok.close();
  });

  it('closes with 1009 when a message exceeds MAX_MESSAGE_BYTES', async () => {
    const c = await connect({ publish: ['*'] });
    c.ws.send(JSON.stringify({ op: 'publish', id: 1, channel: 'big:1', data: 'x'.repeat(70_000) }));
    expect(await c.waitClosed()).toBe(1009);
  });

  it('resumes after a drop with exactly the missed messages, then live; a stale epoch gets recovered:false', async () => {
    const channel = uniqueName('resume') + ':1';
    const c1 = await connect();
    await c1.request('subscribe', { channel });
    for (let i = 1; i <= 5; i++) await engine.publish({ channel, data: i });
    await eventually(() => expect(c1.offsets(channel)).toEqual([1, 2, 3, 4, 5]));
    const last = c1.messages(channel)[4];
    c1.close();
    for (let i = 6; i <= 12; i++) await engine.publish({ channel, data: i });
    const c2 = await connect();
    const reply = await c2.request('subscribe', { channel, since: { offset: last.offset, epoch: last.epoch } });
    expect(reply).toMatchObject({ op: 'subscribed', recovered: true, offset: 12 });
    await engine.publish({ channel, data: 13 });
    await eventually(() => expect(c2.offsets(channel)).toEqual([6, 7, 8, 9, 10, 11, 12, 13]));
    // The subscribed reply comes before the recovered messages.
    expect(c2.frames.findIndex((f) => f.op === 'subscribed')).toBeLessThan(c2.frames.findIndex((f) => f.op === 'message'));
    const c3 = await connect();
    const stale = await c3.request('subscribe', { channel, since: { offset: 3, epoch: 'old-epoch' } });
    expect(stale).toMatchObject({ op: 'subscribed', recovered: false });
  });

  it('closes a connection whose token expires with 4001', async () => {
    const c = await WsTestClient.connect(wsUrl(gw, await signToken({ expiresIn: 1 })));
    clients.push(c);
    expect(await c.waitClosed(4000)).toBe(4001);
  });
});
