import { isSwitchboardError } from '@switchboard/protocol';
import { eventually, uniqueName } from '@switchboard/testing';
import { CloudEvent, EventBus, PublishOutcome } from '../event-bus';
import { ChannelOptionsResolver } from './channel-options';
import { LifecycleEventData } from './lifecycle-events';
import { PresenceService } from './presence-service';
import { PresenceSignal, PresenceSignalBus } from './presence-signal-bus';
import { PresenceMember, PresenceSnapshot, PresenceStore, PresenceTransition } from './presence-store';

/**
 * What a backend gives the presence conformance suite: stores and signal buses on one
 * shared backend, each with its own connection (one per simulated gateway), and the event
 * bus lifecycle events go to.
 */
export interface PresenceHarness {
  createStore(): Promise<PresenceStore>;
  createSignals(): Promise<PresenceSignalBus>;
  readonly eventBus: EventBus;
  /** Every event stored on the events stream so far, in stream order. */
  events(): Promise<StoredCloudEvent[]>;
  close(): Promise<void>;
}

export type PresenceHarnessFactory = () => Promise<PresenceHarness>;

/** An event read back from the events stream. */
export interface StoredCloudEvent {
  subject: string;
  event: CloudEvent;
}

/** Reads a whole stream, page by page. */
export async function readStream(bus: EventBus, stream: string): Promise<StoredCloudEvent[]> {
  const out: StoredCloudEvent[] = [];
  const decoder = new TextDecoder();
  for (let from = 1; ;) {
    const page = await bus.read(stream, from, 500);
    for (const m of page) out.push({ subject: m.subject, event: JSON.parse(decoder.decode(m.data)) as CloudEvent });
    if (page.length < 500) return out;
    from = page[page.length - 1].seq + 1;
  }
}

/** A store a test can cut off its backend: every call fails, as for a frozen or partitioned gateway. */
export class CuttableStore implements PresenceStore {
  cut = false;
  constructor(readonly inner: PresenceStore) {}
  private guard<T>(fn: () => Promise<T>): Promise<T> {
    return this.cut ? Promise.reject(new Error('cut off the presence store')) : fn();
  }
  hold: PresenceStore['hold'] = (...a) => this.guard(() => this.inner.hold(...a));
  join: PresenceStore['join'] = (...a) => this.guard(() => this.inner.join(...a));
  leave: PresenceStore['leave'] = (...a) => this.guard(() => this.inner.leave(...a));
  release: PresenceStore['release'] = (...a) => this.guard(() => this.inner.release(...a));
  count: PresenceStore['count'] = (...a) => this.guard(() => this.inner.count(...a));
  members: PresenceStore['members'] = (...a) => this.guard(() => this.inner.members(...a));
  pending: PresenceStore['pending'] = (...a) => this.guard(() => this.inner.pending(...a));
  acknowledge: PresenceStore['acknowledge'] = (...a) => this.guard(() => this.inner.acknowledge(...a));
  heartbeat: PresenceStore['heartbeat'] = (...a) => this.guard(() => this.inner.heartbeat(...a));
  heldBy: PresenceStore['heldBy'] = (...a) => this.guard(() => this.inner.heldBy(...a));
  finishReap: PresenceStore['finishReap'] = (...a) => this.guard(() => this.inner.finishReap(...a));
  retire: PresenceStore['retire'] = (...a) => this.guard(() => this.inner.retire(...a));
  isReady = (): boolean => !this.cut && this.inner.isReady();
  close = (): Promise<void> => this.inner.close();
}

/** An event bus whose publishes fail while `failing` is set (JetStream unreachable). */
class FlakyEventBus implements EventBus {
  failing = false;
  failures = 0;
  constructor(private readonly inner: EventBus) {}
  get names(): EventBus['names'] {
    return this.inner.names;
  }
  publish(subject: string, payload: unknown, options?: { msgId?: string }): Promise<PublishOutcome> {
    if (this.failing) {
      this.failures++;
      return Promise.reject(new Error('event bus down'));
    }
    return this.inner.publish(subject, payload, options);
  }
  ensureStreams: EventBus['ensureStreams'] = () => this.inner.ensureStreams();
  consume: EventBus['consume'] = (o) => this.inner.consume(o);
  ackState: EventBus['ackState'] = (d) => this.inner.ackState(d);
  read: EventBus['read'] = (s, f, l) => this.inner.read(s, f, l);
  remove: EventBus['remove'] = (s, q) => this.inner.remove(s, q);
  isReady: EventBus['isReady'] = () => this.inner.isReady();
  close: EventBus['close'] = () => this.inner.close();
}

