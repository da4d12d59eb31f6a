import type { GatewayConfig } from '@switchboard/config';

/** The gateway's limits and timings, read once from config (SPEC "Server-side limits"). */
export interface GatewayOptions {
  maxMessageBytes: number;
  maxSubscriptionsPerConnection: number;
  clientPublishRate: number;
  sendQueueMaxBytes: number;
  maxConnections: number;
  maxHeldPolls: number;
  maxResponseBytes: number;
  readCreateRate: number;
  /** Accepted clock skew on token expiry, ms. */
  clockToleranceMs: number;
  allowedOrigins: readonly string[];
  /** Peers whose X-Forwarded-For is believed (the ingress). */
  trustedProxies: readonly string[];
  wsPingMs: number;
  sseKeepaliveMs: number;
  sseRetryMs: number;
  pollTimeoutSeconds: number;
  drainSeconds: number;
}

export const GATEWAY_OPTIONS = Symbol('GatewayOptions');

export function gatewayOptions(c: GatewayConfig): GatewayOptions {
  return {
    maxMessageBytes: c.MAX_MESSAGE_BYTES,
    maxSubscriptionsPerConnection: c.MAX_SUBSCRIPTIONS_PER_CONNECTION,
    clientPublishRate: c.CLIENT_PUBLISH_RATE,
    sendQueueMaxBytes: c.SEND_QUEUE_MAX_BYTES,
    maxConnections: c.MAX_CONNECTIONS,
    maxHeldPolls: c.MAX_HELD_POLLS,
    maxResponseBytes: c.MAX_RESPONSE_BYTES,
    readCreateRate: c.READ_CREATE_RATE,
    clockToleranceMs: c.JWT_CLOCK_TOLERANCE_SECONDS * 1000,
    allowedOrigins: c.ALLOWED_ORIGINS,
    trustedProxies: c.TRUSTED_PROXIES,
    wsPingMs: c.WS_PING_SECONDS * 1000,
    sseKeepaliveMs: c.SSE_KEEPALIVE_SECONDS * 1000,
    sseRetryMs: c.SSE_RETRY_MS,
    pollTimeoutSeconds: c.POLL_TIMEOUT_SECONDS,
    drainSeconds: c.DRAIN_SECONDS,
  };
}
