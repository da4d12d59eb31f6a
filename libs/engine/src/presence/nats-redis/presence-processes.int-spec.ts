import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { eventually, requireSharedServers, uniqueName } from '@switchboard/testing';
import { build } from 'esbuild';
import type { Redis } from 'ioredis';
import { ChildProcess, fork } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { connectNats, connectRedis } from '../../nats-redis/connections';
import { JetStreamEventBus } from '../../nats-redis/jetstream-event-bus';
import { NatsHealth } from '../../nats-redis/nats-health';
import { ChannelOptionsResolver } from '../channel-options';
import { PresenceService } from '../presence-service';
import { PresenceSignal } from '../presence-signal-bus';
import { checkLedger, LedgerEntry, ledgerOf, readStream } from '../presence.conformance';
import { NatsPresenceSignalBus } from './nats-presence-signal-bus';
import type { PresenceWorkerConfig, PresenceWorkerMessage, PresenceWorkerRequest, RaceResult } from './presence-worker';
import { RedisPresenceStore } from './redis-presence-store';

/**
 * Presence across real processes on the shared NATS and Redis: gateways (presence-worker.ts,
 * bundled with esbuild and forked) SIGKILLed mid-way, their members reaped by the others.
 */

const ROOT = join(__dirname, '..', '..', '..', '..', '..');
const TTL_MS = 4000;
const RULES = [{ match: 'all:*', presence: true, joinLeave: true, lifecycleEvents: true }];

type Request = PresenceWorkerRequest extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never;

/** A gateway process. */
class Worker {
  progress = 0;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly exited: Promise<void>;
  private output = '';

  private constructor(readonly child: ChildProcess) {
    child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
    child.on('message', (m: PresenceWorkerMessage) => {
      if ('progress' in m) this.progress = m.progress;
      if (!('id' in m)) return;
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (m.ok) w?.resolve(m.value);
      else w?.reject(new Error(m.error));
    });
    this.exited = new Promise((resolve) =>
      child.once('exit', () => {
        for (const w of this.waiting.values()) w.reject(new Error(`worker exited: ${this.output.slice(-500)}`));
        this.waiting.clear();
        resolve();
      }),
    );
  }

  static async start(bundle: string, config: PresenceWorkerConfig): Promise<Worker> {
    const child = fork(bundle, [], {
      execPath: process.execPath,
      env: { PATH: process.env.PATH, PRESENCE_WORKER: JSON.stringify(config) },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const worker = new Worker(child);
    await new Promise<void>((resolve, reject) => {
      child.on('message', (m: PresenceWorkerMessage) => {
        if ('ready' in m) resolve();
      });
      child.once('exit', (code) => reject(new Error(`worker exited (${code}): ${worker.output}`)));
    });
    return worker;
  }

  request<T = unknown>(request: Request): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ ...request, id });
    });
  }

  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    await this.request({ op: 'close' }).catch(() => undefined);
    await this.kill();
  }
}

