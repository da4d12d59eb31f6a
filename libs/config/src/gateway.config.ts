import { z } from 'zod';
import { engineEnv, forwardingEnv, refineEngine, refineForwarding, refineService, serviceEnv } from './common.config';
import { envBool, envIceUrlList, envInt, envOptionalString, envOriginList, envUrl } from './env';
import { presenceEnv, refinePresence } from './presence.config';
import { pusherEnv } from './pusher.config';

/** Settings of the gateway (SPEC "Client transports", "WebRTC signaling"). */
export const gatewayEnv = {
  ...forwardingEnv,
  /** HS256 secret for client tokens (at least 32 bytes). One of JWT_SECRET / JWT_JWKS_URL is required. */
  JWT_SECRET: envOptionalString(),
  /** JWKS URL for RS256/ES256 client tokens: https (http only with JWT_JWKS_ALLOW_HTTP); needs JWT_AUDIENCE. */
  JWT_JWKS_URL: envUrl(['https', 'http']),
  /**
   * Allows an http JWKS URL, for local development only: keys fetched over plain http can be
   * replaced by anyone on the path, who can then sign any token.
   */
  JWT_JWKS_ALLOW_HTTP: envBool(false),
  /** Required `iss` of client tokens, when set. */
  JWT_ISSUER: envOptionalString(),
  /** Required `aud` of client tokens, when set; required with JWT_JWKS_URL. */
  JWT_AUDIENCE: envOptionalString(),
  /** Seconds of clock skew accepted on a token's `exp` (and `nbf`): at connect and on live connections. */
  JWT_CLOCK_TOLERANCE_SECONDS: envInt(5, 0, 300),
  /** Refuse tokens without `exp` (a connection must not outlive its credentials). */
  JWT_REQUIRE_EXP: envBool(false),
  /** Browser origins allowed for WebSocket and SSE (comma-separated `scheme://host[:port]`, or `*`); empty allows any. */
  ALLOWED_ORIGINS: envOriginList(),
  MAX_SUBSCRIPTIONS_PER_CONNECTION: envInt(128, 1, 100_000),
  /** Client publishes per second per connection (token bucket, burst = rate); 0 disables client publish. */
  CLIENT_PUBLISH_RATE: envInt(50, 0, 1_000_000),
  /** Bytes queued for one connection before it is closed as a slow consumer. */
  SEND_QUEUE_MAX_BYTES: envInt(1_048_576, 1024, 1024 * 1024 * 1024),
  /** Connections per process (WS, Socket.IO, SSE; held polls do not count). */
  MAX_CONNECTIONS: envInt(100_000, 1, 10_000_000),
  /** Long-polls held at once per process; past it a poll gets 503 with Retry-After. */
  MAX_HELD_POLLS: envInt(20_000, 1, 10_000_000),
  /**
   * Largest long-poll answer and SSE resume backlog, bytes: what does not fit (whole
   * messages, in order) follows on the client's next request. At least MAX_MESSAGE_BYTES.
   */
  MAX_RESPONSE_BYTES: envInt(4_194_304, 1024, 1024 * 1024 * 1024),
  /**
   * Channels a client may bring into existence by reading them (subscribe, stream start,
   * poll of a never-touched channel) per second: per connection for WS/Socket.IO, per
   * client address for SSE/long-poll. Bounds how fast random names can fill Redis.
   */
  READ_CREATE_RATE: envInt(50, 1, 1_000_000),
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
  TURN_URLS: envIceUrlList('turn'),
  /** STUN URLs, comma-separated (stun:host:3478). */
  STUN_URLS: envIceUrlList('stun'),
  /**
   * Longest lifetime of TURN credentials, seconds; never past the client token's `exp`. An
   * hour, not a day: a credential cannot be revoked (coturn checks only its HMAC and expiry),
   * so it should not outlive a session by much. An allocation made with it lasts beyond the
   * expiry (refreshes are not re-checked against it); only new allocations need a fresh one.
   */
  TURN_TTL_SECONDS: envInt(3600, 60, 30 * 86400),
  /**
   * Serve the inspector page (`GET /inspect`). Off in the gateway service: a production gateway
   * serves only the client API (the SDK bundle belongs in your app's own build); on in the single
   * process (`npm start`), which is for development.
   */
  INSPECTOR_ENABLED: envBool(false),
  /**
   * Serve the console (`/console`: live channels, cluster, webhooks), behind ADMIN_API_KEY.
   * Same defaults as the inspector: off in the gateway service, on in the single process.
   * Served only when ADMIN_API_KEY is set (`npm start` generates one in development).
   */
  CONSOLE_ENABLED: envBool(false),
  /** Key of the admin routes (`Authorization: Bearer <key>`): the console's on a gateway. */
  ADMIN_API_KEY: envOptionalString(),
  /** Seconds between two stats messages a gateway publishes for the console's cluster view (NATS `<NATS_SUBJECT_PREFIX>_stats.gateway`). */
  STATS_INTERVAL_SECONDS: envInt(2, 1, 60),
  // Presence, join/leave and lifecycle events (presence.config.ts).
  ...presenceEnv,
  // Pusher protocol compatibility (pusher.config.ts).
  ...pusherEnv,
};

export const gatewaySchema = z.object({ ...serviceEnv, ...engineEnv, ...gatewayEnv }).superRefine((c, ctx) => {
  refineService(c, ctx);
  refineEngine(c, ctx);
  refineForwarding(c, ctx);
  refineGateway(c, ctx);
  refinePresence(c, ctx);
});

/** Cross-field rules of the gateway settings (the gateway and the single process). */
export function refineGateway(
  c: Parameters<typeof refineAuth>[0] & { MAX_RESPONSE_BYTES: number; MAX_MESSAGE_BYTES: number },
  ctx: z.RefinementCtx,
): void {
  refineAuth(c, ctx);
  if (c.MAX_RESPONSE_BYTES < c.MAX_MESSAGE_BYTES) {
    ctx.addIssue({ code: 'custom', path: ['MAX_RESPONSE_BYTES'], message: `must be ≥ MAX_MESSAGE_BYTES (${c.MAX_MESSAGE_BYTES})` });
  }
}

/**
 * Client auth needs a key: a secret long enough for HS256, or a JWKS URL — fetched over https,
 * and with an audience to check (an identity provider signs tokens for every application it
 * serves: without `aud`, a token issued for another of them would be accepted here).
 */
export function refineAuth(
  c: { JWT_SECRET?: string; JWT_JWKS_URL?: string; JWT_JWKS_ALLOW_HTTP: boolean; JWT_AUDIENCE?: string },
  ctx: z.RefinementCtx,
): void {
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
  if (c.JWT_JWKS_URL !== undefined) {
    if (new URL(c.JWT_JWKS_URL).protocol === 'http:' && !c.JWT_JWKS_ALLOW_HTTP) {
      ctx.addIssue({
        code: 'custom',
        path: ['JWT_JWKS_URL'],
        message:
          'must be an https URL: signing keys fetched over http can be replaced on the way (set JWT_JWKS_ALLOW_HTTP=true for local development only)',
      });
    }
    if (c.JWT_AUDIENCE === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['JWT_AUDIENCE'],
        message:
          'must be set with JWT_JWKS_URL: the identity provider signs tokens for other applications too, and only the audience tells them apart',
      });
    }
  }
}

export type GatewayConfig = z.output<typeof gatewaySchema>;
