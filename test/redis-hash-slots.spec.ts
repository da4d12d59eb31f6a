import { RedisAttemptLog } from '../apps/notifier/src/outbound/attempts/redis-attempt.log';
import { RedisRateLimiter as OutboundRateLimiter } from '../apps/notifier/src/outbound/delivery/rate-limiter';
import { RedisDeliveryLedger } from '../apps/webhook-ingest/src/ingest/redis-delivery-ledger';
import { RedisRateLimiter as WebhookRateLimiter } from '../apps/webhook-ingest/src/ingest/redis-rate-limiter';
import { messageJsonParts, RedisChannelStore, RedisClient, RedisPresenceStore } from '@switchboard/engine';
import calculateSlot from 'cluster-key-slot';

/**
 * Redis Cluster runs a script only when all its keys share one hash slot (CROSSSLOT
 * otherwise). Every store's scripts are driven here through a client that records the
 * keys of each script call, and every call must land in one slot — for awkward channel
 * names, prefixes, sources and endpoint ids. A script defined but never exercised here
 * fails the test, so a new one cannot slip by.
 */
interface ScriptCall {
  script: string;
  keys: string[];
}

class RecordingRedis {
  readonly calls: ScriptCall[] = [];
  readonly defined = new Set<string>();
  readonly status = 'ready';

  defineCommand(name: string, definition: { numberOfKeys?: number; lua: string }): void {
    this.defined.add(name);
    (this as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
      const count = definition.numberOfKeys ?? Number(args.shift());
      this.calls.push({ script: name, keys: args.slice(0, count).map(String) });
      return Promise.reject(new Error('recorded'));
    };
  }

  eval(lua: string, count: number, ...args: unknown[]): Promise<never> {
    const name = 'eval:' + lua.trim().split('\n')[0];
    this.defined.add(name);
    this.calls.push({ script: name, keys: args.slice(0, count).map(String) });
    return Promise.reject(new Error('recorded'));
  }
}

// Channel names allow [A-Za-z0-9_:@=./-]{1,128}; no braces, so a `{channel}` tag cannot be broken.
const CHANNELS = [
  'a',
  'chat:room-1',
  'user@example.com',
  'x=y.z/w',
  '_',
  ':::',
  '...',
  '-',
  'a'.repeat(128),
  'presence-u:42',
  'private-ü'.replace('ü', 'u'),
];
const PREFIXES = ['sb:', 'test-1234:', 'app/prod:', ''];
const SOURCES = ['github', 'stripe', 'src_with-dash', 'a'];
const ENDPOINTS = ['ep_01HZY', 'x', 'endpoint-with.many:colons'];
const CLIENTS = ['10.0.0.1', '2001:db8::1', '::ffff:127.0.0.1'];

async function ignore(p: Promise<unknown>): Promise<void> {
  await p.catch(() => undefined);
}

async function driveEveryScript(redis: RecordingRedis, prefix: string): Promise<void> {
  const client = redis as unknown as RedisClient;
  const store = new RedisChannelStore(
    client,
    { historySize: 100, historyTtlSeconds: 300, channelMetaTtlSeconds: 3600, idempotencyWindowSeconds: 120 },
    prefix,
  );
  const presence = new RedisPresenceStore(client, { keyPrefix: prefix });
  const ledger = new RedisDeliveryLedger(client, prefix, 3600);
  const sourceLimiter = new WebhookRateLimiter(client, (source) => `${prefix}webhook:{${source}}:rate`);
  const clientLimiter = new WebhookRateLimiter(client, (address) => `${prefix}webhook:client:{${address}}`);
  const outboundLimiter = new OutboundRateLimiter(client, prefix);
  const attempts = new RedisAttemptLog(client, prefix, 3_600_000, 100);
  for (const channel of CHANNELS) {
    const request = { channel, data: { n: 1 }, idempotencyKey: 'key-' + channel };
    await ignore(store.publish(request, messageJsonParts(request, 1), 1));
    await ignore(store.publish({ channel, data: null }, messageJsonParts({ channel, data: null }, 1), 1));
    await ignore(store.history(channel));
    await ignore(store.positions([channel]));
    await ignore(presence.join('gw-1', channel, 'c1', { user: 'u1', info: {} }, { outbox: true, at: 1 }));
    await ignore(presence.leave('gw-1', channel, 'c1', { outbox: true, at: 1 }));
    await ignore(presence.members(channel, 10));
  }
  await ignore(presence.heartbeat('gw-1', { leaseMs: 1000, claimMs: 1000, claimLimit: 10, register: true }));
  for (const source of SOURCES) {
    await ignore(ledger.admit(source, 'delivery-1'));
    await ignore(ledger.admit(source, 'delivery-1', 'v1,signature=='));
    await ignore(ledger.markStored(source, 'delivery-1'));
    // Admits and marks of one event-loop turn go in one script call (per source).
    await Promise.all([
      ignore(ledger.admit(source, 'delivery-2')),
      ignore(ledger.admit(source, 'delivery-3', 'v1,other==')),
      ignore(ledger.markStored(source, 'delivery-2')),
      ignore(ledger.markStored(source, 'delivery-3')),
    ]);
    await ignore(sourceLimiter.take(source, { perSecond: 10, burst: 5 }));
    await ignore(sourceLimiter.refund(source, { perSecond: 10, burst: 5 }));
  }
  for (const address of CLIENTS) await ignore(clientLimiter.take(address, { perSecond: 10, burst: 5 }));
  for (const endpointId of ENDPOINTS) {
    await ignore(outboundLimiter.acquire(endpointId, 5));
    await ignore(
      attempts.record({
        webhookId: 'w',
        endpointId,
        eventId: 'e',
        eventType: 't',
        attempt: 1,
        status: 'failed',
        at: new Date(0).toISOString(),
        durationMs: 1,
      }),
    );
  }
}

describe('Redis keys of every script share one hash slot (Redis Cluster)', () => {
  for (const prefix of PREFIXES) {
    it(`prefix ${JSON.stringify(prefix)}`, async () => {
      const redis = new RecordingRedis();
      await driveEveryScript(redis, prefix);
      const exercised = new Set(redis.calls.map((c) => c.script));
      expect([...redis.defined].filter((name) => !exercised.has(name))).toEqual([]);
      const crossSlot = redis.calls.filter((c) => new Set(c.keys.map((k) => calculateSlot(k))).size > 1);
      expect(crossSlot).toEqual([]);
      // Multi-key scripts were really seen (the check above is not vacuous).
      expect(redis.calls.filter((c) => c.keys.length > 1).map((c) => c.script)).toEqual(
        expect.arrayContaining([
          'sbPublish',
          'sbRead',
          'sbPresenceJoin',
          'sbPresenceLeave',
          'sbPresenceMembers',
          'sbPresenceHeartbeat',
          'sbWebhookLedger',
        ]),
      );
    });
  }

  it('spreads channels over the slots (the tag is the channel, not the prefix)', async () => {
    const redis = new RecordingRedis();
    const store = new RedisChannelStore(
      redis as unknown as RedisClient,
      { historySize: 1, historyTtlSeconds: 1, channelMetaTtlSeconds: 1, idempotencyWindowSeconds: 1 },
      'sb:',
    );
    for (let i = 0; i < 1000; i++) await ignore(store.history(`room-${i}`));
    const slots = new Set(redis.calls.map((c) => calculateSlot(c.keys[0])));
    // 1000 names over 16384 slots: about 970 distinct; far below that means a shared tag.
    expect(slots.size).toBeGreaterThan(900);
  });
});
