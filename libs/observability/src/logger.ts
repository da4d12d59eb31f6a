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
  const stream = destinationOf(logger);
  if (stream === undefined) process.stdout.write(text);
  else stream.write(text);
}

/**
 * Calls `done` once every line already given to the logger is written, or after `limitMs`
 * (a destination that fails never says it drained). For a last line before
 * `process.exit`: pino's `flush(cb)` does not wait (see `writeAfterLogs`), and its exit
 * hook writes what is buffered but not a write already in progress.
 */
export function afterLogsWritten(logger: Logger, done: () => void, limitMs = 1000): void {
  const stream = destinationOf(logger);
  // sonic-boom (pino's destination) is `_writing` from a write's start until it emits
  // 'drain' with nothing left; a synchronous or foreign destination has nothing pending.
  if (stream?._writing !== true || typeof stream.once !== 'function') {
    done();
    return;
  }
  let called = false;
  const once = (): void => {
    if (called) return;
    called = true;
    clearTimeout(timer);
    done();
  };
  const timer = setTimeout(once, limitMs);
  stream.once('drain', once);
}

interface Destination {
  write(chunk: string): unknown;
  once?(event: 'drain', listener: () => void): unknown;
  _writing?: boolean;
}

function destinationOf(logger: Logger): Destination | undefined {
  return (logger as unknown as Record<symbol, Destination | undefined>)[pino.symbols.streamSym];
}
