import { All, Controller, Inject, Param, Post, Req, Res } from '@nestjs/common';
import { replyJson } from '@switchboard/platform';
import type { Request, Response } from 'express';
import { IngestPipeline } from './ingest.pipeline';
import { incomingWebhook } from './webhook-route';

/**
 * `POST /v1/webhooks/:source`: hands the unread request to the pipeline and writes its
 * reply. The configured sources' exact paths are served ahead of Express (WebhookRoute);
 * this controller answers the rest (unknown sources, other methods, other spellings).
 */
@Controller('v1/webhooks')
export class WebhookController {
  constructor(@Inject(IngestPipeline) private readonly pipeline: IngestPipeline) {}

  @Post(':source')
  async receive(@Param('source') source: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    const reply = await this.pipeline.handle(incomingWebhook(source, req, req.originalUrl));
    // A refusal before the body was read to its end (404, 403, 429, 503, 413, 408) leaves the
    // rest of it on the socket: replyJson answers so that the sender can read it, then
    // discards a bounded amount (less when shedding load). Otherwise a plain answer.
    replyJson(req, res, reply, reply.discard);
  }

  @All(':source')
  methodNotAllowed(@Req() req: Request, @Res() res: Response): void {
    replyJson(req, res, {
      status: 405,
      body: { error: 'bad_request', reason: 'method_not_allowed', message: 'webhooks are POSTed' },
      headers: { Allow: 'POST' },
    });
  }
}
