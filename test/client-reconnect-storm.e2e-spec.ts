import { connect, SwitchboardClient } from '@switchboard/client';
import type { EngineRuntime } from '@switchboard/engine';
import {
  cleanupIsolatedEnv,
  eventually,
  isolatedEnv,
  requireSharedServers,
  signToken,
  TEST_JWT_SECRET,
  uniqueName,
} from '@switchboard/testing';
import { testRuntime } from './support/notifier-harness';

import { ServiceProcess } from './support/process';

const CLIENTS = 1000;
const BACKOFF = { baseMs: 500, capMs: 4000 };
const BUCKET_MS = 250;

/**
 * 1,000 SDK clients lose their gateway at once (SIGKILL) and find it again when it comes
 * back on the same address: full-jitter backoff spreads their reconnects instead of a
 * spike, and every client resumes with the messages published while it was gone.
 */
describe('1,000 SDK clients after a gateway restart', () => {
  let env: Record<string, string>;
  let runtime: EngineRuntime;
  let gateway: ServiceProcess | undefined;
  const clients: SwitchboardClient[] = [];

  beforeAll(async () => {
    const { natsUrl, redisUrl } = await requireSharedServers();
    env = { ...isolatedEnv('gw', { natsUrl: natsUrl, redisUrl: redisUrl }), JWT_SECRET: TEST_JWT_SECRET };
    runtime = await testRuntime(env);
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    gateway?.kill();
    await runtime?.close();
    if (env !== undefined) await cleanupIsolatedEnv(env);
  });

  it('spread their reconnects over the backoff window and miss nothing', async () => {
    gateway = await ServiceProcess.start('gateway', env);
    const port = Number(new URL(gateway.url).port);
    const token = await signToken({ sub: 'storm', channels: ['*'] });
    const channel = `storm:${uniqueName('c')}`;

    const received: number[][] = [];
    const reconnectedAt: number[] = [];
    let killed = false;
    for (let i = 0; i < CLIENTS; i++) {
      const client = connect(gateway.url, { token, transports: ['websocket'], backoff: BACKOFF });
      clients.push(client);
      const got: number[] = [];
      received.push(got);
      client.subscribe<{ n: number }>(channel).on('message', (m) => got.push(m.data.n));
      client.on('state', (s) => {
        if (s === 'connected' && killed) reconnectedAt.push(Date.now());
      });
    }
    await eventually(() => expect(clients.filter((c) => c.state === 'connected')).toHaveLength(CLIENTS), 30_000, 100);
    await runtime.engine.publish({ channel, data: { n: 1 } });
    await eventually(() => expect(received.filter((r) => r.length === 1)).toHaveLength(CLIENTS), 15_000, 100);

    killed = true;
    gateway.kill('SIGKILL');
    await gateway.exited();
    // Published while no gateway runs: every client must get these on resume.
    for (const n of [2, 3, 4]) await runtime.engine.publish({ channel, data: { n } });
    const restartAt = Date.now();
    gateway = await ServiceProcess.start('gateway', { ...env, PORT: String(port) });

    await eventually(() => expect(reconnectedAt).toHaveLength(CLIENTS), 30_000, 100);
    await eventually(() => expect(received.filter((r) => r.length === 4)).toHaveLength(CLIENTS), 15_000, 100);
    for (const r of received) expect(r).toEqual([1, 2, 3, 4]);

    // Histogram of reconnects after the new process was started.
    const buckets = new Map<number, number>();
    for (const t of reconnectedAt) {
      const b = Math.max(0, Math.floor((t - restartAt) / BUCKET_MS));
      buckets.set(b, (buckets.get(b) ?? 0) + 1);
    }
    const last = Math.max(...buckets.keys());
    const lines = Array.from({ length: last + 1 }, (_, b) => {
      const n = buckets.get(b) ?? 0;
      return `${String(b * BUCKET_MS).padStart(6)} ms ${String(n).padStart(4)} ${'#'.repeat(Math.ceil(n / 5))}`;
    });
    console.log(
      `[reconnect storm] ${CLIENTS} clients, backoff base ${BACKOFF.baseMs} ms cap ${BACKOFF.capMs} ms, reconnects per ${BUCKET_MS} ms after restart:\n${lines.join('\n')}`,
    );

    const peak = Math.max(...buckets.values());
    const busy = [...buckets.values()].filter((n) => n >= CLIENTS / 100).length;
    // Not a spike (without jitter all would land in one bucket): no quarter second takes
    // half of the clients, and the reconnects span many of them.
    expect(peak).toBeLessThan(CLIENTS / 2);
    expect(busy).toBeGreaterThanOrEqual(6);
  }, 120_000);
});
