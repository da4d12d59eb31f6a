import { connect, SwitchboardClient, TokenReason, TransportName } from '@switchboard/client';
import type { ChannelEngine } from '@switchboard/engine';
import type { RunningService } from '@switchboard/platform';
import { eventually, signToken, uniqueName } from '@switchboard/testing';
import { startGateway } from './support/gateway';

/**
 * The SDK's token refresh against the real gateway (SPEC "Token lifetime and refresh"):
 * 3-second tokens, messages published all along, three lifetimes. Every transport must take
 * new tokens from getToken before `exp` and deliver every offset once, in order.
 * (libs/client/src/token-refresh.spec.ts covers each path against a fake gateway.)
 */
describe('client SDK token refresh (real gateway)', () => {
  let gw: RunningService;
  let engine: ChannelEngine;
  const clients: SwitchboardClient[] = [];
  let publishing: ReturnType<typeof setInterval> | undefined;

  beforeAll(async () => {
    // One second of tolerance (the default is 5): a token not refreshed still ends its connection within the test.
    gw = await startGateway({ JWT_CLOCK_TOLERANCE_SECONDS: '1' });
    engine = gw.platform.runtime.engine;
  });
  afterEach(() => {
    clearInterval(publishing);
    clients.splice(0).forEach((c) => c.close());
  });
  afterAll(async () => gw?.stop());

  const run = async (transport: TransportName, lifetimes: number, getToken?: (reason: TokenReason) => Promise<string>) => {
    const channel = `refresh:${uniqueName(transport)}`;
    const reasons: TokenReason[] = [];
    const client = connect(gw.url, {
      transports: [transport],
      pollTimeoutSeconds: 2,
      backoff: { baseMs: 50, capMs: 200 },
      getToken: (reason) => {
        reasons.push(reason);
        return getToken?.(reason) ?? signToken({ sub: 'refresher', channels: ['refresh:*'], expiresIn: 3 });
      },
    });
    clients.push(client);
    const errors: string[] = [];
    let reconnects = 0;
    client.on('error', (e) => errors.push(e.code));
    client.on('reconnect', () => reconnects++);
    const offsets: number[] = [];
    const sub = client.subscribe(channel);
    sub.on('message', (m) => offsets.push(m.offset));
    await new Promise<void>((resolve) => sub.on('subscribed', () => resolve()));
    let published = 0;
    publishing = setInterval(() => void engine.publish({ channel, data: ++published }), 25);
    const until = Date.now() + lifetimes * 3000;
    await eventually(() => expect(Date.now()).toBeGreaterThan(until), lifetimes * 3000 + 1000, 100);
    clearInterval(publishing);
    await eventually(() => expect(offsets.at(-1)).toBe(published), 10_000);
    expect(offsets).toEqual(Array.from({ length: published }, (_, i) => i + 1));
    return { reasons, errors, reconnects: () => reconnects };
  };

  it.each(['websocket', 'sse', 'longpoll'] as const)(
    '%s: new tokens before each exp, every offset once, in order',
    async (transport) => {
      const { reasons, errors } = await run(transport, 3);
      expect(reasons.filter((r) => r === 'refresh').length).toBeGreaterThanOrEqual(2);
      expect(errors).toEqual([]);
    },
    30_000,
  );

  describe('with the gateway expiring and refreshing tokens', () => {
    it('websocket: in-band refresh keeps one connection through 10 lifetimes', async () => {
      const { reasons, reconnects } = await run('websocket', 10);
      expect(reasons.filter((r) => r === 'refresh').length).toBeGreaterThanOrEqual(9);
      expect(reconnects()).toBe(0);
    }, 60_000);

    it.each(['sse', 'longpoll'] as const)(
      '%s: a token not refreshed in time is expired by the gateway; the SDK resumes with a new one',
      async (transport) => {
        const { reasons } = await run(transport, 2, (reason) => {
          if (reason === 'refresh') return Promise.reject(new Error('token service down'));
          return signToken({ sub: 'refresher', channels: ['refresh:*'], expiresIn: reason === 'initial' ? 3 : 3600 });
        });
        expect(reasons).toContain('unauthorized');
      },
      30_000,
    );
  });
});
