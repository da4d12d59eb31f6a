import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { directSocket, textFrame } from './ws-connection';

/** Text of `bytes` UTF-8 bytes with multi-byte characters in it (the length is in bytes, not characters). */
const textOf = (bytes: number): string => (bytes < 2 ? 'x'.repeat(bytes) : 'é' + 'x'.repeat(bytes - 2));

/**
 * Broadcasts write one pre-built frame to every socket (ws-connection.ts `deliver`): the
 * frame must be exactly what `ws` would send, and the direct write must stay available
 * with the `ws` version installed (otherwise every delivery silently takes the slower
 * `ws.send` path).
 */
describe('WebSocket frames built once per broadcast', () => {
  let server: WebSocketServer;
  let url: string;
  const accepted: WebSocket[] = [];

  beforeAll(async () => {
    server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
    server.on('connection', (ws) => accepted.push(ws));
    await new Promise((resolve) => server.once('listening', resolve));
    url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const ws of accepted) ws.terminate();
    await new Promise((resolve) => server.close(resolve));
  });

  it('encodes the three payload-length forms of RFC 6455 §5.2 as a client reads them, in order with ws.send', async () => {
    const client = new WebSocket(url);
    const received: string[] = [];
    client.on('message', (data: Buffer) => received.push(data.toString('utf8')));
    await new Promise((resolve) => client.once('open', resolve));
    const ws = accepted.at(-1)!;
    const sizes = [1, 125, 126, 65_535, 65_536, 200_000];
    const expected: string[] = [];
    for (const size of sizes) {
      const text = textOf(size);
      expect(Buffer.byteLength(text)).toBe(size);
      const socket = directSocket(ws);
      expect(socket).toBeDefined();
      socket!.write(textFrame(text));
      // A frame ws itself writes in between keeps its place.
      ws.send(`after ${size}`);
      expected.push(text, `after ${size}`);
    }
    await new Promise<void>((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`got ${received.length} of ${expected.length}`)), 5000);
      const check = (): void => {
        if (received.length < expected.length) return;
        clearTimeout(deadline);
        resolve();
      };
      client.on('message', check);
      check();
    });
    expect(received).toEqual(expected);
    client.close();
  });

  it('writes directly only to an open socket', async () => {
    const client = new WebSocket(url);
    await new Promise((resolve) => client.once('open', resolve));
    const ws = accepted.at(-1)!;
    expect(directSocket(ws)).toBe((ws as unknown as { _socket: unknown })._socket);
    ws.close();
    expect(directSocket(ws)).toBeUndefined();
    client.close();
  });
});
