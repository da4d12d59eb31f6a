import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freePort, PrivateServer } from './servers';

const run = promisify(execFile);

/** Runs redis-cli against a private node; its stdout. */
export async function redisCli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 20_000 });
  return stdout;
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(100);
  }
}

/** One node of a private NATS JetStream cluster: its server name and monitoring port. */
export class NatsClusterNode extends PrivateServer {
  constructor(
    readonly serverName: string,
    port: number,
    readonly monitorPort: number,
    dataDir: string,
    args: string[],
  ) {
    super('nats', port, dataDir, args);
  }

  /** The server's `/jsz` monitoring answer (JetStream state, meta leader, streams). */
  async jsz(query = ''): Promise<{ meta_cluster?: { leader?: string; cluster_size?: number }; account_details?: unknown[] }> {
    const res = await fetch(`http://127.0.0.1:${this.monitorPort}/jsz${query}`, { signal: AbortSignal.timeout(2000) });
    return (await res.json()) as { meta_cluster?: { leader?: string } };
  }
}

/**
 * A private NATS JetStream cluster of `size` servers on free ports (routes between all,
 * one cluster name, monitoring on for leader queries), killed by pid. Ready once every
 * running node agrees on a metadata leader.
 */
export class NatsJetStreamCluster {
  private constructor(readonly nodes: NatsClusterNode[]) {}

  static async start(size = 3): Promise<NatsJetStreamCluster> {
    const ports = await Promise.all(Array.from({ length: size * 3 }, () => freePort()));
    const client = ports.slice(0, size);
    const routes = ports.slice(size, size * 2);
    const monitor = ports.slice(size * 2);
    const clusterName = `sbjs${client[0]}`;
    const routeList = routes.map((p) => `nats-route://127.0.0.1:${p}`).join(',');
    const nodes = client.map((port, i) => {
      const dir = mkdtempSync(join(tmpdir(), 'sb-natsjs-'));
      const name = `n${i}`;
      return new NatsClusterNode(name, port, monitor[i], dir, [
        '-js',
        '-sd',
        dir,
        '-n',
        name,
        '-m',
        String(monitor[i]),
        '--cluster_name',
        clusterName,
        '--cluster',
        `nats://127.0.0.1:${routes[i]}`,
        '--routes',
        routeList,
      ]);
    });
    const cluster = new NatsJetStreamCluster(nodes);
    await Promise.all(nodes.map((n) => n.start()));
    await cluster.metaLeader();
    return cluster;
  }

  /** Every server, comma-separated: a NATS_URL. */
  get url(): string {
    return this.nodes.map((n) => n.url).join(',');
  }

  running(): NatsClusterNode[] {
    return this.nodes.filter((n) => n.pid !== undefined && n.isRunning());
  }

  node(name: string): NatsClusterNode {
    const node = this.nodes.find((n) => n.serverName === name);
    if (node === undefined) throw new Error(`no NATS node ${name}`);
    return node;
  }

  /** The JetStream metadata leader's server name, once the running nodes agree on one. */
  metaLeader(timeoutMs = 20_000): Promise<string> {
    return until('NATS JetStream cluster elects a metadata leader', timeoutMs, async () => {
      const leaders = await Promise.all(this.running().map(async (n) => (await n.jsz()).meta_cluster?.leader));
      const first = leaders[0];
      return first !== undefined && first !== '' && leaders.every((l) => l === first) ? first : undefined;
    });
  }

  /**
   * Every running node answers its `/healthz` (JetStream current on it: meta state, streams
   * and consumers caught up), as after a node restart a client may be connected to it.
   */
  healthy(timeoutMs = 30_000): Promise<true> {
    return until('every NATS node reports healthy', timeoutMs, async () => {
      const ok = await Promise.all(
        this.running().map(async (n) => {
          const res = await fetch(`http://127.0.0.1:${n.monitorPort}/healthz`, { signal: AbortSignal.timeout(2000) }).catch(
            () => undefined,
          );
          return res?.status === 200;
        }),
      );
      return ok.every(Boolean) ? true : undefined;
    });
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
  }
}

/**
 * A private Redis Cluster: `masters` masters with one replica each (`redis-server
 * --cluster-enabled yes`, then `redis-cli --cluster create … --cluster-replicas 1`), a
 * short node timeout so a killed master is replaced within seconds.
 */
export class RedisClusterSet {
  private constructor(readonly nodes: PrivateServer[]) {}

