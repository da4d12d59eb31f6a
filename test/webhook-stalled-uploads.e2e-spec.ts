import { eventually } from '@switchboard/testing';
import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { get } from 'node:http';
import { connect, Socket } from 'node:net';
import { ServiceProcess } from './support/process';
import { cleanUp, postWebhook, requireSharedServers, webhookEnv, webhookTestNames } from './support/webhook-harness';

/**
 * 1,000 uploads that send half a body and stall, against a built webhook-ingest in its own
 * process (so its memory is its own): at most WEBHOOK_MAX_CONCURRENT_READS are read at a
 * time (the others get 503 at once), memory stays within that many bodies, the process
 * stays ready, and each read one is answered 408 after WEBHOOK_BODY_TIMEOUT_SECONDS; the
 * server closes every one of them (the client never does).
 */
jest.setTimeout(120_000);

const names = webhookTestNames('whstall');
const SECRET = 'stall-secret';
const MiB = 1024 * 1024;
const UPLOADS = 1000;
const READS = 100;
const MAX_BYTES = MiB;
const SENT = MiB / 2;

let ingest: ServiceProcess | undefined;

beforeAll(async () => {
  await requireSharedServers();
  const env = webhookEnv(names, [{ name: 'gh', provider: 'github', secrets: [SECRET], rateLimit: false }], {
    // From one address; the per-address budget would refuse most before reading (tested elsewhere).
    WEBHOOK_UNVERIFIED_RATE: '0',
    WEBHOOK_MAX_CONCURRENT_READS: String(READS),
    WEBHOOK_BODY_TIMEOUT_SECONDS: '3',
    WEBHOOK_MAX_BYTES: String(MAX_BYTES),
    LOG_LEVEL: 'warn',
  });
  delete env.PORT;
  ingest = await ServiceProcess.start('webhook-ingest', env as Record<string, string>);
});

afterAll(async () => {
  ingest?.kill();
  await cleanUp(names);
});

function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/**
 * A GET on a connection of its own: a kept-alive one may be closed by the busy server just
 * as it is reused, which would be a failure of the probe, not of the server.
 */
function probe(url: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    }).on('error', reject);
  });
}

async function bodyReads(url: string): Promise<number> {
  const line = (await probe(`${url}/metrics`)).text.split('\n').find((l) => l.startsWith('switchboard_webhook_body_reads '));
  return Number(line?.split(' ')[1] ?? NaN);
}

function signed(): [string, Record<string, string>] {
  const body = JSON.stringify({ action: 'opened', id: randomBytes(6).toString('hex') });
  return [
    body,
    {
      'content-type': 'application/json',
      'x-github-event': 'pull_request',
      'x-github-delivery': randomBytes(8).toString('hex'),
      'x-hub-signature-256': 'sha256=' + createHmac('sha256', SECRET).update(body).digest('hex'),
    },
  ];
}

/** An upload that announces MAX_BYTES, sends SENT of them and then nothing. */
class StalledUpload {
  answer = '';
  closed = false;
  private readonly socket: Socket;

  constructor(port: number, part: Buffer) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.on('data', (d: Buffer) => (this.answer += d.toString('latin1')));
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => (this.closed = true));
    this.socket.write(
      'POST /v1/webhooks/gh HTTP/1.1\r\nHost: ingest\r\nContent-Type: application/json\r\nX-GitHub-Event: push\r\n' +
        `X-GitHub-Delivery: stall\r\nX-Hub-Signature-256: sha256=${'0'.repeat(64)}\r\nContent-Length: ${MAX_BYTES}\r\n\r\n`,
    );
    this.socket.write(part);
  }

  get status(): number | undefined {
    const match = /^HTTP\/1\.1 (\d{3})/.exec(this.answer);
    return match === null ? undefined : Number(match[1]);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

it('keeps memory bounded and the process ready under 1,000 stalled uploads, then times them out and releases them', async () => {
  const service = ingest!;
  const port = Number(new URL(service.url).port);
  for (let i = 0; i < 3; i++) expect((await postWebhook(service.url, 'gh', ...signed())).status).toBe(202);
  const before = memory(service.pid);

  // One buffer for every upload: the test's own memory does not grow with them.
  const part = Buffer.alloc(SENT, 'x');
  const uploads: StalledUpload[] = [];
  const reads: number[] = [];
  const ready: number[] = [];
  let watching = true;
  // While they stall: how many bodies the server reads at once, and whether it stays ready.
  const watch = (async () => {
    while (watching) {
      reads.push(await bodyReads(service.url));
      ready.push((await probe(`${service.url}/readyz`)).status);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  try {
    for (let i = 0; i < UPLOADS; i++) uploads.push(new StalledUpload(port, part));
    await eventually(() => expect(uploads.filter((u) => u.closed)).toHaveLength(UPLOADS), 90_000, 200);
  } finally {
    watching = false;
    await watch;
    for (const u of uploads) u.destroy();
  }

  // Every one was answered before the server closed it: at once (503) or at its deadline (408).
  const statuses = uploads.map((u) => u.status);
  expect(new Set(statuses)).toEqual(new Set([503, 408]));
  expect(statuses.filter((s) => s === 408).length).toBeGreaterThanOrEqual(READS);
  // How many were refused depends on how fast they were opened against the deadline; some were.
  expect(statuses.filter((s) => s === 503).length).toBeGreaterThan(0);
  expect(Math.max(...reads)).toBeLessThanOrEqual(READS);
  expect(Math.max(...reads)).toBeGreaterThan(0);
  expect(reads[reads.length - 1]).toBe(0);
  expect(new Set(ready)).toEqual(new Set([200]));
  // The peak is what READS bodies cost (at most MAX_BYTES each, plus the garbage of what was
  // discarded), far from what holding all 1,000 would (500 MiB).
  const grown = memory(service.pid).peak - before.rss;
  expect(grown).toBeLessThan(READS * MAX_BYTES + 128 * MiB);
  expect((await postWebhook(service.url, 'gh', ...signed())).status).toBe(202);
});
