import { z } from 'zod';
import { envBool, envInt, envList, envNumber } from './env';
import { parseCidr } from './webhook-sources.schema';

const HOUR = 3600;
const DAY = 24 * HOUR;

/** JetStream stream / KV bucket names: what NATS accepts in a name. */
const streamName = (defaultValue: string) =>
  z.preprocess(
    (v) => (typeof v === 'string' && v.trim() === '' ? undefined : v),
    z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1–64 characters of A-Z a-z 0-9 _ -')
      .default(defaultValue),
  );

/** Dot-separated NATS subject tokens without wildcards. */
const subjectPrefix = (defaultValue: string) =>
  z.preprocess(
    (v) => (typeof v === 'string' && v.trim() === '' ? undefined : v),
    z
      .string()
      .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'must be dot-separated NATS subject tokens without wildcards')
      .default(defaultValue),
  );

/** Seconds between attempts, comma-separated, each > 0 (fractions allowed, so tests can compress the schedule). */
const retrySchedule = z.preprocess(
  (v) => (typeof v === 'string' && v.trim() === '' ? undefined : v),
  z
    .string()
    .default('5,300,1800,7200,18000,36000,36000')
    .transform((v, ctx) => {
      const parts = v.split(',').map((s) => s.trim());
      const values = parts.map(Number);
      if (parts.length > 50 || parts.some((p, i) => !/^\d+(\.\d+)?$/.test(p) || values[i] <= 0 || values[i] > 7 * DAY)) {
        ctx.addIssue({
          code: 'custom',
          message: 'must be 1–50 comma-separated delays in seconds, each > 0 and ≤ 604800 (e.g. 5,300,1800)',
        });
        return z.NEVER;
      }
      return values;
    }),
);

/**
 * Settings of outbound webhooks (SPEC "Outbound webhooks"): the notifier delivers events
 * to registered endpoints as a Standard Webhooks sender. Part of the notifier's settings
 * (and so of the single process's).
 */
export const outboundEnv = {
  /** Run the delivery engine in this process. The endpoints API is served either way. */
  OUTBOUND_ENABLED: envBool(true),
  /** Durable consumer on EVENTS that fans events out to endpoint queues (separate from NOTIFIER_DURABLE). */
  OUTBOUND_DURABLE: streamName('outbound'),
  /** JetStream work stream of pending deliveries (one subject per endpoint). */
  OUTBOUND_STREAM: streamName('OUTBOUND'),
  /** Subject prefix of the work stream: `<prefix>.q.<endpoint>` queued, `<prefix>.r.<endpoint>` waiting to retry. */
  OUTBOUND_SUBJECT_PREFIX: subjectPrefix('outbound'),
  /** Stream of outbound dead letters (kept DLQ_MAX_AGE_SECONDS). */
  OUTBOUND_DLQ_STREAM: streamName('OUTBOUND_DLQ'),
  /** Subject prefix of outbound dead letters: `<prefix>.<endpoint id>`. */
  OUTBOUND_DLQ_SUBJECT_PREFIX: subjectPrefix('dlq.outbound'),
  /** JetStream KV bucket holding the endpoint registry (shared by every replica). */
  OUTBOUND_ENDPOINTS_BUCKET: streamName('switchboard_endpoints'),
  /** Seconds one attempt may take (connect, answer and body); past it the attempt failed. */
  OUTBOUND_TIMEOUT_SECONDS: envNumber(15, 0.1, 300),
  /**
   * Delays before each retry, seconds (the first counts from the first attempt's failure, each
   * next one from the previous failure), each with ±20 % jitter. After the last the message is
   * a dead letter. Fractions are allowed.
   */
  OUTBOUND_RETRY_SCHEDULE: retrySchedule,
  /** Requests in flight per endpoint, across all replicas. */
  OUTBOUND_CONCURRENCY: envInt(10, 1, 1000),
  /** Hours an endpoint may fail without a single success before it is disabled; 0 never disables. */
  OUTBOUND_DISABLE_AFTER_HOURS: envNumber(120, 0, 24 * 365),
  /** Allow `http://` endpoint URLs (development only); otherwise https only. */
  OUTBOUND_ALLOW_HTTP: envBool(false),
  /** Addresses or CIDRs that endpoints may reach although they are in a blocked range (e.g. 127.0.0.1/32 in tests). */
  OUTBOUND_ALLOW_CIDRS: envList(),
  /** Seconds of attempts the circuit breaker looks at. */
  OUTBOUND_BREAKER_WINDOW_SECONDS: envNumber(60, 0.1, DAY),
  /** Attempts in the window before the breaker may open. */
  OUTBOUND_BREAKER_MIN_ATTEMPTS: envInt(10, 1, 100_000),
  /** Failed share of the window's attempts that opens the breaker (0–1]. */
  OUTBOUND_BREAKER_FAILURE_RATIO: envNumber(0.5, 0.01, 1),
  /** Seconds an open breaker pauses the endpoint before one probe attempt (half-open). */
  OUTBOUND_BREAKER_OPEN_SECONDS: envNumber(30, 0.05, DAY),
  /** Seconds attempts are kept in the attempts log. */
  OUTBOUND_ATTEMPTS_MAX_AGE_SECONDS: envInt(7 * DAY, 60, 365 * DAY),
  /** Attempts kept per endpoint (newest first), and as many failed ones besides (so successes never push failures out). */
  OUTBOUND_ATTEMPTS_MAX_PER_ENDPOINT: envInt(10_000, 10, 1_000_000),
  /** Events the fan-out works on at once per replica. */
  OUTBOUND_FANOUT_CONCURRENCY: envInt(64, 1, 4096),
};