describe('presence across gateway processes', () => {
  let bundle: string;
  let config: PresenceWorkerConfig;
  let nc: NatsConnection;
  let redis: Redis;
  let eventBus: JetStreamEventBus;
  let store: RedisPresenceStore;
  const services: PresenceService[] = [];
  const connections: Array<{ close(): Promise<unknown> }> = [];
  const workers: Worker[] = [];

  beforeAll(async () => {
    const { natsUrl, redisUrl } = await requireSharedServers();
    const dir = join(ROOT, 'node_modules', '.cache', 'switchboard-tests');
    mkdirSync(dir, { recursive: true });
    bundle = join(dir, `presence-worker-${process.pid}.cjs`);
    // Dependencies stay external: the bundle sits under node_modules/ and finds them there.
    await build({
      entryPoints: [join(__dirname, 'presence-worker.ts')],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node22',
      packages: 'external',
      tsconfig: join(ROOT, 'tsconfig.json'),
      outfile: bundle,
      logLevel: 'warning',
    });
    const id = uniqueName('prp').replace(/-/g, '_');
    config = {
      natsUrl,
      redisUrl,
      keyPrefix: `${id}:`,
      subjectPrefix: id,
      names: { eventsStream: `EV_${id}`, eventsSubjectPrefix: `${id}.ev`, dlqStream: `DLQ_${id}`, dlqSubjectPrefix: `${id}.dlq` },
      ttlMs: TTL_MS,
      rules: RULES,
    };
    [nc, redis] = await Promise.all([connectNats(natsUrl, 'presence-test', 5000), connectRedis(redisUrl, 'presence-test', 5000)]);
    eventBus = await JetStreamEventBus.create(
      nc,
      new NatsHealth(nc),
      { eventsMaxAgeSeconds: 3600, duplicateWindowSeconds: 120, dlqMaxAgeSeconds: 3600 },
      config.names,
    );
    await eventBus.ensureStreams();
    store = new RedisPresenceStore(redis, { keyPrefix: config.keyPrefix });
  });

  afterAll(async () => {
    for (const w of workers) await w.close();
    for (const s of services) await s.close();
    for (const c of connections) await c.close();
    const jsm = await jetstreamManager(nc);
    for (const stream of [config.names.eventsStream, config.names.dlqStream]) await jsm.streams.delete(stream).catch(() => undefined);
    await nc.close();
    const keys = await redis.keys(config.keyPrefix + '*');
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    rmSync(bundle, { force: true });
  });

  /** A gateway in this process, on its own connections. */
  async function localGateway(): Promise<PresenceService> {
    const [gnc, gredis] = await Promise.all([
      connectNats(config.natsUrl, 'presence-test', 5000),
      connectRedis(config.redisUrl, 'presence-test', 5000),
    ]);
    connections.push(gnc, { close: () => Promise.resolve(gredis.disconnect()) });
    const service = new PresenceService(
      new RedisPresenceStore(gredis, { keyPrefix: config.keyPrefix }),
      new NatsPresenceSignalBus(gnc, new NatsHealth(gnc), config.subjectPrefix),
      eventBus,
      { ttlMs: TTL_MS, maxMembers: 1000, channels: new ChannelOptionsResolver(RULES), name: 'local' },
    );
    await service.start();
    services.push(service);
    return service;
  }

  async function worker(): Promise<Worker> {
    const w = await Worker.start(bundle, config);
    workers.push(w);
    return w;
  }

  const ledger = async (channel: string): Promise<LedgerEntry[]> =>
    ledgerOf(await readStream(eventBus, config.names.eventsStream), channel);

  it('SIGKILL one of two gateways holding a channel: its members leave within TTL + 5 s, removed once each, no vacated', async () => {
    const killed = await worker();
    const alive = await localGateway();
    const c = 'all:crash:' + uniqueName('c');
    const signals: PresenceSignal[] = [];
    const listener = await alive.listen(c, (s) => signals.push(s));
    for (let i = 0; i < 20; i++) await killed.request({ op: 'join', channel: c, connection: `k${i}`, user: `gone-${i}`, info: { i } });
    for (let i = 0; i < 5; i++) {
      await killed.request({ op: 'join', channel: c, connection: `s${i}`, user: `shared-${i}`, info: {} });
      await alive.join(c, `s${i}`, { user: `shared-${i}`, info: {} });
    }
    await alive.join(c, 'a0', { user: 'stays', info: {} });
    expect(await alive.count(c)).toEqual({ count: 26, connections: 31 });

    await killed.kill();
    const killedAt = Date.now();
    const bound = TTL_MS + 5000;
    await eventually(async () => expect(await alive.count(c)).toEqual({ count: 6, connections: 6 }), bound, 50);
    const removed = (entries: LedgerEntry[]): string[] =>
      entries.filter((e) => e.type === 'switchboard.member.removed').map((e) => e.user!);
    await eventually(async () => expect(removed(await ledger(c))).toHaveLength(20), bound - (Date.now() - killedAt), 50);
    expect(Date.now() - killedAt).toBeLessThan(bound);
    const afterKill = await ledger(c);
    expect(removed(afterKill).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `gone-${i}`).sort());
    expect(afterKill.filter((e) => e.type === 'switchboard.channel.vacated')).toEqual([]);
    await eventually(() => expect(signals.filter((s) => s.op === 'leave').map((s) => s.user)).toHaveLength(20));

    await alive.leave(c, 'a0');
    for (let i = 0; i < 5; i++) await alive.leave(c, `s${i}`);
    const final = await ledger(c);
    expect(final.filter((e) => e.type === 'switchboard.channel.vacated')).toHaveLength(1);
    checkLedger(final, await alive.query(c));
    listener.close();
  }, 60_000);

  it('3 gateway processes race 1,000 users, one is SIGKILLed mid-race: every transition lands on EVENTS exactly once', async () => {
    const gateways = [await worker(), await worker(), await worker()];
    const observer = await localGateway();
    const c = 'all:race:' + uniqueName('c');
    const signals: PresenceSignal[] = [];
    const listener = await observer.listen(c, (s) => signals.push(s));
    const ops = 2000;
    const runs = gateways.map((g, i) =>
      g.request<RaceResult>({ op: 'race', channel: c, users: 1000, ops, seed: i * 7919 + 1, concurrency: 8 }),
    );
    const victim = gateways[2];
    const victimRun = runs[2].catch((err: Error) => err);
    await eventually(() => expect(victim.progress).toBeGreaterThanOrEqual(ops / 2), 60_000, 10);
    await victim.kill();
    expect(await victimRun).toBeInstanceOf(Error);
    const survivors = await Promise.all(runs.slice(0, 2));

    // What the survivors hold is all that may remain once the victim's lease expired.
    const expected = new Map<string, number>();
    for (const r of survivors) for (const [, user] of r.joined) expected.set(user, (expected.get(user) ?? 0) + 1);
    const connections = survivors.reduce((n, r) => n + r.joined.length, 0);
    await eventually(async () => expect(await observer.count(c)).toEqual({ count: expected.size, connections }), TTL_MS + 5000, 50);
    const final = await store.members(c, 10_000);
    expect(new Map(final.members.map((m) => [m.user, m.connections]))).toEqual(expected);

    // Exactly once: the channel's counter says how many transitions were decided, in any
    // process (the victim's included); EVENTS holds each seq 1..N once.
    const decided = Number(await redis.hget(store.channelKeys(c)[2], 's'));
    expect(decided).toBeGreaterThan(survivors.reduce((n, r) => n + r.decided, 0));
    await eventually(async () => expect((await ledger(c)).length).toBeGreaterThanOrEqual(decided), 10_000, 100);
    const entries = await ledger(c);
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: decided }, (_, i) => i + 1));
    checkLedger(entries, final);

    // Every join/leave reached the observer: replaying them ends with the same members.
    await eventually(() => {
      const present = new Set<string>();
      for (const s of signals) {
        if (s.op === 'join') present.add(s.user);
        else present.delete(s.user);
      }
      expect([...present].sort()).toEqual([...expected.keys()].sort());
    });
    listener.close();
    for (const g of gateways.slice(0, 2)) await g.close();
    expect(await observer.count(c)).toEqual({ count: 0, connections: 0 });
  }, 120_000);
});
