import { eventually } from '@switchboard/testing';
import { ChildProcess, spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { cleanUp, IngestService, requireSharedServers, startIngest, webhookEnv, webhookTestNames } from './support/webhook-harness';

/**
 * Unsigned traffic cannot starve a source (SPEC "Webhook ingest"): 10,000 unsigned
 * requests from one address, sent by another process while correctly signed deliveries
 * arrive from another address. Each of those gets 202, about as fast as without the flood.
 * On the default settings and the real engine.
 */
jest.setTimeout(180_000);

const names = webhookTestNames('whflood');
const SECRET = 'flood-secret';
// Low enough that the flood would empty it at once if unsigned requests counted.
const SOURCES = [{ name: 'gh', provider: 'github', secrets: [SECRET], rateLimit: { perSecond: 20, burst: 40 } }];
const FLOOD = join(__dirname, 'support', 'webhook-flood.mjs');
const FLOOD_REQUESTS = 10_000;
const FLOOD_CONCURRENCY = 32;
const SAMPLES = 7;
/**
 * How much slower than without the flood a delivery may be. The flood shares the CPU (it
 * is answered by the same event loop), so some slowdown is expected; what must not happen
 * is a delivery waiting on the flood (a source bucket emptied by it: 429, a read slot or a
 * Redis queue held by it: seconds). Each delivery during the flood is paired with one a
 * moment before, with the flood process stopped (SIGSTOP), so both see the same load from
 * the rest of the machine; the median of the pairs' ratios decides.
 */
const MAX_SLOWDOWN = 25;

let service: IngestService;

beforeAll(async () => {
  await requireSharedServers();
  service = await startIngest(webhookEnv(names, SOURCES));
});

afterAll(async () => {
  await service?.stop();
  await cleanUp(names);
});

/** A signed GitHub delivery on a fresh connection from 127.0.0.3: its status and latency. */
function deliver(): Promise<{ status: number; ms: number }> {
  const body = JSON.stringify({ action: 'opened', number: randomBytes(4).readUInt32BE() });
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      `${service.url}/v1/webhooks/gh`,
      {
        method: 'POST',
        agent: false,
        localAddress: '127.0.0.3',
        headers: {
          'content-type': 'application/json',
          'x-github-event': 'pull_request',
          'x-github-delivery': randomBytes(8).toString('hex'),
          'x-hub-signature-256': 'sha256=' + createHmac('sha256', SECRET).update(body).digest('hex'),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

interface FloodSummary {
  sent: number;
  statuses: Record<string, number>;
  errors: number;
}

class Flood {
  answered = 0;
  private output = '';
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;

  constructor(url: string) {
    this.child = spawn(process.execPath, [FLOOD, url, '127.0.0.2', String(FLOOD_CONCURRENCY), String(FLOOD_REQUESTS)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.child.stdout!.on('data', (d: Buffer) => {
      this.output += d.toString();
      const progress = /progress (\d+)\n(?![\s\S]*progress)/.exec(this.output);
      if (progress !== null) this.answered = Number(progress[1]);
    });
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
  }

  get running(): boolean {
    return this.child.exitCode === null;
  }

  /** Freezes the flood process (its open requests are still answered). */
  pause(): void {
    this.child.kill('SIGSTOP');
  }

  /** Thaws it and waits until it is flooding again. */
  async resume(): Promise<void> {
    const from = this.answered;
    this.child.kill('SIGCONT');
    await eventually(() => expect(this.answered).toBeGreaterThanOrEqual(from + 500), 60_000, 10);
  }

  async stop(): Promise<FloodSummary> {
    this.child.stdin!.end('stop\n');
    await this.exited;
    const last = this.output.trim().split('\n').pop()!;
    return JSON.parse(last) as FloodSummary;
  }

  kill(): void {
    if (!this.running) return;
    this.child.kill('SIGCONT');
    this.child.kill('SIGKILL');
  }
}

it('answers a signed delivery sent during a flood of 10,000 unsigned requests with 202, about as fast as without', async () => {
  // Warm up: connections to Redis and NATS, JIT.
  for (let i = 0; i < 3; i++) expect((await deliver()).status).toBe(202);

  const flood = new Flood(`${service.url}/v1/webhooks/gh`);
  let summary: FloodSummary;
  const ratios: number[] = [];
  try {
    await eventually(() => expect(flood.answered).toBeGreaterThanOrEqual(1000), 60_000, 20);
    for (let i = 0; i < SAMPLES; i++) {
      flood.pause();
      const quiet = await deliver();
      await flood.resume();
      const during = await deliver();
      // The flood goes on until told to stop: this delivery was answered in the middle of it.
      expect(flood.running).toBe(true);
      expect([quiet.status, during.status]).toEqual([202, 202]);
      ratios.push(during.ms / quiet.ms);
    }
    summary = await flood.stop();
  } finally {
    flood.kill();
  }

  expect(summary.sent).toBeGreaterThanOrEqual(FLOOD_REQUESTS);
  expect(summary.errors).toBe(0);
  // Refused with 401 (read and verified) or 429 (the address's budget), nothing else.
  expect(Object.keys(summary.statuses).sort()).toEqual(['401', '429']);
  expect(summary.statuses['429']).toBeGreaterThan(summary.statuses['401']);
  expect(median(ratios)).toBeLessThanOrEqual(MAX_SLOWDOWN);
});
