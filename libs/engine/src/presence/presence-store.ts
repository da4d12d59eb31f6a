/** A member's `info`: the token's `info` claim, a JSON object. */
export type PresenceInfo = Record<string, unknown>;

/** Largest `info` accepted, bytes of its JSON (SPEC: at most 1 KiB). */
export const MAX_PRESENCE_INFO_BYTES = 1024;

/** Who a connection is in a channel's presence. */
export interface PresenceMember {
  /** The token's `sub`. */
  user: string;
  info: PresenceInfo;
}

/** A member as listed: a user with the number of its connections in the channel. */
export interface PresenceMemberEntry extends PresenceMember {
  connections: number;
}

/** Exact sizes of a channel's presence, wire names of the presence reply. */
export interface PresenceCount {
  /** Members (distinct users). */
  count: number;
  /** Connections of all members. */
  connections: number;
}

/** A presence query's answer: exact counts, members capped at the limit asked for. */
export interface PresenceSnapshot extends PresenceCount {
  members: PresenceMemberEntry[];
  /** `members` as JSON, built once by the store: a reply can embed it without serialising again. */
  membersJson: string;
  /** True when `members` lists fewer than `count`. */
  truncated: boolean;
}

export type PresenceTransitionType = 'channel.occupied' | 'channel.vacated' | 'member.added' | 'member.removed';

/**
 * A change of a channel's presence decided by the store: `member.added` for the first
 * connection of a user in the channel (cluster-wide), `member.removed` for its last one,
 * `channel.occupied` for the first member, `channel.vacated` when the last one is gone.
 * Each is returned to exactly one caller.
 */
export interface PresenceTransition {
  type: PresenceTransitionType;
  channel: string;
  /**
   * `epoch` and `seq` order a channel's transitions: `seq` grows strictly within an epoch
   * (and survives the channel being vacated); a new epoch means the store lost the counter.
   * Together with the channel they identify the transition (`transitionId`).
   */
  epoch: string;
  seq: number;
  /** When it was decided, ms since the Unix epoch (the deciding gateway's clock). */
  at: number;
  /** Member events. */
  user?: string;
  /** `member.added`: the member's info. */
  info?: PresenceInfo;
}

/** Identifies a transition everywhere (JetStream `Nats-Msg-Id`, CloudEvent `id`): stable across retries. */
export function transitionId(t: PresenceTransition): string {
  return `presence:${t.channel}:${t.epoch}:${t.seq}`;
}

/** One (channel, connection) a holder has registered in its index. */
export interface HeldEntry {
  channel: string;
  connection: string;
}

export interface TransitionOptions {
  /**
   * Keep the transitions in the channel's outbox until `acknowledge` (set when something
   * must be delivered for them: join/leave signals or lifecycle events).
   */
  outbox: boolean;
  /** The decision's time, ms (stored with the transitions). */
  at: number;
}

export interface HeartbeatOptions {
  /** The holder's lease lasts this long from now, on the store's clock. */
  leaseMs: number;
  /** A holder claimed for reaping is not handed to another claimer for this long. */
  claimMs: number;
  /** Expired holders (or stale claims) to claim at most; 0 claims none. */
  claimLimit: number;
  /** Create the lease (first heartbeat of a holder); otherwise only an existing lease is renewed. */
  register?: boolean;
}

export interface Heartbeat {
  /**
   * False when the holder had no lease to renew: it expired and was claimed, so another
   * gateway removes (or removed) everything the holder wrote. The holder must stop writing
   * under this id and re-join its connections under a new one.
   */
  leased: boolean;
  /** Holders whose lease expired (or whose reaper's claim did), now claimed by the caller. */
  claimed: string[];
}

