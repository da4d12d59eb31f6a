import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

const root = join(__dirname, '..');

/** A `node` on PATH outside node_modules (the machine's own), when it is older than 24. */
function olderSystemNode(): { path: string; version: string } | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir.includes('node_modules')) continue;
    const path = join(dir, 'node');
    if (!existsSync(path)) continue;
    const version = spawnSync(path, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout.trim();
    if (Number(version.split('.')[0]) < 24) return { path, version };
    return undefined;
  }
  return undefined;
}

const older = olderSystemNode();

/** README "Node.js version": `node dist/apps/<service>/main.js` on the machine's older Node. */
(older === undefined ? describe.skip : describe)(
  `a service started with the machine's Node (${older?.version ?? 'not older than 24'})`,
  () => {
    it.each(['gateway', 'webhook-ingest', 'notifier', 'standalone'])('%s stops at once with one line saying how to run it', (app) => {
      const result = spawnSync(older!.path, [join(root, 'dist/apps', app, 'main.js')], {
        encoding: 'utf8',
        env: { PATH: process.env.PATH, JWT_SECRET: 'x'.repeat(32), PORT: '0' },
        timeout: 20000,
        // A build without the check would start and serve: end it hard, the assertions tell.
        killSignal: 'SIGKILL',
      });
      const name = app === 'standalone' ? 'switchboard' : app;
      expect({ status: result.status, stdout: result.stdout, lines: result.stderr.trim().split('\n').length }).toEqual({
        status: 1,
        stdout: '',
        lines: 1,
      });
      expect(result.stderr).toMatch(
        new RegExp(
          `^${name}: Node\\.js 24 or newer is required; this is v${older!.version.replace(/\./g, '\\.')} \\(${older!.path}\\)\\. `,
        ),
      );
    });
  },
);
