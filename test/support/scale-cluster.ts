import { connectRedis, RedisClient, RedisTarget } from '@switchboard/engine';
import { TEST_JWT_SECRET } from '@switchboard/testing';
import { ServiceProcess } from './process';
import type { ScenarioCluster } from './scenario';

/**
 * Gateway processes (from `dist/`) on clustered backends — a NATS JetStream cluster and a
 * Redis Cluster or Sentinel set-up the test started — for the ledger scenarios.
 */
export class ScaleTestCluster implements ScenarioCluster {
  readonly gateways: Array<ServiceProcess | undefined> = [];

  private constructor(
    readonly env: Record<string, string>,
    private readonly redis: RedisClient,
  ) {}

  /** `backendEnv`: NATS_URL and the Redis variables; `target` the same Redis for reading positions. */
  static async start(gateways: number, backendEnv: Record<string, string>, target: RedisTarget): Promise<ScaleTestCluster> {
    const redis = await connectRedis(target, 'scale-test', 20_000);
    const cluster = new ScaleTestCluster(
      { JWT_SECRET: TEST_JWT_SECRET, CLIENT_PUBLISH_RATE: '100000', DRAIN_SECONDS: '2', STARTUP_TIMEOUT_SECONDS: '20', ...backendEnv },
      redis,
    );
    for (let i = 0; i < gateways; i++)
      cluster.gateways[i] = await ServiceProcess.start('gateway', { ...cluster.env, INSTANCE_NAME: `gw${i}` });
    return cluster;
  }

  wsUrls(): string[] {
    return this.gateways
      .filter((g): g is ServiceProcess => g !== undefined && g.child.exitCode === null && g.child.signalCode === null)
      .map((g) => g.url.replace(/^http/, 'ws') + '/v1/ws');
  }

  async killGateway(index: number): Promise<void> {
    const gw = this.gateways[index];
    if (gw === undefined) return;
    gw.kill('SIGKILL');
    await gw.exited();
    this.gateways[index] = undefined;
  }

  /** The store's position of a channel, read through the cluster client (it follows failovers). */
  async position(channel: string): Promise<{ epoch: string; offset: number }> {
    const [epoch, offset] = await this.redis.hmget(`sb:{${channel}}:m`, 'e', 'o');
    return { epoch: epoch ?? '', offset: Number(offset ?? 0) };
  }

  async stop(): Promise<void> {
    for (const gw of this.gateways) gw?.kill('SIGKILL');
    await Promise.all(this.gateways.filter((g): g is ServiceProcess => g !== undefined).map((g) => g.exited()));
    this.redis.disconnect();
  }
}
