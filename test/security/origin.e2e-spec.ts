import { RunningService } from '@switchboard/platform';
import { signToken, WsTestClient } from '@switchboard/testing';
import { io } from 'socket.io-client';
import { startGateway, wsUrl } from '../support/gateway';

/** Cross-site WebSocket hijacking: a page on another origin cannot ride a user's token. */
describe('security: ALLOWED_ORIGINS', () => {
  let gw: RunningService;
  let token: string;
  const app = 'https://app.example.com';
  const evil = 'https://evil.example.net';

  beforeAll(async () => {
    gw = await startGateway({ ALLOWED_ORIGINS: app });
    token = await signToken({ channels: ['*'] });
  });
  afterAll(async () => gw?.stop());

  it('refuses a WebSocket handshake from an origin not in the list with 403, accepts the app and non-browser clients', async () => {
    await expect(WsTestClient.connect(wsUrl(gw, token), { headers: { Origin: evil } })).rejects.toThrow('403');
    const fromApp = await WsTestClient.connect(wsUrl(gw, token), { headers: { Origin: app } });
    expect(await fromApp.request('ping')).toMatchObject({ op: 'pong' });
    fromApp.close();
    const noOrigin = await WsTestClient.connect(wsUrl(gw, token));
    noOrigin.close();
  });

  it('refuses SSE and long-poll from other origins and answers CORS only for the allowed one', async () => {
    const sse = await fetch(`${gw.url}/v1/sse?channel=a:1`, { headers: { Authorization: `Bearer ${token}`, Origin: evil } });
    expect(sse.status).toBe(403);
    const poll = await fetch(`${gw.url}/v1/poll?channel=a:1`, { headers: { Authorization: `Bearer ${token}`, Origin: evil } });
    expect(poll.status).toBe(403);
    expect(poll.headers.get('access-control-allow-origin')).toBeNull();
    const ok = await fetch(`${gw.url}/v1/poll?channel=a:1`, { headers: { Authorization: `Bearer ${token}`, Origin: app } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe(app);
  });

  it('refuses a Socket.IO connection from another origin', async () => {
    const socket = io(gw.url, {
      path: '/socket.io',
      auth: { token },
      transports: ['websocket'],
      reconnection: false,
      extraHeaders: { Origin: evil },
    });
    const outcome = await new Promise<string>((resolve) => {
      socket.once('connect', () => resolve('connected'));
      socket.once('connect_error', (err) => resolve(`refused: ${err.message}`));
    });
    socket.disconnect();
    expect(outcome).toMatch(/^refused/);
  });
});
