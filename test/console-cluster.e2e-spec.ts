import { cleanupIsolatedEnv, eventually, isolatedEnv, requireSharedServers, signToken, TEST_JWT_SECRET } from '@switchboard/testing';
import { ServiceProcess } from './support/process';

const ADMIN = 'console-cluster-admin-key';

interface ClusterAnswer {
  pods: { pod: string; connections: Record<string, number>; channelsHeld: number; stale: boolean }[];
  backends: { mode: string; ready: Record<string, boolean>; nats?: { streams: unknown[] }; redis?: { status: string } };
}

/**
 * Two gateway processes on the real NATS and Redis; one serves the console. Its cluster
 * view holds both pods, each with the connections it holds, from the stats they publish on
 * NATS (the console never asks the other pod), and the backends' state.
 */
describe('the console of a gateway cluster', () => {
  let env: Record<string, string>;
  const gateways: ServiceProcess[] = [];
  const sockets: WebSocket[] = [];

  beforeAll(async () => {
    const { natsUrl, redisUrl } = await requireSharedServers();
    env = isolatedEnv('console', { natsUrl, redisUrl });
    const common = {
      ...env,
      JWT_SECRET: TEST_JWT_SECRET,
      JWT_ISSUER: 'https://id.example.com/',
      JWT_AUDIENCE: 'switchboard',
      STATS_INTERVAL_SECONDS: '1',
      DRAIN_SECONDS: '1',
    };
    gateways.push(
      await ServiceProcess.start('gateway', { ...common, INSTANCE_NAME: 'gw-console', CONSOLE_ENABLED: 'true', ADMIN_API_KEY: ADMIN }),
    );
    gateways.push(await ServiceProcess.start('gateway', { ...common, INSTANCE_NAME: 'gw-other' }));
  }, 60_000);

  afterAll(async () => {
    for (const ws of sockets) ws.close();
    for (const g of gateways) g.kill();
    await cleanupIsolatedEnv(env);
  });

  it('shows every pod from its stats on NATS, and NATS and Redis', async () => {
    const [withConsole, other] = gateways;
    // Two WebSocket clients on the pod without the console, each subscribed to a channel.
    const token = await signToken({ sub: 'c', channels: ['*'], iss: 'https://id.example.com/', aud: 'switchboard' });
    for (const channel of ['a', 'b']) {
      const ws = new WebSocket(`${other.url.replace('http', 'ws')}/v1/ws?token=${token}`);
      sockets.push(ws);
      await new Promise((resolve, reject) => {
        ws.onopen = resolve;
        ws.onerror = reject;
      });
      ws.send(JSON.stringify({ op: 'subscribe', id: 1, channel }));
    }

    // The console's development token carries the issuer and audience this gateway requires.
    const dev = await fetch(`${withConsole.url}/console/api/dev-token`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` } });
    const { token: devToken } = (await dev.json()) as { token: string };
    const consoleClient = new WebSocket(`${withConsole.url.replace('http', 'ws')}/v1/ws?token=${devToken}`);
    sockets.push(consoleClient);
    await new Promise((resolve, reject) => {
      consoleClient.onopen = resolve;
      consoleClient.onerror = reject;
    });

    expect((await fetch(`${withConsole.url}/console/api/cluster`)).status).toBe(401);
    expect((await fetch(`${other.url}/console/api/cluster`, { headers: { authorization: `Bearer ${ADMIN}` } })).status).toBe(404);

    await eventually(async () => {
      const res = await fetch(`${withConsole.url}/console/api/cluster`, { headers: { authorization: `Bearer ${ADMIN}` } });
      const body = (await res.json()) as ClusterAnswer;
      expect(body.pods.map((p) => [p.pod, p.connections.ws ?? 0, p.channelsHeld, p.stale])).toEqual([
        ['gw-console', 1, 0, false],
        ['gw-other', 2, 2, false],
      ]);
      expect(body.backends).toMatchObject({ mode: 'nats-redis', ready: { nats: true, redis: true }, redis: { status: 'ready' } });
    }, 10_000);
  });
});
