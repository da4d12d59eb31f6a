import { MAX_ATTEMPTS_PAGE, MAX_EVENT_PATTERNS } from './endpoint-request';

const error = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});
const json = (description: string, ref: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } },
});
const idParam = {
  name: 'id',
  in: 'path',
  required: true,
  schema: { type: 'string', pattern: '^ep_[0-9a-f]{24}$' },
  description: 'Endpoint id',
};
const security = [{ adminKey: [] }];
const pattern = {
  type: 'string',
  minLength: 1,
  maxLength: 256,
  description: 'Event type pattern; * matches any run of characters, dots included',
  example: 'stripe.*',
};
const secret = {
  type: 'string',
  pattern: '^whsec_[A-Za-z0-9+/]+={0,2}$',
  description: 'Standard Webhooks secret: whsec_ and the base64 of a 24–64 byte key',
};

/** Schemas of the endpoints API (merged into the notifier's OpenAPI document). */
export const endpointsSchemas = {
  Endpoint: {
    type: 'object',
    required: ['id', 'url', 'description', 'events', 'format', 'disabled', 'createdAt', 'updatedAt'],
    properties: {
      id: { type: 'string', example: 'ep_3f9c0e6d2b1a4f5e6d7c8b9a' },
      url: { type: 'string', format: 'uri' },
      description: { type: 'string' },
      events: { type: 'array', items: pattern },
      format: { type: 'string', enum: ['standard'], description: 'Payload format and signature scheme' },
      disabled: { type: 'boolean' },
      disabledReason: {
        type: 'string',
        enum: ['manual', 'gone', 'failing'],
        description: 'gone: it answered 410; failing: no success for OUTBOUND_DISABLE_AFTER_HOURS',
      },
      disabledAt: { type: 'string', format: 'date-time' },
      rateLimitPerSecond: { type: 'number' },
      failingSince: { type: 'string', format: 'date-time', description: 'First failure since the last success' },
      previousSecretExpiresAt: {
        type: 'string',
        format: 'date-time',
        description: 'While a rotation overlaps: when the old secret stops signing',
      },
      createdAt: { type: 'string', format: 'date-time' },
      updatedAt: { type: 'string', format: 'date-time' },
    },
  },
  EndpointWithSecret: {
    allOf: [{ $ref: '#/components/schemas/Endpoint' }, { type: 'object', required: ['secret'], properties: { secret } }],
  },
  CreateEndpoint: {
    type: 'object',
    additionalProperties: false,
    required: ['url', 'events'],
    properties: {
      url: {
        type: 'string',
        maxLength: 2048,
        description: 'https URL (http only with OUTBOUND_ALLOW_HTTP); a literal blocked address is refused here',
      },
      events: { type: 'array', minItems: 1, maxItems: MAX_EVENT_PATTERNS, items: pattern },
      description: { type: 'string', maxLength: 1024 },
      secret: { ...secret, description: `${secret.description}; generated (32 bytes) when absent` },
      disabled: { type: 'boolean', default: false },
      rateLimitPerSecond: {
        type: 'number',
        exclusiveMinimum: true,
        minimum: 0,
        maximum: 100000,
        description: 'Attempts per second at most, across replicas',
      },
      format: { type: 'string', enum: ['standard'], default: 'standard' },
    },
  },
  PatchEndpoint: {
    type: 'object',
    additionalProperties: false,
    minProperties: 1,
    description: 'Fields to change. disabled:false re-enables (and clears failingSince). The secret changes only by rotation.',
    properties: {
      url: { type: 'string', maxLength: 2048 },
      events: { type: 'array', minItems: 1, maxItems: MAX_EVENT_PATTERNS, items: pattern },
      description: { type: 'string', maxLength: 1024 },
      disabled: { type: 'boolean' },
      rateLimitPerSecond: { type: 'number', nullable: true, description: 'null removes the limit' },
      format: { type: 'string', enum: ['standard'] },
    },
  },
  Attempt: {
    type: 'object',
    required: ['id', 'webhookId', 'endpointId', 'eventId', 'eventType', 'attempt', 'status', 'at', 'durationMs'],
    properties: {
      id: { type: 'string', description: 'Cursor: pass as `before` for older attempts' },
      webhookId: { type: 'string', description: 'The webhook-id header (the same on every attempt of a message)' },
      endpointId: { type: 'string' },
      eventId: { type: 'string' },
      eventType: { type: 'string' },
      attempt: { type: 'integer', minimum: 1 },
      status: { type: 'string', enum: ['succeeded', 'failed'] },
      at: { type: 'string', format: 'date-time' },
      durationMs: { type: 'number' },
      statusCode: { type: 'integer' },
      error: { type: 'string', example: 'blocked_address: internal.example resolves to 10.0.0.5 …' },
      responseBody: { type: 'string', maxLength: 1024, description: 'First 1 KiB of the answer' },
      nextAttemptAt: { type: 'string', format: 'date-time' },
      outcome: { type: 'string', enum: ['retry_scheduled', 'dead_lettered', 'endpoint_disabled'] },
      test: { type: 'boolean' },
    },
  },
};

