import { Controller, Get, Options, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { SseTransport } from './sse-transport';

@Controller('v1/sse')
export class SseController {
  constructor(private readonly sse: SseTransport) {}

  @Get()
  @Options()
  stream(@Req() req: Request, @Res() res: Response): Promise<void> {
    return this.sse.handle(req, res);
  }
}
