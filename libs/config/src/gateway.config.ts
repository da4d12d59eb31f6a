import { z } from 'zod';
import { engineEnv, refineEngine, serviceEnv } from './common.config';
import { envInt, envList, envOptionalString, envUrl } from './env';
import { presenceEnv, refinePresence } from './presence.config';

/** Settings of the gateway (SPEC "Client transports", "WebRTC signaling"). */
export const gatewayEnv = {
  /** HS256 secret for client tokens (at least 32 bytes). One of JWT_SECRET / JWT_JWKS_URL is required. */
  JWT_SECRET: envOptionalString(),
  /** JWKS URL for RS256/ES256 client tokens. */
  JWT_JWKS_URL: envUrl(['https', 'http']),
  /** Required `iss` of client tokens, when set. */
  JWT_ISSUER: envOptionalString(),
  /** Required `aud` of client tokens, when set. */
  JWT_AUDIENCE: envOptionalString(),
  /** Browser origins allowed for WebSocket and SSE (comma-separated); empty allows any. */
  ALLOWED_ORIGINS: envList(),
  MAX_SUBSCRIPTIONS_PER_CONNECTION: envInt(128, 1, 100_000),
  /** Client publishes per second per connection (token bucket, burst = rate); 0 disables client publish. */
  CLIENT_PUBLISH_RATE: envInt(50, 0, 1_000_000),
  /** Bytes queued for one connection before it is closed as a slow consumer. */
  SEND_QUEUE_MAX_BYTES: envInt(1_048_576, 1024, 1024 * 1024 * 1024),
  /** Connections per process (WS, Socket.IO, SSE; held polls do not count). */
  MAX_CONNECTIONS: envInt(100_000, 1, 10_000_000),
  /** Seconds between SSE `ping` events. */
  SSE_KEEPALIVE_SECONDS: envInt(15, 1, 3600),
  /** Reconnect delay advised to SSE clients (`retry:`), ms. */
  SSE_RETRY_MS: envInt(2000, 100, 600_000),
  /** Seconds between WebSocket pings; a connection silent for two intervals is closed. */
  WS_PING_SECONDS: envInt(25, 1, 3600),
  /** Default hold of a long-poll, seconds (max 60). */
  POLL_TIMEOUT_SECONDS: envInt(25, 0, 60),
  /** Shared secret of coturn's `use-auth-secret`; without it only STUN servers are listed. */
  TURN_SECRET: envOptionalString(),
  /** TURN URLs, comma-separated (turn:host:3478?transport=udp,…). */
  TURN_URLS: envList(),
  /** STUN URLs, comma-separated (stun:host:3478). */
  STUN_URLS: envList(),
  /** Lifetime of TURN credentials, seconds. */
  TURN_TTL_SECONDS: envInt(86400, 60, 30 * 86400),
  // Presence, join/leave and lifecycle events (presence.config.ts).
  ...presenceEnv,
};

export const gatewaySchema = z.object({ ...serviceEnv, ...engineEnv, ...gatewayEnv }).superRefine((c, ctx) => {
  refineEngine(c, ctx);
  refineAuth(c, ctx);
  refinePresence(c, ctx);
});

/** Client auth needs a key: a secret long enough for HS256, or a JWKS URL. */
export function refineAuth(c: { JWT_SECRET?: string; JWT_JWKS_URL?: string }, ctx: z.RefinementCtx): void {
  if (c.JWT_SECRET === undefined && c.JWT_JWKS_URL === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['JWT_SECRET'],
      message: 'or JWT_JWKS_URL must be set (client tokens cannot be verified otherwise)',
    });
  }
  if (c.JWT_SECRET !== undefined && Buffer.byteLength(c.JWT_SECRET) < 32) {
    ctx.addIssue({ code: 'custom', path: ['JWT_SECRET'], message: 'must be at least 32 bytes for HS256' });
  }
}

export type GatewayConfig = z.output<typeof gatewaySchema>;
