import { signToken, TEST_JWT_SECRET, uniqueName, WsTestClient, eventually } from '@switchboard/testing';
import { ServiceProcess } from './support/process';
import { SseTestClient } from './support/sse';

/** The built gateway as its own process: drain on SIGTERM and the slow-consumer memory bound. */
describe('gateway process', () => {
  const running: ServiceProcess[] = [];
  afterEach(() => running.splice(0).forEach((p) => p.kill()));

  it('drains 200 WebSocket and 50 SSE clients on SIGTERM: readiness off at once, everyone told to reconnect, exit 0 in time', async () => {
    const drainSeconds = 3;
    const gw = await ServiceProcess.start('gateway', { JWT_SECRET: TEST_JWT_SECRET, DRAIN_SECONDS: String(drainSeconds) });
    running.push(gw);
    const token = await signToken({ channels: ['*'] });
    const channel = `drain:${uniqueName('d')}`;
    const ws = await Promise.all(
      Array.from({ length: 200 }, () => WsTestClient.connect(`${gw.url.replace('http', 'ws')}/v1/ws?token=${token}`)),
    );
    await Promise.all(ws.map((c) => c.request('subscribe', { channel })));
    const sse = Array.from({ length: 50 }, () => new SseTestClient(`${gw.url}/v1/sse?channel=${channel}`, { token }));
    await Promise.all(sse.map((s) => s.opened()));
    // Each SSE client closes itself on the first error (stream end) so EventSource does not reconnect.
    let sseEnded = 0;
    for (const s of sse) {
      s.source.onerror = () => {
        sseEnded++;
        s.close();
      };
    }

    const started = Date.now();
    gw.kill('SIGTERM');
    // The signal arrives asynchronously: readiness flips as soon as the process handles it.
    await eventually(async () => expect(await fetch(`${gw.url}/readyz`).then((r) => r.status)).toBe(503), 1000, 10);
    const refused = await WsTestClient.connect(`${gw.url.replace('http', 'ws')}/v1/ws?token=${token}`).then(
      () => 'connected',
      (e: Error) => e.message,
    );
    expect(refused).toMatch(/503|ECONNREFUSED|socket hang up/);

    const codes = await Promise.all(ws.map((c) => c.waitClosed((drainSeconds + 5) * 1000)));
    expect(codes.every((c) => c === 1012)).toBe(true);
    const hint = JSON.parse(ws[0].closeReason!) as { reconnectAfterMs: number };
    expect(hint.reconnectAfterMs).toBeGreaterThan(0);
    await eventually(() => expect(sseEnded).toBe(50), (drainSeconds + 5) * 1000);
    const { code } = await gw.exited();
    const elapsed = Date.now() - started;
    expect(code).toBe(0);
    expect(elapsed).toBeLessThan((drainSeconds + 5) * 1000);
    // Paced, not a stampede: the closes themselves are spread over the drain window.
    const closedAt = ws.map((c) => c.closedAt! - started).sort((a, b) => a - b);
    expect(closedAt[closedAt.length - 1] - closedAt[0]).toBeGreaterThan(drainSeconds * 1000 * 0.5);
  }, 30000);

  it('exits at once on SIGTERM when no client is connected, whatever DRAIN_SECONDS says', async () => {
    const gw = await ServiceProcess.start('gateway', { JWT_SECRET: TEST_JWT_SECRET, DRAIN_SECONDS: '30' });
    running.push(gw);
    const started = Date.now();
    gw.kill('SIGTERM');
    expect((await gw.exited()).code).toBe(0);
    // A drain that slept through its window would take 30 s; nothing is open, so nothing to wait for.
    expect(Date.now() - started).toBeLessThan(5000);
  }, 20000);

  it('disconnects a WebSocket client that stops reading while 100 MB are published; gateway memory stays bounded', async () => {
    // A small heap makes the garbage of 100 MB of traffic collectable early, so RSS shows
    // what is retained: a send queue that kept everything for the stalled client would
    // hold all 100 MB (≥ 100 MB of growth); the bounded one holds SEND_QUEUE_MAX_BYTES.
    const gw = await ServiceProcess.start('gateway', {
      JWT_SECRET: TEST_JWT_SECRET,
      CLIENT_PUBLISH_RATE: '1000000',
      NODE_OPTIONS: '--max-old-space-size=64 --max-semi-space-size=2',
    });
    running.push(gw);
    const token = await signToken({ channels: ['*'], publish: ['*'] });
    const channel = `slow:${uniqueName('s')}`;
    const wsUrl = `${gw.url.replace('http', 'ws')}/v1/ws?token=${token}`;
    const slow = await WsTestClient.connect(wsUrl);
    await slow.request('subscribe', { channel });
    const socket = (slow.ws as unknown as { _socket: import('node:net').Socket })._socket;
    socket.pause();
    const publisher = await WsTestClient.connect(wsUrl);
    const baseline = gw.rss();
    let peak = baseline;
    const payload = 'x'.repeat(50_000);
    for (let i = 0; i < 2000; i++) {
      publisher.send('publish', { channel, data: payload });
      if (i % 50 === 49) {
        await publisher.waitFor((f) => f.op === 'ack' && f.offset === i + 1, 10000);
        peak = Math.max(peak, gw.rss());
      }
    }
    await publisher.waitFor((f) => f.op === 'ack' && f.offset === 2000, 10000);
    peak = Math.max(peak, gw.rss());
    // It reads again: what was queued, then the close frame.
    socket.resume();
    expect(await slow.waitClosed(10000)).toBe(1013);
    expect(slow.messages(channel).length).toBeLessThan(200);
    expect(await fetch(`${gw.url}/metrics`).then((r) => r.text())).toMatch(
      /switchboard_slow_consumer_disconnects_total\{transport="ws"\} 1/,
    );
    expect(peak - baseline).toBeLessThan(50 * 1024 * 1024);
    publisher.close();
  }, 60000);
});
