import { eventually, signToken, TEST_JWT_SECRET, uniqueName, WsTestClient } from '@switchboard/testing';
import { io } from 'socket.io-client';
import { ServiceProcess } from '../support/process';

/** Overload: floods are refused cleanly while existing clients keep receiving; bursts stay within memory. */
describe('reliability: overload', () => {
  const running: ServiceProcess[] = [];
  afterEach(() => running.splice(0).forEach((p) => p.kill()));

  it('refuses connections past MAX_CONNECTIONS (WS 503, SSE 503, Socket.IO "overloaded") while existing clients keep receiving', async () => {
    const gw = await ServiceProcess.start('gateway', { JWT_SECRET: TEST_JWT_SECRET, MAX_CONNECTIONS: '60', CLIENT_PUBLISH_RATE: '100000' });
    running.push(gw);
    const token = await signToken({ channels: ['*'], publish: ['*'] });
    const ws = gw.url.replace('http', 'ws') + `/v1/ws?token=${token}`;
    const channel = `ovl:${uniqueName('c')}`;
    const existing = await Promise.all(Array.from({ length: 60 }, () => WsTestClient.connect(ws)));
    await Promise.all(existing.map((c) => c.request('subscribe', { channel })));
    const flood = await Promise.all(
      Array.from({ length: 200 }, () =>
        WsTestClient.connect(ws).then(
          () => 'accepted',
          (e: Error) => e.message,
        ),
      ),
    );
    expect(flood.every((r) => r.includes('503'))).toBe(true);
    const sse = await fetch(`${gw.url}/v1/sse?channel=${channel}`, { headers: { Authorization: `Bearer ${token}` } });
    expect(sse.status).toBe(503);
    const socket = io(gw.url, { path: '/socket.io', auth: { token }, transports: ['websocket'], reconnection: false });
    expect(
      await new Promise<string>((resolve) =>
        socket.once('connect_error', (e) => resolve(e.message)).once('connect', () => resolve('connected')),
      ),
    ).toBe('overloaded');
    socket.disconnect();
    // The ones already in keep receiving (publishing through one of them).
    for (let i = 1; i <= 20; i++) await existing[0].request('publish', { channel, data: i });
    await eventually(() => expect(existing.every((c) => c.offsets(channel).length === 20)).toBe(true), 10000);
    const metrics = await fetch(`${gw.url}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/switchboard_connections_refused_total\{transport="ws",reason="overloaded"\} 200/);
    existing.forEach((c) => c.close());
  }, 60_000);

  it('a publish burst far beyond what the box can deliver: every client gets a gapless prefix (all of it, or a slow-consumer close), RSS under 400 MB', async () => {
    const gw = await ServiceProcess.start('gateway', {
      JWT_SECRET: TEST_JWT_SECRET,
      CLIENT_PUBLISH_RATE: '1000000',
      SEND_QUEUE_MAX_BYTES: '262144',
    });
    running.push(gw);
    const token = await signToken({ channels: ['*'], publish: ['*'] });
    const ws = gw.url.replace('http', 'ws') + `/v1/ws?token=${token}`;
    const channel = `burst:${uniqueName('b')}`;
    const clients = await Promise.all(Array.from({ length: 200 }, () => WsTestClient.connect(ws)));
    await Promise.all(clients.map((c) => c.request('subscribe', { channel })));
    const publishers = await Promise.all(Array.from({ length: 4 }, () => WsTestClient.connect(ws)));
    const payload = 'p'.repeat(1000);
    const total = 8000;
    let peak = gw.rss();
    let sent = 0;
    // Four publishers, unpaced: each keeps 100 requests in flight.
    await Promise.all(
      publishers.map(async (p) => {
        while (sent < total) {
          const batch = Math.min(100, total - sent);
          sent += batch;
          for (let i = 0; i < batch; i++) p.send('publish', { channel, data: payload });
          await p.request('ping', {}, 30000);
          peak = Math.max(peak, gw.rss());
        }
      }),
    );
    await eventually(
      () => {
        for (const c of clients) if (c.closeCode === undefined && c.offsets(channel).length < total) throw new Error('still receiving');
      },
      60000,
      200,
    );
    let complete = 0;
    let closed = 0;
    for (const c of clients) {
      const offsets = c.offsets(channel);
      expect(offsets).toEqual(Array.from({ length: offsets.length }, (_, i) => i + 1));
      if (offsets.length === total) complete++;
      else {
        expect(c.closeCode).toBe(1013);
        closed++;
      }
    }
    console.log(
      `[reliability] burst: ${total} messages × 200 clients, complete ${complete}, slow-consumer closes ${closed}, peak RSS ${Math.round(peak / 1e6)} MB`,
    );
    expect(peak).toBeLessThan(400 * 1024 * 1024);
    clients.concat(publishers).forEach((c) => c.close());
  }, 120_000);
});
