import { Controller, HttpCode, Inject, Post, Req, UseFilters } from '@nestjs/common';
import type { Request } from 'express';
import { SwitchboardErrorFilter } from './http-error';
import { parsePublishBody } from './publish-request';
import { PublishReply, PublishService } from './publish.service';

/** `POST /v1/publish`. The key check and the bounded body read are route middleware (notifier.module.ts). */
@Controller('v1/publish')
@UseFilters(SwitchboardErrorFilter)
export class PublishController {
  constructor(@Inject(PublishService) private readonly service: PublishService) {}

  @Post()
  @HttpCode(200)
  publish(@Req() req: Request): Promise<PublishReply> {
    return this.service.publish(parsePublishBody(req.body), Date.now());
  }
}
