import type { ChannelEngine } from '@switchboard/engine';
import { RunningService } from '@switchboard/platform';
import { eventually, signToken, WsTestClient } from '@switchboard/testing';
import fc from 'fast-check';
import { startGateway, wsUrl } from '../support/gateway';

/** At least 10,000 cases per parser per run; the seed is printed so a failure can be replayed. */
const RUNS = 10_000;
const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);

const allowedChannel = fc.stringMatching(/^allowed:[a-z0-9]{1,6}$/);
const secretChannel = fc.constantFrom('secret:1', 'secret:2', 'user:victim', 'allowed', 'allowe:1', 'Allowed:1');
const junkChannel = fc.oneof(fc.string({ maxLength: 140 }), fc.constantFrom('a..b', '.x', 'x.', '*', '>', 'a b', ''));
const anyChannel = fc.oneof(allowedChannel, secretChannel, junkChannel);
const position = fc.oneof(
  fc.record({ offset: fc.nat(), epoch: fc.string({ minLength: 1, maxLength: 12 }) }),
  fc.record({ offset: fc.integer({ min: -10, max: -1 }), epoch: fc.string() }),
  fc.jsonValue({ maxDepth: 2 }),
);

/**
 * Hostile input against a running gateway: the process never crashes, never answers 5xx,
 * and never lets a client read a channel its token does not allow.
 */
describe('fuzz: gateway under hostile input', () => {
  let gw: RunningService;
  let engine: ChannelEngine;
  let token: string;

  beforeAll(async () => {
    console.log(`[fuzz] gateway seed=${seed} (FUZZ_SEED=${seed} to replay)`);
    gw = await startGateway({ CLIENT_PUBLISH_RATE: '1000000', MAX_SUBSCRIPTIONS_PER_CONNECTION: '100000' });
    engine = gw.platform.runtime.engine;
    token = await signToken({ sub: 'fuzzer', channels: ['allowed:*'], publish: ['allowed:*'] });
    // Data the fuzzer must never see.
    for (const c of ['secret:1', 'secret:2', 'user:victim', 'allowed'])
      for (let i = 0; i < 3; i++) await engine.publish({ channel: c, data: { leak: c } });
  });
  afterAll(async () => gw?.stop());

  it('WebSocket frames: every frame answered, connection kept, no foreign channel delivered', async () => {
    const frames = fc.sample(
      fc.oneof(
        fc
          .record({
            op: fc.constantFrom('subscribe', 'unsubscribe'),
            id: fc.nat(),
            channel: anyChannel,
            since: fc.option(position, { nil: undefined }),
          })
          .map((f) => JSON.stringify(f)),
        fc
          .record({
            op: fc.constant('publish'),
            id: fc.nat(),
            channel: anyChannel,
            data: fc.jsonValue({ maxDepth: 2 }),
            idempotencyKey: fc.option(fc.string(), { nil: undefined }),
          })
          .map((f) => JSON.stringify(f)),
        fc.jsonValue({ maxDepth: 3 }).map((j) => JSON.stringify(j)),
        fc.string({ maxLength: 200 }),
      ),
      { numRuns: RUNS, seed },
    );
    const client = await WsTestClient.connect(wsUrl(gw, token));
    for (let i = 0; i < frames.length; i += 200) {
      for (const frame of frames.slice(i, i + 200)) client.ws.send(frame);
      // An id no fuzzed frame uses: its pong proves every frame before it was handled.
      const id = 1e12 + i;
      client.ws.send(JSON.stringify({ op: 'ping', id }));
      expect(await client.waitFor((f) => f.id === id)).toEqual({ op: 'pong', id });
    }
    expect(client.closeCode).toBeUndefined();
    const foreign = client.frames.filter((f) => typeof f.channel === 'string' && !f.channel.startsWith('allowed:'));
    expect(foreign.filter((f) => f.op === 'message' || f.op === 'subscribed')).toEqual([]);
    expect(client.frames.filter((f) => f.op === 'error' && f.code === 'unavailable')).toEqual([]);
    client.close();
  }, 120_000);

  it('SSE and long-poll query strings and cursors: only 200/400/401/403, and only allowed channels', async () => {
    const forgedCursor = fc.oneof(
      fc
        .dictionary(anyChannel, fc.oneof(fc.tuple(fc.nat(), fc.string({ maxLength: 10 })), fc.jsonValue({ maxDepth: 1 })), { maxKeys: 3 })
        .map((o) => Buffer.from(JSON.stringify(o)).toString('base64url')),
      fc.string({ maxLength: 60 }),
      fc.base64String({ maxLength: 60 }).map((s) => s.slice(0, Math.max(0, s.length - 3))),
    );
    const queries = fc.sample(
      fc.record({
        channels: fc.array(anyChannel, { maxLength: 3 }),
        cursor: fc.option(forgedCursor, { nil: undefined }),
        timeout: fc.option(fc.oneof(fc.constant('0'), fc.string({ maxLength: 4 })), { nil: undefined }),
        auth: fc.constantFrom('good', 'none', 'bad'),
      }),
      { numRuns: RUNS, seed },
    );
    const statuses = new Map<number, number>();
    let i = 0;
    const worker = async (): Promise<void> => {
      while (i < queries.length) {
        const q = queries[i++];
        const params = new URLSearchParams();
        for (const c of q.channels) params.append('channel', c);
        if (q.cursor !== undefined) params.set('cursor', q.cursor);
        params.set('timeout', q.timeout ?? '0');
        const headers: Record<string, string> =
          q.auth === 'good' ? { Authorization: `Bearer ${token}` } : q.auth === 'bad' ? { Authorization: 'Bearer x.y.z' } : {};
        const res = await fetch(`${gw.url}/v1/poll?${params.toString()}`, { headers });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        const body = (await res.json()) as { messages?: Array<{ channel: string }> };
        expect([200, 400, 401, 403]).toContain(res.status);
        for (const m of body.messages ?? []) expect(m.channel.startsWith('allowed:')).toBe(true);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    console.log(`[fuzz] long-poll statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
    // SSE shares the parser; a sample of the same inputs must fail the same way before the stream starts.
    for (const q of queries.slice(0, 300)) {
      const params = new URLSearchParams();
      for (const c of q.channels) params.append('channel', c);
      if (q.cursor !== undefined) params.set('lastEventId', q.cursor);
      const ctrl = new AbortController();
      const res = await fetch(`${gw.url}/v1/sse?${params.toString()}`, {
        headers: q.auth === 'good' ? { Authorization: `Bearer ${token}` } : {},
        signal: ctrl.signal,
      });
      expect([200, 400, 401, 403]).toContain(res.status);
      ctrl.abort();
    }
    await eventually(async () => expect((await fetch(`${gw.url}/healthz`)).status).toBe(200));
  }, 120_000);
});
