import { isSwitchboardError, SwitchboardError } from '@switchboard/protocol';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { EngineLogger, noopLogger } from '../engine-options';
import { EventBus } from '../event-bus';
import { BusListener } from '../fanout-bus';
import { ChannelOptions, ChannelOptionsResolver, tracksPresence } from './channel-options';
import { lifecycleEvent, lifecycleSubject } from './lifecycle-events';
import { PresenceSignal, PresenceSignalBus, signalOf } from './presence-signal-bus';
import {
  HeldEntry,
  PresenceCount,
  PresenceMember,
  presenceInfoError,
  PresenceSnapshot,
  PresenceStore,
  PresenceTransition,
  PresenceTransitionType,
  transitionId,
} from './presence-store';

/** Hooks for presence metrics; the observability lib implements them with prom-client. */
export interface PresenceMetrics {
  /** Presence entries (connection × channel) this process holds. */
  entries(count: number): void;
  /** A transition this process decided (on a join, a leave or a reap). */
  transition(type: PresenceTransitionType): void;
  /** A presence query and its duration (failed ones too). */
  query(kind: 'count' | 'members', seconds: number): void;
  /** Another gateway's lease expired and this process claimed it for reaping. */
  leaseExpired(): void;
  /** Entries of dead gateways this process removed. */
  reaped(entries: number): void;
  /** This process's own lease was gone (it stalled past it): its entries are written again under a new id. */
  leaseLost(): void;
  /** Signals or lifecycle events could not be delivered (retried). */
  deliveryFailed(): void;
}

export const noopPresenceMetrics: PresenceMetrics = {
  entries() {},
  transition() {},
  query() {},
  leaseExpired() {},
  reaped() {},
  leaseLost() {},
  deliveryFailed() {},
};

export interface PresenceServiceOptions {
  /**
   * PRESENCE_TTL_SECONDS in ms: the members of a gateway that stops renewing its lease are
   * gone within it. The lease lasts 2/3 of it and is renewed every 1/6, so a dead lease is
   * claimed by another gateway's next heartbeat at most 5/6 of it after the last renewal.
   */
  ttlMs: number;
  /** PRESENCE_MAX_MEMBERS: most members a query lists. */
  maxMembers: number;
  channels: ChannelOptionsResolver;
  /** Names this process in holder ids (INSTANCE_NAME or the host name). */
  name?: string;
  logger?: EngineLogger;
  metrics?: PresenceMetrics;
}

/** A subscription to one channel's join/leave signals. */
export interface PresenceListener {
  close(): void;
}

/** Dead holders claimed per heartbeat. */
const CLAIM_LIMIT = 4;
/** Index entries of a dead holder handled at once. */
const REAP_PAGE = 256;
/** Entries written at once when many wait (after a lost lease or an outage). */
const REPAIR_BATCH = 256;
/** Outbox reads one drain makes for a channel before it leaves the rest to the next heartbeat. */
const DRAIN_ROUNDS = 16;
/** After a failed delivery, deferred deliveries wait this long before they start a drain (heartbeats drain anyway). */
const DRAIN_BACKOFF_MS = 1000;
/** Users whose last signal a listened channel remembers (for dropping stale and repeated ones). */
const SIGNAL_MEMORY = 20_000;

interface LocalEntry {
  readonly key: string;
  readonly channel: string;
  readonly connection: string;
  readonly member: PresenceMember;
  /** The holder the store has this entry under, once written. */
  written?: string;
  /** Left locally: never written again. */
  left: boolean;
  /** This key's operations, one after another (a leave never overtakes its join). */
  chain: Promise<void>;
}

/** A leave the store did not take (unreachable): retried until it does, before any new join of the key. */
interface StrayLeave {
  holder: string;
  channel: string;
  connection: string;
}

function needsOutbox(o: ChannelOptions): boolean {
  return o.joinLeave || o.lifecycleEvents;
}

function unavailable(message: string, cause?: unknown): SwitchboardError {
  return isSwitchboardError(cause) ? cause : new SwitchboardError('unavailable', message, { cause });
}

/** `<name>-<random>`: a new id per process start and per lost lease. */
export function newHolderId(name = 'gateway'): string {
  const clean = name.replace(/[^A-Za-z0-9_.:-]/g, '_').slice(0, 64) || 'gateway';
  return clean + '-' + randomBytes(9).toString('base64url');
}

