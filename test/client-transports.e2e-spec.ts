import { connect, Message, SwitchboardClient } from '@switchboard/client';
import type { ChannelEngine } from '@switchboard/engine';
import { RunningService } from '@switchboard/platform';
import { eventually, signToken, uniqueName } from '@switchboard/testing';
import { startGateway } from './support/gateway';
import { TestProxy } from './support/proxy';

const fast = { baseMs: 50, capMs: 500 };

/** The SDK against a real gateway: transports, fallback through a hostile proxy, lossless resume. */
describe('client SDK (Node)', () => {
  let gw: RunningService;
  let engine: ChannelEngine;
  let token: string;
  const clients: SwitchboardClient[] = [];
  const open = (url: string, options: Parameters<typeof connect>[1]): SwitchboardClient => {
    const c = connect(url, options);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    // History outlasts the SSE retry pause of the fallback test (no loss to report there).
    gw = await startGateway({ SSE_KEEPALIVE_SECONDS: '1', HISTORY_SIZE: '2000' });
    engine = gw.platform.runtime.engine;
    token = await signToken({ sub: 'sdk', channels: ['*'], publish: ['*'] });
  });
  afterEach(() => clients.splice(0).forEach((c) => c.close()));
  afterAll(async () => gw?.stop());

  it.each(['websocket', 'sse', 'longpoll'] as const)('receives in order over %s, as events and as an async iterator', async (transport) => {
    const channel = `sdk:${uniqueName(transport)}`;
    const client = open(gw.url, { token, transports: [transport], pollTimeoutSeconds: 2 });
    const sub = client.subscribe<{ i: number }>(channel);
    const seen: number[] = [];
    sub.on('message', (m) => seen.push(m.data.i));
    await new Promise<void>((resolve) => sub.on('subscribed', () => resolve()));
    for (let i = 1; i <= 20; i++) await engine.publish({ channel, data: { i } });
    const iterated: number[] = [];
    for await (const m of sub) {
      iterated.push(m.offset);
      if (iterated.length === 20) break;
    }
    expect(iterated).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(sub.active).toBe(false);
  });

  it.each(['websocket', 'sse', 'longpoll'] as const)(
    'reports a resume point that left history once over %s, then goes on',
    async (transport) => {
      const channel = `sdk:${uniqueName(`lost-${transport}`)}`;
      let first: { offset: number; epoch: string } | undefined;
      for (let i = 1; i <= 2010; i++) {
        const r = await engine.publish({ channel, data: { i } });
        first ??= r;
      }
      const client = open(gw.url, { token, transports: [transport], pollTimeoutSeconds: 2 });
      const sub = client.subscribe<{ i: number }>(channel, { since: first });
      const recoveries: unknown[] = [];
      const got: number[] = [];
      sub.on('recovery', (r) => recoveries.push(r));
      sub.on('message', (m) => got.push(m.offset));
      await eventually(() => expect(recoveries).toEqual([{ channel, recovered: false }]));
      await engine.publish({ channel, data: { i: 2011 } });
      await eventually(() => expect(got.at(-1)).toBe(2011));
      // What history still had, then the new message, in order and once; no second report.
      expect(got).toEqual([...new Set(got)].sort((a, b) => a - b));
      expect(recoveries).toHaveLength(1);
    },
  );

  it('publishes over WebSocket with an idempotency key; publish is refused on other transports', async () => {
    const channel = `sdk:${uniqueName('pub')}`;
    const client = open(gw.url, { token });
    const sub = client.subscribe(channel);
    const got: Message[] = [];
    sub.on('message', (m) => got.push(m));
    expect(await client.publish(channel, { hi: 1 }, { idempotencyKey: 'k' })).toBe(1);
    expect(await client.publish(channel, { hi: 1 }, { idempotencyKey: 'k' })).toBe(1);
    await eventually(() => expect(got.map((m) => m.from)).toEqual(['sdk']));
    const sse = open(gw.url, { token, transports: ['sse'] });
    await eventually(() => expect(sse.state).toBe('connected'));
    await expect(sse.publish(channel, 1)).rejects.toMatchObject({ code: 'unsupported' });
  });

  it('falls back WebSocket → SSE → long-poll through a proxy and loses or duplicates nothing across the switches', async () => {
    const proxy = new TestProxy(gw.url);
    await proxy.start();
    try {
      const channel = `sdk:${uniqueName('fallback')}`;
      const client = open(proxy.url, { token, backoff: fast, fallbackAfter: 2, pollTimeoutSeconds: 2 });
      const transports: string[] = [];
      client.on('transport', (t) => transports.push(t));
      const sub = client.subscribe(channel);
      const offsets: number[] = [];
      sub.on('message', (m) => offsets.push(m.offset));
      await new Promise<void>((resolve) => sub.on('subscribed', () => resolve()));
      let published = 0;
      let publishing = true;
      const publisher = (async () => {
        while (publishing) {
          await engine.publish({ channel, data: ++published });
          await new Promise((r) => setTimeout(r, 5));
        }
      })();
      await eventually(() => expect(offsets.length).toBeGreaterThan(20));
      expect(client.transportName).toBe('websocket');
      // The proxy starts refusing WebSocket and drops everyone.
      proxy.blockWebSocket = true;
      proxy.cutAll();
      await eventually(() => expect(client.transportName).toBe('sse'), 10000);
      const atSse = offsets.length;
      await eventually(() => expect(offsets.length).toBeGreaterThan(atSse + 20), 10000);
      // Then it refuses SSE too.
      proxy.blockSse = true;
      proxy.cutAll();
      await eventually(() => expect(client.transportName).toBe('longpoll'), 10000);
      const atPoll = offsets.length;
      await eventually(() => expect(offsets.length).toBeGreaterThan(atPoll + 20), 10000);
      publishing = false;
      await publisher;
      await eventually(() => expect(offsets.length).toBe(published), 10000);
      expect(offsets).toEqual(Array.from({ length: published }, (_, i) => i + 1));
      expect(transports).toEqual(expect.arrayContaining(['websocket', 'sse', 'longpoll']));
    } finally {
      await proxy.stop();
    }
  }, 60_000);

  it('retries a publish refused for the rate limit until it is accepted, once each', async () => {
    const limited = await startGateway({ CLIENT_PUBLISH_RATE: '5' });
    try {
      const channel = `sdk:${uniqueName('rate')}`;
      const client = open(limited.url, { token });
      const got: unknown[] = [];
      client.subscribe(channel).on('message', (m) => got.push(m.data));
      await eventually(() => expect(client.state).toBe('connected'));
      // 15 at once against 5/s (burst 5): the last wait about 2 s, none is lost or doubled.
      const offsets = await Promise.all(Array.from({ length: 15 }, (_, i) => client.publish(channel, i)));
      expect([...offsets].sort((a, b) => a - b)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
      await eventually(() => expect(got).toHaveLength(15));
      expect([...got].sort((a, b) => Number(a) - Number(b))).toEqual(Array.from({ length: 15 }, (_, i) => i));
    } finally {
      await limited.stop();
    }
  });

  it('a refused token over WebSocket is an error at connect: never connected, no fallback to SSE', async () => {
    const reasons: string[] = [];
    const good = await signToken({ sub: 'garbage-then-good', channels: ['*'] });
    const client = open(gw.url, { backoff: fast, getToken: (reason) => (reasons.push(reason), reason === 'initial' ? 'garbage' : good) });
    const seen: string[] = [];
    client.on('transport', (t) => seen.push(`transport ${t}`));
    client.on('state', (s) => seen.push(s));
    client.on('error', (e) => seen.push(`error ${e.code}`));
    client.subscribe(`sdk:${uniqueName('garbage')}`);
    await eventually(() => expect(client.state).toBe('connected'));
    // The gateway refused the handshake (browsers cannot see its 401): the SDK learned why
    // before anything else, told the app, and stayed on WebSocket.
    expect(seen.indexOf('error unauthorized')).toBeGreaterThan(-1);
    expect(seen.indexOf('error unauthorized')).toBeLessThan(seen.indexOf('connected'));
    expect(seen.filter((e) => e.startsWith('transport')).every((t) => t === 'transport websocket')).toBe(true);
    expect(reasons).toEqual(['initial', 'unauthorized']);
  });

  it('a fixed token the gateway refuses ends the client, and its subscriptions get the error', async () => {
    const client = open(gw.url, { token: 'garbage', backoff: fast });
    const sub = client.subscribe(`sdk:${uniqueName('fixed-garbage')}`);
    const error = await new Promise<{ code: string }>((resolve) => sub.on('error', resolve));
    expect(error.code).toBe('unauthorized');
    expect(client.state).toBe('closed');
    expect(client.transportName).toBe('websocket');
  });

  it('asks getToken again after a refused token and ends when it returns null', async () => {
    const reasons: string[] = [];
    const good = await signToken({ sub: 'refresh', channels: ['*'] });
    const client = open(gw.url, {
      transports: ['sse'],
      backoff: fast,
      getToken: (reason) => {
        reasons.push(reason);
        if (reason === 'initial') return 'not-a-token';
        return reasons.length < 3 ? good : null;
      },
    });
    client.subscribe(`sdk:${uniqueName('tok')}`);
    await eventually(() => expect(client.state).toBe('connected'));
    expect(reasons).toEqual(['initial', 'unauthorized']);
    const ending = open(gw.url, { transports: ['sse'], backoff: fast, getToken: (r) => (r === 'initial' ? 'bad' : null) });
    ending.subscribe(`sdk:${uniqueName('tok2')}`);
    const errors: string[] = [];
    ending.on('error', (e) => errors.push(e.code));
    await eventually(() => expect(ending.state).toBe('closed'));
    expect(errors).toContain('unauthorized');
  });
});
