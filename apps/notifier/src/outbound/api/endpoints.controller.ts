import { Controller, Delete, Get, HttpCode, Inject, Param, Patch, Post, Query, Req, UseFilters } from '@nestjs/common';
import type { Request } from 'express';
import { SwitchboardErrorFilter } from '../../api/http-error';
import { EndpointView } from '../endpoints/endpoint';
import { parseAttemptQuery, parseCreateEndpoint, parsePatchEndpoint, parseReplay, parseRotateSecret } from './endpoint-request';
import { AttemptPage, EndpointsService, EndpointWithSecret, ReplayResult } from './endpoints.service';

/**
 * The endpoints API (SPEC "Outbound webhooks"). `ADMIN_API_KEY` and the bounded JSON body
 * are route middleware (notifier.module.ts); each handler parses and delegates.
 */
@Controller('v1/endpoints')
@UseFilters(SwitchboardErrorFilter)
export class EndpointsController {
  constructor(@Inject(EndpointsService) private readonly service: EndpointsService) {}

  @Post()
  @HttpCode(201)
  create(@Req() req: Request): Promise<EndpointWithSecret> {
    return this.service.create(parseCreateEndpoint(req.body));
  }

  @Get()
  list(): Promise<{ endpoints: EndpointView[] }> {
    return this.service.list();
  }

  @Get(':id')
  get(@Param('id') id: string): Promise<EndpointView> {
    return this.service.get(id);
  }

  @Patch(':id')
  update(@Param('id') id: string, @Req() req: Request): Promise<EndpointView> {
    return this.service.update(id, parsePatchEndpoint(req.body));
  }

  @Delete(':id')
  @HttpCode(204)
  delete(@Param('id') id: string): Promise<void> {
    return this.service.delete(id);
  }

  @Post(':id/rotate-secret')
  @HttpCode(200)
  rotateSecret(@Param('id') id: string, @Req() req: Request): Promise<EndpointWithSecret> {
    return this.service.rotateSecret(id, parseRotateSecret(req.body).secret);
  }

  @Get(':id/attempts')
  attempts(@Param('id') id: string, @Query() query: Record<string, unknown>): Promise<AttemptPage> {
    return this.service.listAttempts(id, parseAttemptQuery(query));
  }

  @Post(':id/replay')
  @HttpCode(202)
  replay(@Param('id') id: string, @Req() req: Request): Promise<ReplayResult> {
    return this.service.replay(id, parseReplay(req.body, Date.now()));
  }

  @Post(':id/test')
  @HttpCode(200)
  test(@Param('id') id: string) {
    return this.service.test(id);
  }
}