/**
 * Presence for one gateway process: what the gateway calls on subscribe, unsubscribe and
 * close (`join`, `leave`, `leaveAll`), on presence queries (`query`, `count`), and to
 * receive join/leave for the channels it holds (`listen`). Framework-free.
 *
 * The process's own entries are kept here and are the truth for this gateway: the store
 * is brought in line with them (a join the store could not take is written again on the
 * next heartbeat; a lost lease means everything is written again under a new holder id).
 * Transitions are decided by the store; when a channel has join/leave or lifecycle events,
 * the store keeps them in the channel's outbox until this service has announced the
 * signals and published the CloudEvents (`Nats-Msg-Id` = transition id, so a retry is
 * deduplicated by JetStream); a gateway that dies in between leaves them to its reaper.
 */
export class PresenceService {
  private holder: string;
  private registered = false;
  /** performance.now() until which writes under `holder` are safe (its lease cannot have expired before). */
  private validUntil = 0;
  private readonly entries = new Map<string, LocalEntry>();
  private readonly byConnection = new Map<string, Set<string>>();
  /** Chains of entries left but not yet removed from the store, so a new join of the key waits. */
  private readonly tails = new Map<string, Promise<void>>();
  private readonly strays = new Map<string, StrayLeave>();
  private readonly undelivered = new Set<string>();
  /** Index entries to release once their channel's outbox is delivered, by channel. */
  private readonly releases = new Map<string, Array<{ holder: string; entry: HeldEntry }>>();
  private readonly reapQueue: string[] = [];
  private reaping?: Promise<void>;
  private draining?: Promise<void>;
  private maintaining?: Promise<void>;
  private beating?: Promise<void>;
  /** performance.now() before which a deferred delivery does not start a drain (the last one failed). */
  private drainNotBefore = 0;
  private readonly listened = new Map<string, ListenedChannel>();
  private readonly transitionCallbacks = new Set<(t: PresenceTransition) => void>();
  /** Queries in flight, shared by callers asking the same at the same time. */
  private readonly inflight = {
    count: new Map<string, { writes: number; answer: Promise<PresenceCount> }>(),
    members: new Map<string, { writes: number; answer: Promise<PresenceSnapshot> }>(),
  };
  /** Store writes (joins, leaves) of this process completed so far. */
  private writes = 0;
  private timer?: NodeJS.Timeout;
  private ticking?: Promise<void>;
  private closed = false;
  private readonly leaseMs: number;
  private readonly intervalMs: number;
  private readonly claimMs: number;
  private readonly logger: EngineLogger;
  private readonly metrics: PresenceMetrics;

  constructor(
    private readonly store: PresenceStore,
    private readonly signals: PresenceSignalBus,
    private readonly eventBus: EventBus,
    private readonly options: PresenceServiceOptions,
  ) {
    this.holder = newHolderId(options.name);
    this.leaseMs = (options.ttlMs * 2) / 3;
    this.intervalMs = options.ttlMs / 6;
    this.claimMs = options.ttlMs;
    this.logger = options.logger ?? noopLogger;
    this.metrics = options.metrics ?? noopPresenceMetrics;
  }

  /** This process's current holder id in the store (changes after a lost lease). */
  get holderId(): string {
    return this.holder;
  }

  /** The store answers and this process's lease is confirmed (its joins are written). */
  isReady(): boolean {
    return this.store.isReady() && this.leaseValid();
  }

  /** What CHANNEL_CONFIG says about `channel`. */
  channelOptions(channel: string): ChannelOptions {
    return this.options.channels.channelOptions(channel);
  }

  /**
   * Calls `callback` with every transition this process decides (its joins and leaves,
   * and the dead gateways it reaps): each transition cluster-wide reaches exactly one
   * process's callbacks. Returns a function that removes the callback.
   */
  onTransition(callback: (t: PresenceTransition) => void): () => void {
    const fn = (t: PresenceTransition): void => callback(t);
    this.transitionCallbacks.add(fn);
    return () => this.transitionCallbacks.delete(fn);
  }

  /**
   * Registers this process's lease and starts the heartbeat (renewal, reaping, retries).
   * When the store does not answer, the heartbeat keeps trying and joins are refused with
   * `unavailable` until it does (`isReady()` tells).
   */
  async start(): Promise<void> {
    try {
      await this.beat();
    } catch (err) {
      this.logger.warn({ err }, 'presence lease not registered yet; retrying');
    }
    this.schedule();
  }