/** A channel's lifecycle events as recorded on the events stream. */
export interface LedgerEntry {
  type: string;
  id: string;
  seq: number;
  user?: string;
  info?: unknown;
}

/** The lifecycle events of `channel` among `events`, ordered by their transition's seq. */
export function ledgerOf(events: readonly StoredCloudEvent[], channel: string): LedgerEntry[] {
  return events
    .map((s) => s.event)
    .filter((e) => e.source === 'switchboard/gateway' && (e.data as LifecycleEventData | undefined)?.channel === channel)
    .map((e) => {
      const data = e.data as LifecycleEventData;
      return { type: e.type, id: e.id, seq: Number(e.id.slice(e.id.lastIndexOf(':') + 1)), user: data.user, info: data.info };
    })
    .sort((a, b) => a.seq - b.seq);
}

/**
 * Replays a channel's ledger and checks it against the store's final state: no event twice,
 * occupied/vacated and added/removed alternate (occupied exactly when the first member
 * arrives, vacated exactly when the last leaves), and what the ledger ends with is what the
 * store holds. Returns the members the ledger ends with.
 */
export function checkLedger(ledger: readonly LedgerEntry[], final: PresenceSnapshot): Set<string> {
  const ids = new Set(ledger.map((e) => e.id));
  expect(ids.size).toBe(ledger.length);
  const members = new Set<string>();
  let occupied = false;
  for (const e of ledger) {
    switch (e.type) {
      case 'switchboard.channel.occupied':
        expect({ at: e.seq, occupied, members: members.size }).toEqual({ at: e.seq, occupied: false, members: 0 });
        occupied = true;
        break;
      case 'switchboard.member.added':
        expect({ at: e.seq, occupied, present: members.has(e.user!) }).toEqual({ at: e.seq, occupied: true, present: false });
        members.add(e.user!);
        break;
      case 'switchboard.member.removed':
        expect({ at: e.seq, present: members.has(e.user!) }).toEqual({ at: e.seq, present: true });
        members.delete(e.user!);
        break;
      case 'switchboard.channel.vacated':
        expect({ at: e.seq, occupied, members: members.size }).toEqual({ at: e.seq, occupied: true, members: 0 });
        occupied = false;
        break;
      default:
        throw new Error(`unexpected event type ${e.type}`);
    }
  }
  expect(occupied).toBe(final.count > 0);
  expect([...members].sort()).toEqual(final.members.map((m) => m.user).sort());
  return members;
}

const ALL_ON = { presence: true, joinLeave: true, lifecycleEvents: true };
const RULES = [
  { match: 'all:*', ...ALL_ON },
  { match: 'query:*', presence: true },
  { match: 'signals:*', joinLeave: true },
];

/**
 * TTL of the suite's gateways: short enough for quick crash tests, long enough that a
 * live gateway starved of CPU for a second or two on a busy machine keeps its lease.
 */
const TTL_MS = 4000;
/** TTL of gateways in tests that never wait for an expiry. */
const LONG_TTL_MS = 60_000;

const member = (user: string, info: Record<string, unknown> = {}): PresenceMember => ({ user, info });
const NOW = { outbox: false, at: 0 };
const KEEP = { outbox: true, at: 0 };

function types(ts: readonly PresenceTransition[]): string[] {
  return ts.map((t) => t.type + (t.user === undefined ? '' : ' ' + t.user));
}

/**
 * The presence contract, run unchanged against every backend (`memory-presence.spec.ts`,
 * `nats-redis-presence.int-spec.ts`): the store's atomic transitions, leases and outbox,
 * then the service on several simulated gateways (signals, lifecycle events, a gateway cut
 * off, a stalled one coming back, 1,000 users racing).
 */
