import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo, connect } from 'node:net';
import { eventually } from '@switchboard/testing';
import { replyJson } from './body-refusal';

/** A server that refuses every POST after reading at most `readFirst` bytes of it. */
async function refusingServer(readFirst: number, bounds = { maxBytes: 4 * 1024 * 1024, maxMs: 5000 }) {
  const closes: number[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let seen = 0;
    const refuse = (): void => {
      req.off('data', onData);
      req.pause();
      replyJson(req, res, { status: 413, body: { error: 'too_large', message: 'no' }, headers: { 'X-Refused': '1' } }, bounds);
    };
    const onData = (chunk: Buffer): void => {
      seen += chunk.length;
      if (seen > readFirst) refuse();
    };
    req.socket.once('close', () => closes.push(Date.now()));
    if (readFirst === 0) return refuse();
    req.on('data', onData);
    req.on('end', () => replyJson(req, res, { status: 200, body: { read: seen } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return { server, url, closes };
}

/**
 * Writes the whole request, and only then starts reading: the client that a reset hurts
 * most (what it has not read yet is lost), and in one process the one that loses the race.
 */
function rawRequest(url: string, head: string, body: Buffer): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    socket.pause();
    let answer = '';
    socket.on('error', (err) => reject(new Error(`${err.message} after ${JSON.stringify(answer.slice(0, 80))}`)));
    socket.write(head);
    socket.write(body, () => {
      socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
      socket.on('close', () => resolve(answer));
      socket.end();
      socket.resume();
    });
  });
}

const MiB = 1024 * 1024;
const body = Buffer.alloc(2 * MiB, 'x');

describe('replyJson', () => {
  let servers: Server[] = [];
  afterEach(async () => {
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
    servers = [];
  });

  it('lets fetch read a 413 sent while it is still uploading, with and without Content-Length', async () => {
    const { server, url } = await refusingServer(64 * 1024);
    servers.push(server);
    for (let i = 0; i < 5; i++) {
      const declared = await fetch(url, { method: 'POST', body: new Uint8Array(body) });
      expect([declared.status, await declared.json()]).toEqual([413, { error: 'too_large', message: 'no' }]);
      expect(declared.headers.get('x-refused')).toBe('1');
      expect(declared.headers.get('connection')).not.toBe('close');
      const chunked = await fetch(url, {
        method: 'POST',
        body: new ReadableStream<Uint8Array>({
          start(controller) {
            for (let j = 0; j < 64; j++) controller.enqueue(new Uint8Array(32 * 1024).fill(120));
            controller.close();
          },
        }),
        duplex: 'half',
      } as RequestInit);
      expect([chunked.status, await chunked.json()]).toEqual([413, { error: 'too_large', message: 'no' }]);
    }
  });

  it('answers a raw client that writes its whole body before reading, and keeps the connection usable', async () => {
    const { server, url } = await refusingServer(0);
    servers.push(server);
    const withLength = await rawRequest(url, `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`, body);
    expect(withLength).toMatch(/^HTTP\/1\.1 413 /);
    expect(withLength).toContain('{"error":"too_large","message":"no"}');
    // Connection: close makes Node close the socket when the response ends: not before the upload did.
    const closing = await rawRequest(
      url,
      `POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n`,
      body,
    );
    expect(closing).toMatch(/^HTTP\/1\.1 413 /);
    expect(closing).toContain('{"error":"too_large","message":"no"}');
    const chunks = Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]);
    const chunked = await rawRequest(url, 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n', chunks);
    expect(chunked).toMatch(/^HTTP\/1\.1 413 /);
    // Two requests on one connection: the rest of the first was discarded, the second is answered too.
    const two = await rawRequest(
      url,
      `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcPOST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\n`,
      Buffer.from('def'),
    );
    expect(two.match(/HTTP\/1\.1 413 /g)).toHaveLength(2);
  });

  it('cuts an upload that goes on past the bound, or stalls, instead of reading it forever', async () => {
    const { server, url, closes } = await refusingServer(0, { maxBytes: 256 * 1024, maxMs: 300 });
    servers.push(server);
    const { port } = new URL(url);
    // Announces 100 MiB, sends 1 MiB: cut once 256 KiB were discarded.
    const big = connect(Number(port), '127.0.0.1');
    big.on('error', () => undefined);
    big.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${100 * MiB}\r\n\r\n`);
    big.write(Buffer.alloc(MiB));
    await new Promise((resolve) => big.once('close', resolve));
    // Sends nothing after the headers: cut after maxMs.
    const started = Date.now();
    const stalled = connect(Number(port), '127.0.0.1');
    stalled.on('error', () => undefined);
    let answer = '';
    stalled.on('data', (d: Buffer) => (answer += d.toString()));
    stalled.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n`);
    await new Promise((resolve) => stalled.once('close', resolve));
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    // The server closed both itself (the client never did).
    await eventually(() => expect(closes).toHaveLength(2));
  });

  it('answers a request whose body was read to its end like any other', async () => {
    const { server, url } = await refusingServer(10 * MiB);
    servers.push(server);
    const res = await fetch(url, { method: 'POST', body: 'hello' });
    expect([res.status, await res.json()]).toEqual([200, { read: 5 }]);
  });
});