  /**
   * A connection of `member.user` subscribed to `channel`. Nothing happens unless the
   * channel has presence, join/leave or lifecycle events. Resolves once the store has it
   * (and its transitions went out, or were left to retries); rejects with `bad_request`
   * for an unacceptable member, `unavailable` when the store cannot take it now — the
   * entry is kept and written again on a later heartbeat, until `leave`.
   */
  join(channel: string, connection: string, member: PresenceMember): Promise<void> {
    if (!tracksPresence(this.channelOptions(channel))) return Promise.resolve();
    if (this.closed) return Promise.reject(new SwitchboardError('unavailable', 'presence is shutting down'));
    if (typeof member.user !== 'string' || member.user.length === 0) {
      return Promise.reject(new SwitchboardError('bad_request', 'a presence member needs a user (the token sub)'));
    }
    const problem = presenceInfoError(member.info);
    if (problem !== undefined) return Promise.reject(new SwitchboardError('bad_request', problem));
    const key = channel + ' ' + connection;
    const existing = this.entries.get(key);
    // Joined already: resolves when the store has it (a no-op once written).
    if (existing !== undefined) return this.enqueue(existing, () => this.write(existing));
    const entry: LocalEntry = {
      key,
      channel,
      connection,
      member: { user: member.user, info: member.info },
      left: false,
      chain: this.tails.get(key) ?? Promise.resolve(),
    };
    this.entries.set(key, entry);
    let channels = this.byConnection.get(connection);
    if (channels === undefined) this.byConnection.set(connection, (channels = new Set()));
    channels.add(channel);
    this.metrics.entries(this.entries.size);
    return this.enqueue(entry, () => this.write(entry));
  }

  /** The connection left `channel` (unsubscribe, close, token expiry). Rejects with `unavailable` when the store could not take it (retried). */
  leave(channel: string, connection: string): Promise<void> {
    const entry = this.entries.get(channel + ' ' + connection);
    if (entry === undefined) return Promise.resolve();
    this.forget(entry);
    const done = this.enqueue(entry, () => this.unwrite(entry));
    this.tails.set(entry.key, entry.chain);
    const tail = entry.chain;
    void tail.then(() => {
      if (this.tails.get(entry.key) === tail) this.tails.delete(entry.key);
    });
    return done;
  }

