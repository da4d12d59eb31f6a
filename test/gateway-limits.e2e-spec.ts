import type { ChannelEngine } from '@switchboard/engine';
import { RunningService } from '@switchboard/platform';
import { eventually, signToken, TEST_JWT_SECRET, uniqueName, WsTestClient } from '@switchboard/testing';
import * as net from 'node:net';
import { io } from 'socket.io-client';
import WebSocket from 'ws';
import { startGateway, wsUrl } from './support/gateway';
import { ServiceProcess } from './support/process';
import { cursorOf, interpretEventStream } from './support/sse';

const metricValue = async (url: string, name: string, labels: string): Promise<number> => {
  const text = await fetch(`${url}/metrics`).then((r) => r.text());
  const prefix = labels === '' ? `${name} ` : `${name}{${labels}}`;
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? 0 : Number(line.split(' ').pop());
};

/** The server-side limits of SPEC, each hit on the transports it applies to, with its metric. */
describe('gateway limits (memory engine, in process)', () => {
  const HISTORY = 20;
  const MAX_RESPONSE = 256 * 1024;
  let gw: RunningService;
  let engine: ChannelEngine;
  let token: string;

  beforeAll(async () => {
    gw = await startGateway({
      HISTORY_SIZE: String(HISTORY),
      MAX_RESPONSE_BYTES: String(MAX_RESPONSE),
      SEND_QUEUE_MAX_BYTES: String(MAX_RESPONSE),
      MAX_HELD_POLLS: '2',
      MAX_SUBSCRIPTIONS_PER_CONNECTION: '128',
      MAX_MESSAGE_BYTES: '4096',
    });
    engine = gw.platform.runtime.engine;
    token = await signToken({ channels: ['*'], publish: ['*'] });
  });
  afterAll(async () => gw?.stop());

  /** 128 channels with full histories of ~2 KB messages: about 5 MB to resume. */
  async function fullHistories(prefix: string): Promise<{ channels: string[]; start: string }> {
    const channels = Array.from({ length: 128 }, (_, i) => `${prefix}:${i}`);
    const start: Record<string, [number, string]> = {};
    const filler = 'x'.repeat(2000);
    for (const channel of channels) {
      for (let i = 1; i <= HISTORY; i++) start[channel] = [0, (await engine.publish({ channel, data: { i, filler } })).epoch];
    }
    return { channels, start: cursorOf(start) };
  }

  it('long-poll: a 128-channel resume of full histories answers within MAX_RESPONSE_BYTES, and the next polls bring the rest, lossless', async () => {
    const { channels, start } = await fullHistories(uniqueName('lp'));
    let cursor = start;
    const got = new Map<string, number[]>(channels.map((c) => [c, []]));
    const query = channels.map((c) => `channel=${c}`).join('&');
    let polls = 0;
    for (;;) {
      const res = await fetch(`${gw.url}/v1/poll?${query}&cursor=${cursor}&timeout=0`, { headers: { Authorization: `Bearer ${token}` } });
      const text = await res.text();
      expect(res.status).toBe(200);
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(MAX_RESPONSE);
      const body = JSON.parse(text) as { messages: Array<{ channel: string; offset: number }>; cursor: string; recovered?: boolean };
      expect(body.recovered).toBeUndefined();
      polls++;
      if (body.messages.length === 0) break;
      for (const m of body.messages) got.get(m.channel)!.push(m.offset);
      cursor = body.cursor;
    }
    const all = Array.from({ length: HISTORY }, (_, i) => i + 1);
    for (const channel of channels) expect({ channel, offsets: got.get(channel) }).toEqual({ channel, offsets: all });
    expect(polls).toBeGreaterThan((5 * 1024 * 1024) / MAX_RESPONSE);
    expect(await metricValue(gw.url, 'switchboard_limit_hits_total', 'limit="max_response_bytes",transport="poll"')).toBeGreaterThan(0);
  });

  it('SSE: a 128-channel resume of full histories arrives in streams within the bound, each reconnect resuming from the last id, lossless', async () => {
    const { channels, start } = await fullHistories(uniqueName('sse'));
    let lastEventId = start;
    const got = new Map<string, number[]>(channels.map((c) => [c, []]));
    const query = channels.map((c) => `channel=${c}`).join('&');
    const total = channels.length * HISTORY;
    let received = 0;
    let streams = 0;
    while (received < total && streams < 200) {
      streams++;
      const controller = new AbortController();
      const res = await fetch(`${gw.url}/v1/sse?${query}`, {
        headers: { Authorization: `Bearer ${token}`, 'Last-Event-ID': lastEventId },
        signal: controller.signal,
      });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      // A truncated stream ends by itself; the last one stays open once everything has arrived.
      for (;;) {
        const chunk = await reader.read();
        if (chunk.done) break;
        text += decoder.decode(chunk.value, { stream: true });
        const seen = interpretEventStream(text).events.filter((e) => e.type === 'message').length;
        if (received + seen >= total) break;
      }
      controller.abort();
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(MAX_RESPONSE + 64 * 1024);
      const stream = interpretEventStream(text);
      expect(stream.events.filter((e) => e.type === 'recovery')).toEqual([]);
      for (const e of stream.events.filter((x) => x.type === 'message')) {
        const m = JSON.parse(e.data) as { channel: string; offset: number };
        got.get(m.channel)!.push(m.offset);
        received++;
      }
      if (stream.lastEventId !== '') lastEventId = stream.lastEventId;
    }
    const all = Array.from({ length: HISTORY }, (_, i) => i + 1);
    for (const channel of channels) expect({ channel, offsets: got.get(channel) }).toEqual({ channel, offsets: all });
    expect(streams).toBeGreaterThan((5 * 1024 * 1024) / MAX_RESPONSE);
    expect(await metricValue(gw.url, 'switchboard_limit_hits_total', 'limit="max_response_bytes",transport="sse"')).toBeGreaterThan(0);
  }, 60_000);

  it('long-poll: past MAX_HELD_POLLS a poll gets 503 with Retry-After; held polls free their places when answered', async () => {
    const channel = `held:${uniqueName('h')}`;
    const headers = { Authorization: `Bearer ${token}` };
    const { cursor } = (await (await fetch(`${gw.url}/v1/poll?channel=${channel}`, { headers })).json()) as { cursor: string };
    const hold = (): Promise<Response> => fetch(`${gw.url}/v1/poll?channel=${channel}&cursor=${cursor}&timeout=30`, { headers });
    const held = [hold(), hold()];
    await eventually(async () => expect(await metricValue(gw.url, 'switchboard_held_polls', '')).toBe(2));
    const refused = await hold();
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await refused.json()).toMatchObject({ error: 'overloaded' });
    expect(await metricValue(gw.url, 'switchboard_limit_hits_total', 'limit="max_held_polls",transport="poll"')).toBe(1);
    await engine.publish({ channel, data: 'wake' });
    for (const res of await Promise.all(held)) expect(((await res.json()) as { messages: unknown[] }).messages).toHaveLength(1);
    await eventually(async () => expect(await metricValue(gw.url, 'switchboard_held_polls', '')).toBe(0));
  });

  it('SSE and long-poll: more channels than MAX_SUBSCRIPTIONS_PER_CONNECTION is a 400, counted', async () => {
    const query = Array.from({ length: 129 }, (_, i) => `channel=many:${i}`).join('&');
    for (const route of ['sse', 'poll']) {
      const res = await fetch(`${gw.url}/v1/${route}?${query}`, { headers: { Authorization: `Bearer ${token}` } });
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ error: 'bad_request', message: 'at most 128 channels per request' });
      expect(await metricValue(gw.url, 'switchboard_limit_hits_total', `limit="max_subscriptions",transport="${route}"`)).toBe(1);
    }
  });

  it('SSE and Socket.IO: a client that stops reading is ended at SEND_QUEUE_MAX_BYTES, counted', async () => {
    const channel = `slow:${uniqueName('s')}`;
    // SSE: a raw socket that sends its request and never reads.
    const sse = net.connect(Number(new URL(gw.url).port), '127.0.0.1');
    sse.pause();
    sse.write(`GET /v1/sse?channel=${channel} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n\r\n`);
    const sseClosed = new Promise((resolve) => sse.once('close', resolve));
    // Socket.IO over WebSocket, its socket paused.
    const socket = io(gw.url, { path: '/socket.io', auth: { token }, transports: ['websocket'], reconnection: false });
    await new Promise<void>((resolve) => socket.on('connect', () => resolve()));
    expect(await socket.emitWithAck('subscribe', { channel })).toMatchObject({ ok: true });
    const ioDisconnected = new Promise((resolve) => socket.on('disconnect', resolve));
    const engineSocket = (socket.io.engine.transport as unknown as { ws: { _socket: net.Socket } }).ws._socket;
    engineSocket.pause();
    await eventually(async () => expect(await metricValue(gw.url, 'switchboard_connections', 'transport="sse"')).toBe(1));
    const payload = 'y'.repeat(3000);
    for (
      let i = 0;
      i < 2000 && (await metricValue(gw.url, 'switchboard_slow_consumer_disconnects_total', 'transport="socketio"')) === 0;
      i++
    ) {
      for (let j = 0; j < 20; j++) await engine.publish({ channel, data: payload });
    }
    await eventually(async () => {
      expect(await metricValue(gw.url, 'switchboard_slow_consumer_disconnects_total', 'transport="sse"')).toBe(1);
      expect(await metricValue(gw.url, 'switchboard_slow_consumer_disconnects_total', 'transport="socketio"')).toBe(1);
    });
    engineSocket.resume();
    sse.resume();
    await sseClosed;
    await ioDisconnected;
    socket.close();
  });

  it('WebSocket: a frame over MAX_MESSAGE_BYTES closes 1009, counted', async () => {
    const c = await WsTestClient.connect(wsUrl(gw, token));
    c.send('publish', { channel: 'big:1', data: 'x'.repeat(5000) });
    expect(await c.waitClosed()).toBe(1009);
    await eventually(async () =>
      expect(await metricValue(gw.url, 'switchboard_limit_hits_total', 'limit="max_message_bytes",transport="ws"')).toBe(1),
    );
  });

  it('WebSocket: more than 256 requests waiting for their reply closes 1008, counted', async () => {
    const ws = new WebSocket(wsUrl(gw, token));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const closed = new Promise<number>((resolve) => ws.once('close', resolve));
    // 300 requests in one TCP write: the gateway reads them all before it can answer one.
    const socket = (ws as unknown as { _socket: net.Socket })._socket;
    socket.cork();
    for (let id = 1; id <= 300; id++) ws.send(JSON.stringify({ op: 'ping', id }));
    socket.uncork();
    expect(await closed).toBe(1008);
    await eventually(async () =>
      expect(await metricValue(gw.url, 'switchboard_limit_hits_total', 'limit="requests_in_flight",transport="ws"')).toBe(1),
    );
  });
});

