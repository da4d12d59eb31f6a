import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ServiceProcess } from './support/process';

/**
 * Every size refusal is a response the client can read (SPEC "Webhook ingest"), never a
 * reset connection: a 2 MiB body to the webhook route (WEBHOOK_MAX_BYTES 1 MiB) and to the
 * publish API (MAX_MESSAGE_BYTES 64 KiB), with and without Content-Length, sent with Node's
 * fetch, curl, and a raw socket that writes the whole request before it reads anything.
 * Each case is repeated: a reset is a race the client loses only sometimes. The server is
 * the built single process in its own process, so the race is the real one (in one event
 * loop the client would often read before the server's close).
 */
const KEY = 'readable-413-key-0123456789';
const MiB = 1024 * 1024;
const BODY = Buffer.alloc(2 * MiB, 'x');
const REPEAT = 5;

let service: ServiceProcess;
let dir: string;
let bodyFile: string;

beforeAll(async () => {
  service = await ServiceProcess.start('standalone', {
    JWT_SECRET: randomBytes(32).toString('hex'),
    PUBLISH_API_KEY: KEY,
    WEBHOOK_SOURCES: JSON.stringify([{ name: 'gh', provider: 'github', secrets: ['s'], rateLimit: false }]),
    // Every request here comes from one address and none verifies: the budget is tested elsewhere.
    WEBHOOK_UNVERIFIED_RATE: '0',
  });
  dir = mkdtempSync(join(tmpdir(), 'sb-413-'));
  bodyFile = join(dir, 'body');
  writeFileSync(bodyFile, BODY);
});

afterAll(() => {
  service?.kill();
  rmSync(dir, { recursive: true, force: true });
});

interface Route {
  name: string;
  path: string;
  headers: Record<string, string>;
  limit: number;
}

const ROUTES: Route[] = [
  {
    name: 'webhook',
    path: '/v1/webhooks/gh',
    headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': 'd', 'x-hub-signature-256': 'sha256=00' },
    limit: MiB,
  },
  {
    name: 'publish API',
    path: '/v1/publish',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
    limit: 65536,
  },
];

/** Status and parsed JSON body; a connection error fails the test with its cause. */
async function viaFetch(route: Route, chunked: boolean): Promise<[number, unknown]> {
  const body = chunked
    ? new ReadableStream<Uint8Array>({
        start(controller) {
          for (let offset = 0; offset < BODY.length; offset += 64 * 1024)
            controller.enqueue(new Uint8Array(BODY.subarray(offset, offset + 64 * 1024)));
          controller.close();
        },
      })
    : new Uint8Array(BODY);
  const response = await fetch(service.url + route.path, { method: 'POST', headers: route.headers, body, duplex: 'half' } as RequestInit);
  return [response.status, await response.json()];
}

async function viaCurl(route: Route, chunked: boolean): Promise<[number, unknown]> {
  const args = ['-sS', '-X', 'POST', '--data-binary', `@${bodyFile}`, '-w', '\n%{http_code}'];
  for (const [name, value] of Object.entries(route.headers)) args.push('-H', `${name}: ${value}`);
  if (chunked) args.push('-H', 'Transfer-Encoding: chunked');
  const { stdout } = await promisify(execFile)('curl', [...args, service.url + route.path]);
  const lines = stdout.trimEnd().split('\n');
  return [Number(lines.pop()), JSON.parse(lines.join('\n'))];
}

/** Writes the whole request, then reads: the client a reset hurts most. */
function viaSocket(route: Route, chunked: boolean): Promise<[number, unknown]> {
  const { port } = new URL(service.url);
  const head =
    `POST ${route.path} HTTP/1.1\r\nHost: switchboard\r\nConnection: close\r\n` +
    Object.entries(route.headers)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('') +
    (chunked ? 'Transfer-Encoding: chunked\r\n\r\n' : `Content-Length: ${BODY.length}\r\n\r\n`);
  const body = chunked ? Buffer.concat([Buffer.from(`${BODY.length.toString(16)}\r\n`), BODY, Buffer.from('\r\n0\r\n\r\n')]) : BODY;
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString('utf8')));
    socket.on('error', (err) => reject(new Error(`${err.message} after ${JSON.stringify(answer.slice(0, 60))}`)));
    socket.on('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
      const json = answer.slice(answer.indexOf('\r\n\r\n') + 4);
      resolve([status, JSON.parse(json)]);
    });
    socket.write(head);
    socket.write(body);
  });
}

const CLIENTS = { fetch: viaFetch, curl: viaCurl, 'a raw socket': viaSocket };

describe.each(ROUTES)('a 2 MiB body to the $name', (route) => {
  for (const [client, send] of Object.entries(CLIENTS)) {
    for (const chunked of [false, true]) {
      it(`is a readable 413 for ${client}, ${chunked ? 'chunked' : 'with Content-Length'}`, async () => {
        for (let i = 0; i < REPEAT; i++) {
          const [status, body] = await send(route, chunked);
          expect(status).toBe(413);
          expect(body).toMatchObject({ message: expect.stringContaining(String(route.limit)) });
        }
      });
    }
  }
});

it('keeps serving on the connection after a refused body that ended', async () => {
  // Within the discard bound the rest of the body is read and dropped, so keep-alive clients reuse it.
  const first = await fetch(`${service.url}/v1/publish`, { method: 'POST', headers: ROUTES[1].headers, body: new Uint8Array(BODY) });
  expect(first.status).toBe(413);
  await first.arrayBuffer();
  const second = await fetch(`${service.url}/v1/publish`, {
    method: 'POST',
    headers: ROUTES[1].headers,
    body: JSON.stringify({ channel: 'orders:413', data: 1 }),
  });
  expect(second.status).toBe(200);
});
