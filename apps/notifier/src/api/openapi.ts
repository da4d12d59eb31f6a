import { MAX_CHANNEL_LENGTH, MAX_IDEMPOTENCY_KEY_LENGTH } from '@switchboard/protocol';
import { endpointsPaths, endpointsSchemas } from '../outbound/api/endpoints.openapi';
import { MAX_CHANNELS_PER_PUBLISH, MAX_PUBLISH_DEPTH } from './publish-request';

const channelName = {
  type: 'string',
  minLength: 1,
  maxLength: MAX_CHANNEL_LENGTH,
  pattern: '^[A-Za-z0-9_:@=./-]+$',
  description: 'A channel name: no leading, trailing or double "."; convention namespace:id.',
  example: 'orders:42',
};

const error = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});
const seqParam = {
  name: 'seq',
  in: 'path',
  required: true,
  schema: { type: 'integer', minimum: 1 },
  description: 'Sequence of the dead letter on EVENTS_DLQ',
};

/**
 * The OpenAPI 3.0 description of the notifier's HTTP API, served at `/docs/openapi.json`
 * (written by hand next to the code it describes; `notifier-publish-api.e2e-spec.ts`
 * checks it names every route). `maxBodyBytes` is MAX_MESSAGE_BYTES of the running process.
 */
