import {
  ChannelNotFoundError,
  type ChannelEngine,
  type ChannelListener,
  type ChannelSubscription,
  type HistoryResult,
  type PublishResult,
  type ChannelPosition,
  type StoredMessage,
  type SubscribeOutcome,
} from '@switchboard/engine';
import type { Logger, Metrics } from '@switchboard/observability';
import type { PresenceMember as StoreMember } from '@switchboard/engine';
import { DeadlineSweep } from '@switchboard/platform';
import { assertChannel, StreamPosition, SwitchboardError } from '@switchboard/protocol';
import { randomBytes } from 'node:crypto';
import { canPublish, canSubscribe, Principal } from '../auth/principal';
import type { TokenVerifier } from '../auth/token-verifier';
import { ChannelTable } from './channel-table';
import type { ConnectionRegistry, Drainable } from './connection-registry';
import { GatewayOptions } from './gateway-options';
import type { PresenceAnswer, PresenceHub, PresenceNotice, PresenceRecipient } from './presence-hub';
import { EndReason, SessionTransport, TransportName } from './session-transport';
import { TokenBucket } from './token-bucket';

/** How long before its deadline a session starts checking the clock on each delivery. */
const LAST_SECOND_MS = 1000;
/** The expiry wheel's tick: token deadlines wake their session up to two ticks late (it schedules that much earlier). */
const EXPIRY_TICK_MS = 250;

/** Every session's token deadline on one timer of the process (a connection costs a Set entry, not a timer). */
export type ExpiryWheel = DeadlineSweep<ClientSession>;

/** The process's expiry wheel: wall-clock deadlines, as a token's `exp` is. */
export function expiryWheel(clock: () => number = Date.now): ExpiryWheel {
  return new DeadlineSweep(EXPIRY_TICK_MS, (session) => session.expire(), clock);
}

/** Connection ids in the presence store: unique per process start, then a counter. */
const PROCESS_TAG = randomBytes(6).toString('base64url');
let connectionSeq = 0;

export interface SubscribeOptions {
  /**
   * Who this connection is in the channel's presence (channels with presence, join/leave or
   * lifecycle events): default the token's `sub` and `info` claim. A protocol with its own
   * member data (a Pusher presence channel) passes it here.
   */
  member?: StoreMember;
  /**
   * The transport keeps this channel's presence itself (the Pusher transport: every Pusher
   * channel, under its own rules): the session neither joins nor watches it.
   */
  ownPresence?: true;
  /** A long-poll's: keep this process's feed of the channel this long after the last subscriber leaves (the engine's `lingerMs`). */
  lingerMs?: number;
}

/** What sessions share: the engine, limits, token verification, the expiry wheel, the registry. */
export interface SessionServices {
  readonly engine: ChannelEngine;
  readonly options: GatewayOptions;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly verifier: TokenVerifier;
  readonly expiry: ExpiryWheel;
  readonly registry: ConnectionRegistry;
  /** Presence and join/leave (absent in tests that do not need it: every channel is then without presence). */
  readonly presence?: PresenceHub;
  /** Counts `n` messages written to clients of `transport` (hot path: an integer add). */
  countDelivered(transport: TransportName, n?: number): void;
  /** The clock token deadlines are checked against (ms since the epoch). */
  now(): number;
}

/**
 * The session core: one client connection's identity, subscriptions and limits, the same
 * for every transport. Transports parse requests, call the session, and encode what it
 * decides; every rule — permissions, the subscription and publish limits, the read-creation
 * budget, the send-queue bound, token expiry and refresh — lives here once.
 *
 * The session is the engine listener of all its subscriptions (one object per connection,
 * no closure per channel); its `onMessage` is the per-recipient hot path.
 */
