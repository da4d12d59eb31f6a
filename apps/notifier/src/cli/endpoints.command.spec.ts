import { RunningService, startService } from '@switchboard/platform';
import { notifierDefinition } from '../notifier.definition';
import { CliIo } from './dlq.command';
import { parseEndpointsArgs, runEndpointsCommand } from './endpoints.command';

function capture(): CliIo & { outLines: string[]; errLines: string[] } {
  const outLines: string[] = [];
  const errLines: string[] = [];
  return { outLines, errLines, out: (l) => outLines.push(l), err: (l) => errLines.push(l) };
}

describe('endpoints command', () => {
  it('turns command lines into API requests', () => {
    expect(parseEndpointsArgs(['create', '--url', 'https://h.example/x', '--events', 'a.*, b', '--rate', '2'])).toEqual({
      method: 'POST',
      path: '/v1/endpoints',
      body: { url: 'https://h.example/x', events: ['a.*', 'b'], rateLimitPerSecond: 2 },
    });
    expect(parseEndpointsArgs(['update', 'ep_1', '--enable', '--rate', 'none'])).toEqual({
      method: 'PATCH',
      path: '/v1/endpoints/ep_1',
      body: { disabled: false, rateLimitPerSecond: null },
    });
    expect(parseEndpointsArgs(['replay', 'ep_1', '--since', '2026-11-02T10:00:00Z'])).toMatchObject({
      method: 'POST',
      path: '/v1/endpoints/ep_1/replay',
      body: { since: '2026-11-02T10:00:00Z' },
    });
    expect(parseEndpointsArgs(['attempts', 'ep_1', '--status', 'failed'])).toMatchObject({
      path: '/v1/endpoints/ep_1/attempts?status=failed',
    });
  });

  it('explains usage errors and a missing key with exit code 2', async () => {
    for (const args of [[], ['frobnicate'], ['create', '--url', 'x'], ['replay', 'ep_1'], ['update', 'ep_1'], ['get']]) {
      const io = capture();
      expect(await runEndpointsCommand(args, { ADMIN_API_KEY: 'k' }, io)).toBe(2);
      expect(io.errLines.join('\n')).toMatch(/^endpoints: .*\nusage: endpoints list/s);
    }
    const io = capture();
    expect(await runEndpointsCommand(['list'], {}, io)).toBe(2);
    expect(io.errLines[0]).toMatch(/ADMIN_API_KEY is not set/);
  });

  describe('against a running notifier (memory engine)', () => {
    let service: RunningService;
    const ADMIN = 'cli-admin-key';
    beforeAll(async () => {
      service = await startService(notifierDefinition, {
        PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'silent',
        ADMIN_API_KEY: ADMIN,
        OUTBOUND_ALLOW_HTTP: 'true',
      });
    });
    afterAll(() => service.stop());

    it('creates, lists, replays and deletes; API refusals exit 1 with the message', async () => {
      const env = { ADMIN_API_KEY: ADMIN, SWITCHBOARD_URL: service.url };
      const created = capture();
      expect(await runEndpointsCommand(['create', '--url', 'https://hooks.example.com/in', '--events', 'orders.*'], env, created)).toBe(0);
      const endpoint = JSON.parse(created.outLines.join('\n')) as { id: string; secret: string };
      expect(endpoint.secret).toMatch(/^whsec_/);

      const listed = capture();
      expect(await runEndpointsCommand(['list'], env, listed)).toBe(0);
      expect(listed.outLines.map((l) => (JSON.parse(l) as { id: string }).id)).toEqual([endpoint.id]);

      const replayed = capture();
      expect(await runEndpointsCommand(['replay', endpoint.id, '--since', new Date(0).toISOString()], env, replayed)).toBe(0);
      expect(JSON.parse(replayed.outLines.join('\n'))).toMatchObject({ replayed: 0 });

      const refused = capture();
      expect(await runEndpointsCommand(['create', '--url', 'http://10.0.0.1/x', '--events', 'a'], env, refused)).toBe(1);
      expect(refused.errLines[0]).toMatch(/^endpoints: 400 url 10\.0\.0\.1 is in a blocked range/);

      const wrongKey = capture();
      expect(await runEndpointsCommand(['list'], { ...env, ADMIN_API_KEY: 'nope' }, wrongKey)).toBe(1);
      expect(wrongKey.errLines[0]).toBe('endpoints: 401 missing or wrong API key');

      expect(await runEndpointsCommand(['delete', endpoint.id], env, capture())).toBe(0);
      const gone = capture();
      expect(await runEndpointsCommand(['get', endpoint.id], env, gone)).toBe(1);
      expect(gone.errLines[0]).toMatch(/404 no endpoint/);
    });
  });
});
