import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SHARED_NATS_URL, SHARED_REDIS_URL } from './isolated-env';

export const NATS_URL = SHARED_NATS_URL;
export const REDIS_URL = SHARED_REDIS_URL;

const START_NATS =
  'start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log';
const START_REDIS =
  'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log';

function hostPort(url: string, defaultPort: number): { host: string; port: number } {
  const u = new URL(url.split(',')[0]);
  return { host: u.hostname || '127.0.0.1', port: Number(u.port || defaultPort) };
}

export function canConnect(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(port, host, () => done(true));
  });
}

/**
 * Fails with one line saying how to start NATS / Redis when the shared servers are absent
 * (tests that claim NATS or Redis behaviour never fall back to mocks).
 */
export async function requireSharedServers(): Promise<{ natsUrl: string; redisUrl: string }> {
  const nats = hostPort(NATS_URL, 4222);
  const redis = hostPort(REDIS_URL, 6379);
  const [natsUp, redisUp] = await Promise.all([canConnect(nats.host, nats.port), canConnect(redis.host, redis.port)]);
  const missing: string[] = [];
  if (!natsUp) missing.push(`NATS (JetStream) is not reachable at ${NATS_URL}; start it with: ${START_NATS}`);
  if (!redisUp) missing.push(`Redis is not reachable at ${REDIS_URL}; start it with: ${START_REDIS}`);
  if (missing.length > 0) throw new Error(missing.join(' | '));
  return { natsUrl: NATS_URL, redisUrl: REDIS_URL };
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** A server process the test owns: killed by its own pid, never the shared ones. */
export class PrivateServer {
  private child?: ChildProcess;

  constructor(
    readonly kind: 'nats' | 'redis',
    readonly port: number,
    private readonly dataDir: string,
    /** Extra command-line arguments (e.g. NATS cluster routes). */
    private readonly extraArgs: string[] = [],
    /** The whole command line instead (e.g. `redis-server <conf> --sentinel`). */
    private readonly command?: string[],
  ) {}

  /** Started and not exited. */
  isRunning(): boolean {
    const child = this.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  get url(): string {
    return this.kind === 'nats' ? `nats://127.0.0.1:${this.port}` : `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(): Promise<void> {
    const args =
      this.kind === 'nats'
        ? ['-a', '127.0.0.1', '-p', String(this.port), ...(this.extraArgs.length > 0 ? this.extraArgs : ['-js', '-sd', this.dataDir])]
        : [
            '--bind',
            '127.0.0.1',
            '--port',
            String(this.port),
            '--save',
            '',
            '--appendonly',
            'no',
            '--dir',
            this.dataDir,
            ...this.extraArgs,
          ];
    const bin = this.command?.[0] ?? (this.kind === 'nats' ? '/usr/sbin/nats-server' : 'redis-server');
    const child = spawn(bin, this.command?.slice(1) ?? args, { stdio: 'ignore' });
    this.child = child;
    const deadline = Date.now() + 10_000;
    while (!(await canConnect('127.0.0.1', this.port, 200))) {
      if (child.exitCode !== null) throw new Error(`${this.kind}-server exited with ${child.exitCode}`);
      if (Date.now() > deadline) throw new Error(`${this.kind}-server did not start on port ${this.port}`);
      await sleep(50);
    }
  }

  /** Sends `signal` to this server only and waits for it to exit (for SIGKILL/SIGTERM). */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await exited;
  }

  /** SIGSTOP / SIGCONT: a network partition without closing sockets. */
  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  async restart(): Promise<void> {
    await this.kill('SIGKILL');
    await this.start();
  }

  async stop(): Promise<void> {
    this.resume();
    await this.kill('SIGKILL');
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** Starts a private nats-server (with JetStream) or redis-server on a free port. */
export async function startPrivateServer(kind: 'nats' | 'redis'): Promise<PrivateServer> {
  const server = new PrivateServer(kind, await freePort(), mkdtempSync(join(tmpdir(), `sb-${kind}-`)));
  await server.start();
  return server;
}

/**
 * Two routed nats-servers (core NATS, no JetStream): clients on either see each other's
 * messages, and one can be partitioned (SIGSTOP) while the other keeps running.
 */
export async function startPrivateNatsCluster(): Promise<[PrivateServer, PrivateServer]> {
  const [p1, p2, c1, c2] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const name = `sb-test-${p1}`;
  const args = (own: number, other: number): string[] => [
    '--cluster_name',
    name,
    '--cluster',
    `nats://127.0.0.1:${own}`,
    '--routes',
    `nats://127.0.0.1:${other}`,
  ];
  const a = new PrivateServer('nats', p1, mkdtempSync(join(tmpdir(), 'sb-nats-')), args(c1, c2));
  const b = new PrivateServer('nats', p2, mkdtempSync(join(tmpdir(), 'sb-nats-')), args(c2, c1));
  await Promise.all([a.start(), b.start()]);
  return [a, b];
}