export function openApiDocument(maxBodyBytes: number): Record<string, unknown> {
  return {
    openapi: '3.0.3',
    info: {
      title: 'Switchboard notifier API',
      version: '1',
      description:
        'Publish messages to channels over HTTP, inspect and replay dead-lettered events, and register ' +
        'outbound webhook endpoints. Errors are `{"error","message"}` (`error` is the code, the same codes ' +
        'as WebSocket error frames; `code` repeats it for older clients).',
    },
    components: {
      securitySchemes: {
        publishKey: { type: 'http', scheme: 'bearer', description: 'PUBLISH_API_KEY. Without a configured key every call is 401.' },
        adminKey: {
          type: 'http',
          scheme: 'bearer',
          description: 'ADMIN_API_KEY, the key of every admin route (never the publish key). Without it every call is 401.',
        },
      },
      schemas: {
        Error: {
          type: 'object',
          required: ['error', 'code', 'message'],
          properties: {
            error: { type: 'string', enum: ['bad_request', 'unauthorized', 'not_found', 'too_large', 'unavailable'] },
            code: { type: 'string', description: 'The same as error (kept for clients of the first version)' },
            message: { type: 'string' },
          },
        },
        ...endpointsSchemas,
        PublishRequest: {
          type: 'object',
          additionalProperties: false,
          required: ['data'],
          description: 'Exactly one of channel and channels. If any channel is invalid nothing is published.',
          properties: {
            channel: channelName,
            channels: { type: 'array', minItems: 1, maxItems: MAX_CHANNELS_PER_PUBLISH, items: channelName },
            data: { description: 'Any JSON value (null included), delivered as the message data.' },
            idempotencyKey: {
              type: 'string',
              minLength: 1,
              maxLength: MAX_IDEMPOTENCY_KEY_LENGTH,
              description: 'Same key on a channel within IDEMPOTENCY_WINDOW_SECONDS returns the original offset and delivers nothing new.',
            },
          },
        },
        PublishReply: {
          type: 'object',
          required: ['offsets'],
          properties: { offsets: { type: 'object', additionalProperties: { type: 'integer' }, example: { 'orders:42': 17 } } },
        },
        DeadLetter: {
          type: 'object',
          required: ['reason', 'error', 'deliveryCount', 'subject', 'seq', 'storedAt', 'deadLetteredAt'],
          properties: {
            reason: { type: 'string', enum: ['publish_failed', 'rejected', 'unroutable', 'invalid_event'] },
            error: { type: 'string' },
            deliveryCount: { type: 'integer' },
            subject: { type: 'string', description: 'Subject of the event on EVENTS' },
            seq: { type: 'integer', description: 'Sequence of the event on EVENTS' },
            storedAt: { type: 'string', format: 'date-time' },
            deadLetteredAt: { type: 'string', format: 'date-time' },
            event: { type: 'object', description: 'The original CloudEvent' },
            raw: { type: 'string', format: 'byte', description: 'The payload, when it was not a JSON object' },
            channels: { type: 'array', items: { type: 'string' } },
            delivered: { type: 'array', items: { type: 'string' }, description: 'Channels that took the event already' },
          },
        },
        DeadLetterEntry: {
          type: 'object',
          required: ['dlqSeq', 'dlqSubject', 'deadLetter'],
          properties: {
            dlqSeq: { type: 'integer' },
            dlqSubject: { type: 'string' },
            deadLetter: { $ref: '#/components/schemas/DeadLetter' },
          },
        },
        ReplayResult: {
          type: 'object',
          required: ['dlqSeq', 'eventId', 'subject', 'seq'],
          properties: {
            dlqSeq: { type: 'integer' },
            eventId: { type: 'string' },
            subject: { type: 'string' },
            seq: { type: 'integer', description: 'Sequence of the republished event on EVENTS' },
            channels: { type: 'array', items: { type: 'string' }, description: 'Present when narrowed to channels that had not taken it' },
          },
        },
      },
    },
    paths: {
      '/v1/publish': {
        post: {
          summary: 'Publish a message to one or more channels',
          security: [{ publishKey: [] }],
          requestBody: {
            required: true,
            description: `JSON, at most ${maxBodyBytes} bytes (MAX_MESSAGE_BYTES), nesting arrays and objects at most ${MAX_PUBLISH_DEPTH} levels deep.`,
            content: { 'application/json': { schema: { $ref: '#/components/schemas/PublishRequest' } } },
          },
          responses: {
            200: { description: 'Stored', content: { 'application/json': { schema: { $ref: '#/components/schemas/PublishReply' } } } },
            400: error('Invalid body or channel, or nested too deeply (the message says which)'),
            401: error('Missing or wrong key (checked first)'),
            413: error('Body or message larger than MAX_MESSAGE_BYTES'),
            503: error('Engine unavailable; retry with the same idempotencyKey'),
          },
        },
      },
      '/v1/dlq': {
        get: {
          summary: 'List dead letters, oldest first',
          security: [{ adminKey: [] }],
          parameters: [
            { name: 'from', in: 'query', schema: { type: 'integer', minimum: 1, default: 1 } },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
          ],
          responses: {
            200: {
              description: 'A page; `next` is the `from` of the next page, null at the end',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    properties: {
                      deadLetters: { type: 'array', items: { $ref: '#/components/schemas/DeadLetterEntry' } },
                      next: { type: 'integer', nullable: true },
                    },
                  },
                },
              },
            },
            401: error('Missing or wrong key'),
            503: error('Event bus unavailable'),
          },
        },
      },
      '/v1/dlq/{seq}': {
        get: {
          summary: 'One dead letter',
          security: [{ adminKey: [] }],
          parameters: [seqParam],
          responses: {
            200: {
              description: 'The dead letter',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/DeadLetterEntry' } } },
            },
            401: error('Missing or wrong key'),
            404: error('No such dead letter'),
          },
        },
      },
      '/v1/dlq/{seq}/replay': {
        post: {
          summary: 'Republish one dead letter onto EVENTS and remove it from the DLQ',
          security: [{ adminKey: [] }],
          parameters: [seqParam],
          responses: {
            200: { description: 'Replayed', content: { 'application/json': { schema: { $ref: '#/components/schemas/ReplayResult' } } } },
            400: error('The dead letter holds no CloudEvent'),
            401: error('Missing or wrong key'),
            404: error('No such dead letter'),
            503: error('Event bus unavailable'),
          },
        },
      },
      '/v1/dlq/replay': {
        post: {
          summary: 'Replay every dead letter, oldest first',
          security: [{ adminKey: [] }],
          responses: {
            200: {
              description: 'What was replayed and what could not be',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    properties: {
                      replayed: { type: 'array', items: { $ref: '#/components/schemas/ReplayResult' } },
                      failed: {
                        type: 'array',
                        items: { type: 'object', properties: { dlqSeq: { type: 'integer' }, error: { type: 'string' } } },
                      },
                    },
                  },
                },
              },
            },
            401: error('Missing or wrong key'),
            503: error('Event bus unavailable'),
          },
        },
      },
      ...endpointsPaths,
    },
  };
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A small self-contained HTML page (no external scripts) listing the operations of `doc`. */
export function docsPage(doc: Record<string, unknown>): string {
  const paths = doc.paths as Record<string, Record<string, { summary: string; responses: Record<string, { description: string }> }>>;
  const rows: string[] = [];
  for (const [path, operations] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(operations)) {
      const responses = Object.entries(op.responses)
        .map(([status, r]) => `<li><code>${status}</code> ${escapeHtml(r.description)}</li>`)
        .join('');
      rows.push(
        `<tr><td><code>${method.toUpperCase()} ${escapeHtml(path)}</code></td><td>${escapeHtml(op.summary)}</td><td><ul>${responses}</ul></td></tr>`,
      );
    }
  }
  const info = doc.info as { title: string; description: string };
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(info.title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}td{vertical-align:top;padding:.4rem;border-top:1px solid #ddd}ul{margin:0;padding-left:1rem}</style>
</head><body>
<h1>${escapeHtml(info.title)}</h1>
<p>${escapeHtml(info.description)}</p>
<p>Machine-readable description: <a href="/docs/openapi.json">/docs/openapi.json</a> (OpenAPI 3.0; load it in any OpenAPI viewer or client generator).</p>
<table><thead><tr><th>operation</th><th>what it does</th><th>answers</th></tr></thead><tbody>
${rows.join('\n')}
</tbody></table>
<h2>Example</h2>
<pre>curl -X POST $URL/v1/publish -H "Authorization: Bearer $PUBLISH_API_KEY" -H 'Content-Type: application/json' \\
     -d '{"channel":"orders:42","data":{"status":"paid"},"idempotencyKey":"order-42-paid"}'
curl -X POST $URL/v1/endpoints -H "Authorization: Bearer $ADMIN_API_KEY" -H 'Content-Type: application/json' \\
     -d '{"url":"https://hooks.example.com/switchboard","events":["orders.*"]}'</pre>
</body></html>
`;
}