describe('gateway limits (built process)', () => {
  const running: ServiceProcess[] = [];
  afterAll(() => running.forEach((p) => p.kill()));

  it('a WebSocket client that floods requests and never reads is closed at SEND_QUEUE_MAX_BYTES and stops being read; RSS stays bounded', async () => {
    // A small heap makes garbage collectable early, so RSS shows what is retained.
    const gw = await ServiceProcess.start('gateway', {
      JWT_SECRET: TEST_JWT_SECRET,
      SEND_QUEUE_MAX_BYTES: String(256 * 1024),
      NODE_OPTIONS: '--max-old-space-size=64 --max-semi-space-size=2',
    });
    running.push(gw);
    const flooder = await WsTestClient.connect(`${gw.url.replace('http', 'ws')}/v1/ws?token=${await signToken({ sub: 'flood' })}`);
    const socket = (flooder.ws as unknown as { _socket: import('node:net').Socket })._socket;
    socket.pause();
    const baseline = gw.rss();
    let peak = baseline;
    // Each `{"id":1}` draws a ~70-byte error reply: queued, they would be ~5 times the upload.
    const frame = '{"id":1}';
    let sent = 0;
    while (sent < 2_000_000 && flooder.ws.bufferedAmount < 1024 * 1024) {
      for (let i = 0; i < 10_000; i++) flooder.ws.send(frame);
      sent += 10_000;
      await new Promise((r) => setImmediate(r));
      peak = Math.max(peak, gw.rss());
    }
    await new Promise((r) => setTimeout(r, 500));
    peak = Math.max(peak, gw.rss());
    // The gateway stopped reading: the flood is stuck in the flooder's own buffer.
    expect(flooder.ws.bufferedAmount).toBeGreaterThan(1024 * 1024);
    expect(await metricValue(gw.url, 'switchboard_slow_consumer_disconnects_total', 'transport="ws"')).toBe(1);
    expect(peak - baseline).toBeLessThan(40 * 1024 * 1024);
    // Once it reads what was queued, it sees why it was closed.
    socket.resume();
    expect(await flooder.waitClosed(15_000)).toBe(1013);
  }, 60_000);

  it('a WebSocket client that sends frames but does not answer pings is cut after two ping intervals', async () => {
    const gw = await ServiceProcess.start('gateway', { JWT_SECRET: TEST_JWT_SECRET, WS_PING_SECONDS: '1' });
    running.push(gw);
    const ws = new WebSocket(`${gw.url.replace('http', 'ws')}/v1/ws?token=${await signToken({ sub: 'deaf' })}`, { autoPong: false });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const closed = new Promise<number>((resolve) => ws.once('close', resolve));
    const chatter = setInterval(() => ws.send(JSON.stringify({ op: 'ping', id: 1 })), 100);
    try {
      // Frames alone do not keep it alive: only pongs prove the client reads.
      expect(await Promise.race([closed, new Promise((r) => setTimeout(() => r('still open'), 6000))])).toBe(1006);
    } finally {
      clearInterval(chatter);
    }
  }, 20_000);
});
