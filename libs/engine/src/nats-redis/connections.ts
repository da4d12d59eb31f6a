import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Cluster, Redis, SentinelConnector, type RedisOptions, type SentinelConnectionOptions } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { EngineLogger, noopLogger } from '../engine-options';

/** Strips credentials from a URL before it reaches a log line or an error. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/g, '//***@');
}

/**
 * Connects to NATS, retrying until `timeoutMs` has passed (a pod may start before NATS
 * is up). Afterwards the client reconnects forever; readiness follows its status.
 */
export async function connectNats(
  url: string,
  name: string,
  timeoutMs: number,
  logger: EngineLogger = noopLogger,
): Promise<NatsConnection> {
  const deadline = Date.now() + timeoutMs;
  const servers = url.split(',').map((s) => s.trim());
  for (let attempt = 1; ; attempt++) {
    try {
      return await connect({
        servers,
        name,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        reconnectJitter: 100,
        pingInterval: 10_000,
        maxPingOut: 3,
        // Otherwise every request and JetStream publish captures a stack trace up front
        // (an Error made per call, for the case it times out): ~9 % of a stored webhook's CPU.
        noAsyncTraces: true,
        timeout: Math.min(5000, Math.max(500, deadline - Date.now())),
      });
    } catch (err) {
      if (Date.now() >= deadline) {
        throw new Error(`cannot connect to NATS at ${redactUrl(url)} within ${timeoutMs} ms: ${(err as Error).message}`, {
          cause: err,
        });
      }
      logger.warn({ attempt, url: redactUrl(url), err: (err as Error).message }, 'NATS not reachable yet, retrying');
      await sleep(Math.min(1000, attempt * 200));
    }
  }
}

/**
 * Where Redis is: one node (`url`), a Redis Cluster (`clusterNodes`, some of its nodes as
 * `host:port`) or a master watched by sentinels (`sentinels` + `sentinelName`).
 */
export type RedisTarget =
  | { url: string }
  | { clusterNodes: readonly string[]; password?: string }
  | { sentinels: readonly string[]; sentinelName: string; password?: string };

/** A Redis connection of any shape: every store works on either (their keys are hash-tagged). */
export type RedisClient = Redis | Cluster;

/** `REDIS_URL` / `REDIS_CLUSTER_NODES` / `REDIS_SENTINELS` as a target; undefined when none is set. */
export function redisTargetFromConfig(c: {
  REDIS_URL?: string;
  REDIS_CLUSTER_NODES?: readonly string[];
  REDIS_SENTINELS?: readonly string[];
  REDIS_SENTINEL_NAME?: string;
  REDIS_PASSWORD?: string;
}): RedisTarget | undefined {
  if (c.REDIS_CLUSTER_NODES !== undefined && c.REDIS_CLUSTER_NODES.length > 0) {
    return { clusterNodes: c.REDIS_CLUSTER_NODES, password: c.REDIS_PASSWORD };
  }
  if (c.REDIS_SENTINELS !== undefined && c.REDIS_SENTINELS.length > 0 && c.REDIS_SENTINEL_NAME !== undefined) {
    return { sentinels: c.REDIS_SENTINELS, sentinelName: c.REDIS_SENTINEL_NAME, password: c.REDIS_PASSWORD };
  }
  return c.REDIS_URL === undefined ? undefined : { url: c.REDIS_URL };
}

/** The target in words for logs and errors (no password). */
export function describeRedisTarget(target: RedisTarget): string {
  if ('url' in target) return redactUrl(target.url);
  if ('clusterNodes' in target) return `Redis Cluster ${target.clusterNodes.join(',')}`;
  return `Redis Sentinel master ${target.sentinelName} via ${target.sentinels.join(',')}`;
}

function hostPort(entry: string): { host: string; port: number } {
  const i = entry.lastIndexOf(':');
  return { host: entry.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(entry.slice(i + 1)) };
}

