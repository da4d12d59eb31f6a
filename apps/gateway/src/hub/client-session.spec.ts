import {
  ChannelOptionsResolver,
  Engine,
  MemoryChannelStore,
  MemoryEventBus,
  MemoryFanoutBus,
  MemoryPresenceSignalBus,
  MemoryPresenceStore,
  PresenceService,
  StoredMessage,
} from '@switchboard/engine';
import { createLogger, createMetrics } from '@switchboard/observability';
import { SwitchboardError } from '@switchboard/protocol';
import { signToken, TEST_JWT_SECRET } from '@switchboard/testing';
import { Registry } from 'prom-client';
import { Principal } from '../auth/principal';
import { TokenVerifier } from '../auth/token-verifier';
import { ClientSession, ExpiryWheel, expiryWheel, SessionServices } from './client-session';
import { ConnectionRegistry } from './connection-registry';
import { GatewayOptions } from './gateway-options';
import { PresenceHub, PresenceNotice } from './presence-hub';
import { EndReason, SessionTransport, TransportName } from './session-transport';

/** A transport that records what the session core asks of it. */
class RecordingTransport implements SessionTransport {
  readonly messages: StoredMessage[] = [];
  readonly lostChannels: string[] = [];
  readonly unsubscribedChannels: string[] = [];
  ended?: { reason: EndReason; reconnectAfterMs?: number };
  queued = 0;
  constructor(readonly transport: TransportName = 'ws') {}
  deliver(m: StoredMessage): void {
    this.messages.push(m);
  }
  lost(channel: string): void {
    this.lostChannels.push(channel);
  }
  unsubscribed(channel: string): void {
    this.unsubscribedChannels.push(channel);
  }
  queuedBytes(): number {
    return this.queued;
  }
  end(reason: EndReason, reconnectAfterMs?: number): void {
    this.ended = { reason, reconnectAfterMs };
  }
}

/** A transport with join/leave (WS, SSE, Socket.IO). */
class PresenceTransport extends RecordingTransport {
  readonly notices: string[] = [];
  presenceNotice(n: PresenceNotice): void {
    this.notices.push(n.json);
  }
}

const OPTIONS: GatewayOptions = {
  maxMessageBytes: 65536,
  maxSubscriptionsPerConnection: 3,
  clientPublishRate: 2,
  sendQueueMaxBytes: 1000,
  maxConnections: 10,
  maxHeldPolls: 10,
  maxResponseBytes: 65536,
  readCreateRate: 50,
  clockToleranceMs: 2000,
  allowedOrigins: [],
  trustedProxies: [],
  wsPingMs: 25_000,
  sseKeepaliveMs: 15_000,
  sseRetryMs: 2000,
  pollTimeoutSeconds: 25,
  drainSeconds: 1,
};

