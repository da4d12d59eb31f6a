import { isIP } from 'node:net';
import { z } from 'zod';

/** Providers whose signing scheme webhook-ingest verifies (SPEC "Webhook ingest"). */
export const WEBHOOK_PROVIDERS = ['stripe', 'github', 'slack', 'shopify', 'standard', 'twilio', 'hmac'] as const;
export type WebhookProvider = (typeof WEBHOOK_PROVIDERS)[number];

/** An IPv4/IPv6 network: `10.0.0.0/8`, `2001:db8::/32`, or a single address (`/32`, `/128` implied). */
export interface Cidr {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** Parses a CIDR or a bare address; undefined when it is neither. */
export function parseCidr(text: string): Cidr | undefined {
  const [address, prefixText, ...rest] = text.trim().split('/');
  if (rest.length > 0 || address === undefined) return undefined;
  const version = isIP(address);
  if (version === 0) return undefined;
  const max = version === 4 ? 32 : 128;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (prefix > max) return undefined;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

const cidr = z.string().refine((v) => parseCidr(v) !== undefined, { message: 'must be an IPv4/IPv6 address or CIDR (e.g. 192.0.2.0/24)' });

/** A source name is one URL path segment and one NATS subject token. */
const sourceName = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1–64 characters of A-Z a-z 0-9 _ - (it is a URL segment and a NATS subject token)');

/** HTTP header name (RFC 9110 token), compared case-insensitively. */
const headerName = z
  .string()
  .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/, 'must be an HTTP header name')
  .transform((v) => v.toLowerCase());

// Messages below never include the value: secrets must not be echoed back.
const secret = z.string().min(1, 'must not be empty').max(1024, 'must be at most 1024 characters');

/** Standard Webhooks secrets are `whsec_` (optional) + base64 of the key bytes. */
const STANDARD_SECRET = /^(whsec_)?(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Token bucket per source, shared by every replica (Redis) or per process (memory engine). */
const rateLimit = z.union([
  z.literal(false),
  z.strictObject({
    /** Sustained requests per second (fractions allowed: 0.5 = one every 2 s). */
    perSecond: z.number().positive('must be > 0').max(1_000_000),
    /** Requests allowed at once after a quiet period; default: max(1, 2 × perSecond). */
    burst: z.number().int().min(1).max(10_000_000).optional(),
  }),
]);

/** Default per-source limit: generous for providers' bursts, a ceiling for floods. */
export const DEFAULT_WEBHOOK_RATE_LIMIT = { perSecond: 100, burst: 200 } as const;

const common = {
  /** Route segment: `POST /v1/webhooks/<name>`; also the CloudEvent source `webhook/<name>`. */
  name: sourceName,
  /** Every secret is tried (rotation: list the new one next to the old one, then drop the old). */
  secrets: z.array(secret).min(1, 'must list at least one secret').max(16, 'must list at most 16 secrets'),
  /** Seconds a signed timestamp may lie in the past or the future (Stripe, Slack, Standard). */
  toleranceSeconds: z.number().int().min(1).max(86_400).default(300),
  /** Source addresses allowed (after TRUSTED_PROXIES); absent: any address. */
  allowCidrs: z.array(cidr).min(1, 'must list at least one CIDR, or be left out').optional(),
  /** `false` turns the limit off. */
  rateLimit: rateLimit.default({ ...DEFAULT_WEBHOOK_RATE_LIMIT }),
};

const stripeSource = z.strictObject({
  ...common,
  provider: z.literal('stripe'),
  // Stripe keys the HMAC with the whole `whsec_…` string; an API key here is a common mistake.
  secrets: z
    .array(secret.refine((v) => v.startsWith('whsec_'), { message: 'must be an endpoint signing secret (whsec_…)' }))
    .min(1, 'must list at least one secret')
    .max(16, 'must list at most 16 secrets'),
});

const standardSource = z.strictObject({
  ...common,
  provider: z.literal('standard'),
  secrets: z
    .array(
      secret.refine((v) => STANDARD_SECRET.test(v) && v.replace(/^whsec_/, '').length > 0, {
        message: 'must be whsec_ followed by base64 key bytes',
      }),
    )
    .min(1, 'must list at least one secret')
    .max(16, 'must list at most 16 secrets'),
});

const githubSource = z.strictObject({ ...common, provider: z.literal('github') });
const slackSource = z.strictObject({ ...common, provider: z.literal('slack') });
const shopifySource = z.strictObject({ ...common, provider: z.literal('shopify') });

const eventTypeName = z
  .string()
  .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'must be dot-separated tokens of A-Z a-z 0-9 _ -')
  .max(128);

const twilioSource = z.strictObject({
  ...common,
  provider: z.literal('twilio'),
  /** CloudEvent type suffix: `twilio.<eventType>`. */
  eventType: eventTypeName.default('request'),
  /**
   * The URL configured in Twilio's console, when it cannot be rebuilt from the request
   * (a TLS-terminating proxy that is not in TRUSTED_PROXIES). The request's query string
   * is appended when this URL has none.
   */
  publicUrl: z
    .string()
    .refine((v) => /^https?:\/\/[^/?#\s]+/i.test(v) && URL.canParse(v), { message: 'must be an http(s) URL' })
    .optional(),
});

const hmacSource = z.strictObject({
  ...common,
  provider: z.literal('hmac'),
  /** Header holding the signature. */
  header: headerName,
  algorithm: z.enum(['sha1', 'sha256', 'sha512']).default('sha256'),
  encoding: z.enum(['hex', 'base64']).default('hex'),
  /** Text before the signature in the header, e.g. `sha256=`. */
  prefix: z.string().max(64).default(''),
  /** Header holding the delivery id (dedupe key); absent: the body's SHA-256. */
  deliveryIdHeader: headerName.optional(),
  /** Dot path of the event type in a JSON body (`type`, `event.kind`); absent or missing: `event`. */
  typeField: z
    .string()
    .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'must be a dot path such as "type" or "event.kind"')
    .optional(),
});

/** One webhook source, validated. Defaults applied. */
export const webhookSourceSchema = z.discriminatedUnion(
  'provider',
  [stripeSource, githubSource, slackSource, shopifySource, standardSource, twilioSource, hmacSource],
  { error: () => `must be one of ${WEBHOOK_PROVIDERS.join(', ')}` },
);

export type WebhookSource = z.output<typeof webhookSourceSchema>;
export type WebhookSourceOf<P extends WebhookProvider> = Extract<WebhookSource, { provider: P }>;
