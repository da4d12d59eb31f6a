import { PrivateServer, startPrivateServer, TEST_JWT_SECRET, uniqueName } from '@switchboard/testing';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { ServiceProcess } from './process';

/**
 * A private Switchboard deployment for fault tests: its own nats-server and redis-server
 * (killed by pid, never the shared ones) and gateway processes started from `dist/`.
 */
export class TestCluster {
  readonly gateways: Array<ServiceProcess | undefined> = [];
  readonly env: Record<string, string>;

  private constructor(
    readonly nats: PrivateServer,
    readonly redis: PrivateServer,
    extraEnv: Record<string, string>,
  ) {
    this.env = {
      JWT_SECRET: TEST_JWT_SECRET,
      NATS_URL: nats.url,
      REDIS_URL: redis.url,
      CLIENT_PUBLISH_RATE: '100000',
      DRAIN_SECONDS: '2',
      STARTUP_TIMEOUT_SECONDS: '20',
      ...extraEnv,
    };
  }

  static async start(gateways: number, extraEnv: Record<string, string> = {}): Promise<TestCluster> {
    const [nats, redis] = await Promise.all([startPrivateServer('nats'), startPrivateServer('redis')]);
    const cluster = new TestCluster(nats, redis, extraEnv);
    for (let i = 0; i < gateways; i++) await cluster.startGateway(i);
    return cluster;
  }

  async startGateway(index: number, env: Record<string, string> = {}): Promise<ServiceProcess> {
    const gw = await ServiceProcess.start('gateway', { ...this.env, INSTANCE_NAME: `gw${index}`, ...env });
    this.gateways[index] = gw;
    return gw;
  }

  /** WebSocket URLs of the gateways that are running. */
  wsUrls(): string[] {
    return this.gateways
      .filter((g): g is ServiceProcess => g !== undefined && g.child.exitCode === null && g.child.signalCode === null)
      .map((g) => g.url.replace(/^http/, 'ws') + '/v1/ws');
  }

  async killGateway(index: number, signal: NodeJS.Signals): Promise<void> {
    const gw = this.gateways[index];
    if (gw === undefined) return;
    gw.kill(signal);
    const { code } = await gw.exited();
    this.gateways[index] = undefined;
    if (signal === 'SIGTERM' && code !== 0) throw new Error(`gateway ${index} exited ${code} after SIGTERM: ${gw.output.slice(-2000)}`);
  }

  /** The store's position of a channel (the truth the ledger is checked against). */
  async position(channel: string): Promise<{ epoch: string; offset: number }> {
    const redis = new Redis(this.redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      const [epoch, offset] = await redis.hmget(`sb:{${channel}}:m`, 'e', 'o');
      return { epoch: epoch ?? '', offset: Number(offset ?? 0) };
    } finally {
      redis.disconnect();
    }
  }

  async stop(): Promise<void> {
    for (const gw of this.gateways) gw?.kill('SIGKILL');
    await Promise.all([this.nats.stop(), this.redis.stop()]);
  }
}

/**
 * Publishes to channels through the gateways over WebSocket, one message at a time per
 * channel, retrying each (same idempotency key) until acknowledged, so every acked
 * message exists exactly once whatever fails in between.
 */
export class TestPublisher {
  acked = 0;
  /** The `n` of every acknowledged publish, per channel. */
  readonly ackedByChannel = new Map<string, number[]>();
  failures = 0;
  private stopped = false;
  private ws?: WebSocket;
  private readonly pending = new Map<number, (ok: boolean) => void>();
  private nextId = 1;
  private urlIndex = 0;
  private readonly runner: Promise<void>;

  constructor(
    private readonly urls: () => string[],
    private readonly token: string,
    private readonly channels: string[],
    private readonly intervalMs: number,
  ) {
    this.runner = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.runner;
    this.ws?.terminate();
  }

  private async run(): Promise<void> {
    const key = uniqueName('pub');
    let n = 0;
    while (!this.stopped) {
      n++;
      for (const channel of this.channels) {
        while (!this.stopped && !(await this.publish(channel, { n }, `${key}-${channel}-${n}`))) {
          this.failures++;
          await new Promise((r) => setTimeout(r, 100));
        }
        if (!this.stopped) {
          this.acked++;
          if (!this.ackedByChannel.has(channel)) this.ackedByChannel.set(channel, []);
          this.ackedByChannel.get(channel)!.push(n);
        }
      }
      await new Promise((r) => setTimeout(r, this.intervalMs));
    }
  }

  private async connection(): Promise<WebSocket> {
    if (this.ws?.readyState === WebSocket.OPEN) return this.ws;
    this.ws?.terminate();
    const urls = this.urls();
    const url = urls[this.urlIndex++ % Math.max(1, urls.length)];
    const ws = new WebSocket(`${url}?token=${this.token}`);
    this.ws = ws;
    ws.on('message', (raw) => {
      const f = JSON.parse((raw as Buffer).toString('utf8')) as { id?: number; op: string };
      if (f.id !== undefined) this.pending.get(f.id)?.(f.op === 'ack');
    });
    ws.on('close', () => {
      for (const resolve of this.pending.values()) resolve(false);
      this.pending.clear();
    });
    ws.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('close', () => reject(new Error('closed')));
    });
    return ws;
  }

  private async publish(channel: string, data: unknown, idempotencyKey: string): Promise<boolean> {
    try {
      const ws = await this.connection();
      const id = this.nextId++;
      return await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => {
          this.pending.delete(id);
          resolve(false);
        }, 3000);
        this.pending.set(id, (ok) => {
          clearTimeout(timer);
          this.pending.delete(id);
          resolve(ok);
        });
        ws.send(JSON.stringify({ op: 'publish', id, channel, data, idempotencyKey }));
      });
    } catch {
      return false;
    }
  }
}
