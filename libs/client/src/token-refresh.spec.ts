import { eventually } from '@switchboard/testing';
import { connect, SwitchboardClient } from './client';
import { FakeGateway, fakeToken } from './testing/fake-gateway';
import { TokenReason, TransportName } from './types';

/**
 * Token refresh on every transport against a fake gateway that enforces `exp` as the real
 * one does (WS close 4001, SSE `event: expired`, a held poll's 401). What must hold: the
 * app's getToken is asked before `exp`, the transport takes the new token, and the
 * subscription sees every message once, in order. test/client-token-refresh.e2e-spec.ts
 * runs the same against the real gateway.
 */
describe('token refresh', () => {
  let gw: FakeGateway;
  const clients: SwitchboardClient[] = [];
  let publishing: ReturnType<typeof setInterval> | undefined;

  beforeEach(async () => {
    gw = await new FakeGateway().start();
  });
  afterEach(async () => {
    clearInterval(publishing);
    clients.splice(0).forEach((c) => c.close());
    await gw.stop();
  });

  /** A client whose getToken hands out `lifetime`-second tokens and records why it was asked. */
  const open = (transport: TransportName, lifetime: number, getToken?: (reason: TokenReason) => string) => {
    const reasons: TokenReason[] = [];
    const client = connect(gw.url, {
      transports: [transport],
      backoff: { baseMs: 20, capMs: 100 },
      pollTimeoutSeconds: 1,
      getToken: (reason) => {
        reasons.push(reason);
        return getToken?.(reason) ?? fakeToken('alice', lifetime);
      },
    });
    clients.push(client);
    const errors: string[] = [];
    client.on('error', (e) => errors.push(e.code));
    const sub = client.subscribe('c');
    const offsets: number[] = [];
    sub.on('message', (m) => offsets.push(m.offset));
    return { client, reasons, errors, offsets, sub };
  };

  /** Publishes every 20 ms until stopped; returns how many so far. */
  const publishSteadily = (): (() => number) => {
    let n = 0;
    publishing = setInterval(() => {
      gw.publish('c', ++n);
    }, 20);
    return () => n;
  };

  const everyOnce = async (offsets: number[], published: () => number): Promise<void> => {
    clearInterval(publishing);
    await eventually(() => expect(offsets.at(-1)).toBe(published()), 5000);
    expect(offsets).toEqual(Array.from({ length: offsets.length }, (_, i) => offsets[0] + i));
  };

  it('WebSocket: refreshes in-band before each exp, on one connection, losing nothing', async () => {
    gw.toleranceSeconds = 3;
    const { reasons, offsets, errors } = open('websocket', 2);
    await eventually(() => expect(gw.ws.size).toBe(1));
    const published = publishSteadily();
    await eventually(() => expect(gw.refreshes.length).toBeGreaterThanOrEqual(3), 15_000, 50);
    await everyOnce(offsets, published);
    // One handshake: every new token went over the open connection, before the old one ran out.
    expect(gw.log.filter((l) => l.kind === 'ws')).toHaveLength(1);
    expect(reasons.slice(0, 4)).toEqual(['initial', 'refresh', 'refresh', 'refresh']);
    expect(errors).toEqual([]);
  }, 30_000);

  it('WebSocket: a refused refresh keeps the connection until the old exp, then reconnects with a fresh token', async () => {
    gw.refreshAnswer = 'forbidden';
    gw.toleranceSeconds = 5;
    const { reasons, offsets } = open('websocket', 2);
    await eventually(() => expect(gw.ws.size).toBe(1));
    const firstToken = gw.log[0].token;
    const exp = JSON.parse(Buffer.from(firstToken.split('.')[1], 'base64url').toString()).exp * 1000;
    const published = publishSteadily();
    const first = [...gw.ws][0];
    const closed = new Promise<number>((resolve) => first.socket.on('close', (code) => resolve(code)));
    await eventually(() => expect(gw.log.filter((l) => l.kind === 'ws')).toHaveLength(2), 10_000, 20);
    // Not before the old token ran out, and by the client (1000), not by the gateway's 4001 at exp + 5 s.
    expect(Date.now()).toBeGreaterThanOrEqual(exp);
    expect(await closed).toBe(1000);
    expect(gw.refreshes.length).toBeGreaterThanOrEqual(1);
    expect(reasons.slice(0, 3)).toEqual(['initial', 'refresh', 'refresh']);
    await everyOnce(offsets, published);
  }, 30_000);

  it('WebSocket: a gateway without in-band refresh gets a reconnect with the new token, losing nothing', async () => {
    gw.refreshAnswer = 'bad_request';
    gw.toleranceSeconds = 5;
    const { offsets } = open('websocket', 2);
    await eventually(() => expect(gw.ws.size).toBe(1));
    const published = publishSteadily();
    await eventually(() => expect(gw.log.filter((l) => l.kind === 'ws').length).toBeGreaterThanOrEqual(2), 10_000, 20);
    const ws = gw.log.filter((l) => l.kind === 'ws');
    expect(ws[1].token).toBe(gw.refreshes[0]);
    await everyOnce(offsets, published);
  }, 30_000);

  it('WebSocket: a close 4001 (expired) gets a new token and resumes, without an error for the app', async () => {
    const { reasons, offsets, errors } = open('websocket', 3600);
    await eventually(() => expect(gw.ws.size).toBe(1));
    const published = publishSteadily();
    await eventually(() => expect(offsets.length).toBeGreaterThan(5));
    [...gw.ws][0].socket.close(4001, 'token expired');
    await eventually(() => expect(gw.log.filter((l) => l.kind === 'ws')).toHaveLength(2));
    await eventually(() => expect(offsets.length).toBeGreaterThan(published() - 2 - offsets[0]));
    await everyOnce(offsets, published);
    expect(reasons).toEqual(['initial', 'unauthorized']);
    expect(errors).toEqual([]);
  });

  it('a reconnect reuses the token held until its refresh is due (getToken is not asked per reconnect)', async () => {
    const { reasons, offsets } = open('websocket', 3600);
    await eventually(() => expect(gw.ws.size).toBe(1));
    const published = publishSteadily();
    for (let cut = 1; cut <= 3; cut++) {
      await eventually(() => expect(gw.ws.size).toBe(1));
      [...gw.ws][0].socket.terminate();
      await eventually(() => expect(gw.log.filter((l) => l.kind === 'ws')).toHaveLength(cut + 1));
    }
    await everyOnce(offsets, published);
    expect(reasons).toEqual(['initial']);
    expect(new Set(gw.log.map((l) => l.token)).size).toBe(1);
  });

  it('SSE: reconnects the stream before exp with Last-Event-ID and the new token, losing nothing', async () => {
    gw.toleranceSeconds = 3;
    const { offsets, reasons } = open('sse', 2);
    await eventually(() => expect(gw.log.filter((l) => l.kind === 'sse')).toHaveLength(1));
    const published = publishSteadily();
    await eventually(() => expect(gw.log.filter((l) => l.kind === 'sse').length).toBeGreaterThanOrEqual(4), 15_000, 50);
    await everyOnce(offsets, published);
    const streams = gw.log.filter((l) => l.kind === 'sse');
    for (const [i, s] of streams.entries()) {
      expect(s.refused).toBe(false);
      if (i > 0) {
        expect(s.lastEventId).toBeDefined();
        expect(s.token).not.toBe(streams[i - 1].token);
      }
    }
    expect(reasons.slice(0, 4)).toEqual(['initial', 'refresh', 'refresh', 'refresh']);
  }, 30_000);

  it("SSE: 'event: expired' gets a new token and resumes from the last id", async () => {
    gw.toleranceSeconds = 0;
    // The app's token service is down at refresh time: the gateway ends the stream at exp.
    const { offsets, reasons, errors } = open('sse', 2, (reason) => {
      if (reason === 'refresh') throw new Error('token service down');
      return fakeToken('alice', reason === 'initial' ? 2 : 3600);
    });
    await eventually(() => expect(gw.log.filter((l) => l.kind === 'sse')).toHaveLength(1));
    const published = publishSteadily();
    await eventually(() => expect(reasons).toContain('unauthorized'), 10_000, 20);
    await eventually(() => expect(gw.log.filter((l) => l.kind === 'sse' && !l.refused).length).toBeGreaterThanOrEqual(2));
    await everyOnce(offsets, published);
    expect(gw.log.filter((l) => l.kind === 'sse').at(-1)?.lastEventId).toBeDefined();
    expect(errors).toContain('token');
    expect(errors).not.toContain('unauthorized');
  }, 30_000);

  it('long-poll: the request after a refresh carries the new token', async () => {
    gw.toleranceSeconds = 3;
    const handedOut: string[] = [];
    const { offsets, reasons } = open('longpoll', 2, () => {
      handedOut.push(fakeToken('alice', 2));
      return handedOut.at(-1)!;
    });
    await eventually(() => expect(gw.log.some((l) => l.kind === 'poll')).toBe(true));
    const published = publishSteadily();
    await eventually(() => expect(reasons.filter((r) => r === 'refresh').length).toBeGreaterThanOrEqual(2), 15_000, 20);
    await everyOnce(offsets, published);
    const polled = new Set(gw.log.filter((l) => l.kind === 'poll').map((p) => p.token));
    for (const token of handedOut.slice(0, -1)) expect(polled.has(token)).toBe(true);
    expect(gw.log.filter((l) => l.refused)).toEqual([]);
    expect(reasons).not.toContain('unauthorized');
  }, 30_000);

  it('long-poll: a poll answered 401 at exp gets a new token and resumes from the cursor', async () => {
    gw.toleranceSeconds = 0;
    // The token service is down at refresh time: the poll runs into exp and is answered 401.
    const { offsets, reasons, errors } = open('longpoll', 2, (reason) => {
      if (reason === 'refresh') throw new Error('token service down');
      return fakeToken('alice', reason === 'initial' ? 2 : 3600);
    });
    await eventually(() => expect(gw.log.some((l) => l.kind === 'poll')).toBe(true));
    const published = publishSteadily();
    await eventually(() => expect(reasons).toContain('unauthorized'), 15_000, 20);
    // The new token's first poll: asked for only once the client has that token, so waited
    // for (messages published before it may all have come on the old token's polls).
    const tokensPolled = (): number => new Set(gw.log.filter((l) => l.kind === 'poll' && !l.refused).map((p) => p.token)).size;
    await eventually(() => expect(tokensPolled()).toBe(2), 5000, 20);
    await everyOnce(offsets, published);
    expect(tokensPolled()).toBe(2);
    // An expiry is not the app's error (only the failing token service is).
    expect(errors).toContain('token');
    expect(errors).not.toContain('unauthorized');
  }, 30_000);
});
