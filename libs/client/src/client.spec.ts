import { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { backoffDelay } from './backoff';
import { connect } from './client';
import { Subscription } from './subscription';
import { Message } from './types';

const message = (offset: number): Message => ({ channel: 'c', offset, epoch: 'e', data: offset, ts: 0 });
const noPresence = (): Promise<never> => Promise.reject(new Error('no presence here'));

describe('backoffDelay', () => {
  it('draws uniformly below min(cap, base·2ⁿ)', () => {
    const o = { baseMs: 100, capMs: 1000, maxAttempts: Infinity };
    expect(backoffDelay(0, o, () => 0.999)).toBe(99);
    expect(backoffDelay(2, o, () => 0.5)).toBe(200);
    expect(backoffDelay(10, o, () => 0.999)).toBe(999);
    expect(backoffDelay(3, o, () => 0)).toBe(0);
  });
});

describe('Subscription', () => {
  it('drops the oldest buffered message when the iterator falls behind, and says so', async () => {
    const sub = new Subscription('c', { bufferSize: 2 }, () => undefined, noPresence);
    const overflows: number[] = [];
    sub.on('overflow', (o) => overflows.push(o.dropped));
    const it = sub[Symbol.asyncIterator]();
    for (const offset of [1, 2, 3]) sub.deliver(message(offset));
    expect(overflows).toEqual([1]);
    expect((await it.next()).value?.offset).toBe(2);
    expect((await it.next()).value?.offset).toBe(3);
  });

  it("ends the iterator with an error under the 'error' policy", async () => {
    const ended: string[] = [];
    const sub = new Subscription('c', { bufferSize: 1, overflow: 'error' }, (s) => ended.push(s.channel), noPresence);
    const it = sub[Symbol.asyncIterator]();
    sub.deliver(message(1));
    sub.deliver(message(2));
    await expect(it.next()).rejects.toMatchObject({ code: 'overflow' });
    expect(ended).toEqual(['c']);
    expect(sub.active).toBe(false);
  });

  it('ends on an AbortSignal and on await using', async () => {
    const controller = new AbortController();
    const aborted = new Subscription('c', { signal: controller.signal }, () => undefined, noPresence);
    const it = aborted[Symbol.asyncIterator]();
    const next = it.next();
    controller.abort();
    expect(await next).toEqual({ value: undefined, done: true });

    let disposed: Subscription | undefined;
    {
      await using sub = new Subscription('c', {}, () => undefined, noPresence);
      disposed = sub;
      expect(sub.active).toBe(true);
    }
    expect(disposed.active).toBe(false);
  });
});

describe('liveness', () => {
  it('treats a WebSocket that stays silent for two intervals as dead and reconnects', async () => {
    // Accepts the upgrade, then never answers anything (a half-open connection behind a NAT).
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    let connections = 0;
    server.on('connection', () => connections++);
    await new Promise((r) => server.once('listening', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const client = connect(url, { token: 'x', transports: ['websocket'], livenessIntervalMs: 100, backoff: { baseMs: 10, capMs: 10 } });
    const states: string[] = [];
    client.on('state', (s) => states.push(s));
    try {
      await new Promise<void>((resolve) => {
        const check = setInterval(() => {
          if (connections >= 2) {
            clearInterval(check);
            resolve();
          }
        }, 20);
      });
      expect(states.slice(0, 3)).toEqual(['connected', 'disconnected', 'connecting']);
    } finally {
      client.close();
      await new Promise((r) => server.close(r));
    }
  });
});

describe('subscribe refused for now', () => {
  it("asks again when the gateway answers 'unavailable', instead of staying silent", async () => {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    let subscribes = 0;
    server.on('connection', (ws) => {
      ws.on('message', (raw) => {
        const frame = JSON.parse((raw as Buffer).toString()) as { op: string; id: number; channel: string };
        if (frame.op !== 'subscribe') return;
        if (++subscribes === 1) {
          ws.send(JSON.stringify({ op: 'error', id: frame.id, code: 'unavailable', message: 'channel engine is unavailable' }));
          return;
        }
        ws.send(JSON.stringify({ op: 'subscribed', id: frame.id, channel: frame.channel, offset: 0, epoch: 'e' }));
        ws.send(JSON.stringify({ op: 'message', channel: frame.channel, offset: 1, epoch: 'e', data: 'hi', ts: 0 }));
      });
    });
    await new Promise((r) => server.once('listening', r));
    const client = connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, {
      token: 'x',
      transports: ['websocket'],
      backoff: { baseMs: 10, capMs: 50 },
    });
    try {
      const sub = client.subscribe('c');
      const errors: string[] = [];
      sub.on('error', (e) => errors.push(e.code));
      const got = await new Promise<unknown>((resolve) => sub.on('message', (m) => resolve(m.data)));
      expect(got).toBe('hi');
      expect(subscribes).toBe(2);
      expect(errors).toEqual([]);
    } finally {
      client.close();
      await new Promise((r) => server.close(r));
    }
  });
});
