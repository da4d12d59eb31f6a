import type { GatewayConfig } from '@switchboard/config';
import type { RunningService } from '@switchboard/platform';
import { eventually, uniqueName } from '@switchboard/testing';
import type { Browser, Page } from 'playwright-core';
import PusherServer from 'pusher';
import { launchChromium } from './support/browser';
import { startGateway } from './support/gateway';
import { pusherClient, pusherServer } from './support/pusher';

/** What the page records (window.__pusher). */
interface PageState {
  state: string;
  events: Array<{ channel: string; event: string; data: unknown }>;
  members: number;
  me?: { id: string };
}

// pusher-js's own browser build, unmodified, in Debian's Chromium against /app/<key>.
const APP = { id: 'web-app', key: 'web-key', secret: 'web-secret-0123456789' };

describe('pusher-js in Chromium', () => {
  let gw: RunningService<GatewayConfig>;
  let browser: Browser;
  let page: Page;
  let server: PusherServer;

  beforeAll(async () => {
    gw = await startGateway({ PUSHER_APPS: JSON.stringify([{ ...APP, clientEvents: true }]) });
    server = pusherServer(gw, APP);
    browser = await launchChromium();
    page = await browser.newPage();
    // The app's auth endpoint, signing with the official library.
    await page.exposeFunction('authorize', (socketId: string, channel: string) =>
      server.authorizeChannel(
        socketId,
        channel,
        channel.startsWith('presence-') ? { user_id: 'web', user_info: { via: 'chromium' } } : undefined,
      ),
    );
    await page.goto(`${gw.url}/healthz`);
    await page.addScriptTag({ path: require.resolve('pusher-js/dist/web/pusher.min.js') });
  });
  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
  });

  it('connects, subscribes to public, private and presence channels, gets triggers and client events', async () => {
    const id = uniqueName('web');
    const [pub, priv, pres] = [`news-${id}`, `private-${id}`, `presence-${id}`];
    await page.evaluate(
      ({ key, port, channels }) => {
        const w = window as unknown as {
          Pusher: new (
            key: string,
            o: object,
          ) => {
            connection: { bind(e: string, f: (s: { current: string }) => void): void };
            subscribe(c: string): {
              bind_global(f: (e: string, d: unknown) => void): void;
              members: { count: number; me?: { id: string } };
            };
          };
          authorize(socketId: string, channel: string): Promise<unknown>;
          __pusher: PageState;
        };
        const state: PageState = { state: 'new', events: [], members: 0 };
        w.__pusher = state;
        const pusher = new w.Pusher(key, {
          cluster: 'local',
          wsHost: '127.0.0.1',
          wsPort: port,
          forceTLS: false,
          enabledTransports: ['ws'],
          disableStats: true,
          channelAuthorization: {
            endpoint: '',
            transport: 'ajax',
            customHandler: (p: { socketId: string; channelName: string }, cb: (e: null, d: unknown) => void) =>
              void w.authorize(p.socketId, p.channelName).then((d) => cb(null, d)),
          },
        });
        pusher.connection.bind('state_change', (s) => (state.state = s.current));
        for (const c of channels) {
          const ch = pusher.subscribe(c);
          ch.bind_global((event, data) => {
            state.events.push({ channel: c, event, data });
            if (event === 'pusher:subscription_succeeded' && c.startsWith('presence-')) {
              state.members = ch.members.count;
              state.me = ch.members.me;
            }
          });
        }
      },
      { key: APP.key, port: gw.port, channels: [pub, priv, pres] },
    );
    const read = () => page.evaluate(() => (window as unknown as { __pusher: PageState }).__pusher);
    await eventually(async () => expect((await read()).events.filter((e) => e.event === 'pusher:subscription_succeeded')).toHaveLength(3));
    expect((await read()).state).toBe('connected');
    expect(await read()).toMatchObject({ members: 1, me: { id: 'web' } });

    await server.trigger([pub, priv], 'update', { n: 1 });
    // A Node pusher-js client sends a client event on the private channel.
    const node = pusherClient(gw, APP.key, (socketId, channel) => server.authorizeChannel(socketId, channel));
    try {
      const ch = node.subscribe(priv);
      await new Promise<void>((resolve) => ch.bind('pusher:subscription_succeeded', () => resolve()));
      ch.trigger('client-hello', { from: 'node' });
      await eventually(async () =>
        expect((await read()).events.filter((e) => !e.event.startsWith('pusher'))).toEqual(
          expect.arrayContaining([
            { channel: pub, event: 'update', data: { n: 1 } },
            { channel: priv, event: 'update', data: { n: 1 } },
            { channel: priv, event: 'client-hello', data: { from: 'node' } },
          ]),
        ),
      );
    } finally {
      node.disconnect();
    }
  });
});
