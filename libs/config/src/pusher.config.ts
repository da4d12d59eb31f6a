import { z } from 'zod';
import { envInt } from './env';

/** Pusher webhook events (Pusher Channels' names). */
export const PUSHER_WEBHOOK_EVENTS = ['channel_occupied', 'channel_vacated', 'member_added', 'member_removed', 'client_event'] as const;
export type PusherWebhookEvent = (typeof PUSHER_WEBHOOK_EVENTS)[number];

/** Pusher app ids, keys and secrets: what Pusher and Soketi accept, never anything that needs escaping in a URL. */
const TOKEN = /^[A-Za-z0-9_.-]+$/;

/** Names unknown keys (a misspelt `clientEvents` must not be silently ignored) and what is allowed. */
function unknownKeys(allowed: string) {
  return (issue: z.core.$ZodRawIssue): string | undefined =>
    issue.code === 'unrecognized_keys' ? `has unknown keys ${issue.keys.join(', ')} (allowed: ${allowed})` : undefined;
}

/** One Pusher webhook of an app: where to POST, and which events (all five when absent). */
export const pusherWebhookSchema = z.strictObject(
  {
    url: z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }),
    events: z
      .array(z.enum(PUSHER_WEBHOOK_EVENTS, { message: `must be one of ${PUSHER_WEBHOOK_EVENTS.join(', ')}` }))
      .min(1, 'must name at least one event')
      .default([...PUSHER_WEBHOOK_EVENTS]),
  },
  { error: unknownKeys('url, events') },
);

/** One app of PUSHER_APPS (Pusher's dashboard "App Keys", Soketi's `appManager.array.apps`). */
export const pusherAppSchema = z.strictObject(
  {
    /** `app_id`: the HTTP API's `/apps/<id>/…`. */
    id: z.string().min(1).max(64).regex(TOKEN, 'may only contain A-Z a-z 0-9 _ . -'),
    /** Public key: pusher-js connects to `/app/<key>`; signs HTTP API requests and channel auth with the secret. */
    key: z.string().min(1).max(128).regex(TOKEN, 'may only contain A-Z a-z 0-9 _ . -'),
    /** Signs channel auth, HTTP API requests and webhooks (HMAC-SHA256): at least 16 characters. */
    secret: z.string().min(16, 'must be at least 16 characters').max(256),
    /** `client-` events on private and presence channels (Pusher's "Enable client events"); off by default. */
    clientEvents: z.boolean().default(false),
    /** Pusher-format webhooks, delivered by the notifier's outbound engine (retries, dead letters). */
    webhooks: z.array(pusherWebhookSchema).default([]),
  },
  { error: unknownKeys('id, key, secret, clientEvents, webhooks') },
);

export type PusherApp = z.output<typeof pusherAppSchema>;
export type PusherWebhook = z.output<typeof pusherWebhookSchema>;

/** JSON list of apps; unset or empty: no Pusher endpoint (`/app/*`, `/apps/*` answer 404). */
const pusherAppsValue = z.preprocess(
  (v) => (typeof v === 'string' && v.trim() === '' ? undefined : v),
  z
    .string()
    .optional()
    .transform((text, ctx): unknown => {
      if (text === undefined) return [];
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'is not valid JSON (expected [{"id","key","secret"}, …])' });
        return z.NEVER;
      }
    })
    .pipe(
      z.array(pusherAppSchema, { message: 'must be a JSON list of apps [{"id","key","secret"}, …]' }).superRefine((apps, ctx) => {
        for (const field of ['id', 'key'] as const) {
          const seen = new Set<string>();
          for (const [i, app] of apps.entries()) {
            if (seen.has(app[field])) ctx.addIssue({ code: 'custom', path: [i, field], message: `"${app[field]}" is used by two apps` });
            seen.add(app[field]);
          }
        }
      }),
    ),
);

/** Settings of Pusher protocol compatibility (SPEC "Pusher protocol compatibility"); read by the gateway and the notifier. */
export const pusherEnv = {
  /**
   * Pusher apps: `[{"id","key","secret","clientEvents"?,"webhooks"?:[{"url","events"?}]}]`. Each enables
   * `GET /app/<key>` (pusher-js, Laravel Echo) and the HTTP API under `/apps/<id>/`.
   */
  PUSHER_APPS: pusherAppsValue,
  /** `activity_timeout` told to Pusher clients, seconds: a silent client pings after it (Pusher's default 120). */
  PUSHER_ACTIVITY_TIMEOUT_SECONDS: envInt(120, 5, 3600),
};
