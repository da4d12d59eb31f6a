import { ChannelEngine, ChannelNotFoundError } from '@switchboard/engine';
import { RunningService } from '@switchboard/platform';
import { cleanupIsolatedEnv, isolatedEnv, requireSharedServers, signToken, uniqueName, WsTestClient } from '@switchboard/testing';
import { io } from 'socket.io-client';
import { startGateway, wsUrl } from './support/gateway';

const RATE = 2;

/**
 * READ_CREATE_RATE: a client may bring only so many never-touched channels into existence
 * per second by reading them (subscribe, stream start, poll), so random names cannot fill
 * Redis; reading channels that exist is never limited. Per connection for WS and Socket.IO,
 * per client address for SSE and long-poll.
 */
describe.each([
  ['memory engine', false],
  ['NATS + Redis', true],
])('gateway: READ_CREATE_RATE (%s)', (_name, real) => {
  let gw: RunningService;
  let engine: ChannelEngine;
  let env: Record<string, string> = {};
  let token: string;

  beforeAll(async () => {
    if (real) {
      const { natsUrl, redisUrl } = await requireSharedServers();
      env = isolatedEnv('rc', { natsUrl, redisUrl });
    }
    // Loopback is the trusted proxy: its X-Forwarded-For gives each test its own client address.
    gw = await startGateway({ ...env, READ_CREATE_RATE: String(RATE), TRUSTED_PROXIES: '127.0.0.1/32' });
    engine = gw.platform.runtime.engine;
    token = await signToken({ channels: ['*'] });
  });
  afterAll(async () => {
    await gw?.stop();
    await cleanupIsolatedEnv(env);
  });

  const limitHits = async (transport: string): Promise<number> => {
    const text = await fetch(`${gw.url}/metrics`).then((r) => r.text());
    const line = text
      .split('\n')
      .find((l) => l.startsWith(`switchboard_limit_hits_total{limit="read_create_rate",transport="${transport}"}`));
    return line === undefined ? 0 : Number(line.split(' ').pop());
  };

  /**
   * Runs `read` on 12 never-touched channels as fast as it answers: at most the burst plus
   * what the rate refills while it runs may succeed, the rest are refused, and a refused read
   * created nothing.
   */
  async function expectThrottled(label: string, read: (channel: string) => Promise<boolean>): Promise<void> {
    const channels = Array.from({ length: 12 }, () => `rnd:${uniqueName(label)}`);
    const started = Date.now();
    const outcomes: boolean[] = [];
    for (const channel of channels) outcomes.push(await read(channel));
    const seconds = (Date.now() - started) / 1000;
    const allowed = outcomes.filter(Boolean).length;
    expect(allowed).toBeGreaterThanOrEqual(1);
    expect(allowed).toBeLessThanOrEqual(RATE + Math.ceil(seconds * RATE) + 1);
    expect(outcomes).toContain(false);
    // A refused read created nothing.
    const refused = channels.filter((_, i) => !outcomes[i]);
    for (const channel of refused)
      await expect(engine.positions([channel], { create: false })).rejects.toBeInstanceOf(ChannelNotFoundError);
    // Channels that exist are read whatever the budget.
    const existing = `rnd:${uniqueName(label)}`;
    await engine.publish({ channel: existing, data: 1 });
    expect(await read(existing)).toBe(true);
  }

  it('WebSocket: subscribes that would create channels are refused past the rate, per connection', async () => {
    const c = await WsTestClient.connect(wsUrl(gw, token));
    await expectThrottled('ws', async (channel) => {
      const reply = await c.request('subscribe', { channel });
      if (reply.op === 'error') expect(reply).toMatchObject({ code: 'rate_limited', message: /create at most 2 channels per second/ });
      return reply.op === 'subscribed';
    });
    expect(await limitHits('ws')).toBeGreaterThan(0);
    c.close();
  });

  it('Socket.IO: the same, with the ack saying rate_limited', async () => {
    const socket = io(gw.url, { path: '/socket.io', auth: { token }, transports: ['websocket'], reconnection: false });
    await new Promise<void>((resolve) => socket.on('connect', () => resolve()));
    await expectThrottled('io', async (channel) => {
      const ack = (await socket.emitWithAck('subscribe', { channel })) as { ok: boolean; code?: string };
      if (!ack.ok) expect(ack.code).toBe('rate_limited');
      return ack.ok;
    });
    expect(await limitHits('socketio')).toBeGreaterThan(0);
    socket.close();
  });

  it('SSE and long-poll: per client address (behind a trusted proxy), 429 with Retry-After past the rate', async () => {
    const from = (address: string): Record<string, string> => ({ Authorization: `Bearer ${token}`, 'X-Forwarded-For': address });
    const sse = async (channel: string, address: string): Promise<boolean> => {
      const controller = new AbortController();
      const res = await fetch(`${gw.url}/v1/sse?channel=${channel}`, { headers: from(address), signal: controller.signal });
      controller.abort();
      if (res.status === 429) expect(res.headers.get('retry-after')).toBe('1');
      else expect(res.status).toBe(200);
      return res.status === 200;
    };
    const poll = async (channel: string, address: string): Promise<boolean> => {
      const res = await fetch(`${gw.url}/v1/poll?channel=${channel}`, { headers: from(address) });
      if (res.status === 429) expect(await res.json()).toMatchObject({ error: 'rate_limited' });
      else expect(res.status).toBe(200);
      return res.status === 200;
    };
    await expectThrottled('sse', (channel) => sse(channel, '198.51.100.1'));
    // The address's budget is spent for long-poll too; another client is not affected.
    expect(await poll(`rnd:${uniqueName('same')}`, '198.51.100.1')).toBe(false);
    await expectThrottled('poll', (channel) => poll(channel, '198.51.100.2'));
    expect(await limitHits('sse')).toBeGreaterThan(0);
    expect(await limitHits('poll')).toBeGreaterThan(0);
  });
});
