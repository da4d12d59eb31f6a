import { All, Controller, Inject, Param, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { TLSSocket } from 'node:tls';
import { IncomingWebhook, IngestPipeline } from './ingest.pipeline';
import { readRawBody } from './raw-body';
import type { IngestReply } from './reasons';

/** `POST /v1/webhooks/:source`: hands the unread request to the pipeline and writes its reply. */
@Controller('v1/webhooks')
export class WebhookController {
  constructor(@Inject(IngestPipeline) private readonly pipeline: IngestPipeline) {}

  @Post(':source')
  async receive(@Param('source') source: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    const reply = await this.pipeline.handle(incomingWebhook(source, req));
    // A refusal before the body was read (404, 403, 429, 413) leaves the rest of it on the
    // socket: close rather than let Node read and discard up to a client-chosen size.
    send(res, req.complete ? reply : { ...reply, close: true });
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

function incomingWebhook(source: string, req: Request): IncomingWebhook {
  return {
    source,
    peer: req.socket.remoteAddress,
    headers: req.headers,
    encrypted: req.socket instanceof TLSSocket,
    originalUrl: req.originalUrl,
    readBody: (limit) => readRawBody(req, limit),
  };
}

function send(res: Response, reply: IngestReply): void {
  res.status(reply.status);
  res.setHeader('Cache-Control', 'no-store');
  for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
  if (reply.close === true) res.setHeader('Connection', 'close');
  res.json(reply.body);
}
