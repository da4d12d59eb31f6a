import { Controller, Get, Header, Inject } from '@nestjs/common';
import { docsPage } from './openapi';

/** Injection token of the OpenAPI document object. */
export const OPENAPI_DOCUMENT = Symbol('OpenApiDocument');

/** `/docs` (HTML) and `/docs/openapi.json` (OpenAPI 3.0) of the notifier's HTTP API. */
@Controller('docs')
export class DocsController {
  private readonly html: string;

  constructor(@Inject(OPENAPI_DOCUMENT) private readonly document: Record<string, unknown>) {
    this.html = docsPage(document);
  }

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  page(): string {
    return this.html;
  }

  @Get('openapi.json')
  openapi(): Record<string, unknown> {
    return this.document;
  }
}
