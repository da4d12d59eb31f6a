import { Controller, Get, Header, NotFoundException } from '@nestjs/common';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { INSPECTOR_CSP, INSPECTOR_PAGE } from './inspector-page';

/**
 * Where an SDK browser bundle is: beside the built app (`dist/apps/<app>/public/`, put
 * there by `libs/client/build.mjs`), or in the SDK's own build output (tests, `nest start`).
 */
const bundlePaths = (file: string): string[] => [join(__dirname, 'public', file), join(process.cwd(), 'libs/client/dist', file)];

/**
 * `GET /inspect`: a page to connect with a token, subscribe, watch messages and publish.
 * Registered only with INSPECTOR_ENABLED (gateway.module.ts).
 */
@Controller('inspect')
export class InspectorController {
  private readonly bundles = new Map<string, string>();

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

  /** The SDK (global `Switchboard`); the page's script uses it. */
  @Get('switchboard-client.js')
  @Header('Content-Type', 'text/javascript; charset=utf-8')
  @Header('Cache-Control', 'no-cache')
  @Header('X-Content-Type-Options', 'nosniff')
  client(): string {
    return this.bundle('switchboard-client.js');
  }

  /** `Switchboard.RtcRoom`: WebRTC rooms, for pages (and the WebRTC tests) that call. */
  @Get('switchboard-rtc.js')
  @Header('Content-Type', 'text/javascript; charset=utf-8')
  @Header('Cache-Control', 'no-cache')
  @Header('X-Content-Type-Options', 'nosniff')
  rtc(): string {
    return this.bundle('switchboard-rtc.js');
  }

  private bundle(file: string): string {
    let text = this.bundles.get(file);
    if (text === undefined) {
      const path = bundlePaths(file).find((p) => existsSync(p));
      if (path === undefined) throw new NotFoundException(`the client bundle ${file} is not built (npm run build:client)`);
      text = readFileSync(path, 'utf8');
      this.bundles.set(file, text);
    }
    return text;
  }
}
