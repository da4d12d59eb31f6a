import type { RedisClient } from '../../nats-redis/connections';
import { candidateEpoch } from '../../epoch';
import {
  HeldEntry,
  Heartbeat,
  HeartbeatOptions,
  PresenceCount,
  PresenceInfo,
  PresenceMember,
  PresenceMemberEntry,
  PresenceSnapshot,
  PresenceStore,
  PresenceTransition,
  PresenceTransitionType,
  TransitionOptions,
} from '../presence-store';
import { HEARTBEAT_SCRIPT, JOIN_SCRIPT, LEAVE_SCRIPT, MEMBERS_SCRIPT } from './presence-scripts';

type Reply = Array<string | number>;

interface ScriptCommands {
  sbPresenceJoin(...args: Array<string | number>): Promise<Reply>;
  sbPresenceLeave(...args: Array<string | number>): Promise<Reply>;
  sbPresenceMembers(...args: Array<string | number>): Promise<Reply>;
  sbPresenceHeartbeat(...args: Array<string | number>): Promise<Reply>;
}

const TYPES: Record<string, PresenceTransitionType> = {
  o: 'channel.occupied',
  a: 'member.added',
  r: 'member.removed',
  v: 'channel.vacated',
};

/** An outbox entry as the scripts write it. */
interface OutboxEntry {
  s: number;
  e: string;
  t: string;
  at: number;
  u?: string;
  i?: PresenceInfo;
}

export interface RedisPresenceStoreOptions {
  /** Prefix of every key (REDIS_KEY_PREFIX; tests use their own). */
  keyPrefix?: string;
  /** Seconds a channel's transition counter outlives its last transition. Default one day. */
  seqTtlSeconds?: number;
  /** Seconds an undelivered outbox is kept after its last write (a safety net; holders and reapers drain it). Default one day. */
  outboxTtlSeconds?: number;
}

/** The presence store on Redis: one Lua script per transition, leases in one sorted set (see presence-scripts.ts). */
export class RedisPresenceStore implements PresenceStore {
  private readonly scripts: ScriptCommands;
  private readonly keyPrefix: string;
  private readonly seqTtl: number;
  private readonly outboxTtl: number;
  private readonly leaseKeys: [string, string];

  constructor(
    private readonly redis: RedisClient,
    options: RedisPresenceStoreOptions = {},
  ) {
    this.keyPrefix = options.keyPrefix ?? 'sb:';
    this.seqTtl = options.seqTtlSeconds ?? 86400;
    this.outboxTtl = options.outboxTtlSeconds ?? 86400;
    this.leaseKeys = [`${this.keyPrefix}{#presence}:l`, `${this.keyPrefix}{#presence}:r`];
    redis.defineCommand('sbPresenceJoin', { numberOfKeys: 4, lua: JOIN_SCRIPT });
    redis.defineCommand('sbPresenceLeave', { numberOfKeys: 4, lua: LEAVE_SCRIPT });
    redis.defineCommand('sbPresenceMembers', { numberOfKeys: 2, lua: MEMBERS_SCRIPT });
    redis.defineCommand('sbPresenceHeartbeat', { numberOfKeys: 2, lua: HEARTBEAT_SCRIPT });
    this.scripts = redis as unknown as ScriptCommands;
  }

  /** A channel's presence keys: members, connections, sequence, outbox (one hash slot). */
  channelKeys(channel: string): [string, string, string, string] {
    const base = `${this.keyPrefix}{${channel}}:p:`;
    return [base + 'm', base + 'c', base + 's', base + 'o'];
  }

  /** A holder's index (its own hash slot). */
  holderKey(holder: string): string {
    return `${this.keyPrefix}{#h:${holder}}:i`;
  }

  async hold(holder: string, channel: string, connection: string): Promise<void> {
    await this.redis.sadd(this.holderKey(holder), channel + ' ' + connection);
  }

  async join(
    holder: string,
    channel: string,
    connection: string,
    member: PresenceMember,
    options: TransitionOptions,
  ): Promise<PresenceTransition[]> {
    const userJson = JSON.stringify(member.user);
    const infoJson = JSON.stringify(member.info);
    const reply = await this.scripts.sbPresenceJoin(
      ...this.channelKeys(channel),
      holder + '/' + connection,
      userJson,
      infoJson,
      candidateEpoch(),
      options.outbox ? '1' : '',
      options.at,
      this.seqTtl,
      this.outboxTtl,
    );
    if (reply.length === 0) return [];
    const epoch = String(reply[0]);
    // The stored info is the caller's, serialised: hand back the same value a reader gets.
    const info = JSON.parse(infoJson) as PresenceInfo;
    const out: PresenceTransition[] = [];
    for (let i = 1; i + 1 < reply.length; i += 2) {
      const t: PresenceTransition = { type: TYPES[String(reply[i + 1])], channel, epoch, seq: Number(reply[i]), at: options.at };
      if (t.type === 'member.added') {
        t.user = member.user;
        t.info = info;
      }
      out.push(t);
    }
    return out;
  }