  /** The connection closed: it leaves every channel it joined. */
  async leaveAll(connection: string): Promise<void> {
    const channels = this.byConnection.get(connection);
    if (channels === undefined) return;
    const results = await Promise.allSettled([...channels].map((c) => this.leave(c, connection)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }

  /**
   * Exact counts and up to `limit` (at most PRESENCE_MAX_MEMBERS) members. `not_found` when
   * presence is off for the channel, `unavailable` when the store does not answer. Callers
   * asking at the same time share one store call and one (read-only) snapshot: a reconnect
   * storm costs the store one query per channel and gateway at a time, not one per client.
   */
  query(channel: string, limit = this.options.maxMembers): Promise<PresenceSnapshot> {
    const capped = Math.max(0, Math.min(limit, this.options.maxMembers));
    return this.shared('members', `${capped} ${channel}`, channel, () => this.store.members(channel, capped));
  }

  /** Exact member and connection counts (O(1) in the store); shared like `query`. */
  count(channel: string): Promise<PresenceCount> {
    return this.shared('count', channel, channel, () => this.store.count(channel));
  }

  private async shared<T>(kind: 'count' | 'members', key: string, channel: string, read: () => Promise<T>): Promise<T> {
    this.assertQueryable(channel);
    const started = performance.now();
    const map = this.inflight[kind] as Map<string, { writes: number; answer: Promise<T> }>;
    let flight = map.get(key);
    // A call that started before one of this process's writes completed may not show it:
    // join it only when none completed since (a client sees its own join).
    if (flight === undefined || flight.writes !== this.writes) {
      const answer = read();
      const created = { writes: this.writes, answer };
      flight = created;
      map.set(key, created);
      void answer
        .catch(() => undefined)
        .finally(() => {
          if (map.get(key) === created) map.delete(key);
        });
    }
    try {
      return await flight.answer;
    } catch (err) {
      throw unavailable('presence store unavailable', err);
    } finally {
      this.metrics.query(kind, (performance.now() - started) / 1000);
    }
  }

  /**
   * Join/leave signals of `channel`, from every gateway, for as long as the listener is
   * open (hold one per channel with local subscribers that have join/leave). Repeated and
   * out-of-order signals are dropped: per user, only a signal newer than the last one passes.
   */
  async listen(channel: string, onSignal: (signal: PresenceSignal) => void): Promise<PresenceListener> {
    let listened = this.listened.get(channel);
    if (listened === undefined) {
      const created = new ListenedChannel();
      listened = created;
      this.listened.set(channel, created);
      created.bus = this.signals.listen(channel, (s) => created.dispatch(s, this.logger));
      created.bus.catch(() => {
        if (this.listened.get(channel) === created) this.listened.delete(channel);
      });
    }
    const target = listened;
    const fn = (s: PresenceSignal): void => onSignal(s);
    target.callbacks.add(fn);
    try {
      await target.bus;
    } catch (err) {
      target.callbacks.delete(fn);
      throw unavailable('presence signals unavailable', err);
    }
    let open = true;
    return {
      close: () => {
        if (!open) return;
        open = false;
        target.callbacks.delete(fn);
        if (target.callbacks.size > 0) return;
        if (this.listened.get(channel) === target) this.listened.delete(channel);
        void target.bus?.then((l) => l.close()).catch(() => undefined);
      },
    };
  }

  /**
   * Leaves every entry, delivers what it can and drops the lease (when nothing is left
   * for a reaper to do). Call after the gateway closed its connections.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    await this.ticking;
    await this.maintaining;
    const leaving = [...this.entries.values()].map((e) => this.leave(e.channel, e.connection));
    await Promise.allSettled(leaving);
    await this.reaping;
    await this.retryStrays();
    await this.drainUndelivered();
    for (const l of this.listened.values()) void l.bus?.then((b) => b.close()).catch(() => undefined);
    this.listened.clear();
    this.metrics.entries(0);
    if (this.strays.size === 0 && this.undelivered.size === 0) {
      await this.store.retire(this.holder).catch((err: unknown) => this.logger.warn({ err }, 'presence lease not retired; it expires'));
    } else {
      this.logger.warn(
        { strays: this.strays.size, undelivered: this.undelivered.size },
        'presence left work for a reaper: the lease is left to expire',
      );
    }
  }

  // --- writing -------------------------------------------------------------------------

  private enqueue(entry: LocalEntry, op: () => Promise<void>): Promise<void> {
    const run = entry.chain.then(op);
    entry.chain = run.catch(() => undefined);
    return run;
  }

  private forget(entry: LocalEntry): void {
    entry.left = true;
    this.entries.delete(entry.key);
    const channels = this.byConnection.get(entry.connection);
    channels?.delete(entry.channel);
    if (channels?.size === 0) this.byConnection.delete(entry.connection);
    this.metrics.entries(this.entries.size);
  }

  private leaseValid(): boolean {
    return performance.now() < this.validUntil;
  }

  private async write(entry: LocalEntry): Promise<void> {
    if (entry.left || entry.written === this.holder) return;
    try {
      const stray = this.strays.get(entry.key);
      if (stray !== undefined) await this.retryStray(entry.key, stray);
      // A lease that lapsed (a stall, a slow Redis) is confirmed again rather than the join refused.
      if (!(await this.confirmLease())) throw new SwitchboardError('unavailable', 'presence lease not confirmed; the join is retried');
      const holder = this.holder;
      if (entry.left || entry.written === holder) return;
      // Every write under `holder` is sent while its lease surely holds (see beat()), so none
      // can land after a reaper took the holder over.
      const check = (): void => {
        if (holder !== this.holder || !this.leaseValid()) {
          throw new SwitchboardError('unavailable', 'presence lease not confirmed; the join is retried');
        }
      };
      check();
      // Index first: a process dying after it leaves an index entry the reaper ignores.
      await this.store.hold(holder, entry.channel, entry.connection);
      check();
      const outbox = needsOutbox(this.channelOptions(entry.channel));
      const transitions = await this.store.join(holder, entry.channel, entry.connection, entry.member, { outbox, at: Date.now() });
      entry.written = holder;
      this.writes++;
      this.decided(transitions);
      if (outbox) await this.deliver(entry.channel, transitions);
    } catch (err) {
      throw unavailable('presence store unavailable; the join is retried', err);
    }
  }

  private async unwrite(entry: LocalEntry): Promise<void> {
    const holder = entry.written;
    if (holder === undefined) return;
    const outbox = needsOutbox(this.channelOptions(entry.channel));
    let transitions: PresenceTransition[];
    try {
      transitions = await this.store.leave(holder, entry.channel, entry.connection, { outbox, at: Date.now() });
    } catch (err) {
      this.strays.set(entry.key, { holder, channel: entry.channel, connection: entry.connection });
      throw unavailable('presence store unavailable; the leave is retried', err);
    } finally {
      entry.written = undefined;
    }
    this.writes++;
    this.decided(transitions);
    await this.afterLeave(holder, entry.channel, [entry.connection], transitions, outbox);
  }

  private async retryStray(key: string, stray: StrayLeave): Promise<void> {
    const outbox = needsOutbox(this.channelOptions(stray.channel));
    const transitions = await this.store.leave(stray.holder, stray.channel, stray.connection, { outbox, at: Date.now() });
    this.strays.delete(key);
    this.decided(transitions);
    await this.afterLeave(stray.holder, stray.channel, [stray.connection], transitions, outbox);
  }

  /** Delivers a leave's transitions, then drops the index entries (kept until then for a reaper). */
  private async afterLeave(
    holder: string,
    channel: string,
    connections: string[],
    transitions: PresenceTransition[],
    outbox: boolean,
  ): Promise<void> {
    const entries = connections.map((connection) => ({ channel, connection }));
    if (outbox && !(await this.deliver(channel, transitions))) {
      let list = this.releases.get(channel);
      if (list === undefined) this.releases.set(channel, (list = []));
      for (const entry of entries) list.push({ holder, entry });
      return;
    }
    // A release that fails leaves a stale index entry: its reaper's leave is a no-op.
    await this.store
      .release(holder, entries)
      .catch((err: unknown) => this.logger.warn({ err, channel }, 'presence index entry not released'));
  }

  private decided(transitions: readonly PresenceTransition[]): void {
    for (const t of transitions) {
      this.metrics.transition(t.type);
      for (const fn of this.transitionCallbacks) {
        try {
          fn(t);
        } catch (err) {
          this.logger.error({ err, channel: t.channel }, 'presence transition callback failed');
        }
      }
    }
  }

  // --- delivery ------------------------------------------------------------------------

  /** Announces and publishes `transitions`, then acknowledges them; false (and retried later) on failure. */
  private async deliver(channel: string, transitions: readonly PresenceTransition[]): Promise<boolean> {
    if (transitions.length === 0) return true;
    // Older transitions of the channel wait in its outbox: these go after them, in seq order.
    if (this.undelivered.has(channel)) {
      this.drainSoon();
      return false;
    }
    try {
      await this.publish(channel, transitions);
      await this.store.acknowledge(
        channel,
        transitions.map((t) => t.seq),
      );
      return true;
    } catch (err) {
      this.logger.warn({ err, channel }, 'presence transitions not delivered; retried');
      this.metrics.deliveryFailed();
      this.undelivered.add(channel);
      this.drainNotBefore = performance.now() + DRAIN_BACKOFF_MS;
      return false;
    }
  }

  private async publish(channel: string, transitions: readonly PresenceTransition[]): Promise<void> {
    const o = this.channelOptions(channel);
    let announced = false;
    for (const t of transitions) {
      if (o.joinLeave) {
        const signal = signalOf(t);
        if (signal !== undefined) {
          this.signals.announce(signal);
          announced = true;
        }
      }
      if (o.lifecycleEvents) {
        await this.eventBus.publish(lifecycleSubject(this.eventBus.names.eventsSubjectPrefix, t), lifecycleEvent(t), {
          msgId: transitionId(t),
        });
      }
    }
    // The caller acknowledges next: the signals must have reached the bus by then.
    if (announced) await this.signals.flush();
  }

  /** Everything a channel's outbox holds (this process's failures, a dead holder's leftovers). */
  private async drainChannel(channel: string): Promise<void> {
    const pending = await this.store.pending(channel);
    await this.publish(channel, pending);
    await this.store.acknowledge(
      channel,
      pending.map((t) => t.seq),
    );
  }

  /** Drains the channels with undelivered transitions now, unless a drain runs or one just failed. */
  private drainSoon(): void {
    if (this.draining === undefined && !this.closed && performance.now() >= this.drainNotBefore) void this.drainUndelivered();
  }

  /** One drain at a time; a second caller waits for the running one. */
  private drainUndelivered(): Promise<void> {
    this.draining ??= this.drainAll().finally(() => {
      this.draining = undefined;
    });
    return this.draining;
  }

  private async drainAll(): Promise<void> {
    for (const channel of [...this.undelivered]) {
      try {
        // Until the outbox reads empty: transitions decided meanwhile were deferred to this
        // drain (deliver() sees the channel undelivered), so it must not stop before them.
        let rounds = 0;
        for (;;) {
          const pending = await this.store.pending(channel);
          if (pending.length === 0) break;
          if (++rounds > DRAIN_ROUNDS) throw new Error('the outbox keeps filling; the next heartbeat goes on');
          await this.publish(channel, pending);
          await this.store.acknowledge(
            channel,
            pending.map((t) => t.seq),
          );
        }
      } catch (err) {
        this.logger.warn({ err, channel }, 'presence transitions still not delivered');
        this.metrics.deliveryFailed();
        this.drainNotBefore = performance.now() + DRAIN_BACKOFF_MS;
        continue;
      }
      // Synchronously after the empty read: a transition decided later is delivered by its own caller.
      this.undelivered.delete(channel);
      const releases = this.releases.get(channel) ?? [];
      this.releases.delete(channel);
      const byHolder = new Map<string, HeldEntry[]>();
      for (const r of releases) byHolder.set(r.holder, [...(byHolder.get(r.holder) ?? []), r.entry]);
      for (const [holder, entries] of byHolder) {
        await this.store
          .release(holder, entries)
          .catch((err: unknown) => this.logger.warn({ err, channel }, 'presence index entry not released'));
      }
    }
  }

  // --- lease, reaping, repair ----------------------------------------------------------

  private schedule(): void {
    if (this.closed) return;
    // ±10 % so that gateways started together do not beat in step.
    const delay = this.intervalMs * (0.9 + Math.random() * 0.2);
    this.timer = setTimeout(() => {
      this.ticking = this.tick().finally(() => {
        this.ticking = undefined;
        this.schedule();
      });
    }, delay);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    try {
      await this.beat();
    } catch (err) {
      this.logger.warn({ err }, 'presence heartbeat failed');
      return;
    }
    // Never in the heartbeat's way: rewriting 50,000 entries after a lost lease must not
    // delay the next renewal.
    this.maintaining ??= this.maintain().finally(() => {
      this.maintaining = undefined;
    });
  }

  /** Retries what the store or the buses did not take: leaves, deliveries, joins. */
  private async maintain(): Promise<void> {
    await this.retryStrays();
    await this.drainUndelivered();
    await this.repair();
  }

  /** True once the lease is confirmed: at once while it holds, else after one more heartbeat. */
  private async confirmLease(): Promise<boolean> {
    if (this.leaseValid()) return true;
    if (this.closed) return false;
    await this.beat().catch((err: unknown) => this.logger.warn({ err }, 'presence heartbeat failed'));
    return this.leaseValid();
  }

  /**
   * Renews the lease (or registers a new holder after losing it) and starts reaping what it
   * claimed. One at a time: two heartbeats both finding the lease lost would register two holders.
   */
  private beat(): Promise<void> {
    this.beating ??= this.renew().finally(() => {
      this.beating = undefined;
    });
    return this.beating;
  }

  private async renew(): Promise<void> {
    const sentAt = performance.now();
    const heartbeat = await this.store.heartbeat(this.holder, {
      leaseMs: this.leaseMs,
      claimMs: this.claimMs,
      claimLimit: this.reaping === undefined ? CLAIM_LIMIT : 0,
      register: !this.registered,
    });
    if (heartbeat.leased) {
      this.registered = true;
      // The lease expires leaseMs after the store ran the call, which is after sentAt: stop
      // writing one interval before that, so a write in flight lands while it still holds.
      this.validUntil = sentAt + this.leaseMs - this.intervalMs;
    } else {
      const lost = this.holder;
      this.holder = newHolderId(this.options.name);
      this.registered = false;
      this.validUntil = 0;
      this.metrics.leaseLost();
      this.logger.warn({ lost, holder: this.holder }, 'presence lease was lost (stalled past it); writing every entry again');
    }
    if (heartbeat.claimed.length > 0) this.startReaping(heartbeat.claimed);
    if (!heartbeat.leased) await this.renew();
  }

  /** Entries the store does not have under the current holder: failed joins, or all of them after a lost lease. */
  private async repair(): Promise<void> {
    if (!this.leaseValid()) return;
    const todo = [...this.entries.values()].filter((e) => e.written !== this.holder);
    for (let i = 0; i < todo.length && !this.closed && this.leaseValid(); i += REPAIR_BATCH) {
      await Promise.allSettled(todo.slice(i, i + REPAIR_BATCH).map((e) => this.enqueue(e, () => this.write(e))));
    }
  }

  private async retryStrays(): Promise<void> {
    for (const [key, stray] of [...this.strays]) {
      // A stray whose key joined again is retried by that join's write, in order.
      if (this.entries.has(key)) continue;
      try {
        await this.retryStray(key, stray);
      } catch (err) {
        this.logger.warn({ err, channel: stray.channel }, 'presence leave still not stored');
      }
    }
  }

  private startReaping(holders: string[]): void {
    this.reapQueue.push(...holders);
    if (this.reaping !== undefined) return;
    this.reaping = (async () => {
      while (this.reapQueue.length > 0 && !this.closed) {
        const holder = this.reapQueue.shift()!;
        try {
          await this.reap(holder);
        } catch (err) {
          // The claim expires and the next heartbeat anywhere claims the holder again.
          this.logger.warn({ err, holder }, 'reaping a dead gateway failed; retried after its claim expires');
        }
      }
    })().finally(() => {
      this.reaping = undefined;
    });
  }

  /** Removes everything `holder` (a dead gateway) held, delivering the transitions. */
  private async reap(holder: string): Promise<void> {
    this.metrics.leaseExpired();
    this.logger.info({ holder }, 'presence lease expired: removing its members');
    for (;;) {
      if (this.closed) return;
      const page = await this.store.heldBy(holder, REAP_PAGE);
      if (page.length === 0) break;
      const byChannel = new Map<string, string[]>();
      for (const e of page) byChannel.set(e.channel, [...(byChannel.get(e.channel) ?? []), e.connection]);
      await Promise.all([...byChannel].map(([channel, connections]) => this.reapChannel(holder, channel, connections)));
      this.metrics.reaped(page.length);
    }
    await this.store.finishReap(holder);
  }

  private async reapChannel(holder: string, channel: string, connections: string[]): Promise<void> {
    const outbox = needsOutbox(this.channelOptions(channel));
    const at = Date.now();
    const results = await Promise.all(connections.map((c) => this.store.leave(holder, channel, c, { outbox, at })));
    for (const transitions of results) this.decided(transitions);
    // The outbox also holds what the dead holder decided and never delivered.
    if (outbox) await this.drainChannel(channel);
    await this.store.release(
      holder,
      connections.map((connection) => ({ channel, connection })),
    );
  }

  private assertQueryable(channel: string): void {
    if (!this.channelOptions(channel).presence) {
      throw new SwitchboardError('not_found', `presence is not enabled for channel ${JSON.stringify(channel)}`);
    }
  }
}

/** One channel's signal subscription in this process, shared by its listeners. */
class ListenedChannel {
  bus?: Promise<BusListener>;
  readonly callbacks = new Set<(s: PresenceSignal) => void>();
  private epoch?: string;
  /** user → seq of the last signal passed on, oldest first. */
  private readonly last = new Map<string, number>();

  dispatch(signal: PresenceSignal, logger: EngineLogger): void {
    if (signal.epoch !== this.epoch) {
      this.epoch = signal.epoch;
      this.last.clear();
    }
    const previous = this.last.get(signal.user);
    if (previous !== undefined && previous >= signal.seq) return;
    this.last.delete(signal.user);
    this.last.set(signal.user, signal.seq);
    if (this.last.size > SIGNAL_MEMORY) this.last.delete(this.last.keys().next().value!);
    for (const fn of this.callbacks) {
      try {
        fn(signal);
      } catch (err) {
        logger.error({ err, channel: signal.channel }, 'presence signal listener failed');
      }
    }
  }
}
