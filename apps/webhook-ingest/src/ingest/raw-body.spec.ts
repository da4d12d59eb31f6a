import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo, connect } from 'node:net';
import { BodyIncompleteError, BodyTimeoutError, BodyTooLargeError, readRawBody } from './raw-body';

/** A server handing each request to `read`, and the raw request text sender. */
async function server(read: (req: IncomingMessage) => void): Promise<{ server: Server; send: (text: string) => () => void }> {
  const s = createServer((req) => read(req));
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  return {
    server: s,
    send: (text) => {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.write(text);
      return () => socket.destroy();
    },
  };
}

describe('readRawBody', () => {
  // Every server a test started (one test may start several).
  let started: Server[] = [];
  afterEach(async () => {
    const servers = started;
    started = [];
    for (const s of servers) s.closeAllConnections();
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  });

  async function outcome(text: string, limit: number, timeoutMs: number, hangUp = false): Promise<Buffer | Error> {
    let settle!: (v: Buffer | Error) => void;
    const result = new Promise<Buffer | Error>((resolve) => (settle = resolve));
    const { server: s, send } = await server((req) => void readRawBody(req, limit, timeoutMs).then(settle, settle));
    started.push(s);
    const close = send(text);
    if (hangUp) setTimeout(close, 50);
    return result;
  }

  it('reads the exact bytes of a body within the limit', async () => {
    expect(await outcome('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello', 5, 1000)).toEqual(Buffer.from('hello'));
    expect(await outcome('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n', 5, 1000)).toEqual(
      Buffer.from('hi'),
    );
  });

  it('reads a declared body that arrives in several pieces, and an empty one', async () => {
    let settle!: (v: Buffer | Error) => void;
    const result = new Promise<Buffer | Error>((resolve) => (settle = resolve));
    const s = createServer((req) => void readRawBody(req, 100, 5000).then(settle, settle));
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    started.push(s);
    const body = 'a'.repeat(20) + 'b'.repeat(20) + 'c'.repeat(20);
    const socket = connect((s.address() as AddressInfo).port, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 20)}`);
    // Apart in time, so that the parser hands them over as separate chunks.
    for (const piece of [body.slice(20, 40), body.slice(40)]) {
      await new Promise((resolve) => setTimeout(resolve, 30));
      socket.write(piece);
    }
    expect(await result).toEqual(Buffer.from(body));
    socket.destroy();
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
    expect(await outcome('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n', 5, 1000)).toEqual(Buffer.alloc(0));
  });

  it('stops at the limit, declared length or not', async () => {
    expect(await outcome('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello!\r\n', 5, 1000)).toBeInstanceOf(
      BodyTooLargeError,
    );
  });

  it('gives up on a body that does not arrive within the deadline', async () => {
    const started = Date.now();
    const result = await outcome('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhalf', 100, 200);
    expect(result).toBeInstanceOf(BodyTimeoutError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });

  it('reports a client that went away mid-body', async () => {
    expect(await outcome('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhalf', 100, 5000, true)).toBeInstanceOf(
      BodyIncompleteError,
    );
  });
});