  async leave(holder: string, channel: string, connection: string, options: TransitionOptions): Promise<PresenceTransition[]> {
    const reply = await this.scripts.sbPresenceLeave(
      ...this.channelKeys(channel),
      holder + '/' + connection,
      candidateEpoch(),
      options.outbox ? '1' : '',
      options.at,
      this.seqTtl,
      this.outboxTtl,
    );
    if (reply.length === 0) return [];
    const epoch = String(reply[0]);
    const user = JSON.parse(String(reply[1])) as string;
    const out: PresenceTransition[] = [];
    for (let i = 2; i + 1 < reply.length; i += 2) {
      const t: PresenceTransition = { type: TYPES[String(reply[i + 1])], channel, epoch, seq: Number(reply[i]), at: options.at };
      if (t.type === 'member.removed') t.user = user;
      out.push(t);
    }
    return out;
  }

  async release(holder: string, entries: readonly HeldEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.redis.srem(this.holderKey(holder), ...entries.map((e) => e.channel + ' ' + e.connection));
  }

  async count(channel: string): Promise<PresenceCount> {
    const [m, c] = this.channelKeys(channel);
    const results = (await this.redis.pipeline().hlen(m).hlen(c).exec()) ?? [];
    for (const [err] of results) if (err) throw err;
    return { count: Number(results[0]?.[1] ?? 0), connections: Number(results[1]?.[1] ?? 0) };
  }

  async members(channel: string, limit: number): Promise<PresenceSnapshot> {
    const [m, c] = this.channelKeys(channel);
    const reply = await this.scripts.sbPresenceMembers(m, c, limit);
    const count = Number(reply[0]);
    const membersJson = String(reply[2]);
    const listed = Number(reply[3]);
    let members: PresenceMemberEntry[] | undefined;
    return {
      count,
      connections: Number(reply[1]),
      membersJson,
      // Parsed on first use: a gateway answering a client embeds membersJson as it is.
      get members(): PresenceMemberEntry[] {
        return (members ??= JSON.parse(membersJson) as PresenceMemberEntry[]);
      },
      truncated: listed < count,
    };
  }

  async pending(channel: string): Promise<PresenceTransition[]> {
    const entries = await this.redis.hvals(this.channelKeys(channel)[3]);
    return entries
      .map((json) => {
        const e = JSON.parse(json) as OutboxEntry;
        const t: PresenceTransition = { type: TYPES[e.t], channel, epoch: e.e, seq: e.s, at: e.at };
        if (e.u !== undefined) t.user = e.u;
        if (e.i !== undefined) t.info = e.i;
        return t;
      })
      .sort((a, b) => a.seq - b.seq);
  }

  async acknowledge(channel: string, seqs: readonly number[]): Promise<void> {
    if (seqs.length === 0) return;
    await this.redis.hdel(this.channelKeys(channel)[3], ...seqs.map(String));
  }

  async heartbeat(holder: string, options: HeartbeatOptions): Promise<Heartbeat> {
    const reply = await this.scripts.sbPresenceHeartbeat(
      ...this.leaseKeys,
      holder,
      Math.ceil(options.leaseMs),
      Math.ceil(options.claimMs),
      options.claimLimit,
      options.register === true ? '1' : '',
    );
    return { leased: Number(reply[0]) === 1, claimed: reply.slice(1).map(String) };
  }

  async heldBy(holder: string, limit: number): Promise<HeldEntry[]> {
    const entries = await this.redis.srandmember(this.holderKey(holder), limit);
    return entries.map((e) => {
      const sp = e.indexOf(' ');
      return { channel: e.slice(0, sp), connection: e.slice(sp + 1) };
    });
  }

  async finishReap(holder: string): Promise<void> {
    await this.redis.zrem(this.leaseKeys[1], holder);
  }

  async retire(holder: string): Promise<void> {
    // Index first: a holder without a lease but with an index would be reaped by no one.
    await this.redis.del(this.holderKey(holder));
    await this.redis.zrem(this.leaseKeys[0], holder);
  }

  isReady(): boolean {
    return this.redis.status === 'ready';
  }

  async close(): Promise<void> {
    // The connection belongs to whoever created it (it is shared with the channel store).
  }
}
