import type { ChannelEngine, ChannelSubscription, PublishResult, SubscribeOutcome } from '@switchboard/engine';
import type { Logger, Metrics } from '@switchboard/observability';
import { assertChannel, StreamPosition, SwitchboardError } from '@switchboard/protocol';
import { canPublish, canSubscribe, Principal } from '../auth/principal';
import { GatewayOptions } from './gateway-options';
import { TokenBucket } from './token-bucket';
import { SessionSink } from './transport';

/** What a session needs from the gateway; shared by all sessions. */
export interface SessionServices {
  readonly engine: ChannelEngine;
  readonly options: GatewayOptions;
  readonly metrics: Metrics;
  readonly logger: Logger;
}

/**
 * One client connection's subscriptions, permissions and limits — the same for every
 * transport, which only parses requests and encodes replies.
 */
export class ClientSession {
  /** Held channels; `null` while the subscribe is in progress. */
  private readonly subscriptions = new Map<string, ChannelSubscription | null>();
  private readonly publishBucket: TokenBucket;
  private closed = false;

  constructor(
    readonly principal: Principal,
    private readonly sink: SessionSink,
    private readonly services: SessionServices,
  ) {
    this.publishBucket = new TokenBucket(services.options.clientPublishRate);
  }

  get channelCount(): number {
    return this.subscriptions.size;
  }

  /** Checks that a subscribe may go ahead (validity, permission, limits) without doing it. */
  checkSubscribe(channel: string): void {
    assertChannel(channel);
    if (this.subscriptions.has(channel)) throw new SwitchboardError('already_subscribed', `already subscribed to ${channel}`);
    if (!canSubscribe(this.principal, channel)) throw new SwitchboardError('forbidden', `not allowed to subscribe to ${channel}`);
    if (this.subscriptions.size >= this.services.options.maxSubscriptionsPerConnection) {
      this.services.metrics.limitHits.inc({ limit: 'max_subscriptions', transport: this.sink.transport });
      throw new SwitchboardError(
        'rate_limited',
        `at most ${this.services.options.maxSubscriptionsPerConnection} subscriptions per connection`,
      );
    }
  }

  /**
   * Subscribes. `onSubscribed` runs once, before the missed messages (when `since` is
   * given) and live ones reach the sink: the transport sends its reply there.
   */
  async subscribe(channel: string, since: StreamPosition | undefined, onSubscribed: (outcome: SubscribeOutcome) => void): Promise<void> {
    if (this.closed) throw new SwitchboardError('unavailable', 'connection is closing');
    this.checkSubscribe(channel);
    this.subscriptions.set(channel, null);
    const sink = this.sink;
    let handle: ChannelSubscription;
    try {
      handle = await this.services.engine.subscribe(
        channel,
        { onSubscribed, onMessage: (m) => sink.deliver(m), onLost: (c) => sink.lost(c) },
        { since },
      );
    } catch (err) {
      this.subscriptions.delete(channel);
      throw err;
    }
    if (this.closed || this.subscriptions.get(channel) !== null) {
      // Closed (or unsubscribed) while subscribing.
      handle.unsubscribe();
      return;
    }
    this.subscriptions.set(channel, handle);
    this.services.metrics.subscriptions.inc({ transport: sink.transport });
  }

  unsubscribe(channel: string): void {
    const handle = this.subscriptions.get(channel);
    if (handle === undefined) throw new SwitchboardError('not_found', `not subscribed to ${channel}`);
    this.subscriptions.delete(channel);
    if (handle !== null) {
      handle.unsubscribe();
      this.services.metrics.subscriptions.dec({ transport: this.sink.transport });
    }
  }

  /** A client publish: permission, rate limit (a refused publish takes no offset), `from` = token `sub`. */
  async publish(channel: string, data: unknown, idempotencyKey?: string): Promise<PublishResult> {
    assertChannel(channel);
    if (!canPublish(this.principal, channel)) throw new SwitchboardError('forbidden', `not allowed to publish to ${channel}`);
    if (!this.publishBucket.take()) {
      this.services.metrics.limitHits.inc({ limit: 'publish_rate', transport: this.sink.transport });
      throw new SwitchboardError('rate_limited', `at most ${this.services.options.clientPublishRate} publishes per second`);
    }
    const result = await this.services.engine.publish({ channel, data, idempotencyKey, from: this.principal.sub });
    this.services.metrics.clientPublishes.inc({ transport: this.sink.transport });
    // One line per client publish at debug level: who, where, which offset — never the body.
    this.services.logger.debug({ channel, offset: result.offset, from: this.principal.sub, duplicate: result.duplicate }, 'client publish');
    return result;
  }

  /** Ends every subscription. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const handle of this.subscriptions.values()) {
      if (handle !== null) {
        handle.unsubscribe();
        this.services.metrics.subscriptions.dec({ transport: this.sink.transport });
      }
    }
    this.subscriptions.clear();
  }
}
