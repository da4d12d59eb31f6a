import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { afterLogsWritten, writeAfterLogs } from './logger';

/** Runs `test` with a logger on pino's asynchronous file destination; `read()` is the file's lines now. */
async function withAsyncFileLog(
  test: (logger: Logger, destination: ReturnType<typeof pino.destination>, read: () => string[]) => Promise<void>,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sb-log-'));
  try {
    const file = join(dir, 'out.log');
    const destination = pino.destination({ dest: file, sync: false });
    await new Promise((resolve) => destination.once('ready', resolve));
    const logger = pino({ base: undefined, timestamp: false }, destination);
    await test(logger, destination, () => readFileSync(file, 'utf8').trimEnd().split('\n'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('writeAfterLogs', () => {
  it('writes behind the lines an asynchronous destination still holds', () =>
    withAsyncFileLog(async (logger, destination, read) => {
      for (let i = 0; i < 200; i++) logger.info(`line ${i}`);
      writeAfterLogs(logger, 'BANNER\n');
      await new Promise<void>((resolve) => {
        destination.once('finish', resolve);
        destination.end();
      });
      const lines = read();
      expect(lines).toHaveLength(201);
      expect(lines.at(-2)).toContain('"msg":"line 199"');
      expect(lines.at(-1)).toBe('BANNER');
    }));
});

describe('afterLogsWritten', () => {
  it('calls back once an asynchronous destination has written every line given before', () =>
    withAsyncFileLog(async (logger, destination, read) => {
      for (let i = 0; i < 2000; i++) logger.info(`line ${i} ${'x'.repeat(100)}`);
      logger.warn('last');
      // What a process.exit in the callback would leave in the file.
      const written = await new Promise<string[]>((resolve) => afterLogsWritten(logger, () => resolve(read())));
      expect(written).toHaveLength(2001);
      expect(written.at(-1)).toContain('"msg":"last"');
      destination.end();
    }));

  it('calls back at once when nothing is being written', () => {
    const logger = pino({ base: undefined }, pino.destination({ dest: '/dev/null', sync: true }));
    const done = jest.fn();
    afterLogsWritten(logger, done);
    expect(done).toHaveBeenCalledTimes(1);
  });
});
