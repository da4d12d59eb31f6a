import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NOTIFIER_MAIN, runDlqCli } from './support/notifier-harness';

/** The built notifier's command line: config errors stop it with one line; the dlq command explains its usage. */
describe('notifier process', () => {
  it('stops with one line naming ROUTES_CONFIG when the rules file is invalid', async () => {
    const routes = join(mkdtempSync(join(tmpdir(), 'sb-routes-')), 'routes.yaml');
    writeFileSync(routes, 'routes:\n  - match: { type: "x" }\n    channels: ["repo {data.name}"]\n');
    const child = spawn(process.execPath, [NOTIFIER_MAIN], {
      env: { PATH: process.env.PATH ?? '', ROUTES_CONFIG: routes, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' },
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    // One line: the variable, the file, where in it, and what is allowed.
    expect(err.trim().split('\n')).toEqual([
      `notifier: ROUTES_CONFIG ${routes}: routes[0].channels[0]: channel template "repo {data.name}" literal text "repo " may only contain A-Z a-z 0-9 and _ : @ = . / -`,
    ]);
  });

  it('dlq: usage errors and a missing NATS_URL exit 2 with a clear message', async () => {
    const usage = await runDlqCli({}, ['frobnicate']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^dlq: unknown command frobnicate\nusage: dlq list/);
    expect((await runDlqCli({}, ['replay', 'x'])).stderr).toMatch(/seq must be a positive integer/);
    const noNats = await runDlqCli({}, ['list']);
    expect(noNats.code).toBe(2);
    expect(noNats.stderr).toMatch(/NATS_URL is not set/);
  });
});
