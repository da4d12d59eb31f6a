import { eventually } from '@switchboard/testing';
import { connect, SwitchboardClient } from './client';
import { FakeGateway, fakeToken } from './testing/fake-gateway';
import { ClientState, TokenReason, TransportName } from './types';

/**
 * A bad token is the app's problem, not the network's (issue 20): the client must say so at
 * connect, never report `connected`, never fall back to another transport for it, and ask
 * getToken again with backoff. Browsers hide a refused WebSocket handshake's status, so the
 * client asks the HTTP side (`GET /v1/poll` without a channel) why the socket never opened.
 */
describe('auth failures', () => {
  let gw: FakeGateway;
  const clients: SwitchboardClient[] = [];
  beforeEach(async () => {
    gw = await new FakeGateway().start();
  });
  afterEach(async () => {
    clients.splice(0).forEach((c) => c.close());
    await gw.stop();
  });

  const watch = (client: SwitchboardClient) => {
    clients.push(client);
    const seen = { states: [] as ClientState[], transports: [] as TransportName[], errors: [] as string[] };
    client.on('state', (s) => seen.states.push(s));
    client.on('transport', (t) => seen.transports.push(t));
    client.on('error', (e) => seen.errors.push(e.code));
    return seen;
  };

  it('a refused token is an error at connect, not a reason to fall back; getToken is asked again', async () => {
    const reasons: TokenReason[] = [];
    const client = connect(gw.url, {
      backoff: { baseMs: 20, capMs: 50 },
      getToken: (reason) => {
        reasons.push(reason);
        return reason === 'initial' ? 'garbage' : fakeToken('alice');
      },
    });
    const seen = watch(client);
    let connectedBeforeError = false;
    client.on('state', (s) => (connectedBeforeError ||= s === 'connected' && seen.errors.length === 0));
    await eventually(() => expect(client.state).toBe('connected'));
    expect(connectedBeforeError).toBe(false);
    expect(seen.errors).toEqual(['unauthorized']);
    expect(reasons).toEqual(['initial', 'unauthorized']);
    // WebSocket all along: the refused handshake was not counted against the transport.
    expect(new Set(seen.transports)).toEqual(new Set(['websocket']));
    // (Node's WebSocket sends a refused handshake twice: consecutive repeats are one attempt.)
    const attempts = gw.log.map((l) => `${l.kind}${l.refused ? ' refused' : ''}`).filter((a, i, all) => a !== all[i - 1]);
    expect(attempts).toEqual(['ws refused', 'probe refused', 'ws']);
  });

  it('a fixed token that is refused ends the client, and every subscription hears why', async () => {
    const client = connect(gw.url, { token: 'garbage' });
    const seen = watch(client);
    const sub = client.subscribe('c');
    const subErrors: string[] = [];
    sub.on('error', (e) => subErrors.push(e.code));
    const iterated = (async () => {
      for await (const _ of sub) return 'message';
      return 'done';
    })();
    await expect(iterated).rejects.toMatchObject({ code: 'unauthorized', channel: 'c' });
    expect(subErrors).toEqual(['unauthorized']);
    expect(client.state).toBe('closed');
    expect(seen.states).not.toContain('connected');
    expect(seen.errors).toEqual(['unauthorized']);
    expect(gw.log.some((l) => l.kind === 'sse' || l.kind === 'poll')).toBe(false);
    await expect(client.publish('c', 1)).rejects.toMatchObject({ code: 'unauthorized' });
  });

  it('a token refused again and again is asked for with backoff, then given up on with the reason', async () => {
    const reasons: TokenReason[] = [];
    const client = connect(gw.url, {
      backoff: { baseMs: 10, capMs: 40, maxAttempts: 3 },
      getToken: (reason) => {
        reasons.push(reason);
        return 'garbage';
      },
    });
    const seen = watch(client);
    const attempts: number[] = [];
    client.on('reconnect', (r) => attempts.push(r.attempt));
    const sub = client.subscribe('c');
    const failed = new Promise((resolve) => sub.on('error', resolve));
    await expect(failed).resolves.toMatchObject({ code: 'unauthorized' });
    expect(attempts).toEqual([1, 2, 3]);
    expect(reasons).toEqual(['initial', 'unauthorized', 'unauthorized', 'unauthorized']);
    expect(seen.errors.every((e) => e === 'unauthorized')).toBe(true);
    expect(seen.states).not.toContain('connected');
    expect(new Set(seen.transports)).toEqual(new Set(['websocket']));
  });

  it('without a WebSocket implementation it warns once, uses SSE, and publish says why it cannot', async () => {
    const saved = Object.getOwnPropertyDescriptor(globalThis, 'WebSocket');
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    delete (globalThis as { WebSocket?: unknown }).WebSocket;
    try {
      const a = connect(gw.url, { token: fakeToken('alice') });
      const b = connect(gw.url, { token: fakeToken('bob') });
      const seen = watch(a);
      watch(b);
      a.subscribe('c');
      await eventually(() => expect(a.state).toBe('connected'));
      expect(seen.transports).toEqual(['sse']);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0][0])).toMatch(/no WebSocket.*'ws' package/);
      await expect(a.publish('c', 1)).rejects.toMatchObject({ code: 'unsupported', message: expect.stringMatching(/no WebSocket/) });
    } finally {
      if (saved !== undefined) Object.defineProperty(globalThis, 'WebSocket', saved);
      warn.mockRestore();
    }
  });
});