type NetStream = Awaited<ReturnType<SentinelConnector['connect']>>;
type ErrorEmitter = Parameters<SentinelConnector['connect']>[0];

/**
 * ioredis's Sentinel connector with a failover detector that cannot strand the client.
 *
 * ioredis's own (`failoverDetector: true`) answers a `+switch-master` announcement by calling
 * the connector's `disconnect()`, which also cancels a connection attempt in flight. When the
 * announcement lands while the client is asking a sentinel where the master is (it reconnects
 * because the old master died), that attempt fails with "Connection is closed", and a failed
 * attempt puts the client in status `end`: it never reconnects (`retryStrategy` is not asked)
 * and every command fails at once, for good. A gateway that hit this answered no publish
 * after a Sentinel failover.
 *
 * Here an announcement only closes the current connection if it is not to the new master;
 * the client then reconnects through its retry strategy and asks the sentinels again. A
 * connection attempt in flight is left alone: if its sentinel still named the old master, the
 * connection fails (a dead master) or is closed by the sentinels when they demote it, and
 * the ready check refuses a replica.
 */
export class FollowingSentinelConnector extends SentinelConnector {
  /** One subscriber per configured sentinel, from a connection until `disconnect()`. */
  private watchers: Redis[] = [];

  /** ioredis hands a `Connector` the client's options, typed as unknown. */
  constructor(options: unknown) {
    super(options as SentinelConnectionOptions);
  }

  override async connect(eventEmitter: ErrorEmitter): Promise<NetStream> {
    const stream = await super.connect(eventEmitter);
    stream.once('connect', () => {
      if (!this.connecting || this.stream !== stream) return;
      // As ioredis's detector did: the sentinel that answered is asked first next time (a
      // refused connection leaves the cursor on the next one instead).
      this.sentinelIterator.reset(true);
      if (this.watchers.length === 0) this.watch();
    });
    return stream;
  }

  override disconnect(): void {
    super.disconnect();
    for (const w of this.watchers) w.disconnect();
    this.watchers = [];
  }

  private watch(): void {
    const o = this.options;
    for (const sentinel of o.sentinels ?? []) {
      const watcher = new Redis({
        host: sentinel.host,
        port: sentinel.port,
        username: o.sentinelUsername,
        password: o.sentinelPassword,
        tls: o.sentinelTLS,
        connectTimeout: o.connectTimeout,
        enableReadyCheck: false,
        retryStrategy: (times) => Math.min(times * 100, 2000),
      });
      watcher.on('error', () => undefined);
      watcher.on('message', (_channel: string, message: string) => this.switched(message));
      watcher.subscribe('+switch-master').catch(() => undefined);
      this.watchers.push(watcher);
    }
  }

  /** `+switch-master <name> <old-ip> <old-port> <new-ip> <new-port>`. */
  private switched(message: string): void {
    const [name, , , host, port] = message.split(' ');
    const stream = this.stream as NetStream | undefined;
    if (name !== this.options.name || stream === undefined || stream.destroyed) return;
    if (stream.remoteAddress === host && stream.remotePort === Number(port)) return;
    stream.destroy();
  }
}

/**
 * The one place a Redis client is made, for every store (channel engine, presence, the
 * webhook ledger and rate limiters, outbound attempts) and, through `duplicate()`, the
 * Socket.IO adapter. Commands get no offline queue (a command while disconnected fails at
 * once, so callers answer `unavailable` instead of hanging) and reconnect forever.
 */