  static async start(masters = 3, nodeTimeoutMs = 1000): Promise<RedisClusterSet> {
    const ports = await Promise.all(Array.from({ length: masters * 2 }, () => freePort()));
    const nodes = ports.map((port) => {
      const dir = mkdtempSync(join(tmpdir(), 'sb-rediscluster-'));
      return new PrivateServer('redis', port, dir, [
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        join(dir, 'nodes.conf'),
        '--cluster-node-timeout',
        String(nodeTimeoutMs),
        // A replica may take over whatever its last contact with the master (tests kill masters).
        '--cluster-replica-validity-factor',
        '0',
      ]);
    });
    const set = new RedisClusterSet(nodes);
    try {
      await Promise.all(nodes.map((n) => n.start()));
      await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'], {
        timeout: 60_000,
      });
      await set.waitHealthy();
    } catch (err) {
      await set.stop();
      throw err;
    }
    return set;
  }

  /** `host:port` of every node: REDIS_CLUSTER_NODES. */
  get nodeList(): string {
    return this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',');
  }

  running(): PrivateServer[] {
    return this.nodes.filter((n) => n.isRunning());
  }

  /** Until every running node says `cluster_state:ok` and all 16384 slots have a live master. */
  waitHealthy(timeoutMs = 30_000): Promise<true> {
    return until('Redis Cluster reaches cluster_state:ok on every node', timeoutMs, async () => {
      for (const n of this.running()) {
        const info = await redisCli(n.port, 'cluster', 'info');
        if (!/cluster_state:ok/.test(info) || !/cluster_slots_ok:16384/.test(info)) return undefined;
      }
      return true;
    });
  }

  /** The running node that is master of `key`'s slot. */
  async masterOf(key: string): Promise<PrivateServer> {
    const slot = Number((await redisCli(this.running()[0].port, 'cluster', 'keyslot', key)).trim());
    const nodes = await redisCli(this.running()[0].port, 'cluster', 'nodes');
    for (const line of nodes.trim().split('\n')) {
      const [, address, flags, , , , , , ...ranges] = line.split(' ');
      if (!flags.includes('master') || flags.includes('fail')) continue;
      const covers = ranges.some((r) => {
        const [a, b] = r.split('-').map(Number);
        return slot >= a && slot <= (b ?? a);
      });
      if (covers) {
        const port = Number(address.split('@')[0].split(':')[1]);
        const node = this.nodes.find((n) => n.port === port);
        if (node !== undefined) return node;
      }
    }
    throw new Error(`no master for slot ${slot}`);
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
  }
}

/**
 * A private Redis Sentinel set-up: one master, one replica, three sentinels (quorum 2,
 * down after 1 s), all killed by pid.
 */
export class RedisSentinelSet {
  readonly masterName = 'sbmaster';

  private constructor(
    readonly master: PrivateServer,
    readonly replica: PrivateServer,
    readonly sentinels: PrivateServer[],
  ) {}

  static async start(): Promise<RedisSentinelSet> {
    const [mp, rp, ...sp] = await Promise.all(Array.from({ length: 5 }, () => freePort()));
    const master = new PrivateServer('redis', mp, mkdtempSync(join(tmpdir(), 'sb-sentinel-m-')));
    const replica = new PrivateServer('redis', rp, mkdtempSync(join(tmpdir(), 'sb-sentinel-r-')), ['--replicaof', '127.0.0.1', String(mp)]);
    const sentinels = sp.map((port) => {
      const dir = mkdtempSync(join(tmpdir(), 'sb-sentinel-s-'));
      const conf = join(dir, 'sentinel.conf');
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor sbmaster 127.0.0.1 ${mp} 2`,
          'sentinel down-after-milliseconds sbmaster 1000',
          'sentinel failover-timeout sbmaster 5000',
          'sentinel parallel-syncs sbmaster 1',
          '',
        ].join('\n'),
      );
      return new PrivateServer('redis', port, dir, [], ['redis-server', conf, '--sentinel']);
    });
    const set = new RedisSentinelSet(master, replica, sentinels);
    try {
      await master.start();
      await replica.start();
      await Promise.all(sentinels.map((s) => s.start()));
      await until('Redis replica in sync and sentinels agreeing on the master', 30_000, async () => {
        const info = await redisCli(rp, 'info', 'replication');
        if (!/master_link_status:up/.test(info)) return undefined;
        for (const s of sentinels) {
          const m = await redisCli(s.port, 'sentinel', 'master', 'sbmaster');
          if (!/num-other-sentinels\s+2/.test(m) || !/num-slaves\s+1/.test(m)) return undefined;
        }
        return true;
      });
    } catch (err) {
      await set.stop();
      throw err;
    }
    return set;
  }

  /** `host:port` of the sentinels: REDIS_SENTINELS. */
  get sentinelList(): string {
    return this.sentinels.map((s) => `127.0.0.1:${s.port}`).join(',');
  }

  /** The port the sentinels name as master now. */
  async masterPort(): Promise<number> {
    const reply = await redisCli(this.sentinels.find((s) => s.isRunning())!.port, 'sentinel', 'get-master-addr-by-name', this.masterName);
    return Number(reply.trim().split('\n')[1]);
  }

  /** Until the sentinels name a master other than `oldPort`. */
  failedOverFrom(oldPort: number, timeoutMs = 30_000): Promise<number> {
    return until('Redis Sentinel fails over', timeoutMs, async () => {
      const port = await this.masterPort();
      return port !== oldPort ? port : undefined;
    });
  }

  async stop(): Promise<void> {
    await Promise.all([this.master, this.replica, ...this.sentinels].map((n) => n.stop()));
  }
}
