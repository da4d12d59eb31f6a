import { z } from 'zod';
import { envBool, envHostPorts, envInt, envList, envOptionalInt, envOptionalString, envString, envUrl } from './env';
import { parseCidr } from './webhook-sources.schema';

const DAY = 86400;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Settings of every service's HTTP server and process (SPEC "Operations"). */
export const serviceEnv = {
  /** HTTP port (every route of the service). */
  PORT: envInt(8080, 0, 65535),
  /** Interface to listen on. */
  HOST: envString('0.0.0.0'),
  /** pino level: fatal, error, warn, info, debug, trace, silent. */
  LOG_LEVEL: z.preprocess(
    (v) => (typeof v === 'string' && v.trim() !== '' ? v.trim().toLowerCase() : undefined),
    z.enum(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` }).default('info'),
  ),
  /** Pretty human logs instead of JSON lines (development only). */
  LOG_PRETTY: envBool(false),
  /** Seconds over which SIGTERM drains connections before the process exits. */
  DRAIN_SECONDS: envInt(30, 0, 3600),
  /** Seconds to keep retrying NATS/Redis at startup before giving up (exit 1). */
  STARTUP_TIMEOUT_SECONDS: envInt(60, 1, 3600),
  /**
   * Port of `/metrics` alone, on HOST. When set, the main port no longer serves `/metrics`
   * (404), so a port exposed to the internet (the gateway's) does not publish the process's
   * metrics, and a NetworkPolicy can open it to Prometheus only. Unset: `/metrics` on PORT.
   */
  METRICS_PORT: envOptionalInt(0, 65535),
};

/** Cross-field rules of the HTTP server settings. */
export function refineService(c: { PORT: number; METRICS_PORT?: number }, ctx: z.RefinementCtx): void {
  if (c.METRICS_PORT !== undefined && c.METRICS_PORT !== 0 && c.METRICS_PORT === c.PORT) {
    ctx.addIssue({ code: 'custom', path: ['METRICS_PORT'], message: 'must differ from PORT (or be unset to serve /metrics on PORT)' });
  }
}

/**
 * Settings of the channel engine and event bus (SPEC "Channels", "Event bus"). Without
 * NATS_URL and REDIS_URL the process runs the embedded in-memory engine.
 */
export const engineEnv = {
  /** NATS server(s), comma-separated, e.g. nats://nats:4222. Set together with REDIS_URL. */
  NATS_URL: envUrl(['nats', 'tls', 'ws', 'wss'], { list: true }),
  /** Redis URL, e.g. redis://redis:6379/0, for one Redis node. Set together with NATS_URL. */
  REDIS_URL: envUrl(['redis', 'rediss']),
  /**
   * Redis Cluster instead of REDIS_URL: some of its nodes, comma-separated `host:port`
   * (the client discovers the rest). Every key of one channel shares one hash slot.
   */
  REDIS_CLUSTER_NODES: envHostPorts(),
  /** Redis Sentinel instead of REDIS_URL: the sentinels, comma-separated `host:port`; with REDIS_SENTINEL_NAME. */
  REDIS_SENTINELS: envHostPorts(),
  /** The master's name the sentinels monitor (`sentinel monitor <name> …`). */
  REDIS_SENTINEL_NAME: envOptionalString(),
  /** Password of the Redis nodes with REDIS_CLUSTER_NODES or REDIS_SENTINELS (REDIS_URL carries its own). */
  REDIS_PASSWORD: envOptionalString(),
  /** Prefix of every Redis key the engine writes. */
  REDIS_KEY_PREFIX: envString('sb:'),
  /** Prefix of the per-channel NATS core subjects. */
  NATS_SUBJECT_PREFIX: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z
      .string()
      .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'must be dot-separated NATS subject tokens without wildcards')
      .default('sb.ch'),
  ),
  /** Messages kept per channel for recovery. */
  HISTORY_SIZE: envInt(100, 1, 100_000),
  /** Seconds history is kept after a channel's last publish; also how long a channel that was only read keeps its epoch after the last read. */
  HISTORY_TTL_SECONDS: envInt(300, 1, 30 * DAY),
  /** Seconds a channel's offset counter and epoch are kept after its last publish. */
  CHANNEL_META_TTL_SECONDS: envInt(30 * DAY, 1, 3650 * DAY),
  /** Seconds an idempotency key is remembered per channel. */
  IDEMPOTENCY_WINDOW_SECONDS: envInt(120, 1, 7 * DAY),
  /** Largest message (client frame, publish body, stored message), bytes. */
  MAX_MESSAGE_BYTES: envInt(65536, 256, 16 * 1024 * 1024),
  /** Milliseconds a hole in live delivery waits for late fan-out before it is read from history. */
  GAP_WAIT_MS: envInt(20, 0, 10_000),
  /**
   * Milliseconds between checks of held channels against the store, which catch what the
   * fan-out bus did not bring (a quiet channel's hole, a partition from NATS); every 250 ms
   * while NATS is known to be down. Each check is one pipelined Redis read per held channel.
   * 0 disables.
   */
  SYNC_INTERVAL_MS: envInt(2000, 0, 600_000),
  /** JetStream stream of events. */
  EVENTS_STREAM: envString('EVENTS'),
  /** Subject prefix of events (`<prefix>.>`). */
  EVENTS_SUBJECT_PREFIX: envString('events'),
  /** Seconds events are kept on the stream. */
  EVENTS_MAX_AGE_SECONDS: envInt(7 * DAY, 60, 3650 * DAY),
  /** Seconds in which a repeated message id (Nats-Msg-Id) is a duplicate; at least 120. */
  EVENTS_DUPLICATE_WINDOW_SECONDS: envInt(120, 120, 7 * DAY),
  /** Dead-letter stream. */
  DLQ_STREAM: envString('EVENTS_DLQ'),
  /** Subject prefix of dead letters; must not overlap EVENTS_SUBJECT_PREFIX. */
  DLQ_SUBJECT_PREFIX: envString('dlq.events'),
  /** Seconds dead letters are kept. */
  DLQ_MAX_AGE_SECONDS: envInt(30 * DAY, 60, 3650 * DAY),
  /** JetStream stream replicas (3 in a production NATS cluster). */
  NATS_STREAM_REPLICAS: envInt(1, 1, 5),
  /** Optional name of this instance in NATS/Redis client lists. */
  INSTANCE_NAME: envOptionalString(),
};

/** Which peers' forwarding headers to believe (the gateway and webhook-ingest behind an ingress). */
export const forwardingEnv = {
  /**
   * Proxies (CIDRs) whose X-Forwarded-For / X-Forwarded-Proto / X-Forwarded-Host are trusted:
   * set it to the ingress controller's pod CIDR, or every client seems to be the ingress
   * (per-address budgets and allow-lists then see one address). Default: none.
   */
  TRUSTED_PROXIES: envList(),
};

/** TRUSTED_PROXIES are addresses or CIDRs. */
export function refineForwarding(c: { TRUSTED_PROXIES: string[] }, ctx: z.RefinementCtx): void {
  const bad = c.TRUSTED_PROXIES.filter((p) => parseCidr(p) === undefined);
  if (bad.length > 0) {
    ctx.addIssue({ code: 'custom', path: ['TRUSTED_PROXIES'], message: `must be IPv4/IPv6 addresses or CIDRs (bad: ${bad.join(', ')})` });
  }
}

export const commonSchema = z.object({ ...serviceEnv, ...engineEnv });

/** Cross-field rules of the engine settings; `ctx` gets an issue per problem. */
export function refineEngine(
  c: {
    NATS_URL?: string;
    REDIS_URL?: string;
    REDIS_CLUSTER_NODES: string[];
    REDIS_SENTINELS: string[];
    REDIS_SENTINEL_NAME?: string;
    REDIS_PASSWORD?: string;
    REDIS_KEY_PREFIX: string;
    HISTORY_TTL_SECONDS: number;
    CHANNEL_META_TTL_SECONDS: number;
    EVENTS_SUBJECT_PREFIX: string;
    DLQ_SUBJECT_PREFIX: string;
  },
  ctx: z.RefinementCtx,
): void {
  const redisModes = [
    c.REDIS_URL !== undefined ? 'REDIS_URL' : undefined,
    c.REDIS_CLUSTER_NODES.length > 0 ? 'REDIS_CLUSTER_NODES' : undefined,
    c.REDIS_SENTINELS.length > 0 ? 'REDIS_SENTINELS' : undefined,
  ].filter((m) => m !== undefined);
  const redisNames = 'REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS';
  if (redisModes.length > 1) {
    ctx.addIssue({
      code: 'custom',
      path: [redisModes[1]],
      message: `must not be set together with ${redisModes[0]}: set one of ${redisNames}`,
    });
  }
  if ((c.NATS_URL === undefined) !== (redisModes.length === 0)) {
    ctx.addIssue({
      code: 'custom',
      path: [c.NATS_URL === undefined ? 'NATS_URL' : 'REDIS_URL'],
      message:
        'must be set together with ' + (c.NATS_URL === undefined ? redisNames : 'NATS_URL') + ' (or neither, for the in-memory engine)',
    });
  }
  if (c.REDIS_SENTINELS.length > 0 && c.REDIS_SENTINEL_NAME === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['REDIS_SENTINEL_NAME'],
      message: 'must be set with REDIS_SENTINELS: the master name the sentinels monitor',
    });
  }
  if (c.REDIS_SENTINEL_NAME !== undefined && c.REDIS_SENTINELS.length === 0) {
    ctx.addIssue({ code: 'custom', path: ['REDIS_SENTINEL_NAME'], message: 'is only used with REDIS_SENTINELS (set them, or unset this)' });
  }
  if (c.REDIS_PASSWORD !== undefined && redisModes[0] === 'REDIS_URL') {
    ctx.addIssue({
      code: 'custom',
      path: ['REDIS_PASSWORD'],
      message: 'is for REDIS_CLUSTER_NODES / REDIS_SENTINELS; put the password in REDIS_URL (redis://:<password>@host:port)',
    });
  }
  if (/[{}]/.test(c.REDIS_KEY_PREFIX)) {
    // A brace in the prefix would become every key's hash tag: one Redis Cluster slot for everything.
    ctx.addIssue({ code: 'custom', path: ['REDIS_KEY_PREFIX'], message: 'must not contain { or } (keys carry their own hash tags)' });
  }
  if (c.CHANNEL_META_TTL_SECONDS < c.HISTORY_TTL_SECONDS) {
    ctx.addIssue({ code: 'custom', path: ['CHANNEL_META_TTL_SECONDS'], message: 'must be ≥ HISTORY_TTL_SECONDS' });
  }
  const a = c.EVENTS_SUBJECT_PREFIX + '.';
  const b = c.DLQ_SUBJECT_PREFIX + '.';
  if (a.startsWith(b) || b.startsWith(a)) {
    ctx.addIssue({ code: 'custom', path: ['DLQ_SUBJECT_PREFIX'], message: 'must not overlap EVENTS_SUBJECT_PREFIX' });
  }
}

export type CommonConfig = z.output<typeof commonSchema>;
