import { randomBytes } from 'node:crypto';

/**
 * Payload formats and signature schemes an endpoint can receive. Only Standard Webhooks
 * today; a new format (Pusher's webhooks) adds a name here and a `WebhookFormat`.
 */
export const ENDPOINT_FORMATS = ['standard', 'pusher'] as const;
export type EndpointFormat = (typeof ENDPOINT_FORMATS)[number];

/** Why an endpoint stopped receiving: by an admin, a 410 answer, or failing too long. */
export type DisabledReason = 'manual' | 'gone' | 'failing';

/** One signing secret; the previous one after a rotation carries `expiresAt`. */
export interface EndpointSecret {
  /** `whsec_<base64 key>`. */
  secret: string;
  /** ISO time after which it no longer signs; absent on the current secret. */
  expiresAt?: string;
}

/** A registered endpoint as stored in the registry (SPEC "Outbound webhooks"). */
export interface Endpoint {
  /** `ep_<24 hex>`. */
  id: string;
  url: string;
  description: string;
  /** Event type patterns; `*` matches any run of characters, dots included. */
  events: string[];
  format: EndpointFormat;
  disabled: boolean;
  disabledReason?: DisabledReason;
  disabledAt?: string;
  /** Attempts per second to this endpoint at most, across replicas; absent = no limit. */
  rateLimitPerSecond?: number;
  /** Current secret first; an older one keeps signing until its `expiresAt`. */
  secrets: EndpointSecret[];
  /** Format `pusher`: the app key sent as `X-Pusher-Key` (the secret signs). */
  pusherKey?: string;
  /** Time of the first failed attempt since the last success; absent while healthy. */
  failingSince?: string;
  createdAt: string;
  updatedAt: string;
}

/** The API's view of an endpoint: everything but the secrets (returned only on create and rotation). */
export interface EndpointView {
  id: string;
  url: string;
  description: string;
  events: string[];
  format: EndpointFormat;
  disabled: boolean;
  disabledReason?: DisabledReason;
  disabledAt?: string;
  rateLimitPerSecond?: number;
  failingSince?: string;
  /** When the previous secret stops signing, during a rotation's overlap. */
  previousSecretExpiresAt?: string;
  createdAt: string;
  updatedAt: string;
}

export const ENDPOINT_ID = /^ep_[0-9a-f]{24}$/;

export function newEndpointId(): string {
  return 'ep_' + randomBytes(12).toString('hex');
}

/** The secrets that sign at `now`: the current one, then unexpired previous ones. */
export function activeSecrets(endpoint: Endpoint, now: number): string[] {
  const result: string[] = [];
  for (const s of endpoint.secrets) {
    if (s.expiresAt === undefined || Date.parse(s.expiresAt) > now) result.push(s.secret);
  }
  return result;
}

export function endpointView(e: Endpoint, now = Date.now()): EndpointView {
  const previous = e.secrets.slice(1).find((s) => s.expiresAt !== undefined && Date.parse(s.expiresAt) > now);
  return {
    id: e.id,
    url: e.url,
    description: e.description,
    events: e.events,
    format: e.format,
    disabled: e.disabled,
    ...(e.disabledReason === undefined ? {} : { disabledReason: e.disabledReason }),
    ...(e.disabledAt === undefined ? {} : { disabledAt: e.disabledAt }),
    ...(e.rateLimitPerSecond === undefined ? {} : { rateLimitPerSecond: e.rateLimitPerSecond }),
    ...(e.failingSince === undefined ? {} : { failingSince: e.failingSince }),
    ...(previous?.expiresAt === undefined ? {} : { previousSecretExpiresAt: previous.expiresAt }),
    createdAt: e.createdAt,
    updatedAt: e.updatedAt,
  };
}
