import { Controller, Get, Header, NotFoundException } from '@nestjs/common';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { INSPECTOR_CSP, INSPECTOR_PAGE } from './inspector-page';

/**
 * Where the SDK's browser bundle is: beside the built app (`dist/apps/<app>/public/`, put
 * there by `libs/client/build.mjs`), or in the SDK's own build output (tests, `nest start`).
 */
const BUNDLE_PATHS = [join(__dirname, 'public', 'switchboard-client.js'), join(process.cwd(), 'libs/client/dist/switchboard-client.js')];

/**
 * `GET /inspect`: a page to connect with a token, subscribe, watch messages and publish.
 * Registered only with INSPECTOR_ENABLED (gateway.module.ts).
 */
@Controller('inspect')
export class InspectorController {
  private bundle?: string;

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Cache-Control', 'no-cache')
  @Header('Content-Security-Policy', INSPECTOR_CSP)
  // For browsers without CSP's frame-ancestors.
  @Header('X-Frame-Options', 'DENY')
  @Header('X-Content-Type-Options', 'nosniff')
  @Header('Referrer-Policy', 'no-referrer')
  page(): string {
    return INSPECTOR_PAGE;
  }

  @Get('switchboard-client.js')
  @Header('Content-Type', 'text/javascript; charset=utf-8')
  @Header('Cache-Control', 'no-cache')
  @Header('X-Content-Type-Options', 'nosniff')
  client(): string {
    if (this.bundle === undefined) {
      const path = BUNDLE_PATHS.find((p) => existsSync(p));
      if (path === undefined) throw new NotFoundException('the client bundle is not built (npm run build:client)');
      this.bundle = readFileSync(path, 'utf8');
    }
    return this.bundle;
  }
}
