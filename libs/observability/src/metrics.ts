import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EngineMetrics, PresenceMetrics } from '@switchboard/engine';

/** Latency buckets (seconds) from sub-millisecond fan-out to multi-second backlogs. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Every metric Switchboard exports, in one place (SPEC "Operations"; the Grafana
 * dashboard and alerts use these names). One instance per process and registry.
 */
export function createMetrics(registry: Registry = new Registry()) {
  collectDefaultMetrics({ register: registry });
  const r = [registry];
  /** Read at scrape time; the platform points them at the live state. */
  const probes = {
    backends: (): Record<string, boolean> => ({}),
    ready: (): boolean => false,
    /** Webhook bodies being read (webhook-ingest's read slots in use). */
    webhookBodyReads: (): number => 0,
    /** Long-polls held now (the connection registry's count). */
    heldPolls: (): number => 0,
  };
  const activeSubscriptions = new TransportCounts();
  const webhookRequestCounts = new CounterTally<'source' | 'outcome' | 'reason'>();
  const webhookSecretMatchCounts = new CounterTally<'source' | 'secret_index'>();
  return {
    registry,
    probes,
    /**
     * Active channel subscriptions by transport, moved by the sessions as plain integers and
     * read into `switchboard_subscriptions` at scrape time: a long-poll subscribes and
     * unsubscribes on every poll, and the gauge's label hashing was ~1 % of a poll's CPU.
     */
    activeSubscriptions,
    /** Series of switchboard_webhook_requests_total counted per stored webhook: plain integers, added at scrape time. */
    webhookRequestCounts,
    /** Series of switchboard_webhook_secret_matches_total, likewise. */
    webhookSecretMatchCounts,

    // Gateway: connections and subscriptions.
    connections: new Gauge({
      name: 'switchboard_connections',
      help: 'Open client connections by transport',
      labelNames: ['transport'] as const,
      registers: r,
    }),
    connectionsTotal: new Counter({
      name: 'switchboard_connections_total',
      help: 'Client connections accepted by transport',
      labelNames: ['transport'] as const,
      registers: r,
    }),
    connectionsRefused: new Counter({
      name: 'switchboard_connections_refused_total',
      help: 'Connections refused, by transport and reason (unauthorized, forbidden_origin, overloaded, draining)',
      labelNames: ['transport', 'reason'] as const,
      registers: r,
    }),
    subscriptions: new Gauge({
      name: 'switchboard_subscriptions',
      help: 'Active channel subscriptions by transport',
      labelNames: ['transport'] as const,
      registers: r,
      collect() {
        for (const [transport, n] of activeSubscriptions.entries()) this.set({ transport }, n);
      },
    }),
    channelsHeld: new Gauge({
      name: 'switchboard_channels_held',
      help: 'Channels this process holds a fan-out subscription for',
      registers: r,
    }),

    // Messages.
    messagesPublished: new Counter({
      name: 'switchboard_messages_published_total',
      help: 'Channel publishes by result (stored, duplicate)',
      labelNames: ['result'] as const,
      registers: r,
    }),
    messagesDelivered: new Counter({
      name: 'switchboard_messages_delivered_total',
      help: 'Messages written to clients by transport',
      labelNames: ['transport'] as const,
      registers: r,
    }),
    deliveryLatency: new Histogram({
      name: 'switchboard_delivery_latency_seconds',
      help: "Time from the event's first receipt (webhook or publish) to the socket write, by transport",
      labelNames: ['transport'] as const,
      buckets: LATENCY_BUCKETS,
      registers: r,
    }),
    brokerDiscarded: new Counter({
      name: 'switchboard_broker_messages_discarded_total',
      help: 'Fan-out messages that reached this process with no local subscriber (interest-based routing keeps this near 0)',
      registers: r,
    }),
    gapRepairs: new Counter({
      name: 'switchboard_gap_repairs_total',
      help: 'Holes in live delivery filled from history or lost',
      labelNames: ['outcome'] as const,
      registers: r,
    }),
    recoveries: new Counter({
      name: 'switchboard_recoveries_total',
      help: 'Subscribe-with-position outcomes (recovered, not_recovered)',
      labelNames: ['outcome'] as const,
      registers: r,
    }),
    slowConsumerDisconnects: new Counter({
      name: 'switchboard_slow_consumer_disconnects_total',
      help: 'Clients disconnected because their send queue exceeded SEND_QUEUE_MAX_BYTES',
      labelNames: ['transport'] as const,
      registers: r,
    }),
    limitHits: new Counter({
      name: 'switchboard_limit_hits_total',
      help: 'Requests refused or connections ended by a server-side limit (max_message_bytes, max_subscriptions, publish_rate, max_connections, max_held_polls, send_queue, max_response_bytes, read_create_rate, requests_in_flight)',
      labelNames: ['limit', 'transport'] as const,
      registers: r,
    }),
    clientPublishes: new Counter({
      name: 'switchboard_client_publishes_total',
      help: 'Publishes made by clients through the gateway (WebRTC signaling included), by transport',
      labelNames: ['transport'] as const,
      registers: r,
    }),
    drainDisconnects: new Counter({
      name: 'switchboard_drain_disconnects_total',
      help: 'Connections told to reconnect during drain',
      labelNames: ['transport'] as const,
      registers: r,
    }),
    heldPolls: new Gauge({
      name: 'switchboard_held_polls',
      help: 'Long-polls waiting for messages (capped by MAX_HELD_POLLS)',
      registers: r,
      // Read at scrape time: set twice per poll (held, answered), it allocated on every poll.
      collect() {
        this.set(probes.heldPolls());
      },
    }),
    pusherClientEventWebhooksLost: new Counter({
      name: 'switchboard_pusher_client_event_webhooks_lost_total',
      help: 'Pusher client events whose client_event webhook could not be stored on EVENTS after every retry (the event itself was delivered)',
      registers: r,
    }),
    tokenExpirations: new Counter({
      name: 'switchboard_token_expirations_total',
      help: 'Connections ended because their token expired (exp + JWT_CLOCK_TOLERANCE_SECONDS)',
      labelNames: ['transport'] as const,
      registers: r,
    }),
    tokenRefreshes: new Counter({
      name: 'switchboard_token_refreshes_total',
      help: 'In-band token refreshes by outcome (ok, refused)',
      labelNames: ['transport', 'outcome'] as const,
      registers: r,
    }),

    // Webhook ingest.
    webhookRequests: new Counter({
      name: 'switchboard_webhook_requests_total',
      help: 'Webhook requests by source (_unknown for names not configured), outcome (accepted, duplicate, handshake, rejected, unavailable) and reason',
      labelNames: ['source', 'outcome', 'reason'] as const,
      registers: r,
      collect() {
        webhookRequestCounts.addTo(this);
      },
    }),
    webhookVerifySeconds: new Histogram({
      name: 'switchboard_webhook_verify_seconds',
      help: 'Signature verification time by provider',
      labelNames: ['provider'] as const,
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05],
      registers: r,
    }),
    webhookSecretMatches: new Counter({
      name: 'switchboard_webhook_secret_matches_total',
      help: 'Verified webhooks by source and index of the secret that matched (rotation progress)',
      labelNames: ['source', 'secret_index'] as const,
      registers: r,
      collect() {
        webhookSecretMatchCounts.addTo(this);
      },
    }),
    webhookBodyReads: new Gauge({
      name: 'switchboard_webhook_body_reads',
      help: 'Webhook bodies being received now (at most WEBHOOK_MAX_CONCURRENT_READS)',
      registers: r,
      // Read at scrape time: set on every read, it was ~3 % of a stored webhook's CPU.
      collect() {
        this.set(probes.webhookBodyReads());
      },
    }),

    // Notifier.
    notifierEvents: new Counter({
      name: 'switchboard_notifier_events_total',
      help: 'Events handled by the notifier by outcome (processed, retried, dead_lettered, unroutable; abandoned when not even the DLQ could take it)',
      labelNames: ['outcome'] as const,
      registers: r,
    }),
    notifierRouted: new Counter({
      name: 'switchboard_notifier_channel_publishes_total',
      help: 'Channel publishes made for routed events by result (stored, duplicate, failed)',
      labelNames: ['result'] as const,
      registers: r,
    }),
    notifierRouteSkips: new Counter({
      name: 'switchboard_notifier_route_skips_total',
      help: 'Route rules skipped for an event (missing template path or invalid channel)',
      labelNames: ['reason'] as const,
      registers: r,
    }),
    notifierPublishSeconds: new Histogram({
      name: 'switchboard_notifier_publish_seconds',
      help: 'Time to publish one event to all its channels',
      buckets: LATENCY_BUCKETS,
      registers: r,
    }),

    // Presence (the store is shared: cluster-wide member counts come from presence queries, not metrics).
    presenceEntries: new Gauge({
      name: 'switchboard_presence_entries',
      help: 'Presence entries (connection x channel) this process holds in the presence store',
      registers: r,
    }),
    presenceTransitions: new Counter({
      name: 'switchboard_presence_transitions_total',
      help: 'Presence transitions decided by this process, by type (channel.occupied, channel.vacated, member.added, member.removed)',
      labelNames: ['type'] as const,
      registers: r,
    }),
    presenceQuerySeconds: new Histogram({
      name: 'switchboard_presence_query_seconds',
      help: 'Presence queries answered by this process and their duration, by kind (count, members)',
      labelNames: ['kind'] as const,
      buckets: LATENCY_BUCKETS,
      registers: r,
    }),
    presenceLeaseExpiries: new Counter({
      name: 'switchboard_presence_lease_expiries_total',
      help: 'Gateways whose presence lease expired (died without leaving), claimed by this process for reaping',
      registers: r,
    }),
    presenceReapedEntries: new Counter({
      name: 'switchboard_presence_reaped_entries_total',
      help: 'Presence entries of dead gateways removed by this process',
      registers: r,
    }),
    presenceLeaseLost: new Counter({
      name: 'switchboard_presence_lease_lost_total',
      help: "This process's own presence lease found expired (it stalled past PRESENCE_TTL_SECONDS); its entries were written again",
      registers: r,
    }),
    presenceDeliveryFailures: new Counter({
      name: 'switchboard_presence_delivery_failures_total',
      help: 'Join/leave signals or lifecycle events that could not be delivered at once (retried)',
      registers: r,
    }),

    // Outbound webhooks.
    outboundAttempts: new Counter({
      name: 'switchboard_outbound_attempts_total',
      help: 'Outbound webhook attempts by outcome (succeeded, failed) and error (none, http_4xx, http_5xx, timeout, connect, dns, tls, blocked_address, redirect, network, …)',
      labelNames: ['outcome', 'error'] as const,
      registers: r,
    }),
    outboundAttemptSeconds: new Histogram({
      name: 'switchboard_outbound_attempt_seconds',
      help: 'Duration of one outbound webhook attempt (connect, answer, body)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30],
      registers: r,
    }),
    outboundMessages: new Counter({
      name: 'switchboard_outbound_messages_total',
      help: 'Outbound messages by result (queued, delivered, retry_scheduled, dead_lettered, replayed)',
      labelNames: ['result'] as const,
      registers: r,
    }),
    outboundQueueDepth: new Gauge({
      name: 'switchboard_outbound_queue_depth',
      help: 'Outbound messages waiting, by state (queued: ready or in flight; scheduled: waiting for a retry)',
      labelNames: ['state'] as const,
      registers: r,
    }),
    outboundEndpoints: new Gauge({
      name: 'switchboard_outbound_endpoints',
      help: 'Registered outbound endpoints by state (enabled, disabled)',
      labelNames: ['state'] as const,
      registers: r,
    }),
    outboundBreakersOpen: new Gauge({
      name: 'switchboard_outbound_breakers_open',
      help: 'Endpoints whose circuit breaker is open or half-open in this replica (paused, attempts kept)',
      registers: r,
    }),

    // Dependencies.
    backendUp: new Gauge({
      name: 'switchboard_backend_up',
      help: 'Backend connection state (1 up, 0 down) by backend (nats, redis, memory)',
      labelNames: ['backend'] as const,
      registers: r,
      collect() {
        for (const [backend, up] of Object.entries(probes.backends())) this.set({ backend }, up ? 1 : 0);
      },
    }),
    ready: new Gauge({
      name: 'switchboard_ready',
      help: '1 while /readyz answers 200',
      registers: r,
      collect() {
        this.set(probes.ready() ? 1 : 0);
      },
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Integers by transport, for a gauge moved on a hot path and read at scrape time. */
export class TransportCounts {
  private readonly counts = new Map<string, number>();

  add(transport: string, n: number): void {
    this.counts.set(transport, (this.counts.get(transport) ?? 0) + n);
  }

  get(transport: string): number {
    return this.counts.get(transport) ?? 0;
  }

  entries(): IterableIterator<[string, number]> {
    return this.counts.entries();
  }
}

/** One counter series counted as a plain integer. */
export interface TalliedSeries {
  inc(): void;
}

/**
 * Counter series moved on a hot path (once per stored webhook): each counts in a plain
 * integer, added to its counter when the counter is read (its `collect`), where
 * prom-client's own child would hash and check its label set on every `inc`.
 */
export class CounterTally<L extends string> {
  private readonly series: Array<{ readonly labels: Partial<Record<L, string>>; count: number }> = [];

  /** A series to count; ask once per label set and keep it. */
  of(labels: Partial<Record<L, string>>): TalliedSeries {
    const entry = { labels, count: 0 };
    this.series.push(entry);
    return {
      inc: () => {
        entry.count++;
      },
    };
  }

  /** Adds what was counted since the last call to `counter`. */
  addTo(counter: Counter<L>): void {
    for (const entry of this.series) {
      if (entry.count === 0) continue;
      counter.inc(entry.labels, entry.count);
      entry.count = 0;
    }
  }
}

/** The engine's metric hooks on these metrics. */
export function engineMetrics(m: Metrics): EngineMetrics {
  return {
    published: (duplicate) => m.messagesPublished.inc({ result: duplicate ? 'duplicate' : 'stored' }),
    gapRepaired: (outcome) => m.gapRepairs.inc({ outcome }),
    recovery: (recovered) => m.recoveries.inc({ outcome: recovered ? 'recovered' : 'not_recovered' }),
    discarded: () => m.brokerDiscarded.inc(),
    feeds: (count) => m.channelsHeld.set(count),
  };
}

/** The presence service's metric hooks on these metrics. */
export function presenceMetrics(m: Metrics): PresenceMetrics {
  return {
    entries: (count) => m.presenceEntries.set(count),
    transition: (type) => m.presenceTransitions.inc({ type }),
    query: (kind, seconds) => m.presenceQuerySeconds.observe({ kind }, seconds),
    leaseExpired: () => m.presenceLeaseExpiries.inc(),
    reaped: (entries) => m.presenceReapedEntries.inc(entries),
    leaseLost: () => m.presenceLeaseLost.inc(),
    deliveryFailed: () => m.presenceDeliveryFailures.inc(),
  };
}
