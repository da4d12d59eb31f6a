import { RunningService } from '@switchboard/platform';
import { encodeCursor } from '@switchboard/protocol';
import {
  cleanupIsolatedEnv,
  eventually,
  isolatedEnv,
  requireSharedServers,
  signToken,
  uniqueName,
  WsTestClient,
} from '@switchboard/testing';
import { io } from 'socket.io-client';
import { SocketIoGateway } from '../apps/gateway/src/transports/socketio/socketio.gateway';
import { startGateway, wsUrl } from './support/gateway';
import { decodeCursorJson } from './support/sse';

/** Two gateways on the shared NATS + Redis: what a client sees does not depend on which one it reaches. */
describe('gateway cluster: two gateways on NATS + Redis', () => {
  let a: RunningService;
  let b: RunningService;
  let token: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    const { natsUrl, redisUrl } = await requireSharedServers();
    env = isolatedEnv('gw', { natsUrl: natsUrl, redisUrl: redisUrl });
    a = await startGateway(env);
    b = await startGateway(env);
    token = await signToken({ sub: 'clu', channels: ['*'], publish: ['*'] });
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    if (env) await cleanupIsolatedEnv(env);
  });

  it('delivers a publish made through B to a client on A, and none of it to a gateway without subscribers', async () => {
    const channel = `cl:${uniqueName('x')}`;
    const onA = await WsTestClient.connect(wsUrl(a, token));
    const onB = await WsTestClient.connect(wsUrl(b, token));
    await onA.request('subscribe', { channel });
    for (let i = 0; i < 20; i++) expect(await onB.request('publish', { channel, data: i })).toMatchObject({ op: 'ack', offset: i + 1 });
    await eventually(() => expect(onA.offsets(channel)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1)));
    expect(onA.messages(channel)[0]).toMatchObject({ from: 'clu' });
    // B holds no subscription for the channel: interest-based fan-out sent it nothing.
    expect(b.platform.runtime.engine.heldChannels()).toBe(0);
    onA.close();
    onB.close();
  });

  it('lets a client move from A to B with its position while messages keep coming: none missed, none twice', async () => {
    const channel = `cl:${uniqueName('move')}`;
    const publisher = await WsTestClient.connect(wsUrl(b, token));
    const publishing = publisher.publishUntilStopped(channel);
    const first = await WsTestClient.connect(wsUrl(a, token));
    await first.request('subscribe', { channel });
    await eventually(() => expect(first.messages(channel).length).toBeGreaterThan(10));
    first.close();
    const last = first.messages(channel).at(-1)!;
    const second = await WsTestClient.connect(wsUrl(b, token));
    expect(await second.request('subscribe', { channel, since: { offset: last.offset, epoch: last.epoch } })).toMatchObject({
      recovered: true,
    });
    await eventually(() => expect(second.messages(channel).length).toBeGreaterThan(10));
    const sent = await publishing.stop();
    await eventually(() => expect(second.offsets(channel).at(-1)).toBe(sent));
    const all = [...first.offsets(channel), ...second.offsets(channel)];
    expect(all[0]).toBe(first.offsets(channel)[0]);
    expect(all).toEqual(Array.from({ length: all.length }, (_, i) => all[0] + i));
    publisher.close();
    second.close();
  });

  it('serves long-polls alternating between the gateways without stickiness: nothing lost or duplicated', async () => {
    const channel = `cl:${uniqueName('poll')}`;
    const publisher = await WsTestClient.connect(wsUrl(a, token));
    const gateways = [a, b];
    const start = await fetch(`${a.url}/v1/poll?channel=${channel}`, { headers: { Authorization: `Bearer ${token}` } }).then((r) =>
      r.json(),
    );
    let cursor = (start as { cursor: string }).cursor;
    const received: number[] = [];
    let published = 0;
    for (let round = 0; round < 12; round++) {
      for (let i = 0; i < 3; i++) {
        published++;
        await publisher.request('publish', { channel, data: published });
      }
      const gw = gateways[round % 2];
      const res = (await fetch(`${gw.url}/v1/poll?channel=${channel}&cursor=${cursor}&timeout=5`, {
        headers: { Authorization: `Bearer ${token}` },
      }).then((r) => r.json())) as { messages: Array<{ offset: number }>; cursor: string; lost?: string[] };
      expect(res.lost).toBeUndefined();
      received.push(...res.messages.map((m) => m.offset));
      cursor = res.cursor;
    }
    await eventually(async () => {
      const res = (await fetch(`${b.url}/v1/poll?channel=${channel}&cursor=${cursor}&timeout=0`, {
        headers: { Authorization: `Bearer ${token}` },
      }).then((r) => r.json())) as { messages: Array<{ offset: number }>; cursor: string };
      received.push(...res.messages.map((m) => m.offset));
      cursor = res.cursor;
      expect(received.length).toBe(published);
    });
    expect(received).toEqual(Array.from({ length: published }, (_, i) => i + 1));
    expect(decodeCursorJson(cursor)[channel][0]).toBe(published);
    publisher.close();
  });

  it('keeps a polled channel held between polls: polls held on A miss nothing of what B publishes, and A still follows the channel after the answer', async () => {
    const channel = `cl:${uniqueName('held')}`;
    const auth = { headers: { Authorization: `Bearer ${token}` } };
    type Answer = { messages: Array<{ offset: number }>; cursor: string; lost?: string[] };
    const poll = async (cursor: string | undefined, timeout: number): Promise<Answer> =>
      (await fetch(`${a.url}/v1/poll?channel=${channel}&timeout=${timeout}${cursor === undefined ? '' : `&cursor=${cursor}`}`, auth).then(
        (r) => r.json(),
      )) as Answer;
    let { cursor } = await poll(undefined, 0);
    const publisher = await WsTestClient.connect(wsUrl(b, token));
    // Paced, so most polls find A's feed at their cursor and are held there (joined without a store read).
    const publishing = publisher.publishUntilStopped(channel, 5);
    const received: number[] = [];
    while (received.length < 60) {
      const res = await poll(cursor, 5);
      expect(res.lost).toBeUndefined();
      received.push(...res.messages.map((m) => m.offset));
      cursor = res.cursor;
    }
    const sent = await publishing.stop();
    // Bounded: a lost message shows as a gap in the comparison below, not as a hung test.
    for (const deadline = Date.now() + 10_000; received.length < sent && Date.now() < deadline;) {
      const res = await poll(cursor, 1);
      received.push(...res.messages.map((m) => m.offset));
      cursor = res.cursor;
    }
    expect(received).toEqual(Array.from({ length: sent }, (_, i) => i + 1));
    // No poll is held now, yet A's feed of the channel stays, at the last offset, for the next poll.
    const [offset, epoch] = decodeCursorJson(cursor)[channel];
    await eventually(() => expect(a.platform.runtime.engine.isAtLocalHead(channel, { offset, epoch })).toBe(true));
    publisher.close();
  });

  it("answers a poll a few messages behind its gateway's feed from the feed, without reading the store", async () => {
    const channel = `cl:${uniqueName('behind')}`;
    const engine = a.platform.runtime.engine;
    const auth = { headers: { Authorization: `Bearer ${token}` } };
    type Answer = { messages: Array<{ offset: number }>; cursor: string };
    const poll = async (cursor: string, timeout: number): Promise<Answer> =>
      (await fetch(`${a.url}/v1/poll?channel=${channel}&timeout=${timeout}&cursor=${cursor}`, auth).then((r) => r.json())) as Answer;
    const start = (await fetch(`${a.url}/v1/poll?channel=${channel}&timeout=0`, auth).then((r) => r.json())) as Answer;
    const [, epoch] = decodeCursorJson(start.cursor)[channel];
    // A poll held on A: the channel's feed there is a long-poll's, and keeps its last messages.
    const held = poll(start.cursor, 5);
    await eventually(() => expect(engine.heldChannels()).toBeGreaterThan(0));
    await eventually(() => expect(engine.isAtLocalHead(channel, { offset: 0, epoch })).toBe(true));
    const publisher = await WsTestClient.connect(wsUrl(b, token));
    for (let i = 1; i <= 3; i++) await publisher.request('publish', { channel, data: i });
    expect((await held).messages[0].offset).toBe(1);
    await eventually(() => expect(engine.isAtLocalHead(channel, { offset: 3, epoch })).toBe(true));
    const history = jest.spyOn(engine, 'history');
    try {
      const behind = await poll(encodeCursor(new Map([[channel, { offset: 1, epoch }]])), 5);
      expect(behind.messages.map((m) => m.offset)).toEqual([2, 3]);
      expect(decodeCursorJson(behind.cursor)[channel][0]).toBe(3);
      expect(history).not.toHaveBeenCalled();
    } finally {
      history.mockRestore();
    }
    publisher.close();
  });

  it("runs Socket.IO's cluster-wide operations through the Redis adapter", async () => {
    const sockets = [a, b].map((gw) =>
      io(gw.url, { path: '/socket.io', auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true }),
    );
    await Promise.all(sockets.map((s) => new Promise<void>((resolve, reject) => s.once('connect', resolve).once('connect_error', reject))));
    const server = a.app.get(SocketIoGateway).server;
    expect(server.of('/').adapter.constructor.name).toBe('RedisAdapter');
    // Gateway A sees the socket connected to gateway B.
    await eventually(async () => expect((await server.fetchSockets()).length).toBe(2), 10000);
    sockets.forEach((s) => s.disconnect());
  });
});
