import { RunningService, startService } from '@switchboard/platform';
import { eventually, requireSharedServers, signToken, TEST_JWT_SECRET, WsTestClient } from '@switchboard/testing';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { notifierDefinition } from '@switchboard/notifier';
import { webhookIngestDefinition } from '@switchboard/webhook-ingest';
import { cleanUp, isolatedEnv, testRuntime } from './support/notifier-harness';
import { startGateway, wsUrl } from './support/gateway';
import { SseTestClient } from './support/sse';

/**
 * The whole path on real NATS + Redis, three services: a GitHub webhook signed by the
 * official library → webhook-ingest → EVENTS → notifier (a route rule) → channel →
 * gateway → an SSE client and a WebSocket client, once each.
 */
describe('pipeline: GitHub webhook to browser transports', () => {
  let env: Record<string, string>;
  let ingest: RunningService;
  let notifier: RunningService;
  let gateway: RunningService;
  let dir: string;
  const secret = 'gh-pipeline-secret';

  beforeAll(async () => {
    const { natsUrl, redisUrl } = await requireSharedServers();
    dir = mkdtempSync(join(tmpdir(), 'sb-pipeline-'));
    const routes = join(dir, 'routes.yaml');
    writeFileSync(
      routes,
      'routes:\n  - match: { type: "github.push", source: "webhook/gh" }\n    channels: ["repo:{data.repository.full_name}"]\n',
    );
    env = isolatedEnv(natsUrl, redisUrl, {
      ROUTES_CONFIG: routes,
      WEBHOOK_SOURCES: JSON.stringify([{ name: 'gh', provider: 'github', secrets: [secret] }]),
    });
    ingest = await startService(webhookIngestDefinition, env);
    notifier = await startService(notifierDefinition, env);
    gateway = await startGateway({ ...env, JWT_SECRET: TEST_JWT_SECRET });
  });
  afterAll(async () => {
    await Promise.allSettled([ingest?.stop(), notifier?.stop(), gateway?.stop()]);
    if (env) await cleanUp(await testRuntime(env), env);
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers a signed push once to an SSE client and a WebSocket client', async () => {
    const { sign } = await import('@octokit/webhooks-methods');
    const channel = 'repo:acme/api';
    const token = await signToken({ sub: 'dev', channels: ['repo:*'] });
    const ws = await WsTestClient.connect(wsUrl(gateway, token));
    await ws.request('subscribe', { channel });
    const sse = new SseTestClient(`${gateway.url}/v1/sse?channel=${encodeURIComponent(channel)}`, { token });
    await sse.opened();

    const body = JSON.stringify({ ref: 'refs/heads/main', repository: { full_name: 'acme/api' }, pusher: { name: 'octocat' } });
    const delivery = '72d3162e-cc78-11e3-81ab-4c9367dc0958';
    const post = (): Promise<Response> =>
      sign(secret, body).then((signature) =>
        fetch(`${ingest.url}/v1/webhooks/gh`, {
          method: 'POST',
          headers: {
            'Content-Type': 'application/json',
            'X-GitHub-Event': 'push',
            'X-GitHub-Delivery': delivery,
            'X-Hub-Signature-256': signature,
          },
          body,
        }),
      );
    expect((await post()).status).toBe(202);
    // GitHub's redelivery of the same delivery: stored once, delivered once.
    expect((await post()).status).toBe(200);

    await eventually(() => expect(ws.messages(channel)).toHaveLength(1), 10000);
    await eventually(() => expect(sse.messages()).toHaveLength(1), 10000);
    for (const m of [ws.messages(channel)[0], sse.messages()[0]]) {
      expect(m).toMatchObject({ channel, offset: 1, type: 'github.push', id: expect.any(String), data: { ref: 'refs/heads/main' } });
    }
    // Nothing more arrives.
    await new Promise((r) => setTimeout(r, 500));
    expect(ws.messages(channel)).toHaveLength(1);
    expect(sse.messages()).toHaveLength(1);
    const metrics = await fetch(`${gateway.url}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/switchboard_delivery_latency_seconds_count\{transport="ws"\} 1/);
    ws.close();
    sse.close();
  });
});
