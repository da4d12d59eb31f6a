import { newEpoch } from '../../epoch';
import {
  HeldEntry,
  Heartbeat,
  HeartbeatOptions,
  PresenceCount,
  PresenceInfo,
  PresenceMember,
  PresenceSnapshot,
  PresenceStore,
  PresenceTransition,
  PresenceTransitionType,
  TransitionOptions,
} from '../presence-store';

interface ChannelPresence {
  /** user → its connection count and the info of its first connection. */
  members: Map<string, { connections: number; info: PresenceInfo }>;
  /** `<holder>/<connection>` → user. */
  connections: Map<string, string>;
  outbox: Map<number, PresenceTransition>;
}

/**
 * The presence store in one process: the same semantics as Redis in Maps. Several
 * services may share one instance (gateways in one test). Lease times use `now()`.
 */
export class MemoryPresenceStore implements PresenceStore {
  private readonly channels = new Map<string, ChannelPresence>();
  private readonly leases = new Map<string, number>();
  private readonly claims = new Map<string, number>();
  private readonly held = new Map<string, Set<string>>();
  /** One counter for every channel: strictly growing per channel, never reset in this process. */
  private seq = 0;
  private readonly epoch = newEpoch();

  constructor(private readonly now: () => number = Date.now) {}

  hold(holder: string, channel: string, connection: string): Promise<void> {
    let set = this.held.get(holder);
    if (set === undefined) this.held.set(holder, (set = new Set()));
    set.add(channel + ' ' + connection);
    return Promise.resolve();
  }

  join(
    holder: string,
    channel: string,
    connection: string,
    member: PresenceMember,
    options: TransitionOptions,
  ): Promise<PresenceTransition[]> {
    const field = holder + '/' + connection;
    let state = this.channels.get(channel);
    if (state?.connections.has(field)) return Promise.resolve([]);
    if (state === undefined) this.channels.set(channel, (state = { members: new Map(), connections: new Map(), outbox: new Map() }));
    state.connections.set(field, member.user);
    const existing = state.members.get(member.user);
    if (existing !== undefined) {
      existing.connections++;
      return Promise.resolve([]);
    }
    const first = state.members.size === 0;
    // A copy: the caller's object may change later, a stored member must not.
    const info = JSON.parse(JSON.stringify(member.info)) as PresenceInfo;
    state.members.set(member.user, { connections: 1, info });
    const out: PresenceTransition[] = [];
    if (first) out.push(this.emit(state, channel, 'channel.occupied', options));
    out.push(this.emit(state, channel, 'member.added', options, member.user, info));
    return Promise.resolve(out);
  }

  leave(holder: string, channel: string, connection: string, options: TransitionOptions): Promise<PresenceTransition[]> {
    const field = holder + '/' + connection;
    const state = this.channels.get(channel);
    const user = state?.connections.get(field);
    if (state === undefined || user === undefined) return Promise.resolve([]);
    state.connections.delete(field);
    const member = state.members.get(user)!;
    if (--member.connections > 0) return Promise.resolve([]);
    state.members.delete(user);
    const out = [this.emit(state, channel, 'member.removed', options, user)];
    if (state.members.size === 0) out.push(this.emit(state, channel, 'channel.vacated', options));
    this.forgetIfEmpty(channel, state);
    return Promise.resolve(out);
  }

  release(holder: string, entries: readonly HeldEntry[]): Promise<void> {
    const set = this.held.get(holder);
    if (set !== undefined) {
      for (const e of entries) set.delete(e.channel + ' ' + e.connection);
      if (set.size === 0) this.held.delete(holder);
    }
    return Promise.resolve();
  }

  count(channel: string): Promise<PresenceCount> {
    const state = this.channels.get(channel);
    return Promise.resolve({ count: state?.members.size ?? 0, connections: state?.connections.size ?? 0 });
  }

  members(channel: string, limit: number): Promise<PresenceSnapshot> {
    const state = this.channels.get(channel);
    if (state === undefined) return Promise.resolve({ count: 0, connections: 0, members: [], membersJson: '[]', truncated: false });
    const members: PresenceSnapshot['members'] = [];
    for (const [user, m] of state.members) {
      if (members.length >= limit) break;
      members.push({ user, info: m.info, connections: m.connections });
    }
    const count = state.members.size;
    return Promise.resolve({
      count,
      connections: state.connections.size,
      members,
      membersJson: JSON.stringify(members),
      truncated: members.length < count,
    });
  }

  pending(channel: string): Promise<PresenceTransition[]> {
    const outbox = this.channels.get(channel)?.outbox;
    return Promise.resolve(outbox === undefined ? [] : [...outbox.values()].sort((a, b) => a.seq - b.seq));
  }

  acknowledge(channel: string, seqs: readonly number[]): Promise<void> {
    const state = this.channels.get(channel);
    if (state !== undefined) {
      for (const s of seqs) state.outbox.delete(s);
      this.forgetIfEmpty(channel, state);
    }
    return Promise.resolve();
  }

  heartbeat(holder: string, options: HeartbeatOptions): Promise<Heartbeat> {
    const now = this.now();
    let leased = false;
    if (options.register === true || this.leases.has(holder)) {
      this.leases.set(holder, now + options.leaseMs);
      leased = true;
    }
    const claimed: string[] = [];
    for (const [h, expiry] of this.leases) {
      if (claimed.length >= options.claimLimit) break;
      if (expiry > now) continue;
      this.leases.delete(h);
      this.claims.set(h, now + options.claimMs);
      claimed.push(h);
    }
    for (const [h, until] of this.claims) {
      if (claimed.length >= options.claimLimit) break;
      if (until > now || claimed.includes(h)) continue;
      this.claims.set(h, now + options.claimMs);
      claimed.push(h);
    }
    return Promise.resolve({ leased, claimed });
  }

  heldBy(holder: string, limit: number): Promise<HeldEntry[]> {
    const out: HeldEntry[] = [];
    for (const e of this.held.get(holder) ?? []) {
      if (out.length >= limit) break;
      const sp = e.indexOf(' ');
      out.push({ channel: e.slice(0, sp), connection: e.slice(sp + 1) });
    }
    return Promise.resolve(out);
  }

  finishReap(holder: string): Promise<void> {
    this.claims.delete(holder);
    return Promise.resolve();
  }

  retire(holder: string): Promise<void> {
    this.leases.delete(holder);
    this.held.delete(holder);
    return Promise.resolve();
  }

  isReady(): boolean {
    return true;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  private emit(
    state: ChannelPresence,
    channel: string,
    type: PresenceTransitionType,
    options: TransitionOptions,
    user?: string,
    info?: PresenceInfo,
  ): PresenceTransition {
    const t: PresenceTransition = { type, channel, epoch: this.epoch, seq: ++this.seq, at: options.at };
    if (user !== undefined) t.user = user;
    if (info !== undefined) t.info = info;
    if (options.outbox) state.outbox.set(t.seq, t);
    return t;
  }

  private forgetIfEmpty(channel: string, state: ChannelPresence): void {
    if (state.members.size === 0 && state.connections.size === 0 && state.outbox.size === 0) this.channels.delete(channel);
  }
}