describe('ClientSession (the session core)', () => {
  let now: number;
  let services: SessionServices & { registry: ConnectionRegistry; expiry: ExpiryWheel };
  let engine: Engine;
  let metricsRegistry: Registry;

  beforeEach(() => {
    now = Date.now();
    engine = new Engine(
      new MemoryChannelStore({ historySize: 100, historyTtlSeconds: 300, channelMetaTtlSeconds: 3600, idempotencyWindowSeconds: 120 }),
      new MemoryFanoutBus(),
      { syncIntervalMs: 0 },
    );
    metricsRegistry = new Registry();
    const metrics = createMetrics(metricsRegistry);
    services = {
      engine,
      options: OPTIONS,
      metrics,
      logger: createLogger({ name: 'test', level: 'silent' }),
      verifier: new TokenVerifier({ secret: TEST_JWT_SECRET, clockToleranceSeconds: OPTIONS.clockToleranceMs / 1000 }),
      expiry: expiryWheel(() => now),
      registry: new ConnectionRegistry(OPTIONS, metrics),
      countDelivered: () => undefined,
      now: () => now,
    };
  });
  afterEach(async () => {
    services.expiry.close();
    await engine.close();
  });

  const principal = (over: Partial<Principal> = {}): Principal => ({ sub: 'ann', channels: ['room:*'], publish: ['room:*'], ...over });
  const open = (
    p: Principal = principal(),
    transport = new RecordingTransport(),
  ): { session: ClientSession; transport: RecordingTransport } => {
    const session = new ClientSession(p, transport, services);
    session.register();
    return { session, transport };
  };
  const metric = async (name: string, labels: Record<string, string>): Promise<number> => {
    const m = (await metricsRegistry.getMetricsAsJSON()).find((x) => x.name === name);
    const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
    return Number(v?.value ?? 0);
  };

  it('subscribes, hands messages to its transport in order, and ends subscriptions when closed', async () => {
    const { session, transport } = open();
    const outcomes: unknown[] = [];
    await session.subscribe('room:1', undefined, (o) => outcomes.push(o));
    expect(outcomes).toEqual([expect.objectContaining({ channel: 'room:1', offset: 0 })]);
    for (let i = 0; i < 3; i++) await engine.publish({ channel: 'room:1', data: i });
    expect(transport.messages.map((m) => m.offset)).toEqual([1, 2, 3]);
    expect(services.registry.size).toBe(1);
    session.close();
    await engine.publish({ channel: 'room:1', data: 'after' });
    expect(transport.messages).toHaveLength(3);
    expect(services.registry.size).toBe(0);
  });

  it('refuses what the token and the limits do not allow, with protocol codes', async () => {
    const { session } = open();
    const code = (p: Promise<unknown>): Promise<string> =>
      p.then(
        () => 'ok',
        (e: SwitchboardError) => e.code,
      );
    expect(await code(session.subscribe('secret:1', undefined, () => undefined))).toBe('forbidden');
    expect(await code(session.subscribe('user:ann', undefined, () => undefined))).toBe('ok');
    expect(await code(session.subscribe('user:bob', undefined, () => undefined))).toBe('forbidden');
    expect(await code(session.subscribe('room:1', undefined, () => undefined))).toBe('ok');
    expect(await code(session.subscribe('room:1', undefined, () => undefined))).toBe('already_subscribed');
    expect(await code(session.subscribe('room:2', undefined, () => undefined))).toBe('ok');
    expect(await code(session.subscribe('room:3', undefined, () => undefined))).toBe('rate_limited');
    expect(() => session.unsubscribe('room:9')).toThrow(expect.objectContaining({ code: 'not_found' }));
    expect(await code(session.publish('other:1', 1))).toBe('forbidden');
    expect(await code(session.publish('room:1', 1))).toBe('ok');
    expect(await code(session.publish('room:1', 2))).toBe('ok');
    // Burst = rate (2): the third publish within the second is refused and takes no offset.
    expect(await code(session.publish('room:1', 3))).toBe('rate_limited');
    expect((await engine.positions(['room:1']))[0].offset).toBe(2);
    expect(() => session.checkChannels(['room:1', 'room:2', 'room:3', 'room:4'])).toThrow(expect.objectContaining({ code: 'bad_request' }));
    expect(await metric('switchboard_limit_hits_total', { limit: 'max_subscriptions', transport: 'ws' })).toBe(2);
    expect(await metric('switchboard_limit_hits_total', { limit: 'publish_rate', transport: 'ws' })).toBe(1);
  });

  it("joins at the feed's head at once, under the same rules as subscribe, and does nothing elsewhere", async () => {
    const holder = open();
    await holder.session.subscribe('room:1', undefined, () => undefined);
    const { offset, epoch } = (await engine.publish({ channel: 'room:1', data: 'a' })) as { offset: number; epoch: string };
    const poll = open(principal(), new RecordingTransport('poll'));
    // Behind the head: nothing done, the caller subscribes from the store.
    expect(poll.session.joinAtLocalHead('room:1', { offset: offset - 1, epoch })).toBe(false);
    expect(poll.session.channelCount).toBe(0);
    expect(poll.session.joinAtLocalHead('room:1', { offset, epoch })).toBe(true);
    expect(() => poll.session.joinAtLocalHead('room:1', { offset, epoch })).toThrow(
      expect.objectContaining({ code: 'already_subscribed' }),
    );
    expect(() => poll.session.joinAtLocalHead('secret:1', { offset, epoch })).toThrow(expect.objectContaining({ code: 'forbidden' }));
    await engine.publish({ channel: 'room:1', data: 'b' });
    expect(poll.transport.messages.map((m) => m.offset)).toEqual([offset + 1]);
    expect(await metric('switchboard_subscriptions', { transport: 'poll' })).toBe(1);
    poll.session.close();
    expect(() => poll.session.joinAtLocalHead('room:2', { offset, epoch })).toThrow(expect.objectContaining({ code: 'unavailable' }));
  });

  it('ends a connection whose queue outgrows SEND_QUEUE_MAX_BYTES, for messages and for replies alike', async () => {
    const a = open();
    await a.session.subscribe('room:1', undefined, () => undefined);
    await engine.publish({ channel: 'room:1', data: 1 });
    expect(a.transport.ended).toBeUndefined();
    a.transport.queued = 1001;
    await engine.publish({ channel: 'room:1', data: 2 });
    expect(a.transport.ended).toEqual({ reason: 'slow_consumer', reconnectAfterMs: undefined });
    expect(services.registry.size).toBe(0);

    // A client that only sends requests and never reads their replies.
    const b = open();
    b.session.sent();
    expect(b.transport.ended).toBeUndefined();
    b.transport.queued = 5000;
    b.session.sent();
    expect(b.transport.ended?.reason).toBe('slow_consumer');
    expect(await metric('switchboard_slow_consumer_disconnects_total', { transport: 'ws' })).toBe(2);
  });

  it('ends the connection at exp + tolerance, never before exp, and delivers nothing past it', async () => {
    const exp = now + 10_000;
    const deadline = exp + OPTIONS.clockToleranceMs;
    const a = open(principal({ expiresAt: exp }));
    await a.session.subscribe('room:1', undefined, () => undefined);
    now = exp - 1;
    services.expiry.sweep();
    expect(a.transport.ended).toBeUndefined();
    // The wheel wakes the session in its last second; from then on each delivery checks the clock,
    // so a late timer cannot let a message through after the deadline.
    now = deadline - 800;
    services.expiry.sweep();
    await engine.publish({ channel: 'room:1', data: 'in time' });
    expect(a.transport.messages).toHaveLength(1);
    expect(a.transport.ended).toBeUndefined();
    now = deadline;
    await engine.publish({ channel: 'room:1', data: 'too late' });
    expect(a.transport.messages).toHaveLength(1);
    expect(a.transport.ended?.reason).toBe('expired');
    expect(await metric('switchboard_token_expirations_total', { transport: 'ws' })).toBe(1);

    // Past the deadline when the wheel fires: ended at once.
    const b = open(principal({ expiresAt: now + 5000 }));
    now += 5000 + OPTIONS.clockToleranceMs;
    services.expiry.sweep();
    expect(b.transport.ended?.reason).toBe('expired');
    expect(services.registry.size).toBe(0);
  });

  it('refreshes in band: same sub only, new expiry, and ends subscriptions the new token forbids', async () => {
    const exp = now + 10_000;
    const token = await signToken({ sub: 'ann', channels: ['room:1'], expiresIn: 3600 });
    const { session, transport } = open(principal({ expiresAt: exp }));
    await session.subscribe('room:1', undefined, () => undefined);
    await session.subscribe('room:2', undefined, () => undefined);
    const expiresAt = await session.refresh(token);
    expect(expiresAt).toBeGreaterThan(now + 3_000_000);
    expect(transport.unsubscribedChannels).toEqual(['room:2']);
    expect(session.channelCount).toBe(1);
    // The old expiry no longer applies.
    now = exp + 60_000;
    services.expiry.sweep();
    expect(transport.ended).toBeUndefined();

    await expect(session.refresh(await signToken({ sub: 'bob' }))).rejects.toMatchObject({ code: 'forbidden', message: /another user/ });
    await expect(session.refresh('garbage')).rejects.toMatchObject({ code: 'forbidden' });
    await expect(session.refresh(await signToken({ sub: 'ann', expiresIn: -3600 }))).rejects.toMatchObject({ code: 'forbidden' });
    expect(transport.ended).toBeUndefined();
    expect(await metric('switchboard_token_refreshes_total', { transport: 'ws', outcome: 'refused' })).toBe(3);
  });

  it('drains: tells the transport to reconnect and leaves the registry', () => {
    const { session, transport } = open();
    session.drain(700);
    expect(transport.ended).toEqual({ reason: 'drain', reconnectAfterMs: 700 });
    expect(services.registry.size).toBe(0);
    session.drain(700);
    expect(transport.ended).toEqual({ reason: 'drain', reconnectAfterMs: 700 });
  });

  describe('presence (session state)', () => {
    let presence: PresenceService;
    let withPresence: SessionServices;
    const openP = (p: Principal = principal(), transport: RecordingTransport = new PresenceTransport()) => {
      const session = new ClientSession(p, transport, withPresence);
      session.register();
      return { session, transport: transport as PresenceTransport };
    };
    const noop = (): void => undefined;

    beforeEach(async () => {
      const bus = new MemoryEventBus({ eventsMaxAgeSeconds: 60, duplicateWindowSeconds: 120, dlqMaxAgeSeconds: 60 });
      await bus.ensureStreams();
      presence = new PresenceService(new MemoryPresenceStore(), new MemoryPresenceSignalBus(), bus, {
        ttlMs: 30_000,
        maxMembers: 2,
        channels: new ChannelOptionsResolver([{ match: 'room:*', presence: true, joinLeave: true, lifecycleEvents: false }]),
      });
      await presence.start();
      withPresence = { ...services, presence: new PresenceHub(presence, services.logger) };
    });
    afterEach(() => presence.close());

    it('joins on subscribe as the token user with its info, one member per user, and leaves on unsubscribe and close', async () => {
      const a = openP(principal({ info: { name: 'Ann' } }));
      await a.session.subscribe('room:1', undefined, noop);
      const b = openP(principal({ info: { name: 'Ann' } }));
      await b.session.subscribe('room:1', undefined, noop);
      const bob = openP(principal({ sub: 'bob' }));
      await bob.session.subscribe('room:1', undefined, noop);
      expect(await a.session.presence('room:1')).toEqual({
        channel: 'room:1',
        count: 2,
        connections: 3,
        members: expect.arrayContaining([
          { user: 'ann', info: { name: 'Ann' }, connections: 2 },
          { user: 'bob', info: {}, connections: 1 },
        ]),
      });
      a.session.unsubscribe('room:1');
      b.session.close();
      await new Promise((r) => setTimeout(r, 10));
      expect(await bob.session.presence('room:1')).toMatchObject({ count: 1, connections: 1, members: [{ user: 'bob' }] });
      // bob hears his own join (like his own messages), not ann's (it came before), and ann's leave once.
      expect(bob.transport.notices).toEqual([
        '{"op":"join","channel":"room:1","user":"bob","info":{}}',
        '{"op":"leave","channel":"room:1","user":"ann"}',
      ]);
    });

    it('leaves a channel with presence to subscribe, whose join waits for the store', async () => {
      const a = openP();
      await a.session.subscribe('room:1', undefined, noop);
      const head = (await engine.positions(['room:1']))[0];
      const b = openP();
      expect(b.session.joinAtLocalHead('room:1', head)).toBe(false);
      expect(b.session.channelCount).toBe(0);
    });

    it("sends each join/leave once to every subscriber's transport: a second device causes none", async () => {
      const watcher = openP(principal({ sub: 'w' }));
      await watcher.session.subscribe('room:2', undefined, noop);
      const ann1 = openP();
      await ann1.session.subscribe('room:2', undefined, noop);
      const ann2 = openP();
      await ann2.session.subscribe('room:2', undefined, noop);
      ann1.session.end('expired');
      await new Promise((r) => setTimeout(r, 10));
      const own = '{"op":"join","channel":"room:2","user":"w","info":{}}';
      expect(watcher.transport.notices).toEqual([own, '{"op":"join","channel":"room:2","user":"ann","info":{}}']);
      ann2.session.end('slow_consumer');
      await new Promise((r) => setTimeout(r, 10));
      expect(watcher.transport.notices).toEqual([
        own,
        '{"op":"join","channel":"room:2","user":"ann","info":{}}',
        '{"op":"leave","channel":"room:2","user":"ann"}',
      ]);
    });

    it('leaves a channel a refreshed token no longer allows; caps the member list with truncated', async () => {
      const users = ['u1', 'u2', 'u3'].map((sub) => openP(principal({ sub, channels: ['room:*'] })));
      for (const u of users) await u.session.subscribe('room:3', undefined, noop);
      expect(await users[0].session.presence('room:3')).toMatchObject({ count: 3, connections: 3, truncated: true });
      expect((await users[0].session.presence('room:3')).members).toHaveLength(2);
      await users[2].session.refresh(await signToken({ sub: 'u3', channels: ['other:*'] }));
      await new Promise((r) => setTimeout(r, 10));
      const after = await users[0].session.presence('room:3');
      expect(after).toMatchObject({ count: 2, connections: 2 });
      expect(after.truncated).toBeUndefined();
    });

    it('answers presence with protocol errors: not_found (presence off), forbidden, bad_request', async () => {
      const { session } = openP(principal({ channels: ['room:*', 'plain:*'] }));
      await expect(session.presence('plain:1')).rejects.toMatchObject({ code: 'not_found' });
      await expect(session.presence('secret:1')).rejects.toMatchObject({ code: 'forbidden' });
      await expect(session.presence('bad..name')).rejects.toMatchObject({ code: 'bad_request' });
    });
  });
});