export function describePresenceConformance(name: string, factory: PresenceHarnessFactory): void {
  describe(`presence store conformance: ${name}`, () => {
    let h: PresenceHarness;
    let store: PresenceStore;
    beforeAll(async () => {
      h = await factory();
      store = await h.createStore();
    });
    afterAll(async () => {
      await h.close();
    });

    it('decides occupied and added on a first connection, nothing on a second device', async () => {
      const c = 'all:a:' + uniqueName('c');
      expect(types(await store.join('h1', c, 'c1', member('alice', { name: 'Alice' }), NOW))).toEqual([
        'channel.occupied',
        'member.added alice',
      ]);
      expect(types(await store.join('h1', c, 'c2', member('bob'), NOW))).toEqual(['member.added bob']);
      // Alice's second device, on another gateway: one member, two connections.
      expect(await store.join('h2', c, 'c1', member('alice', { name: 'other' }), NOW)).toEqual([]);
      expect(await store.count(c)).toEqual({ count: 2, connections: 3 });
      const snapshot = await store.members(c, 10);
      expect(snapshot.truncated).toBe(false);
      expect(snapshot.members.sort((a, b) => a.user.localeCompare(b.user))).toEqual([
        { user: 'alice', info: { name: 'Alice' }, connections: 2 },
        { user: 'bob', info: {}, connections: 1 },
      ]);
    });

    it('decides removed on the last connection of a user and vacated on the last member', async () => {
      const c = 'all:b:' + uniqueName('c');
      await store.join('h1', c, 'c1', member('alice'), NOW);
      await store.join('h2', c, 'c9', member('alice'), NOW);
      await store.join('h1', c, 'c2', member('bob'), NOW);
      expect(await store.leave('h1', c, 'c1', NOW)).toEqual([]);
      expect(await store.count(c)).toEqual({ count: 2, connections: 2 });
      expect(types(await store.leave('h2', c, 'c9', NOW))).toEqual(['member.removed alice']);
      expect(types(await store.leave('h1', c, 'c2', NOW))).toEqual(['member.removed bob', 'channel.vacated']);
      expect(await store.members(c, 10)).toEqual({ count: 0, connections: 0, members: [], membersJson: '[]', truncated: false });
    });

    it('is idempotent: a repeated join or leave decides nothing, a connection is per holder', async () => {
      const c = 'all:c:' + uniqueName('c');
      await store.join('h1', c, 'c1', member('alice'), NOW);
      expect(await store.join('h1', c, 'c1', member('alice'), NOW)).toEqual([]);
      expect(await store.count(c)).toEqual({ count: 1, connections: 1 });
      expect(await store.leave('h2', c, 'c1', NOW)).toEqual([]);
      expect(await store.leave('h1', c, 'unknown', NOW)).toEqual([]);
      expect(types(await store.leave('h1', c, 'c1', NOW))).toEqual(['member.removed alice', 'channel.vacated']);
      expect(await store.leave('h1', c, 'c1', NOW)).toEqual([]);
    });

    it('returns each transition to exactly one of several concurrent removers', async () => {
      const c = 'all:d:' + uniqueName('c');
      const users = Array.from({ length: 100 }, (_, i) => `u${i}`);
      for (const u of users) await store.join('dead', c, u, member(u), NOW);
      const removers = [store, await h.createStore(), await h.createStore()];
      const results = await Promise.all(users.flatMap((u) => removers.map((s) => s.leave('dead', c, u, NOW))));
      const all = results.flat();
      expect(
        all
          .filter((t) => t.type === 'member.removed')
          .map((t) => t.user)
          .sort(),
      ).toEqual([...users].sort());
      expect(all.filter((t) => t.type === 'channel.vacated')).toHaveLength(1);
      expect(all).toHaveLength(101);
    });

    it('counts exactly and caps the member list, flagging it truncated', async () => {
      const c = 'all:e:' + uniqueName('c');
      for (let i = 0; i < 300; i++) await store.join('h1', c, `c${i}`, member(`u${i % 250}`, { i: i % 250 }), NOW);
      expect(await store.count(c)).toEqual({ count: 250, connections: 300 });
      const capped = await store.members(c, 40);
      expect(capped).toMatchObject({ count: 250, connections: 300, truncated: true });
      expect(new Set(capped.members.map((m) => m.user)).size).toBe(40);
      for (const m of capped.members) {
        const i = Number(m.user.slice(1));
        expect(m).toEqual({ user: m.user, info: { i }, connections: i < 50 ? 2 : 1 });
      }
      expect(JSON.parse(capped.membersJson)).toEqual(capped.members);
      const all = await store.members(c, 1000);
      expect(all.truncated).toBe(false);
      expect(all.members).toHaveLength(250);
      expect(await store.members(c, 0)).toEqual({ count: 250, connections: 300, members: [], membersJson: '[]', truncated: true });
    });

    it('keeps users and info exactly: precision, empty arrays, quotes and unicode', async () => {
      const c = 'all:f:' + uniqueName('c');
      const user = 'Zoë "the \\ user"\n✓';
      const info = {
        id: 1234567890123456,
        ratio: 0.1,
        tags: [],
        nested: { a: [], b: {} },
        name: 'q"\u2028',
        neg: -1e-7,
        ok: true,
        none: null,
      };
      const decided = await store.join('h1', c, 'c1', member(user, info), KEEP);
      expect(decided[1]).toMatchObject({ type: 'member.added', user, info });
      const snapshot = await store.members(c, 10);
      expect(snapshot.members).toEqual([{ user, info, connections: 1 }]);
      expect(JSON.parse(snapshot.membersJson)).toEqual([{ user, info, connections: 1 }]);
      expect((await store.pending(c)).find((t) => t.type === 'member.added')).toMatchObject({ user, info });
      const removed = await store.leave('h1', c, 'c1', KEEP);
      expect(removed[0]).toMatchObject({ type: 'member.removed', user });
    });

    it('orders a channel by seq, also across a vacate and a new occupation, with unique ids', async () => {
      const c = 'all:g:' + uniqueName('c');
      const all: PresenceTransition[] = [];
      for (let round = 0; round < 3; round++) {
        all.push(...(await store.join('h1', c, 'c1', member('a'), NOW)));
        all.push(...(await store.join('h1', c, 'c2', member('b'), NOW)));
        all.push(...(await store.leave('h1', c, 'c1', NOW)));
        all.push(...(await store.leave('h1', c, 'c2', NOW)));
      }
      expect(all).toHaveLength(18);
      expect(new Set(all.map((t) => t.epoch)).size).toBe(1);
      const seqs = all.map((t) => t.seq);
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      expect(new Set(seqs).size).toBe(18);
    });

    it('keeps transitions in the outbox only when asked, until acknowledged', async () => {
      const c = 'all:h:' + uniqueName('c');
      await store.join('h1', c, 'c0', member('quiet'), { outbox: false, at: 5 });
      expect(await store.pending(c)).toEqual([]);
      const kept = await store.join('h1', c, 'c1', member('alice', { x: 1 }), { outbox: true, at: 1700000000123 });
      const left = await store.leave('h1', c, 'c1', { outbox: true, at: 1700000000456 });
      const pending = await store.pending(c);
      expect(pending).toEqual([...kept, ...left]);
      expect(pending[0]).toMatchObject({ type: 'member.added', user: 'alice', info: { x: 1 }, at: 1700000000123 });
      await store.acknowledge(c, [pending[0].seq]);
      expect(await store.pending(c)).toEqual(left);
      await store.acknowledge(c, [pending[0].seq, ...left.map((t) => t.seq)]);
      expect(await store.pending(c)).toEqual([]);
    });

    it('keeps a holder index: hold, page, release, retire', async () => {
      const holder = uniqueName('holder');
      const c = 'all:i:' + uniqueName('c');
      for (let i = 0; i < 10; i++) await store.hold(holder, c, `conn ${i}`);
      await store.hold(holder, c, 'conn 0');
      const page = await store.heldBy(holder, 4);
      expect(page).toHaveLength(4);
      const everything = await store.heldBy(holder, 100);
      expect(everything.map((e) => e.connection).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `conn ${i}`).sort());
      expect(everything.every((e) => e.channel === c)).toBe(true);
      await store.release(holder, everything.slice(0, 6));
      expect(await store.heldBy(holder, 100)).toHaveLength(4);
      await store.retire(holder);
      expect(await store.heldBy(holder, 100)).toEqual([]);
    });

    it('hands an expired lease to exactly one of several claimers, and never back to its holder', async () => {
      const dead = uniqueName('dead');
      const claimers = [store, await h.createStore(), await h.createStore()];
      const live = claimers.map(() => uniqueName('live'));
      await store.heartbeat(dead, { leaseMs: 200, claimMs: 60_000, claimLimit: 0, register: true });
      await Promise.all(live.map((l, i) => claimers[i].heartbeat(l, { leaseMs: 60_000, claimMs: 60_000, claimLimit: 0, register: true })));
      expect((await store.heartbeat(dead, { leaseMs: 200, claimMs: 60_000, claimLimit: 0 })).leased).toBe(true);
      const claims: string[][] = [];
      await eventually(async () => {
        const round = await Promise.all(
          claimers.map((s, i) => s.heartbeat(live[i], { leaseMs: 60_000, claimMs: 60_000, claimLimit: 100 })),
        );
        for (const r of round) {
          expect(r.leased).toBe(true);
          claims.push(r.claimed.filter((x) => x === dead || live.includes(x)));
        }
        expect(claims.flat()).toContain(dead);
      }, 5000);
      expect(claims.flat()).toEqual([dead]);
      expect(await store.heartbeat(dead, { leaseMs: 200, claimMs: 60_000, claimLimit: 0 })).toEqual({ leased: false, claimed: [] });
      await store.finishReap(dead);
      await Promise.all(live.map((l, i) => claimers[i].retire(l)));
    });

    it('hands a holder whose reaper did not finish to the next claimer after the claim ends', async () => {
      const dead = uniqueName('dead');
      const me = uniqueName('live');
      await store.heartbeat(dead, { leaseMs: 1, claimMs: 1, claimLimit: 0, register: true });
      await store.heartbeat(me, { leaseMs: 60_000, claimMs: 60_000, claimLimit: 0, register: true });
      const seen: string[] = [];
      await eventually(async () => {
        const r = await store.heartbeat(me, { leaseMs: 60_000, claimMs: 150, claimLimit: 100 });
        seen.push(...r.claimed.filter((x) => x === dead));
        expect(seen.length).toBeGreaterThanOrEqual(2);
      }, 5000);
      await store.finishReap(dead);
      await store.retire(me);
    });
  });

  describe(`presence service conformance: ${name}`, () => {
    let h: PresenceHarness;
    const gateways: Array<{ service: PresenceService; store: CuttableStore }> = [];

    async function gateway(eventBus?: EventBus, ttlMs = TTL_MS): Promise<(typeof gateways)[number]> {
      const store = new CuttableStore(await h.createStore());
      const service = new PresenceService(store, await h.createSignals(), eventBus ?? h.eventBus, {
        ttlMs,
        maxMembers: 100,
        channels: new ChannelOptionsResolver(RULES),
        name: 'test',
      });
      await service.start();
      const g = { service, store };
      gateways.push(g);
      return g;
    }

    /** Records what one gateway's listener receives. */
    async function listen(service: PresenceService, channel: string): Promise<{ got: PresenceSignal[]; close(): void }> {
      const got: PresenceSignal[] = [];
      const l = await service.listen(channel, (s) => got.push(s));
      return { got, close: () => l.close() };
    }

    async function ledger(channel: string): Promise<LedgerEntry[]> {
      return ledgerOf(await h.events(), channel);
    }

    beforeAll(async () => {
      h = await factory();
    });
    afterAll(async () => {
      for (const g of gateways) {
        g.store.cut = false;
        await g.service.close();
      }
      await h.close();
    });

    it('tells listeners on every gateway of first and last connections only', async () => {
      const [a, b] = [await gateway(), await gateway()];
      const c = 'signals:room:' + uniqueName('c');
      const onA = await listen(a.service, c);
      const onB = await listen(b.service, c);
      await b.service.join(c, 'b1', member('alice', { role: 'host' }));
      await a.service.join(c, 'a1', member('alice', { role: 'host' }));
      await a.service.join(c, 'a2', member('bob'));
      await b.service.leave(c, 'b1');
      await a.service.leaveAll('a1');
      await a.service.leaveAll('a2');
      const expected = [
        '{"op":"join","channel":"' + c + '","user":"alice","info":{"role":"host"}}',
        '{"op":"join","channel":"' + c + '","user":"bob","info":{}}',
        '{"op":"leave","channel":"' + c + '","user":"alice"}',
        '{"op":"leave","channel":"' + c + '","user":"bob"}',
      ];
      for (const l of [onA, onB]) await eventually(() => expect(l.got.map((s) => s.json)).toEqual(expected));
      expect(onA.got[0]).toMatchObject({ op: 'join', channel: c, user: 'alice', info: { role: 'host' } });
      onA.close();
      await b.service.join(c, 'b2', member('carol'));
      await eventually(() => expect(onB.got).toHaveLength(5));
      expect(onA.got).toHaveLength(4);
      onB.close();
      // Channel without join/leave: nothing is announced, and presence is not queryable.
      const quiet = 'query:room:' + uniqueName('c');
      const onQuiet = await listen(a.service, quiet);
      await b.service.join(quiet, 'b1', member('alice'));
      expect(await a.service.count(quiet)).toEqual({ count: 1, connections: 1 });
      await expect(a.service.count(c)).rejects.toMatchObject({ code: 'not_found' });
      await b.service.leave(quiet, 'b1');
      await b.service.leave(c, 'b2');
      expect(onQuiet.got).toEqual([]);
    });

    it('publishes each transition as a CloudEvent on EVENTS once, only for channels with lifecycle events', async () => {
      const [a, b] = [await gateway(), await gateway()];
      const c = 'all:room:' + uniqueName('c');
      const off = 'signals:room:' + uniqueName('c');
      await a.service.join(c, 'a1', member('alice', { n: 1 }));
      await b.service.join(c, 'b1', member('alice', { n: 1 }));
      await a.service.join(off, 'a1', member('alice'));
      await a.service.leave(c, 'a1');
      await b.service.leave(c, 'b1');
      await a.service.leave(off, 'a1');
      const stored = (await h.events()).filter((s) => [c, off].includes((s.event.data as LifecycleEventData).channel));
      const prefix = h.eventBus.names.eventsSubjectPrefix;
      expect(stored.map((s) => [s.event.type, s.subject])).toEqual([
        ['switchboard.channel.occupied', `${prefix}.switchboard.channel.occupied`],
        ['switchboard.member.added', `${prefix}.switchboard.member.added`],
        ['switchboard.member.removed', `${prefix}.switchboard.member.removed`],
        ['switchboard.channel.vacated', `${prefix}.switchboard.channel.vacated`],
      ]);
      const events = stored.map((s) => s.event);
      const added = events[1];
      expect(added).toEqual({
        specversion: '1.0',
        id: expect.stringMatching(new RegExp(`^presence:${c}:[^:]+:\\d+$`)),
        source: 'switchboard/gateway',
        type: 'switchboard.member.added',
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        datacontenttype: 'application/json',
        data: { channel: c, user: 'alice', info: { n: 1 } },
      });
      expect(events[0].data).toEqual({ channel: c });
      expect(events[2].data).toEqual({ channel: c, user: 'alice' });
      expect(events[3].data).toEqual({ channel: c });
    });

    it('answers queries with exact counts and a capped list; refuses channels without presence', async () => {
      const g = await gateway();
      const c = 'all:big:' + uniqueName('c');
      for (let i = 0; i < 150; i++) await g.service.join(c, `c${i}`, member(`u${i % 120}`));
      expect(await g.service.count(c)).toEqual({ count: 120, connections: 150 });
      const snapshot = await g.service.query(c);
      expect(snapshot).toMatchObject({ count: 120, connections: 150, truncated: true });
      expect(snapshot.members).toHaveLength(100);
      expect((await g.service.query(c, 5)).members).toHaveLength(5);
      const noPresence = 'signals:x:' + uniqueName('c');
      await expect(g.service.query(noPresence)).rejects.toMatchObject({ code: 'not_found' });
      await expect(g.service.join(c, 'bad', member('u', { big: 'x'.repeat(1100) }))).rejects.toMatchObject({ code: 'bad_request' });
      await expect(g.service.join(c, 'bad', { user: 'u', info: [] as unknown as Record<string, unknown> })).rejects.toMatchObject({
        code: 'bad_request',
      });
      for (let i = 0; i < 150; i++) await g.service.leave(c, `c${i}`);
      expect(await g.service.count(c)).toEqual({ count: 0, connections: 0 });
    });

    it("removes a dead gateway's members within the TTL: removed once each, vacated only after the last member anywhere", async () => {
      const [alive, dead] = [await gateway(), await gateway()];
      const c = 'all:crash:' + uniqueName('c');
      const onAlive = await listen(alive.service, c);
      for (let i = 0; i < 20; i++) await dead.service.join(c, `d${i}`, member(`dead-${i}`));
      // Shared users: connected through both gateways, they stay members.
      for (let i = 0; i < 5; i++) {
        await dead.service.join(c, `s${i}`, member(`shared-${i}`));
        await alive.service.join(c, `s${i}`, member(`shared-${i}`));
      }
      await alive.service.join(c, 'a0', member('alive-0'));
      expect(await alive.service.count(c)).toEqual({ count: 26, connections: 31 });

      dead.store.cut = true; // from here on it cannot renew, write or leave: as if it died
      const cutAt = Date.now();
      await eventually(async () => expect(await alive.service.count(c)).toEqual({ count: 6, connections: 6 }), TTL_MS + 5000, 50);
      // The reaper removes first, then publishes: the events follow within the same bound.
      const removed = (entries: LedgerEntry[]): string[] =>
        entries.filter((e) => e.type === 'switchboard.member.removed').map((e) => e.user!);
      await eventually(async () => expect(removed(await ledger(c))).toHaveLength(20), TTL_MS + 5000 - (Date.now() - cutAt), 50);
      expect(Date.now() - cutAt).toBeLessThan(TTL_MS + 5000);
      const afterCrash = await ledger(c);
      expect(removed(afterCrash).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `dead-${i}`).sort());
      expect(afterCrash.filter((e) => e.type === 'switchboard.channel.vacated')).toEqual([]);
      await eventually(() => expect(onAlive.got.filter((s) => s.op === 'leave')).toHaveLength(20));

      await alive.service.leaveAll('a0');
      for (let i = 0; i < 5; i++) await alive.service.leave(c, `s${i}`);
      const final = await ledger(c);
      expect(final.filter((e) => e.type === 'switchboard.channel.vacated')).toHaveLength(1);
      checkLedger(final, await alive.service.query(c));
      onAlive.close();
      // Closed while still cut off: it cannot leave anything, so nothing changes.
      await dead.service.close();
      expect(await ledger(c)).toEqual(final);
    });

    it('a gateway that stalled past its lease writes its members again under a new holder', async () => {
      const [other, stalled] = [await gateway(), await gateway()];
      const c = 'all:zombie:' + uniqueName('c');
      await stalled.service.join(c, 'z1', member('zed', { v: 1 }));
      const firstHolder = stalled.service.holderId;
      stalled.store.cut = true;
      await eventually(async () => expect(await other.service.count(c)).toEqual({ count: 0, connections: 0 }), TTL_MS + 5000, 50);
      stalled.store.cut = false;
      await eventually(async () => expect(await other.service.count(c)).toEqual({ count: 1, connections: 1 }), TTL_MS + 5000, 50);
      expect(stalled.service.holderId).not.toBe(firstHolder);
      await stalled.service.leave(c, 'z1');
      const entries = await ledger(c);
      expect(entries.map((e) => e.type + ' ' + (e.user ?? ''))).toEqual([
        'switchboard.channel.occupied ',
        'switchboard.member.added zed',
        'switchboard.member.removed zed',
        'switchboard.channel.vacated ',
        'switchboard.channel.occupied ',
        'switchboard.member.added zed',
        'switchboard.member.removed zed',
        'switchboard.channel.vacated ',
      ]);
      expect(await other.service.count(c)).toEqual({ count: 0, connections: 0 });
    });

    it('delivers lifecycle events held back by an event bus outage exactly once when it returns', async () => {
      const flaky = new FlakyEventBus(h.eventBus);
      const g = await gateway(flaky);
      const c = 'all:outage:' + uniqueName('c');
      flaky.failing = true;
      await g.service.join(c, 'c1', member('alice'));
      await g.service.join(c, 'c2', member('bob'));
      await g.service.leave(c, 'c1');
      expect(flaky.failures).toBeGreaterThan(0);
      expect(await ledger(c)).toEqual([]);
      flaky.failing = false;
      await eventually(async () => expect((await ledger(c)).length).toBe(4), TTL_MS * 2);
      await g.service.leave(c, 'c2');
      // Delivered at once, or after the drain that was still finishing: either way, once.
      await eventually(async () => expect((await ledger(c)).length).toBe(6), TTL_MS * 2);
      checkLedger(await ledger(c), await g.service.query(c));
    });

    it('1,000 users joining and leaving at random on 3 gateways: the ledger matches the final state', async () => {
      // Nothing here waits for an expiry: a lease lapsing on a starved machine would only add reaps.
      const gs = [await gateway(undefined, LONG_TTL_MS), await gateway(undefined, LONG_TTL_MS), await gateway(undefined, LONG_TTL_MS)];
      const c = 'all:race:' + uniqueName('c');
      const views = await Promise.all(gs.map((g) => listen(g.service, c)));
      let decided = 0;
      for (const g of gs) g.service.onTransition((t) => (decided += t.channel === c ? 1 : 0));
      const joined = new Set<string>(); // `<gateway> <connection>`
      const users = 1000;
      let ops = 0;
      const worker = async (seed: number): Promise<void> => {
        let x = seed;
        const next = (n: number): number => {
          x = (x * 1103515245 + 12345) % 2147483648;
          return x % n;
        };
        for (let i = 0; i < 600; i++) {
          const gi = next(3);
          const u = next(users);
          const conn = `${u}-${next(2)}`;
          const key = `${gi} ${conn}`;
          ops++;
          // The key's state changes synchronously with the call, so workers never disagree.
          if (joined.has(key)) {
            joined.delete(key);
            await gs[gi].service.leave(c, conn);
          } else {
            joined.add(key);
            await gs[gi].service.join(c, conn, member(`user-${u}`, { u }));
          }
        }
      };
      await Promise.all(Array.from({ length: 8 }, (_, i) => worker(i * 7919 + 1)));
      expect(ops).toBe(4800);

      const final = await gs[0].service.query(c, 100);
      const expectedUsers = new Map<string, number>();
      for (const key of joined) {
        const u = `user-${key.split(' ')[1].split('-')[0]}`;
        expectedUsers.set(u, (expectedUsers.get(u) ?? 0) + 1);
      }
      expect({ count: final.count, connections: final.connections }).toEqual({ count: expectedUsers.size, connections: joined.size });
      const full = await gs[0].store.inner.members(c, 10_000);
      expect(new Map(full.members.map((m) => [m.user, m.connections]))).toEqual(expectedUsers);

      // Exactly once: every transition decided anywhere is on EVENTS, none twice (checkLedger).
      const entries = await ledger(c);
      expect(entries).toHaveLength(decided);
      checkLedger(entries, full);
      // Every gateway's listener, replaying join/leave, ends with the same members.
      for (const view of views) {
        await eventually(() => {
          const present = new Set<string>();
          for (const s of view.got) {
            if (s.op === 'join') present.add(s.user);
            else present.delete(s.user);
          }
          expect([...present].sort()).toEqual([...expectedUsers.keys()].sort());
        });
        view.close();
      }
      for (const key of joined) {
        const [gi, conn] = key.split(' ');
        await gs[Number(gi)].service.leave(c, conn);
      }
      expect(await gs[1].service.count(c)).toEqual({ count: 0, connections: 0 });
    }, 120_000);

    it('refuses joins after close and answers unavailable when the store is cut off', async () => {
      const g = await gateway();
      const c = 'all:closed:' + uniqueName('c');
      g.store.cut = true;
      const failed = await g.service.join(c, 'c1', member('alice')).catch((err: unknown) => err);
      expect(isSwitchboardError(failed, 'unavailable')).toBe(true);
      await expect(g.service.count(c)).rejects.toMatchObject({ code: 'unavailable' });
      g.store.cut = false;
      // The refused join is kept and written on a later heartbeat.
      await eventually(async () => expect(await g.service.count(c)).toEqual({ count: 1, connections: 1 }), TTL_MS * 2);
      await g.service.close();
      expect(await gateways[0].service.count(c)).toEqual({ count: 0, connections: 0 });
      await expect(g.service.join(c, 'c2', member('bob'))).rejects.toMatchObject({ code: 'unavailable' });
    });
  });
}
