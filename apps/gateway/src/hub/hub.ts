import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import type { ChannelEngine, MessageEncoder, StoredMessage } from '@switchboard/engine';
import type { Logger, Metrics } from '@switchboard/observability';
import { CHANNEL_ENGINE, clientBucket, Forwarding, LOGGER, METRICS } from '@switchboard/platform';
import type { IncomingMessage } from 'node:http';
import { Principal } from '../auth/principal';
import { GatewayTokenVerifier } from '../auth/token-verifier';
import { ClientSession, expiryWheel, SessionServices } from './client-session';
import { ConnectionRegistry } from './connection-registry';
import { GATEWAY_OPTIONS } from './gateway-options';
import { PresenceHub } from './presence-hub';
import type { GatewayOptions } from './gateway-options';
import { SessionTransport, TRANSPORT_NAMES, TransportName } from './session-transport';
import { TokenBucket } from './token-bucket';

/** How often per-recipient delivery counts are flushed into the Prometheus counter. */
const FLUSH_MS = 1000;
/** Client addresses whose read-creation budget is remembered (least recently used beyond it are forgotten). */
const MAX_ADDRESS_BUDGETS = 100_000;
/** Peer addresses whose budget key is remembered (the oldest beyond it are forgotten). */
const MAX_PEER_BUCKETS = 10_000;

export interface OpenSessionOptions {
  /** The client's request: SSE and long-poll sessions share its address's read-creation budget. */
  request?: IncomingMessage;
  /** Count the session against MAX_CONNECTIONS now (default); long-poll registers only while it holds. */
  register?: boolean;
  /**
   * Watch the token's expiry only for deadlines before this instant (ms since the epoch;
   * default: always): a long-poll watches none until it holds (`ClientSession.watchExpiryUntil`).
   */
  watchExpiryUntil?: number;
}

/**
 * The gateway's core, shared by all transports: opens sessions on the channel engine,
 * expires their tokens on one wheel, and accounts deliveries. Per-recipient work stays
 * integer increments; Prometheus is updated once a second and latency is observed once
 * per message and transport.
 */
@Injectable()
export class Hub implements SessionServices, OnApplicationShutdown {
  readonly expiry = expiryWheel();
  private readonly delivered: Record<TransportName, number> = { ws: 0, socketio: 0, sse: 0, poll: 0, pusher: 0 };
  private readonly addressBudgets = new Map<string, TokenBucket>();
  /** Peer address → its budget key, or null for a trusted proxy (see `clientAddress`). */
  private readonly peerBuckets = new Map<string, string | null>();
  private readonly forwarding: Forwarding;
  private readonly flushTimer: NodeJS.Timeout;

  constructor(
    @Inject(CHANNEL_ENGINE) readonly engine: ChannelEngine,
    @Inject(GATEWAY_OPTIONS) readonly options: GatewayOptions,
    @Inject(METRICS) readonly metrics: Metrics,
    @Inject(LOGGER) readonly logger: Logger,
    readonly verifier: GatewayTokenVerifier,
    readonly registry: ConnectionRegistry,
    readonly presence: PresenceHub,
  ) {
    this.forwarding = new Forwarding(options.trustedProxies);
    this.flushTimer = setInterval(() => this.flush(), FLUSH_MS);
    this.flushTimer.unref();
  }

  /** A session for a verified principal on `connection`; the caller ran `registry.admit` first. */
  openSession(principal: Principal, connection: SessionTransport, options: OpenSessionOptions = {}): ClientSession {
    const budget = options.request === undefined ? undefined : this.addressBudget(this.clientAddress(options.request));
    const session = new ClientSession(principal, connection, this, budget, options.watchExpiryUntil);
    if (options.register !== false) session.register();
    return session;
  }

  now(): number {
    return Date.now();
  }

  countDelivered(transport: TransportName, n = 1): void {
    this.delivered[transport] += n;
  }

  /**
   * Wraps a transport's encoder so the end-to-end latency (first receipt → socket write)
   * is observed once per message and transport, when it is first encoded for a write.
   */
  timedEncoder<T>(transport: TransportName, encode: (m: StoredMessage) => T): MessageEncoder<T> {
    const histogram = this.metrics.deliveryLatency.labels({ transport });
    return {
      encode: (m) => {
        if (m.receivedAt > 0) histogram.observe(Math.max(0, Date.now() - m.receivedAt) / 1000);
        return encode(m);
      },
    };
  }

  onApplicationShutdown(): void {
    clearInterval(this.flushTimer);
    this.expiry.close();
    this.flush();
  }

  /**
   * The client behind a request (forwarding headers only from TRUSTED_PROXIES), an IPv6
   * client by its /64. What a peer address is (its bucket, or a trusted proxy whose headers
   * decide) is remembered: SSE and long-poll ask once per request, keep-alive reuses peers.
   */
  private clientAddress(req: IncomingMessage): string {
    const peer = req.socket.remoteAddress ?? '';
    let bucket = this.peerBuckets.get(peer);
    if (bucket === undefined) {
      bucket = this.forwarding.trusts(peer) ? null : clientBucket(peer);
      if (this.peerBuckets.size >= MAX_PEER_BUCKETS) this.peerBuckets.delete(this.peerBuckets.keys().next().value!);
      this.peerBuckets.set(peer, bucket);
    }
    return bucket ?? clientBucket(this.forwarding.clientAddress(peer, req.headers));
  }

  /** The read-creation budget of a client address, kept in least-recently-used order. */
  private addressBudget(address: string): TokenBucket {
    let budget = this.addressBudgets.get(address);
    if (budget !== undefined) {
      this.addressBudgets.delete(address);
    } else {
      budget = new TokenBucket(this.options.readCreateRate);
      if (this.addressBudgets.size >= MAX_ADDRESS_BUDGETS) this.addressBudgets.delete(this.addressBudgets.keys().next().value!);
    }
    this.addressBudgets.set(address, budget);
    return budget;
  }

  private flush(): void {
    for (const transport of TRANSPORT_NAMES) {
      const n = this.delivered[transport];
      if (n > 0) {
        this.metrics.messagesDelivered.inc({ transport }, n);
        this.delivered[transport] = 0;
      }
    }
  }
}