export class ClientSession implements ChannelListener, Drainable, PresenceRecipient {
  /** Made when presence first needs it: most sessions (every long-poll) never do. */
  private connectionIdValue?: string;
  /** Held channels; `null` while the subscribe is in progress. */
  private readonly subscriptions = new ChannelTable<ChannelSubscription | null>();
  /** Subscribe replies waiting for the engine's outcome, by channel (made on first subscribe). */
  private replies?: Map<string, (outcome: SubscribeOutcome) => void>;
  /** Made on the first client publish: most connections never publish. */
  private publishBucket?: TokenBucket;
  private ownReadBudget?: TokenBucket;
  private principalValue: Principal;
  /**
   * Set in the token's last second: from this instant (exp + tolerance, ms) nothing more
   * is delivered, whatever a busy event loop does to timers. 0 until then.
   */
  private deadline = 0;
  private deadlineTimer?: NodeJS.Timeout;
  private registered = false;
  private closed = false;
  /** Token deadlines are watched on the expiry wheel only up to this instant (`watchExpiryUntil`). */
  private watchUntil: number;
  /** This session's slot on the expiry wheel, if it was put on it. */
  private wheelSlot?: number;
  /** Held channels whose presence this connection joined (made on the first). */
  private present?: Set<string>;
  /** Held channels whose join/leave this connection receives. */
  private watching?: Set<string>;

  constructor(
    principal: Principal,
    readonly connection: SessionTransport,
    private readonly hub: SessionServices,
    /** Shared by the sessions of one client address (SSE, long-poll); per session otherwise. */
    private readonly sharedReadBudget?: TokenBucket,
    /** See `watchExpiryUntil`; by default every deadline is watched. */
    watchExpiryUntil = Infinity,
  ) {
    this.principalValue = principal;
    this.watchUntil = watchExpiryUntil;
    this.scheduleExpiry();
  }

  /** This connection in the presence store (unique cluster-wide). */
  get connectionId(): string {
    return (this.connectionIdValue ??= PROCESS_TAG + '.' + (++connectionSeq).toString(36));
  }

  get principal(): Principal {
    return this.principalValue;
  }

  get transportName(): TransportName {
    return this.connection.transport;
  }

