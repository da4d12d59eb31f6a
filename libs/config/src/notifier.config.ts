import { z } from 'zod';
import { engineEnv, refineEngine, refineService, serviceEnv } from './common.config';
import { envInt, envOptionalString } from './env';
import { loadConfigFile } from './load-config';
import { outboundEnv, refineOutbound } from './outbound.config';
import { presenceEnv, refinePresence } from './presence.config';
import { pusherEnv } from './pusher.config';

/** Settings of the notifier (SPEC "Event bus and notifier"). */
export const notifierEnv = {
  /** Route rules file (YAML or JSON): `routes: [{match: {type, source}, channels: [...]}]`. Without it only the `channels` attribute routes. */
  ROUTES_CONFIG: envOptionalString(),
  /** Bearer key of the HTTP publish API (POST /v1/publish); the API answers 401 to everyone without it. */
  PUBLISH_API_KEY: envOptionalString(),
  /**
   * Bearer key of every admin route: dead letters (/v1/dlq) and outbound endpoints
   * (/v1/endpoints). Never the publish key; without it those routes answer 401.
   */
  ADMIN_API_KEY: envOptionalString(),
  /** Former name of ADMIN_API_KEY, still read when ADMIN_API_KEY is unset (deprecated). */
  DLQ_API_KEY: envOptionalString(),
  /** Durable consumer name on EVENTS; replicas with the same name share the work. */
  NOTIFIER_DURABLE: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1–64 characters of A-Z a-z 0-9 _ -')
      .default('notifier'),
  ),
  /** Seconds a delivery may stay unacknowledged before JetStream delivers it again (also how long a killed notifier's events wait). */
  NOTIFIER_ACK_WAIT_SECONDS: envInt(30, 1, 3600),
  /** Deliveries of one event; the last failed one sends it to the dead-letter stream. */
  NOTIFIER_MAX_DELIVER: envInt(10, 1, 1000),
  /** Delay before the first retry of a failed event, ms; it doubles per delivery (with ±20 % jitter). */
  NOTIFIER_RETRY_BASE_MS: envInt(500, 1, 3_600_000),
  /** Longest delay between retries, ms. */
  NOTIFIER_RETRY_MAX_MS: envInt(15_000, 1, 3_600_000),
  /** Events one replica processes at once (events sharing a channel still go one after another). */
  NOTIFIER_CONCURRENCY: envInt(32, 1, 1024),
  ...outboundEnv,
  // CHANNEL_CONFIG and PRESENCE_*: the server-side presence query (GET /v1/channels/<channel>/presence).
  ...presenceEnv,
  // Pusher webhooks are sent by the outbound engine (pusher.config.ts).
  ...pusherEnv,
};

export const notifierSchema = z.object({ ...serviceEnv, ...engineEnv, ...notifierEnv }).superRefine((c, ctx) => {
  refineService(c, ctx);
  refineEngine(c, ctx);
  refineNotifier(c, ctx);
  refinePresence(c, ctx);
});

export type NotifierConfig = z.output<typeof notifierSchema>;

/** Cross-field rules of the notifier settings. */
export function refineNotifier(
  c: { NOTIFIER_RETRY_BASE_MS: number; NOTIFIER_RETRY_MAX_MS: number; ADMIN_API_KEY?: string; DLQ_API_KEY?: string } & Parameters<
    typeof refineOutbound
  >[0],
  ctx: z.RefinementCtx,
): void {
  if (c.NOTIFIER_RETRY_MAX_MS < c.NOTIFIER_RETRY_BASE_MS) {
    ctx.addIssue({ code: 'custom', path: ['NOTIFIER_RETRY_MAX_MS'], message: 'must be ≥ NOTIFIER_RETRY_BASE_MS' });
  }
  if (c.ADMIN_API_KEY !== undefined && c.DLQ_API_KEY !== undefined && c.ADMIN_API_KEY !== c.DLQ_API_KEY) {
    ctx.addIssue({ code: 'custom', path: ['DLQ_API_KEY'], message: 'is the former name of ADMIN_API_KEY: set only ADMIN_API_KEY' });
  }
  refineOutbound(c, ctx);
}

/** The key of the admin routes: ADMIN_API_KEY, or its former name DLQ_API_KEY. */
export function adminApiKey(c: { ADMIN_API_KEY?: string; DLQ_API_KEY?: string }): string | undefined {
  return c.ADMIN_API_KEY ?? c.DLQ_API_KEY;
}

// ---------------------------------------------------------------------------------------
// ROUTES_CONFIG: the route rules file.

/** A dot path into the CloudEvent: `type`, `source`, `id`, `data.repository.full_name`, `data.items.0.id`. */
const TEMPLATE_PATH = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
/** Characters a channel name may hold (SPEC "Channels"); literal text of a template must use only these. */
const CHANNEL_TEXT = /^[A-Za-z0-9_:@=./-]*$/;

/**
 * Why `template` is not a well-formed channel template, or undefined. A template is literal
 * channel text with `{path}` placeholders, e.g. `repo:{data.repository.full_name}`.
 */
export function channelTemplateError(template: string): string | undefined {
  if (template.length === 0) return 'must not be empty';
  const pieces = template.split(/(\{[^{}]*\})/);
  for (const piece of pieces) {
    if (piece.startsWith('{') && piece.endsWith('}')) {
      if (!TEMPLATE_PATH.test(piece.slice(1, -1))) return `placeholder ${piece} must be a dot path such as {data.customer}`;
    } else if (piece.includes('{') || piece.includes('}')) {
      return 'has an unbalanced { or }';
    } else if (!CHANNEL_TEXT.test(piece)) {
      return `literal text ${JSON.stringify(piece)} may only contain A-Z a-z 0-9 and _ : @ = . / -`;
    }
  }
  return undefined;
}

const matchPattern = z.string().min(1, 'must not be empty').max(256);

const channelTemplate = z
  .string()
  .max(512)
  .superRefine((t, ctx) => {
    const problem = channelTemplateError(t);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `channel template ${JSON.stringify(t)} ${problem}` });
  });

/** One route rule: events matching `match` go to every channel of `channels`. */
export const routeRuleSchema = z
  .object({
    match: z
      .object({
        /** CloudEvent `type`; `*` matches any run of characters, dots included. */
        type: matchPattern.optional(),
        /** CloudEvent `source`; `*` as in `type`. */
        source: matchPattern.optional(),
      })
      .strict()
      .refine((m) => m.type !== undefined || m.source !== undefined, 'needs type or source (use type: "*" to match every event)'),
    channels: z.array(channelTemplate).min(1, 'must name at least one channel'),
  })
  .strict();

/** The ROUTES_CONFIG file. */
export const routesFileSchema = z.object({ routes: z.array(routeRuleSchema) }).strict();

export type RouteRuleConfig = z.output<typeof routeRuleSchema>;
export type RoutesFile = z.output<typeof routesFileSchema>;

/** Reads and validates the ROUTES_CONFIG file; a missing setting means no rules. Throws ConfigError (one line). */
export function loadRoutesFile(path: string | undefined): RoutesFile {
  if (path === undefined) return { routes: [] };
  return loadConfigFile(routesFileSchema, path, 'ROUTES_CONFIG');
}
