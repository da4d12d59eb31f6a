import type { Logger } from '@switchboard/observability';
import { INTERNAL_ERROR, replyJson } from '@switchboard/platform';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { TLSSocket } from 'node:tls';
import type { IncomingWebhook, IngestPipeline } from './ingest.pipeline';
import { readRawBody } from './raw-body';

/** Path prefix of the webhook route. */
export const WEBHOOKS_PATH = '/v1/webhooks/';

/**
 * `POST /v1/webhooks/<source>` for each configured source, on the Node server itself
 * (`serveAheadOfExpress`, webhook-ingest.definition.ts): the same pipeline and answers as
 * WebhookController, which still serves everything else under the route (unknown sources'
 * 404, other methods' 405, the spellings Express also matches, such as a trailing slash),
 * without Express's router and Nest's routing and filters per webhook. An unexpected
 * failure is logged and answered 500 as the app's global filter does.
 */
export class WebhookRoute {
  constructor(
    private readonly pipeline: IngestPipeline,
    private readonly logger: Logger,
  ) {}

  /** The exact paths served, one per configured source (its name as it appears in a URL). */
  routes(): Record<string, (req: IncomingMessage, res: ServerResponse) => Promise<void>> {
    const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => Promise<void>> = {};
    for (const source of this.pipeline.sourceNames()) {
      routes[WEBHOOKS_PATH + encodeURIComponent(source)] = (req, res) => this.handle(source, req, res);
    }
    return routes;
  }

  /** Never rejects: every failure is an answer. */
  async handle(source: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const reply = await this.pipeline.handle(incomingWebhook(source, req, req.url ?? ''));
      // A refusal before the body was read to its end leaves the rest on the socket:
      // replyJson answers so that the sender can read it, then discards a bounded amount.
      replyJson(req, res, reply, reply.discard);
    } catch (err) {
      this.logger.error({ err }, 'webhook request failed');
      if (res.headersSent) res.destroy();
      else replyJson(req, res, { status: 500, body: { ...INTERNAL_ERROR } });
    }
  }
}

/** One request as the pipeline takes it; `url` is the path and query as requested. */
export function incomingWebhook(source: string, req: IncomingMessage, url: string): IncomingWebhook {
  return {
    source,
    peer: req.socket.remoteAddress,
    headers: req.headers,
    encrypted: req.socket instanceof TLSSocket,
    originalUrl: url,
    readBody: (limit, timeoutMs) => readRawBody(req, limit, timeoutMs),
  };
}