export function createRedisClient(target: RedisTarget, name: string): RedisClient {
  const common: RedisOptions = {
    connectionName: name,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: (times) => Math.min(times * 100, 2000),
  };
  if ('url' in target) return new Redis(target.url, common);
  if ('sentinels' in target) {
    return new Redis({
      ...common,
      sentinels: target.sentinels.map(hostPort),
      name: target.sentinelName,
      password: target.password,
      // After a failover the client asks the sentinels again and follows the new master.
      sentinelRetryStrategy: (times) => Math.min(times * 100, 2000),
      // A sentinel that takes the connection but never answers (a frozen process) would
      // otherwise hold a reconnect forever: after this the next sentinel is asked.
      sentinelCommandTimeout: 5000,
      // Not ioredis's own detector (it can strand the client, see FollowingSentinelConnector);
      // `duplicate()` copies the connector with the options.
      failoverDetector: false,
      Connector: FollowingSentinelConnector,
    });
  }
  return new Cluster(target.clusterNodes.map(hostPort), {
    lazyConnect: true,
    enableOfflineQueue: false,
    // Sharded pub/sub (SSUBSCRIBE) for the Socket.IO adapter goes to each slot's owner.
    shardedSubscribers: true,
    // Commands issued together are sent as one pipeline per node.
    enableAutoPipelining: true,
    clusterRetryStrategy: (times) => Math.min(times * 100, 2000),
    // MOVED / failover: re-read the slot map, then retry the command once it is known.
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 200,
    redisOptions: { connectionName: name, password: target.password, maxRetriesPerRequest: 1 },
  });
}

/**
 * A Redis connection for commands (`createRedisClient`), resolved once ready, or rejected
 * after `timeoutMs`. A string is a `REDIS_URL`.
 */
export async function connectRedis(
  target: string | { url: string },
  name: string,
  timeoutMs: number,
  logger?: EngineLogger,
): Promise<Redis>;
export async function connectRedis(
  target: RedisTarget | string,
  name: string,
  timeoutMs: number,
  logger?: EngineLogger,
): Promise<RedisClient>;
export async function connectRedis(
  target: RedisTarget | string,
  name: string,
  timeoutMs: number,
  logger: EngineLogger = noopLogger,
): Promise<RedisClient> {
  const where = typeof target === 'string' ? { url: target } : target;
  const shown = describeRedisTarget(where);
  const redis = createRedisClient(where, name);
  let lastError: Error | undefined;
  let logged = 0;
  redis.on('error', (err: Error) => {
    lastError = err;
    // Reconnect errors repeat every retry: log the first and then every 30th.
    if (logged++ % 30 === 0) logger.warn({ redis: shown, err: err.message }, 'Redis connection error');
  });
  redis.on('ready', () => {
    if (logged > 0) logger.info({ redis: shown }, 'Redis connected');
    logged = 0;
  });
  redis.connect().catch(() => undefined);
  const deadline = Date.now() + timeoutMs;
  while (redis.status !== 'ready') {
    if (Date.now() >= deadline) {
      redis.disconnect();
      throw new Error(`cannot connect to ${shown} within ${timeoutMs} ms: ${lastError?.message ?? 'timeout'}`);
    }
    await sleep(50);
  }
  return redis;
}

const corked = new WeakSet<object>();

/**
 * Write coalescing for a command about to be sent on `redis`: the socket is corked until the
 * event loop's check phase, so the commands of every publish started in this turn of the
 * loop (concurrent HTTP requests, the channels of one request) leave in one `writev`
 * instead of one write system call each (~20 % of a publish's CPU in the profile).
 *
 * Nothing else changes: each command still goes through ioredis's own queue, in order,
 * with its own reply. This is not a pipeline (ioredis `pipeline()` / auto-pipelining
 * resend and abort their queues on their own rules); a connection that drops while corked
 * loses the buffered bytes exactly as it loses written, unanswered commands.
 */
export function coalesceWrites(redis: RedisClient): void {
  // A Cluster client writes to one connection per node: left to ioredis.
  if (redis instanceof Cluster) return;
  const stream = redis.stream;
  if (stream === undefined || corked.has(stream) || !stream.writable || redis.status !== 'ready') return;
  corked.add(stream);
  stream.cork();
  setImmediate(() => {
    corked.delete(stream);
    stream.uncork();
  });
}
