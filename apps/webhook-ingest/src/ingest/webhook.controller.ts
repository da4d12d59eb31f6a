import { All, Controller, Inject, Param, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { TLSSocket } from 'node:tls';
import { IngestPipeline } from './ingest.pipeline';
import { readRawBody } from './raw-body';
import type { IngestReply } from './reasons';

/** `POST /v1/webhooks/:source`: hands the unread request to the pipeline and writes its reply. */
@Controller('v1/webhooks')
export class WebhookController {
  constructor(@Inject(IngestPipeline) private readonly pipeline: IngestPipeline) {}

  @Post(':source')
  async receive(@Param('source') source: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    send(
      res,
      await this.pipeline.handle({
        source,
        peer: req.socket.remoteAddress,
        headers: req.headers,
        encrypted: req.socket instanceof TLSSocket,
        originalUrl: req.originalUrl,
        readBody: (limit) => readRawBody(req, limit),
      }),
    );
  }

  @All(':source')
  methodNotAllowed(@Res() res: Response): void {
    send(res, {
      status: 405,
      body: { error: 'bad_request', reason: 'method_not_allowed', message: 'webhooks are POSTed' },
      headers: { Allow: 'POST' },
    });
  }
}

function send(res: Response, reply: IngestReply): void {
  res.status(reply.status);
  res.setHeader('Cache-Control', 'no-store');
  for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
  // The unread rest of the body must not be parsed as the next request.
  if (reply.close === true) res.setHeader('Connection', 'close');
  res.json(reply.body);
}
