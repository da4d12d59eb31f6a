import { Controller, Get, Header, Redirect } from '@nestjs/common';

/** Where `/` sends a browser: the inspector today (the console will take its place). */
export const CONSOLE_PATH = '/inspect';

/** `GET /`: the single process's front door is the page to watch it from. */
@Controller()
export class ConsoleRedirectController {
  @Get()
  @Redirect(CONSOLE_PATH, 302)
  @Header('Cache-Control', 'no-store')
  root(): void {}
}
