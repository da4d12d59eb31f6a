import { SwitchboardError } from '@switchboard/protocol';
import { z } from 'zod';
import { ATTEMPT_CURSOR, AttemptQuery } from '../attempts/attempt-log';
import { ENDPOINT_FORMATS } from '../endpoints/endpoint';
import { webhookSecretError } from '../signing/webhook-secret';

/** Most patterns one endpoint may list. */
export const MAX_EVENT_PATTERNS = 100;
/** Most attempts one listing returns. */
export const MAX_ATTEMPTS_PAGE = 1000;

const pattern = z
  .string()
  .min(1, 'must not be empty')
  .max(256, 'must be at most 256 characters')
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces (use * as a wildcard)');

const url = z.string().min(1).max(2048, 'must be at most 2048 characters');
const secret = z.string().superRefine((v, ctx) => {
  const problem = webhookSecretError(v);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});
const rate = z.number().positive('must be > 0').max(100_000, 'must be ≤ 100000');

const createSchema = z
  .object({
    url,
    events: z.array(pattern).min(1, 'must list at least one pattern (["*"] for every event)').max(MAX_EVENT_PATTERNS),
    description: z.string().max(1024).optional(),
    secret: secret.optional(),
    disabled: z.boolean().optional(),
    rateLimitPerSecond: rate.optional(),
    format: z.enum(ENDPOINT_FORMATS).optional(),
  })
  .strict();

const patchSchema = z
  .object({
    url: url.optional(),
    events: z.array(pattern).min(1, 'must list at least one pattern').max(MAX_EVENT_PATTERNS).optional(),
    description: z.string().max(1024).optional(),
    disabled: z.boolean().optional(),
    rateLimitPerSecond: rate.nullable().optional(),
    format: z.enum(ENDPOINT_FORMATS).optional(),
  })
  .strict();

const rotateSchema = z.object({ secret: secret.optional() }).strict();
const replaySchema = z.object({ since: z.string().min(1) }).strict();

/** `POST /v1/endpoints` */
export type CreateEndpointRequest = z.output<typeof createSchema>;
/** `PATCH /v1/endpoints/<id>`: `rateLimitPerSecond: null` removes the limit. */
export type PatchEndpointRequest = z.output<typeof patchSchema>;

function parse<S extends z.ZodType>(schema: S, body: unknown, hint?: (key: string) => string | undefined): z.output<S> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new SwitchboardError('bad_request', 'body must be a JSON object');
  }
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0];
    throw new SwitchboardError('bad_request', hint?.(key) ?? `unknown field ${JSON.stringify(key)}`);
  }
  const where = issue.path.length > 0 ? issue.path.join('.') : 'body';
  throw new SwitchboardError('bad_request', `${where}: ${issue.message}`);
}

export function parseCreateEndpoint(body: unknown): CreateEndpointRequest {
  return parse(createSchema, body);
}

export function parsePatchEndpoint(body: unknown): PatchEndpointRequest {
  const patch = parse(patchSchema, body, (key) =>
    key === 'secret' ? 'secret cannot be patched: POST /v1/endpoints/<id>/rotate-secret (the old one keeps signing for 24 h)' : undefined,
  );
  if (Object.keys(patch).length === 0) throw new SwitchboardError('bad_request', 'nothing to change: send at least one field');
  return patch;
}

/** Body of rotate-secret: optional, `{}` or absent generates a secret. */
export function parseRotateSecret(body: unknown): { secret?: string } {
  return body === undefined ? {} : parse(rotateSchema, body);
}

/** `{"since":"<ISO time>"}` → ms; not in the future. */
export function parseReplay(body: unknown, now: number): number {
  const { since } = parse(replaySchema, body);
  const at = Date.parse(since);
  if (Number.isNaN(at) || !/^\d{4}-\d{2}-\d{2}T/.test(since)) {
    throw new SwitchboardError('bad_request', 'since: must be an ISO 8601 time, e.g. 2026-11-02T10:00:00Z');
  }
  if (at > now) throw new SwitchboardError('bad_request', 'since: must not be in the future');
  return at;
}

/** `?status=failed|succeeded&limit=&before=` of the attempts listing. */
export function parseAttemptQuery(query: Record<string, unknown>): AttemptQuery {
  const { status, limit, before } = query;
  if (status !== undefined && status !== 'failed' && status !== 'succeeded') {
    throw new SwitchboardError('bad_request', 'status must be failed or succeeded');
  }
  let size = 100;
  if (limit !== undefined) {
    if (typeof limit !== 'string' || !/^\d{1,6}$/.test(limit) || Number(limit) < 1) {
      throw new SwitchboardError('bad_request', 'limit must be a positive integer');
    }
    size = Math.min(Number(limit), MAX_ATTEMPTS_PAGE);
  }
  if (before !== undefined && (typeof before !== 'string' || !ATTEMPT_CURSOR.test(before))) {
    throw new SwitchboardError('bad_request', 'before must be the `next` cursor of an earlier page');
  }
  return { limit: size, ...(status === undefined ? {} : { status }), ...(before === undefined ? {} : { before }) };
}
