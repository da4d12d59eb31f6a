import { ChannelListener, createEngineRuntime, EngineRuntime, redisTargetFromConfig, StoredMessage } from '@switchboard/engine';
import { cleanupIsolatedEnv, eventually, isolatedEnv as namesOnSharedServers } from '@switchboard/testing';
import { ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { join } from 'node:path';

/** Shared pieces of the notifier's cross-service tests (not a test file itself). */

export const ROOT = join(__dirname, '..', '..');
export const NOTIFIER_MAIN = join(ROOT, 'dist/apps/notifier/main.js');

/** The env of a notifier under test: the file's own names on the shared servers (see `isolatedEnv`). */
export function isolatedEnv(natsUrl: string, redisUrl: string, overrides: Record<string, string> = {}): Record<string, string> {
  return { ...namesOnSharedServers('nt', { natsUrl, redisUrl }), LOG_LEVEL: 'silent', PORT: '0', HOST: '127.0.0.1', ...overrides };
}

/** An engine and event bus on the same streams and prefixes as the notifier under test (the "gateway" side). */
export function testRuntime(env: Record<string, string>): Promise<EngineRuntime> {
  return createEngineRuntime({
    natsUrl: env.NATS_URL,
    redis: redisTargetFromConfig({
      ...env,
      REDIS_CLUSTER_NODES: env.REDIS_CLUSTER_NODES?.split(','),
      REDIS_SENTINELS: env.REDIS_SENTINELS?.split(','),
    }),
    redisKeyPrefix: env.REDIS_KEY_PREFIX,
    natsSubjectPrefix: env.NATS_SUBJECT_PREFIX,
    retention: { historySize: 2000, historyTtlSeconds: 300, channelMetaTtlSeconds: 3600, idempotencyWindowSeconds: 120 },
    eventBusNames: {
      eventsStream: env.EVENTS_STREAM,
      eventsSubjectPrefix: env.EVENTS_SUBJECT_PREFIX,
      dlqStream: env.DLQ_STREAM,
      dlqSubjectPrefix: env.DLQ_SUBJECT_PREFIX,
    },
    eventBusRetention: { eventsMaxAgeSeconds: 3600, duplicateWindowSeconds: 120, dlqMaxAgeSeconds: 3600 },
    streamReplicas: 1,
    maxMessageBytes: 65536,
    gapWaitMs: 20,
    syncIntervalMs: 500,
    startupTimeoutMs: 5000,
    clientName: 'notifier-test',
  });
}

/** Deletes the file's streams and Redis keys. */
export async function cleanUp(runtime: EngineRuntime | undefined, env: Record<string, string>): Promise<void> {
  await runtime?.close();
  await cleanupIsolatedEnv(env);
}

/** What a subscriber saw on one channel. */
export interface Received {
  offset: number;
  id?: string;
  type?: string;
  data: unknown;
}

/** Subscribes to channels and records every message, as a gateway's client would get it. */
export class ChannelRecorder {
  readonly received = new Map<string, Received[]>();
  onMessage?: (channel: string, message: Received) => void;

  constructor(private readonly runtime: EngineRuntime) {}

  async subscribe(channels: readonly string[]): Promise<void> {
    for (const channel of channels) {
      const list: Received[] = [];
      this.received.set(channel, list);
      const listener: ChannelListener = {
        onSubscribed: () => undefined,
        onMessage: (m: StoredMessage) => {
          const parsed = JSON.parse(m.json) as { offset: number; id?: string; type?: string; data: unknown };
          const entry = { offset: parsed.offset, id: parsed.id, type: parsed.type, data: parsed.data };
          list.push(entry);
          this.onMessage?.(channel, entry);
        },
        onLost: () => list.push({ offset: -1, data: 'LOST' }),
      };
      await this.runtime.engine.subscribe(channel, listener);
    }
  }

  get total(): number {
    let n = 0;
    for (const list of this.received.values()) n += list.length;
    return n;
  }
}

/** A notifier started as its own process from the build (`npm test` builds first). */
export class NotifierProcess {
  private child?: ChildProcessWithoutNullStreams;
  output = '';

  constructor(private readonly env: Record<string, string>) {}

  /** Starts it and resolves with its base URL once it listens. */
  async start(): Promise<string> {
    const child = spawn(process.execPath, [NOTIFIER_MAIN], {
      env: { PATH: process.env.PATH ?? '', ...this.env, LOG_LEVEL: 'info' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (this.output += d.toString()));
    return eventually(
      () => {
        if (child.exitCode !== null) throw new Error(`notifier exited with ${child.exitCode}: ${this.output.slice(-2000)}`);
        const line = /"url":"(http:[^"]+)"[^\n]*notifier listening/.exec(this.output);
        if (line === null) throw new Error(`notifier not listening yet: ${this.output.slice(-2000)}`);
        return line[1];
      },
      20_000,
      50,
    );
  }

  /** SIGKILL: no shutdown hook runs, nothing in flight is acked. */
  kill(): void {
    this.child?.kill('SIGKILL');
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  }
}

/** Runs `main.js dlq …` and resolves with its exit code and output. */
export function runDlqCli(env: Record<string, string>, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [NOTIFIER_MAIN, 'dlq', ...args], { env: { PATH: process.env.PATH ?? '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Sum of a Prometheus counter's samples whose labels contain `labels` (e.g. `outcome="processed"`). */
export function metricValue(text: string, name: string, labels = ''): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    if (labels !== '' && !line.includes(labels)) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}
