import pino, { type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths never logged: credentials in headers, query tokens, secrets in config objects.
 * Message bodies are not logged by default anywhere.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'req.query.token',
  'headers.authorization',
  'headers.cookie',
  'token',
  'secret',
  'secrets',
  '*.secret',
  '*.secrets',
  '*.token',
  'password',
  '*.password',
];

/** JSON-lines logger (one object per line) for a service; `pretty` only for development terminals. */
export function createLogger(options: { name: string; level: string; pretty?: boolean }): Logger {
  const config: LoggerOptions = {
    name: options.name,
    level: options.level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { service: options.name, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  if (options.pretty) {
    return pino(config, pino.destination({ sync: true }));
  }
  return pino(config);
}

/**
 * Writes `text` to the logger's own destination, behind every line already given to it.
 * pino's default destination writes asynchronously, and its `flush(cb)` calls back at once
 * (sonic-boom with no minimum length flushes nothing), so a separate `process.stdout.write`
 * can overtake a log line still being written.
 */
export function writeAfterLogs(logger: Logger, text: string): void {
  const stream = (logger as unknown as Record<symbol, { write(chunk: string): unknown } | undefined>)[pino.symbols.streamSym];
  if (stream === undefined) process.stdout.write(text);
  else stream.write(text);
}