interface OutboundFields {
  OUTBOUND_STREAM: string;
  OUTBOUND_SUBJECT_PREFIX: string;
  OUTBOUND_DLQ_STREAM: string;
  OUTBOUND_DLQ_SUBJECT_PREFIX: string;
  OUTBOUND_ALLOW_CIDRS: string[];
  EVENTS_STREAM: string;
  EVENTS_SUBJECT_PREFIX: string;
  DLQ_STREAM: string;
  DLQ_SUBJECT_PREFIX: string;
}

/** Cross-field rules of the outbound settings: CIDRs parse, streams and subjects never collide. */
export function refineOutbound(c: OutboundFields, ctx: z.RefinementCtx): void {
  const bad = c.OUTBOUND_ALLOW_CIDRS.filter((p) => parseCidr(p) === undefined);
  if (bad.length > 0) {
    ctx.addIssue({
      code: 'custom',
      path: ['OUTBOUND_ALLOW_CIDRS'],
      message: `must be IPv4/IPv6 addresses or CIDRs (bad: ${bad.join(', ')})`,
    });
  }
  const streams: Array<[string, string]> = [
    ['EVENTS_STREAM', c.EVENTS_STREAM],
    ['DLQ_STREAM', c.DLQ_STREAM],
    ['OUTBOUND_STREAM', c.OUTBOUND_STREAM],
    ['OUTBOUND_DLQ_STREAM', c.OUTBOUND_DLQ_STREAM],
  ];
  for (let i = 2; i < streams.length; i++) {
    for (let j = 0; j < i; j++) {
      if (streams[i][1] === streams[j][1]) {
        ctx.addIssue({ code: 'custom', path: [streams[i][0]], message: `must differ from ${streams[j][0]}` });
      }
    }
  }
  const prefixes: Array<[string, string]> = [
    ['EVENTS_SUBJECT_PREFIX', c.EVENTS_SUBJECT_PREFIX],
    ['DLQ_SUBJECT_PREFIX', c.DLQ_SUBJECT_PREFIX],
    ['OUTBOUND_SUBJECT_PREFIX', c.OUTBOUND_SUBJECT_PREFIX],
    ['OUTBOUND_DLQ_SUBJECT_PREFIX', c.OUTBOUND_DLQ_SUBJECT_PREFIX],
  ];
  for (let i = 2; i < prefixes.length; i++) {
    for (let j = 0; j < i; j++) {
      const a = prefixes[i][1] + '.';
      const b = prefixes[j][1] + '.';
      if (a.startsWith(b) || b.startsWith(a)) {
        ctx.addIssue({ code: 'custom', path: [prefixes[i][0]], message: `must not overlap ${prefixes[j][0]}` });
      }
    }
  }
}
