import { Controller, Get, Header, Inject, Redirect } from '@nestjs/common';
import type { StandaloneConfig } from '@switchboard/config';
import { consoleServed } from '@switchboard/gateway';
import { PLATFORM, type Platform } from '@switchboard/platform';

/** Where `/` sends a browser: the console when it is served (CONSOLE_ENABLED and an admin key), else the inspector. */
export function consolePath(config: StandaloneConfig): '/console' | '/inspect' {
  return consoleServed(config) ? '/console' : '/inspect';
}

/** `GET /`: the single process's front door is the page to watch it from. */
@Controller()
export class ConsoleRedirectController {
  private readonly target: string;

  constructor(@Inject(PLATFORM) platform: Platform<StandaloneConfig>) {
    this.target = consolePath(platform.config);
  }

  @Get()
  @Redirect('/console', 302)
  @Header('Cache-Control', 'no-store')
  root(): { url: string } {
    return { url: this.target };
  }
}