  get channelCount(): number {
    return this.subscriptions.size;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Counts this session against MAX_CONNECTIONS / MAX_HELD_POLLS until it closes (the caller ran `registry.admit`). */
  register(): void {
    if (this.registered || this.closed) return;
    this.registered = true;
    this.hub.registry.add(this);
  }

  // ---- Subscriptions ---------------------------------------------------------------------

  /** Checks that a subscribe may go ahead (validity, permission, limits) without doing it. */
  checkSubscribe(channel: string): void {
    assertChannel(channel);
    if (this.subscriptions.has(channel)) throw new SwitchboardError('already_subscribed', `already subscribed to ${channel}`);
    this.checkAllowed(channel);
    if (this.subscriptions.size >= this.hub.options.maxSubscriptionsPerConnection) throw this.tooManyChannels();
  }

  /**
   * SSE and long-poll name all their channels in one request: more than
   * MAX_SUBSCRIPTIONS_PER_CONNECTION is a 400, one not allowed a 403.
   */
  checkChannels(channels: readonly string[]): void {
    if (channels.length > this.hub.options.maxSubscriptionsPerConnection) {
      this.hub.metrics.limitHits.inc({ limit: 'max_subscriptions', transport: this.transportName });
      throw new SwitchboardError('bad_request', `at most ${this.hub.options.maxSubscriptionsPerConnection} channels per request`);
    }
    for (const channel of channels) this.checkAllowed(channel);
  }

  /**
   * Subscribes. `onSubscribed` runs once, before the missed messages (when `since` is
   * given) and live ones reach the transport: the transport sends its reply there.
   */
  async subscribe(
    channel: string,
    since: StreamPosition | undefined,
    onSubscribed: (outcome: SubscribeOutcome) => void,
    options: SubscribeOptions = {},
  ): Promise<void> {
    if (this.closed) throw new SwitchboardError('unavailable', 'connection is closing');
    this.checkSubscribe(channel);
    this.subscriptions.set(channel, null);
    const replies = (this.replies ??= new Map());
    replies.set(channel, onSubscribed);
    let handle: ChannelSubscription;
    try {
      handle = await this.hub.engine.subscribe(channel, this, {
        since,
        create: this.readBudget().available(),
        lingerMs: options.lingerMs,
      });
    } catch (err) {
      this.subscriptions.delete(channel);
      throw this.readError(err);
    } finally {
      replies.delete(channel);
      // An idle session keeps no empty map.
      if (replies.size === 0 && this.replies === replies) this.replies = undefined;
    }
    if (this.closed || this.subscriptions.get(channel) !== null) {
      // Closed (or unsubscribed) while subscribing.
      handle.unsubscribe();
      return;
    }
    this.subscriptions.set(channel, handle);
    this.hub.metrics.activeSubscriptions.add(this.transportName, 1);
    // A refresh during the subscribe may have taken the permission away.
    if (!canSubscribe(this.principal, channel)) {
      this.endSubscription(channel, handle);
      return;
    }
    if (options.ownPresence !== true && this.hasPresence(channel)) await this.enterPresence(channel, options.member ?? this.member());
  }

  /**
   * `subscribe` done at once when this process's feed of `channel` is exactly at `since`
   * (the engine's `joinAtLocalHead`: nothing to read, `recovered: true`): a long-poll's next
   * poll. False, with nothing done, when the feed is elsewhere or the channel has presence
   * (whose join waits for the store): then `subscribe`.
   */
  joinAtLocalHead(channel: string, since: StreamPosition, lingerMs?: number): boolean {
    if (this.closed) throw new SwitchboardError('unavailable', 'connection is closing');
    this.checkSubscribe(channel);
    if (this.hasPresence(channel)) return false;
    const handle = this.hub.engine.joinAtLocalHead(channel, this, since, lingerMs);
    if (handle === undefined) return false;
    this.subscriptions.set(channel, handle);
    this.hub.metrics.activeSubscriptions.add(this.transportName, 1);
    return true;
  }

  unsubscribe(channel: string): void {
    const handle = this.subscriptions.get(channel);
    if (handle === undefined) throw new SwitchboardError('not_found', `not subscribed to ${channel}`);
    this.subscriptions.delete(channel);
    if (handle !== null) {
      handle.unsubscribe();
      this.hub.metrics.activeSubscriptions.add(this.transportName, -1);
    }
    this.exitPresence(channel);
  }

  // ---- Reads without a subscription (long-poll, SSE start) ---------------------------------

  /** Current positions; a never-touched channel counts against the read-creation budget. */
  async positions(channels: readonly string[]): Promise<ChannelPosition[]> {
    const budget = this.readBudget();
    let positions: ChannelPosition[];
    try {
      positions = await this.hub.engine.positions(channels, { create: budget.available() });
    } catch (err) {
      throw this.readError(err);
    }
    for (const p of positions) if (p.created === true) budget.charge();
    return positions;
  }

  /** Messages after `since` (the long-poll backlog); a never-touched channel counts against the read-creation budget. */
  async history(channel: string, since: StreamPosition): Promise<HistoryResult> {
    const budget = this.readBudget();
    let history: HistoryResult;
    try {
      history = await this.hub.engine.history(channel, since, { create: budget.available() });
    } catch (err) {
      throw this.readError(err);
    }
    if (history.created === true) budget.charge();
    return history;
  }

  // ---- Publish ---------------------------------------------------------------------------

  /**
   * A client publish: permission, rate limit (a refused publish takes no offset), `from` = token `sub`.
   * `type` is set only by transports whose protocol names events (Pusher `client-` events).
   */
  async publish(channel: string, data: unknown, idempotencyKey?: string, type?: string): Promise<PublishResult> {
    assertChannel(channel);
    if (!canPublish(this.principal, channel)) throw new SwitchboardError('forbidden', `not allowed to publish to ${channel}`);
    this.publishBucket ??= new TokenBucket(this.hub.options.clientPublishRate);
    if (!this.publishBucket.take()) {
      this.hub.metrics.limitHits.inc({ limit: 'publish_rate', transport: this.transportName });
      throw new SwitchboardError('rate_limited', `at most ${this.hub.options.clientPublishRate} publishes per second`);
    }
    const result = await this.hub.engine.publish({ channel, data, idempotencyKey, type, from: this.principal.sub });
    this.hub.metrics.clientPublishes.inc({ transport: this.transportName });
    // One line per client publish at debug level: who, where, which offset — never the body.
    this.hub.logger.debug({ channel, offset: result.offset, from: this.principal.sub, duplicate: result.duplicate }, 'client publish');
    return result;
  }

  // ---- Presence ---------------------------------------------------------------------------

  /**
   * Who is in a channel (allowed to whoever may subscribe to it): counts exact, members
   * capped at PRESENCE_MAX_MEMBERS with `truncated`; `not_found` when presence is off for it.
   */
  async presence(channel: string): Promise<PresenceAnswer> {
    assertChannel(channel);
    this.checkAllowed(channel);
    const presence = this.hub.presence;
    if (presence === undefined) throw new SwitchboardError('not_found', `presence is not enabled for channel ${JSON.stringify(channel)}`);
    return presence.query(channel);
  }

  /** `presence(channel)` as JSON, the store's member list embedded as is (WS, HTTP). */
  async presenceJson(channel: string): Promise<string> {
    assertChannel(channel);
    this.checkAllowed(channel);
    const presence = this.hub.presence;
    if (presence === undefined) throw new SwitchboardError('not_found', `presence is not enabled for channel ${JSON.stringify(channel)}`);
    return presence.queryJson(channel);
  }

  /** The join/leave of a held channel: written by the transport unless the token's deadline passed. */
  presenceNotice(notice: PresenceNotice): void {
    if (this.closed) return;
    if (this.deadline !== 0 && this.hub.now() >= this.deadline) {
      this.expired();
      return;
    }
    const connection = this.connection;
    if (connection.presenceNotice === undefined) return;
    connection.presenceNotice(notice);
    if (connection.queuedBytes() > this.hub.options.sendQueueMaxBytes) this.overflow();
  }

  // ---- Token lifetime ----------------------------------------------------------------------

  /**
   * In-band refresh: the new token must be valid and name the same `sub` (else `forbidden`,
   * and the connection lives on until the old `exp`). Subscriptions it no longer allows are
   * ended with reason `forbidden`. Returns the new expiry (ms) or null.
   */
  async refresh(token: string): Promise<number | null> {
    let next: Principal;
    try {
      next = await this.hub.verifier.verify(token);
    } catch (err) {
      this.hub.metrics.tokenRefreshes.inc({ transport: this.transportName, outcome: 'refused' });
      const reason = err instanceof SwitchboardError ? err.message : 'token is invalid';
      throw new SwitchboardError('forbidden', `refresh refused: ${reason}`, { cause: err });
    }
    if (next.sub !== this.principal.sub) {
      this.hub.metrics.tokenRefreshes.inc({ transport: this.transportName, outcome: 'refused' });
      throw new SwitchboardError('forbidden', 'refresh refused: the new token is for another user (sub)');
    }
    if (this.closed) throw new SwitchboardError('unavailable', 'connection is closing');
    this.principalValue = next;
    this.scheduleExpiry();
    this.subscriptions.forEach((handle, channel) => {
      if (handle !== null && !canSubscribe(next, channel)) this.endSubscription(channel, handle);
    });
    this.hub.metrics.tokenRefreshes.inc({ transport: this.transportName, outcome: 'ok' });
    return next.expiresAt ?? null;
  }

  /**
   * For a connection that ends by itself (a held long-poll): its token's expiry is put on
   * the wheel only if it comes before `until` (ms since the epoch). A poll answered later
   * than planned (a busy event loop) still checks the clock before it writes (`isExpired`),
   * so nothing is delivered after `exp` + tolerance either way.
   */
  watchExpiryUntil(until: number): void {
    this.watchUntil = until;
    if (!this.closed) this.scheduleExpiry();
  }

  /** True once the token's `exp` + tolerance has passed (for writes made outside `onMessage`). */
  get isExpired(): boolean {
    const exp = this.principal.expiresAt;
    return exp !== undefined && this.hub.now() >= exp + this.hub.options.clockToleranceMs;
  }

  /**
   * The expiry wheel's call, a second before `exp` + tolerance: from now on deliveries check
   * the clock, and a timer ends the connection at the deadline itself.
   */
  expire(): void {
    if (this.closed) return;
    const exp = this.principal.expiresAt;
    if (exp === undefined) return;
    const deadline = exp + this.hub.options.clockToleranceMs;
    const left = deadline - this.hub.now();
    if (left > 0) {
      this.deadline = deadline;
      clearTimeout(this.deadlineTimer);
      this.deadlineTimer = setTimeout(() => this.expired(), left);
      this.deadlineTimer.unref();
      return;
    }
    this.expired();
  }

  private expired(): void {
    if (this.closed) return;
    this.hub.metrics.tokenExpirations.inc({ transport: this.transportName });
    this.hub.logger.debug({ sub: this.principal.sub, transport: this.transportName }, 'token expired: connection ended');
    this.end('expired');
  }

  // ---- Delivery (engine listener) ------------------------------------------------------------

  onSubscribed(outcome: SubscribeOutcome): void {
    if (outcome.created === true) this.readBudget().charge();
    this.replies?.get(outcome.channel)?.(outcome);
  }

  /** Hot path, once per message and recipient: write, count, check the send queue. */
  onMessage(message: StoredMessage): void {
    if (this.deadline !== 0 && this.hub.now() >= this.deadline) {
      this.expired();
      return;
    }
    const connection = this.connection;
    connection.deliver(message);
    this.hub.countDelivered(connection.transport);
    if (connection.queuedBytes() > this.hub.options.sendQueueMaxBytes) this.overflow();
  }

  onLost(channel: string): void {
    this.connection.lost(channel);
  }

  /**
   * The transport wrote something other than a message (a reply, an error, a notice; every
   * transport calls this after such a write): every send counts against
   * SEND_QUEUE_MAX_BYTES, so a client that sends requests and never reads the replies is
   * closed like one that never reads its messages.
   */
  sent(): void {
    if (!this.closed && this.connection.queuedBytes() > this.hub.options.sendQueueMaxBytes) this.overflow();
  }

  // ---- Ending ------------------------------------------------------------------------------

  /** The drain: reconnect elsewhere after `reconnectAfterMs`. */
  drain(reconnectAfterMs: number): void {
    if (this.closed) return;
    this.hub.metrics.drainDisconnects.inc({ transport: this.transportName });
    this.end('drain', reconnectAfterMs);
  }

  /** Ends the session and tells the transport to end the connection for `reason`. */
  end(reason: EndReason, reconnectAfterMs?: number): void {
    if (this.closed) return;
    this.close();
    this.connection.end(reason, reconnectAfterMs);
  }

  /** Ends every subscription and leaves the registry. Idempotent; the transport calls it when its connection closes. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.wheelSlot !== undefined) this.hub.expiry.cancel(this.wheelSlot, this);
    clearTimeout(this.deadlineTimer);
    this.subscriptions.forEach(this.release, this);
    this.subscriptions.clear();
    if (this.present !== undefined) {
      this.present = undefined;
      this.hub.presence?.leaveAll(this.connectionId);
    }
    if (this.watching !== undefined) {
      for (const channel of this.watching) this.hub.presence?.unwatch(channel, this);
      this.watching = undefined;
    }
    if (this.registered) this.hub.registry.remove(this);
  }

  // ---- Internals ---------------------------------------------------------------------------

  private checkAllowed(channel: string): void {
    if (!canSubscribe(this.principal, channel)) throw new SwitchboardError('forbidden', `not allowed to subscribe to ${channel}`);
  }

  private tooManyChannels(): SwitchboardError {
    this.hub.metrics.limitHits.inc({ limit: 'max_subscriptions', transport: this.transportName });
    return new SwitchboardError('rate_limited', `at most ${this.hub.options.maxSubscriptionsPerConnection} subscriptions per connection`);
  }

  /** Ends a held subscription as the session closes (`close`). */
  private release(handle: ChannelSubscription | null): void {
    if (handle === null) return;
    handle.unsubscribe();
    this.hub.metrics.activeSubscriptions.add(this.transportName, -1);
  }

  private endSubscription(channel: string, handle: ChannelSubscription): void {
    this.subscriptions.delete(channel);
    handle.unsubscribe();
    this.hub.metrics.activeSubscriptions.add(this.transportName, -1);
    this.exitPresence(channel);
    this.connection.unsubscribed(channel, 'forbidden');
  }

  /** The token's user and `info` claim. */
  private member(): StoreMember {
    return { user: this.principal.sub, info: { ...this.principal.info } };
  }

  /** Whether `channel` has presence, join/leave or lifecycle events (most channels have none: no promise, no member then). */
  private hasPresence(channel: string): boolean {
    const presence = this.hub.presence;
    if (presence === undefined) return false;
    const o = presence.channelOptions(channel);
    return o.presence || o.joinLeave || o.lifecycleEvents;
  }

  /**
   * A held channel's presence: receive its join/leave (when `joinLeave` and the transport
   * delivers them), then join it. A join the store cannot take now is kept by the presence
   * service and written on a later heartbeat; the subscription stands either way.
   */
  private async enterPresence(channel: string, member: StoreMember): Promise<void> {
    const presence = this.hub.presence;
    if (presence === undefined) return;
    const o = presence.channelOptions(channel);
    if (!o.presence && !o.joinLeave && !o.lifecycleEvents) return;
    if (o.joinLeave && this.connection.presenceNotice !== undefined) {
      (this.watching ??= new Set()).add(channel);
      await presence.watch(channel, this);
    }
    if (this.closed || this.subscriptions.get(channel) == null) return;
    (this.present ??= new Set()).add(channel);
    try {
      await presence.join(channel, this.connectionId, member);
    } catch (err) {
      if (err instanceof SwitchboardError && err.code === 'bad_request') {
        // The member was refused (no joinable user): the subscription stands without presence.
        this.present.delete(channel);
        throw err;
      }
      this.hub.logger.warn({ err, channel }, 'presence join not stored yet; retried');
    }
  }

  private exitPresence(channel: string): void {
    if (this.watching?.delete(channel) === true) this.hub.presence?.unwatch(channel, this);
    if (this.present?.delete(channel) === true) this.hub.presence?.leave(channel, this.connectionId);
  }

  private readBudget(): TokenBucket {
    return this.sharedReadBudget ?? (this.ownReadBudget ??= new TokenBucket(this.hub.options.readCreateRate));
  }

  /** A read refused for the creation budget becomes `rate_limited`; other errors pass through. */
  private readError(err: unknown): unknown {
    if (!(err instanceof ChannelNotFoundError)) return err;
    this.hub.metrics.limitHits.inc({ limit: 'read_create_rate', transport: this.transportName });
    return new SwitchboardError(
      'rate_limited',
      `channel ${err.channel} does not exist yet and this client may create at most ${this.hub.options.readCreateRate} channels per second by reading them`,
    );
  }

  private overflow(): void {
    if (this.closed) return;
    this.hub.metrics.slowConsumerDisconnects.inc({ transport: this.transportName });
    this.hub.metrics.limitHits.inc({ limit: 'send_queue', transport: this.transportName });
    this.hub.logger.info(
      { sub: this.principal.sub, transport: this.transportName, queued: this.connection.queuedBytes() },
      'slow consumer disconnected',
    );
    this.end('slow_consumer');
  }

  /**
   * The connection ends at `exp` + JWT_CLOCK_TOLERANCE_SECONDS: the shared wheel wakes the
   * session a second before (its lateness included), and the last second is exact.
   */
  private scheduleExpiry(): void {
    this.deadline = 0;
    clearTimeout(this.deadlineTimer);
    const exp = this.principal.expiresAt;
    if (this.wheelSlot !== undefined) this.hub.expiry.cancel(this.wheelSlot, this);
    this.wheelSlot = undefined;
    const wake = exp === undefined ? undefined : exp + this.hub.options.clockToleranceMs - LAST_SECOND_MS - this.hub.expiry.maxLateMs;
    if (wake !== undefined && wake <= this.watchUntil) this.wheelSlot = this.hub.expiry.add(wake, this);
  }
}
