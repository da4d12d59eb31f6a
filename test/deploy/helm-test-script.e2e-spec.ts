import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { StandaloneConfig } from '@switchboard/config';
import { RunningService, startService } from '@switchboard/platform';
import { TEST_JWT_SECRET } from '@switchboard/testing';
import { standaloneDefinition } from '@switchboard/standalone';
import { chartDir } from './support/tools';

const PUBLISH_API_KEY = 'helm-test-script-publish-key';

/** Runs the chart's `helm test` script as its pod would, against `env`. */
function runScript(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(chartDir, 'files', 'helm-test.mjs')], {
      env: { PATH: process.env.PATH, SB_TEST_TIMEOUT_SECONDS: '10', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, out }));
  });
}

/**
 * The script of the chart's `helm test` pod, run against the whole platform in one process
 * (every route on one port, in-memory engine): it must pass on a working installation and
 * fail, saying why, on a broken one.
 */
describe('helm test script', () => {
  let service: RunningService<StandaloneConfig>;
  let urls: Record<string, string>;

  beforeAll(async () => {
    service = await startService(standaloneDefinition, {
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      DRAIN_SECONDS: '0',
      JWT_SECRET: TEST_JWT_SECRET,
      PUBLISH_API_KEY,
    });
    urls = { SB_GATEWAY_URL: service.url, SB_WEBHOOK_INGEST_URL: service.url, SB_NOTIFIER_URL: service.url };
  });

  afterAll(async () => {
    await service?.stop();
  });

  it('passes: every /readyz, then a message published through the publish API and received by a long-poll', async () => {
    const { code, out } = await runScript({ ...urls, JWT_SECRET: TEST_JWT_SECRET, PUBLISH_API_KEY });
    expect(out).toContain('ok: webhook-ingest /readyz 200');
    expect(out).toContain('ok: round trip (published via the notifier publish API');
    expect(code).toBe(0);
  });

  it('passes without the publish key by publishing as a client over the gateway WebSocket', async () => {
    const { code, out } = await runScript({ SB_GATEWAY_URL: service.url, JWT_SECRET: TEST_JWT_SECRET });
    expect(out).toContain('ok: round trip (published via a gateway WebSocket');
    expect(code).toBe(0);
  });

  it('fails on a publish key the notifier refuses', async () => {
    const { code, out } = await runScript({ ...urls, JWT_SECRET: TEST_JWT_SECRET, PUBLISH_API_KEY: 'wrong' });
    expect(out).toContain('failed: notifier refused PUBLISH_API_KEY (401)');
    expect(code).toBe(1);
  });

  it('fails on a token secret the gateway does not use', async () => {
    const { code, out } = await runScript({ ...urls, JWT_SECRET: 'not-the-secret-the-gateway-uses-0123456789', PUBLISH_API_KEY });
    expect(out).toContain('failed: gateway refused the test token (401)');
    expect(code).toBe(1);
  });

  it('fails when a service is not reachable', async () => {
    const { code, out } = await runScript({ SB_GATEWAY_URL: 'http://127.0.0.1:9', SB_TEST_TIMEOUT_SECONDS: '2' });
    expect(out).toMatch(/failed: gateway \/readyz: timed out/);
    expect(code).toBe(1);
  });
});
