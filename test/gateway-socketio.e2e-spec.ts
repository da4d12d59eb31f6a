import type { ChannelEngine } from '@switchboard/engine';
import { RunningService } from '@switchboard/platform';
import { eventually, signToken, uniqueName } from '@switchboard/testing';
import { io, Socket } from 'socket.io-client';
import { startGateway } from './support/gateway';

type Ack = Record<string, unknown>;

function connect(url: string, token: string | undefined, transports: Array<'websocket' | 'polling'> = ['websocket']): Socket {
  return io(url, { path: '/socket.io', auth: token === undefined ? {} : { token }, transports, reconnection: false, forceNew: true });
}

function emit(socket: Socket, event: string, body: unknown): Promise<Ack> {
  return socket.timeout(5000).emitWithAck(event, body) as Promise<Ack>;
}

describe('gateway: Socket.IO /socket.io (memory engine)', () => {
  let gw: RunningService;
  let engine: ChannelEngine;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    gw = await startGateway();
    engine = gw.platform.runtime.engine;
  });
  afterEach(() => sockets.splice(0).forEach((s) => s.disconnect()));
  afterAll(async () => gw?.stop());

  it.each([['websocket'], ['polling']] as const)('subscribes, receives in order, publishes and unsubscribes over %s', async (transport) => {
    const channel = `chat:${uniqueName(transport)}`;
    const socket = connect(gw.url, await signToken({ sub: 'sam', channels: ['chat:*'], publish: ['chat:*'] }), [transport]);
    sockets.push(socket);
    const received: Array<Record<string, unknown>> = [];
    const order: string[] = [];
    socket.on('message', (m: Record<string, unknown>) => {
      received.push(m);
      order.push('message');
    });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('connect_error', reject));
    await engine.publish({ channel, data: 'before' });
    const since = { offset: 0, epoch: (await engine.positions([channel]))[0].epoch };
    // A plain callback runs as the ack packet is decoded (a promise would resolve a tick later).
    const ack = new Promise<Ack>((resolve) =>
      socket.emit('subscribe', { channel, since }, (a: Ack) => {
        order.push('ack');
        resolve(a);
      }),
    );
    expect(await ack).toMatchObject({ ok: true, channel, offset: 1, recovered: true });
    await eventually(() => expect(received.map((m) => m.offset)).toEqual([1]));
    expect(order).toEqual(['ack', 'message']);
    for (let i = 0; i < 10; i++) await engine.publish({ channel, data: i });
    expect(await emit(socket, 'publish', { channel, data: { hi: 1 } })).toMatchObject({ ok: true, offset: 12 });
    await eventually(() => expect(received.map((m) => m.offset)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]));
    expect(received[11]).toMatchObject({ channel, data: { hi: 1 }, from: 'sam' });
    expect(await emit(socket, 'subscribe', { channel: 'secret:1' })).toMatchObject({ ok: false, code: 'forbidden' });
    expect(await emit(socket, 'subscribe', { channel: 'bad..x' })).toMatchObject({ ok: false, code: 'bad_request' });
    expect(await emit(socket, 'unsubscribe', { channel })).toMatchObject({ ok: true });
    expect(await emit(socket, 'unsubscribe', { channel })).toMatchObject({ ok: false, code: 'not_found' });
  });

  it('refuses a connection without a valid token with connect_error "unauthorized"', async () => {
    for (const token of [undefined, 'garbage', await signToken({ expiresIn: -5 })]) {
      const socket = connect(gw.url, token);
      sockets.push(socket);
      const err = await new Promise<Error>((resolve) => socket.once('connect_error', resolve));
      expect(err.message).toBe('unauthorized');
    }
  });

  it('tells a resuming client recovered:false for a stale epoch', async () => {
    const channel = `chat:${uniqueName('stale')}`;
    await engine.publish({ channel, data: 1 });
    const socket = connect(gw.url, await signToken({ channels: ['chat:*'] }));
    sockets.push(socket);
    expect(await emit(socket, 'subscribe', { channel, since: { offset: 1, epoch: 'not-it' } })).toMatchObject({
      ok: true,
      recovered: false,
    });
  });
});