/** Paths of the endpoints API (merged into the notifier's OpenAPI document). */
export const endpointsPaths = {
  '/v1/endpoints': {
    post: {
      summary: 'Register an endpoint (outbound webhooks)',
      security,
      requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/CreateEndpoint' } } } },
      responses: {
        201: json('Created; the only answer (with rotation) that shows the secret', 'EndpointWithSecret'),
        400: error('Invalid body, URL, pattern or secret (the message says which)'),
        401: error('Missing or wrong ADMIN_API_KEY'),
        503: error('Registry unavailable'),
      },
    },
    get: {
      summary: 'List endpoints, oldest first',
      security,
      responses: {
        200: {
          description: 'Every endpoint, without secrets',
          content: {
            'application/json': {
              schema: { type: 'object', properties: { endpoints: { type: 'array', items: { $ref: '#/components/schemas/Endpoint' } } } },
            },
          },
        },
        401: error('Missing or wrong ADMIN_API_KEY'),
        503: error('Registry unavailable'),
      },
    },
  },
  '/v1/endpoints/{id}': {
    get: {
      summary: 'One endpoint',
      security,
      parameters: [idParam],
      responses: { 200: json('The endpoint', 'Endpoint'), 401: error('Missing or wrong ADMIN_API_KEY'), 404: error('No such endpoint') },
    },
    patch: {
      summary: 'Change an endpoint (enable, disable, URL, patterns, rate limit)',
      security,
      parameters: [idParam],
      requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/PatchEndpoint' } } } },
      responses: {
        200: json('The endpoint as changed', 'Endpoint'),
        400: error('Invalid field'),
        401: error('Missing or wrong ADMIN_API_KEY'),
        404: error('No such endpoint'),
      },
    },
    delete: {
      summary: 'Delete an endpoint with its queue, dead letters and attempts log',
      security,
      parameters: [idParam],
      responses: {
        204: { description: 'Deleted' },
        401: error('Missing or wrong ADMIN_API_KEY'),
        404: error('No such endpoint'),
        503: error('Deleted, but its queue was not purged: DELETE again'),
      },
    },
  },
  '/v1/endpoints/{id}/rotate-secret': {
    post: {
      summary: 'New secret; the previous one keeps signing for 24 h (two signatures meanwhile)',
      security,
      parameters: [idParam],
      requestBody: {
        required: false,
        content: { 'application/json': { schema: { type: 'object', additionalProperties: false, properties: { secret } } } },
      },
      responses: {
        200: json('The endpoint and its new secret', 'EndpointWithSecret'),
        400: error('Invalid secret'),
        401: error('Missing or wrong ADMIN_API_KEY'),
        404: error('No such endpoint'),
      },
    },
  },
  '/v1/endpoints/{id}/attempts': {
    get: {
      summary: 'Attempts log, newest first',
      security,
      parameters: [
        idParam,
        { name: 'status', in: 'query', schema: { type: 'string', enum: ['failed', 'succeeded'] } },
        { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: MAX_ATTEMPTS_PAGE, default: 100 } },
        { name: 'before', in: 'query', schema: { type: 'string' }, description: '`next` of the previous page' },
      ],
      responses: {
        200: {
          description: 'A page; `next` is the `before` of the next page, null at the end',
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: {
                  attempts: { type: 'array', items: { $ref: '#/components/schemas/Attempt' } },
                  next: { type: 'string', nullable: true },
                },
              },
            },
          },
        },
        400: error('Invalid status, limit or cursor'),
        401: error('Missing or wrong ADMIN_API_KEY'),
        404: error('No such endpoint'),
      },
    },
  },
  '/v1/endpoints/{id}/replay': {
    post: {
      summary: 'Queue again, once each, the messages dead-lettered for this endpoint since a time',
      security,
      parameters: [idParam],
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: {
              type: 'object',
              additionalProperties: false,
              required: ['since'],
              properties: { since: { type: 'string', format: 'date-time' } },
            },
          },
        },
      },
      responses: {
        202: {
          description: 'Queued (delivered with the usual retries and limits, same webhook-id as before)',
          content: {
            'application/json': {
              schema: { type: 'object', properties: { since: { type: 'string', format: 'date-time' }, replayed: { type: 'integer' } } },
            },
          },
        },
        400: error('Invalid time, or the endpoint is disabled'),
        401: error('Missing or wrong ADMIN_API_KEY'),
        404: error('No such endpoint'),
        503: error('Queue unavailable'),
      },
    },
  },
  '/v1/endpoints/{id}/test': {
    post: {
      summary: 'Send one signed switchboard.endpoint.test event now (no retries) and return the attempt',
      security,
      parameters: [idParam],
      responses: {
        200: {
          description: 'The attempt, whatever the endpoint answered',
          content: {
            'application/json': { schema: { type: 'object', properties: { attempt: { $ref: '#/components/schemas/Attempt' } } } },
          },
        },
        401: error('Missing or wrong ADMIN_API_KEY'),
        404: error('No such endpoint'),
      },
    },
  },
};
