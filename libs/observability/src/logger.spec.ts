import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { writeAfterLogs } from './logger';

describe('writeAfterLogs', () => {
  it('writes behind the lines an asynchronous destination still holds', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-log-'));
    try {
      const file = join(dir, 'out.log');
      const destination = pino.destination({ dest: file, sync: false });
      await new Promise((resolve) => destination.once('ready', resolve));
      const logger = pino({ base: undefined, timestamp: false }, destination);
      for (let i = 0; i < 200; i++) logger.info(`line ${i}`);
      writeAfterLogs(logger, 'BANNER\n');
      await new Promise((resolve) => {
        destination.once('finish', resolve);
        destination.end();
      });
      const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
      expect(lines).toHaveLength(201);
      expect(lines.at(-2)).toContain('"msg":"line 199"');
      expect(lines.at(-1)).toBe('BANNER');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
