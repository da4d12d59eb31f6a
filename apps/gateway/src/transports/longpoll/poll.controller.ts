import { Controller, Get, Options, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { PollTransport } from './poll-transport';

@Controller('v1/poll')
export class PollController {
  constructor(private readonly poll: PollTransport) {}

  @Get()
  @Options()
  handle(@Req() req: Request, @Res() res: Response): Promise<void> {
    return this.poll.handle(req, res);
  }
}
