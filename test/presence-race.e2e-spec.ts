import type { CloudEvent } from '@switchboard/engine';
import { eventually, signToken, WsTestClient } from '@switchboard/testing';
import { checkLedger, ledgerOf } from '../libs/engine/src/presence/presence.conformance';
import { TestCluster } from './support/cluster';
import { PRESENCE_CHANNEL_CONFIG, readEvents } from './support/presence';

/**
 * Lifecycle events with 3 gateways racing (a bounded version of the 1,000 users for
 * 30 s): 100 users join and leave one channel at random through random gateways, by
 * unsubscribing or by dropping the connection, for a few seconds. The events on EVENTS must
 * be a ledger that replays to exactly what the store holds at the end: each transition
 * once, occupied/vacated and added/removed alternating.
 */

const USERS = 100;
const RUN_MS = 4000;
const CHANNEL = 'room:race';
jest.setTimeout(90_000);

describe('presence lifecycle with 3 gateways racing', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await TestCluster.start(3, { CHANNEL_CONFIG: PRESENCE_CHANNEL_CONFIG, PRESENCE_TTL_SECONDS: '5' });
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('puts each transition on EVENTS exactly once, and the ledger matches the final state', async () => {
    const urls = cluster.wsUrls();
    const tokens = await Promise.all(
      Array.from({ length: USERS }, (_, i) => signToken({ sub: `u${i}`, channels: ['room:*'], info: { n: i } })),
    );
    const held = new Map<number, WsTestClient[]>();
    const deadline = Date.now() + RUN_MS;
    let operations = 0;

    async function actor(i: number): Promise<void> {
      const mine: WsTestClient[] = [];
      held.set(i, mine);
      while (Date.now() < deadline) {
        // Up to two devices per user, each on a random gateway.
        if (mine.length < 2 && (mine.length === 0 || Math.random() < 0.5)) {
          const c = await WsTestClient.connect(`${urls[Math.floor(Math.random() * urls.length)]}?token=${tokens[i]}`);
          const reply = await c.request('subscribe', { channel: CHANNEL }, 10_000);
          expect(reply.op).toBe('subscribed');
          mine.push(c);
        } else {
          const c = mine.splice(Math.floor(Math.random() * mine.length), 1)[0];
          if (Math.random() < 0.5) {
            expect((await c.request('unsubscribe', { channel: CHANNEL }, 10_000)).op).toBe('unsubscribed');
          }
          c.close();
        }
        operations++;
        await new Promise((r) => setTimeout(r, Math.random() * 150));
      }
    }
    await Promise.all(Array.from({ length: USERS }, (_, i) => actor(i)));
    expect(operations).toBeGreaterThan(USERS * 5);

    // Settled: the store holds exactly the users with a device left.
    const present = [...held].filter(([, devices]) => devices.length > 0).map(([i]) => `u${i}`);
    const reader = await WsTestClient.connect(`${urls[0]}?token=${await signToken({ sub: 'reader', channels: ['room:*'] })}`);
    let final: { count: number; members: Array<{ user: string }> } = { count: -1, members: [] };
    await eventually(async () => {
      const reply = await reader.request('presence', { channel: CHANNEL });
      final = reply as unknown as typeof final;
      expect(final.members.map((m) => m.user).sort()).toEqual(present.sort());
    }, 10_000);
    expect(final.count).toBe(present.length);

    // Every transition decided so far is on EVENTS once (the outbox drains within a heartbeat).
    await eventually(async () => {
      const events = (await readEvents(cluster.nats.url)) as Array<{ subject: string; event: CloudEvent }>;
      checkLedger(ledgerOf(events, CHANNEL), {
        count: final.count,
        connections: 0,
        members: final.members.map((m) => ({ user: m.user, info: {}, connections: 1 })),
        membersJson: '',
        truncated: false,
      });
    }, 10_000);

    reader.close();
    for (const devices of held.values()) for (const c of devices) c.close();
  });
});
