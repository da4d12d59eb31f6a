import type { LoggerService } from '@nestjs/common';
import type { Logger } from 'pino';

/** Nest's framework logs as pino JSON lines (one logger for the whole process). */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, context?: string): void {
    this.write('info', message, context);
  }
  error(message: unknown, stackOrContext?: string, context?: string): void {
    this.write('error', message, context ?? stackOrContext);
  }
  warn(message: unknown, context?: string): void {
    this.write('warn', message, context);
  }
  debug(message: unknown, context?: string): void {
    this.write('debug', message, context);
  }
  verbose(message: unknown, context?: string): void {
    this.write('trace', message, context);
  }
  fatal(message: unknown, context?: string): void {
    this.write('fatal', message, context);
  }

  private write(level: 'info' | 'error' | 'warn' | 'debug' | 'trace' | 'fatal', message: unknown, context?: string): void {
    // Route mapping and module init lines are noise in JSON logs; keep them at debug.
    const quiet = level === 'info' && (context === 'RouterExplorer' || context === 'RoutesResolver' || context === 'InstanceLoader');
    const effective = quiet ? 'debug' : level;
    if (message instanceof Error) this.logger[effective]({ err: message, context }, message.message);
    else if (typeof message === 'object' && message !== null) this.logger[effective]({ ...message, context });
    else this.logger[effective]({ context }, String(message));
  }
}
