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
    const attemptedAt: number[] = [];
    let killed = false;
    for (let i = 0; i < CLIENTS; i++) {
      const client = connect(gateway.url, { token, transports: ['websocket'], backoff: BACKOFF });
      clients.push(client);
      const got: number[] = [];
      received.push(got);
      client.subscribe<{ n: number }>(channel).on('message', (m) => got.push(m.data.n));
      client.on('state', (s) => {
        if (s === 'connected' && killed) reconnectedAt.push(Date.now());
        if (s === 'connecting' && killed) attemptedAt.push(Date.now());
      });
    }
    await eventually(() => expect(clients.filter((c) => c.state === 'connected')).toHaveLength(CLIENTS), 30_000, 100);
    await runtime.engine.publish({ channel, data: { n: 1 } });
    await eventually(() => expect(received.filter((r) => r.length === 1)).toHaveLength(CLIENTS), 15_000, 100);

    killed = true;
    const killedAt = Date.now();
    gateway.kill('SIGKILL');
    await gateway.exited();
    // Published while no gateway runs: every client must get these on resume.
    for (const n of [2, 3, 4]) await runtime.engine.publish({ channel, data: { n } });
    const restartAt = Date.now();
    gateway = await ServiceProcess.start('gateway', { ...env, PORT: String(port) });

    await eventually(() => expect(reconnectedAt).toHaveLength(CLIENTS), 30_000, 100);
    await eventually(() => expect(received.filter((r) => r.length === 4)).toHaveLength(CLIENTS), 15_000, 100);
    for (const r of received) expect(r).toEqual([1, 2, 3, 4]);

    // When clients try again is the SDK's doing (backoff with jitter); when they get in also
    // depends on how fast the new process accepts, which a loaded machine slows: the
    // assertions are on the attempts, the successes are shown.
    const histogram = (times: number[], from: number): Map<number, number> => {
      const buckets = new Map<number, number>();
      for (const t of times) {
        const b = Math.max(0, Math.floor((t - from) / BUCKET_MS));
        buckets.set(b, (buckets.get(b) ?? 0) + 1);
      }
      return buckets;
    };
    const draw = (buckets: Map<number, number>): string =>
      Array.from({ length: Math.max(...buckets.keys()) + 1 }, (_, b) => {
        const n = buckets.get(b) ?? 0;
        return `${String(b * BUCKET_MS).padStart(6)} ms ${String(n).padStart(4)} ${'#'.repeat(Math.ceil(n / 5))}`;
      }).join('\n');
    const attempts = histogram(attemptedAt, killedAt);
    console.log(
      `[reconnect storm] ${CLIENTS} clients, backoff base ${BACKOFF.baseMs} ms cap ${BACKOFF.capMs} ms, per ${BUCKET_MS} ms:\n` +
        `attempts after the kill (new process started at ${restartAt - killedAt} ms):\n${draw(attempts)}\n` +
        `reconnects after the restart:\n${draw(histogram(reconnectedAt, restartAt))}`,
    );

    const peak = Math.max(...attempts.values());
    const busy = [...attempts.values()].filter((n) => n >= CLIENTS / 100).length;
    // Not a spike (without jitter every round of attempts would land in one bucket): no
    // quarter second takes half of the attempts, and they span many quarter seconds.
    expect(peak).toBeLessThan(attemptedAt.length / 2);
    expect(busy).toBeGreaterThanOrEqual(6);
  }, 120_000);
});
