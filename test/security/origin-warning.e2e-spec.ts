import { eventually, TEST_JWT_SECRET } from '@switchboard/testing';
import { ServiceProcess } from '../support/process';

/** Startup tells the operator when any web page may connect (ALLOWED_ORIGINS empty). */
describe('security: the ALLOWED_ORIGINS startup warning', () => {
  const running: ServiceProcess[] = [];
  afterEach(() => running.splice(0).forEach((p) => p.kill()));

  const warnings = (output: string): Array<{ level: string; msg: string }> =>
    output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { level: string; msg: string; setting?: string })
      .filter((entry) => entry.setting === 'ALLOWED_ORIGINS');

  it.each(['gateway', 'standalone'])('%s: one warning line when ALLOWED_ORIGINS is empty, none when it is set', async (app) => {
    const open = await ServiceProcess.start(app, { JWT_SECRET: TEST_JWT_SECRET, LOG_LEVEL: 'info' });
    const closed = await ServiceProcess.start(app, {
      JWT_SECRET: TEST_JWT_SECRET,
      LOG_LEVEL: 'info',
      ALLOWED_ORIGINS: 'https://app.example.com',
    });
    running.push(open, closed);
    // The warning comes while the app is configured, before the "listening" line.
    for (const p of [open, closed]) await eventually(() => expect(p.output).toMatch(/"msg":"[a-z-]+ listening"/));
    expect(warnings(open.output)).toEqual([
      expect.objectContaining({
        level: 'warn',
        msg: expect.stringMatching(/^ALLOWED_ORIGINS is empty: browser pages from any origin may connect/),
      }),
    ]);
    expect(warnings(closed.output)).toEqual([]);
  });
});
