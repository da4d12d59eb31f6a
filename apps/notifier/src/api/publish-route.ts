import type { Logger } from '@switchboard/observability';
import { INTERNAL_ERROR, replyJson } from '@switchboard/platform';
import { isSwitchboardError } from '@switchboard/protocol';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { admitBearerKey } from './bearer-key.middleware';
import { errorBody } from './http-error';
import { readJsonBody, type JsonBodyOptions } from './json-body.middleware';
import { parsePublishBody } from './publish-request';
import type { PublishService } from './publish.service';

/** Path of the publish API, served ahead of Express (`serveAheadOfExpress`, notifier.definition.ts). */
export const PUBLISH_PATH = '/v1/publish';

/** What the publish route needs besides the service: the key, the body limit, the limit metric. */
export interface PublishRouteOptions {
  /** PUBLISH_API_KEY; without one every request is a 401. */
  readonly key: string | undefined;
  /** MAX_MESSAGE_BYTES: the largest body. */
  readonly limitBytes: number;
  readonly body: JsonBodyOptions;
}

/**
 * `POST /v1/publish` on the Node server itself: the same steps and answers as the Nest
 * route (PublishController with its route middleware, which still serves the spellings
 * Express also matches, such as a trailing slash) — the key before the body (401), the
 * bounded body read (413, 400), validation (400), the engine publish (its error's status,
 * 503 when the engine is unavailable) and `{"offsets":…}` — without Express's router,
 * Nest's filters and `res.json`, which were ~40 % of a publish's CPU (docs/BENCHMARKS.md).
 * Every answer is written by replyJson; errors are `{"error","code","message"}`, and an
 * unexpected failure is logged and answered 500 as the app's global filter does.
 */
export class PublishRoute {
  constructor(
    private readonly service: PublishService,
    private readonly options: PublishRouteOptions,
    private readonly logger: Logger,
  ) {}

  /** Answers the request (every failure included); the promise is settled once the body is being read. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (admitBearerKey(req, res, this.options.key, 'publish')) {
      readJsonBody(req, res, this.options.limitBytes, this.options.body, (body) => void this.answer(req, res, body));
    }
    return Promise.resolve();
  }

  /** Never rejects: every failure is an answer. */
  private async answer(req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
    try {
      const reply = await this.service.publish(parsePublishBody(body), Date.now());
      replyJson(req, res, { status: 200, body: reply });
    } catch (err) {
      if (isSwitchboardError(err)) return replyJson(req, res, { status: err.httpStatus, body: errorBody(err) });
      this.logger.error({ err }, 'request failed');
      if (res.headersSent) res.destroy();
      else replyJson(req, res, { status: 500, body: { ...INTERNAL_ERROR } });
    }
  }
}