/**
 * Cluster-wide presence state, shared by every gateway (Redis; memory in one process).
 *
 * Writers are *holders*: one per gateway incarnation, each with a lease renewed by
 * `heartbeat` (one call per holder per interval, whatever its number of connections) and
 * an index of the (channel, connection) entries it holds, so that when a holder dies any
 * other can find and remove its entries. The protocol, run by `PresenceService`:
 *
 * - join: `hold` (index first) → `join`. A holder that dies between the two leaves an index
 *   entry with nothing behind it, which the reaper's `leave` ignores.
 * - leave: `leave` → deliver the outbox → `acknowledge` → `release`. The index entry goes
 *   last, so a holder dying mid-way leaves the reaper a way to the undelivered outbox.
 * - reap: `heartbeat` claims expired holders; for each, `heldBy` pages → `leave` (as that
 *   holder) → deliver `pending` → `acknowledge` → `release` → `finishReap` when empty.
 *
 * Per channel, `join` and `leave` are atomic and idempotent: each decides its transitions
 * in one step, and a repeated or concurrent call for the same (holder, channel, connection)
 * gets none, so every transition is returned to exactly one caller — a holder racing its
 * own reaper included. No per-channel operation needs a cross-channel structure (each
 * channel's keys live in one Redis Cluster hash slot; the lease set and each holder's
 * index in their own).
 *
 * Every method rejects when the backend is unreachable; nothing is queued.
 */
export interface PresenceStore {
  /** Records (channel, connection) in `holder`'s index. Idempotent. */
  hold(holder: string, channel: string, connection: string): Promise<void>;
  /**
   * Adds `connection` of `member.user` to `channel`. Returns `channel.occupied` (first
   * member) and `member.added` (first connection of the user), in that order, or nothing
   * (the user already had a connection there, or this connection was already joined). A
   * user's `info` is the one its first connection brought.
   */
  join(
    holder: string,
    channel: string,
    connection: string,
    member: PresenceMember,
    options: TransitionOptions,
  ): Promise<PresenceTransition[]>;
  /**
   * Removes `connection` from `channel`. Returns `member.removed` (its user's last
   * connection) and `channel.vacated` (the last member), in that order, or nothing
   * (another connection of the user remains, or the connection was not joined — left
   * already, by itself or by a reaper).
   */
  leave(holder: string, channel: string, connection: string, options: TransitionOptions): Promise<PresenceTransition[]>;
  /** Drops entries from `holder`'s index (after their leave's outbox is delivered). */
  release(holder: string, entries: readonly HeldEntry[]): Promise<void>;
  /** Exact member and connection counts, O(1). */
  count(channel: string): Promise<PresenceCount>;
  /** Exact counts and up to `limit` members (an arbitrary subset when there are more). */
  members(channel: string, limit: number): Promise<PresenceSnapshot>;
  /** Transitions of `channel` kept in its outbox and not yet acknowledged, in `seq` order. */
  pending(channel: string): Promise<PresenceTransition[]>;
  /** Removes delivered transitions from the channel's outbox. Idempotent. */
  acknowledge(channel: string, seqs: readonly number[]): Promise<void>;
  /**
   * Renews (or with `register`, creates) `holder`'s lease and claims up to `claimLimit`
   * expired holders, atomically: a holder is claimed by one caller at a time, and a holder
   * whose lease was claimed can never renew it again.
   */
  heartbeat(holder: string, options: HeartbeatOptions): Promise<Heartbeat>;
  /** Up to `limit` entries of `holder`'s index (any order). */
  heldBy(holder: string, limit: number): Promise<HeldEntry[]>;
  /** Ends the reaping of `holder` (its index is empty): forgets its claim. */
  finishReap(holder: string): Promise<void>;
  /** A clean shutdown: drops `holder`'s lease and index (after it left everything). */
  retire(holder: string): Promise<void>;
  isReady(): boolean;
  close(): Promise<void>;
}

/** Why `info` is not acceptable as a member's info, or undefined. */
export function presenceInfoError(info: unknown): string | undefined {
  if (typeof info !== 'object' || info === null || Array.isArray(info)) return 'info must be a JSON object';
  let json: string;
  try {
    json = JSON.stringify(info);
  } catch {
    return 'info must be serialisable JSON';
  }
  if (Buffer.byteLength(json) > MAX_PRESENCE_INFO_BYTES) return `info is larger than ${MAX_PRESENCE_INFO_BYTES} bytes of JSON`;
  return undefined;
}

/** Holder ids: a name and a random part; never `/` (connection fields are `<holder>/<connection>`) or braces. */
export const HOLDER_ID = /^[A-Za-z0-9_.:-]{1,160}$/;
