import type { EngineRuntime } from '@switchboard/engine';
import {
  cleanupIsolatedEnv,
  eventually,
  isolatedEnv,
  requireSharedServers,
  signToken,
  TEST_JWT_SECRET,
  uniqueName,
  WsTestClient,
} from '@switchboard/testing';
import type { Browser, Page } from 'playwright-core';
import { testRuntime } from './support/notifier-harness';
import { artifactPath, launchChromium } from './support/browser';

import { PRESENCE_CHANNEL_CONFIG } from './support/presence';
import { ServiceProcess } from './support/process';
import { TestProxy } from './support/proxy';

/** What the page under test exposes (window.__sb). */
interface PageState {
  offsets: number[];
  transports: string[];
  recoveries: number;
}

/**
 * The SDK's browser bundle in Debian's Chromium against a gateway process on the real NATS
 * and Redis, behind a proxy that refuses WebSocket, then SSE; the gateway is restarted
 * mid-stream. The page must end with every offset exactly once, in order.
 */
describe('client SDK in a browser', () => {
  let env: Record<string, string>;
  let runtime: EngineRuntime;
  let browser: Browser;
  let gateway: ServiceProcess | undefined;
  let proxy: TestProxy;
  let token: string;

  const startGateway = async (port?: number): Promise<ServiceProcess> => {
    gateway = await ServiceProcess.start('gateway', {
      ...env,
      JWT_SECRET: TEST_JWT_SECRET,
      DRAIN_SECONDS: '1',
      HISTORY_SIZE: '5000',
      // The pages load the SDK bundle from the inspector (off by default in the gateway service).
      INSPECTOR_ENABLED: 'true',
      CHANNEL_CONFIG: PRESENCE_CHANNEL_CONFIG,
      ...(port === undefined ? {} : { PORT: String(port) }),
    });
    return gateway;
  };

  beforeAll(async () => {
    const { natsUrl, redisUrl } = await requireSharedServers();
    env = isolatedEnv('gw', { natsUrl: natsUrl, redisUrl: redisUrl });
    runtime = await testRuntime(env);
    await startGateway();
    proxy = new TestProxy(gateway!.url);
    await proxy.start();
    browser = await launchChromium();
    token = await signToken({ sub: 'browser', channels: ['*'], publish: ['*'] });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await proxy?.stop();
    gateway?.kill();
    await runtime?.close();
    if (env !== undefined) await cleanupIsolatedEnv(env);
  });

  const state = (page: Page): Promise<PageState> => page.evaluate(() => (window as unknown as { __sb: PageState }).__sb);

  it('receives over WebSocket, SSE, then long-poll, across a gateway restart: every offset once, in order', async () => {
    const channel = `browser:${uniqueName('fallback')}`;
    const page = await browser.newPage();
    // The inspector page carries the SDK bundle (global `Switchboard`); the test drives the SDK directly.
    await page.goto(`${proxy.url}/inspect`);
    await page.evaluate(
      ({ channel, token }) => {
        const sb = { offsets: [] as number[], transports: [] as string[], recoveries: 0 };
        (window as unknown as { __sb: PageState }).__sb = sb;
        const { connect } = (window as unknown as { Switchboard: typeof import('@switchboard/client') }).Switchboard;
        const client = connect(location.origin, { token, backoff: { baseMs: 100, capMs: 1000 }, fallbackAfter: 2, pollTimeoutSeconds: 2 });
        client.on('transport', (t) => sb.transports.push(t));
        const sub = client.subscribe(channel);
        sub.on('message', (m) => sb.offsets.push(m.offset));
        sub.on('recovery', () => sb.recoveries++);
      },
      { channel, token },
    );

    let published = 0;
    let publishing = true;
    const publisher = (async () => {
      while (publishing) {
        await runtime.engine.publish({ channel, data: { n: ++published } });
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const receivedMore = async (than: number): Promise<number> => {
      const start = (await state(page)).offsets.length;
      await eventually(async () => expect((await state(page)).offsets.length).toBeGreaterThan(start + than), 15_000, 50);
      return start;
    };
    const transport = async (): Promise<string | undefined> => (await state(page)).transports.at(-1);

    try {
      await receivedMore(20);
      expect(await transport()).toBe('websocket');

      proxy.blockWebSocket = true;
      proxy.cutAll();
      await eventually(async () => expect(await transport()).toBe('sse'), 15_000, 50);
      await receivedMore(20);

      proxy.blockSse = true;
      proxy.cutAll();
      await eventually(async () => expect(await transport()).toBe('longpoll'), 15_000, 50);
      await receivedMore(20);

      // Restart the gateway on the same address while messages keep coming.
      const port = Number(new URL(gateway!.url).port);
      gateway!.kill('SIGTERM');
      expect((await gateway!.exited()).code).toBe(0);
      await startGateway(port);
      await receivedMore(20);
    } finally {
      publishing = false;
      await publisher;
    }
    await eventually(async () => expect((await state(page)).offsets.at(-1)).toBe(published), 20_000, 100);
    const final = await state(page);
    const first = final.offsets[0];
    // From the first offset the page saw (the subscription starts at "now") to the last published: each once.
    expect(final.offsets).toEqual(Array.from({ length: published - first + 1 }, (_, i) => first + i));
    expect(final.recoveries).toBe(0);
    expect(final.transports).toEqual(expect.arrayContaining(['websocket', 'sse', 'longpoll']));
    await page.close();
  }, 120_000);

  it('drives the inspector: connect, subscribe, publish, see the message', async () => {
    const channel = `inspect:${uniqueName('page')}`;
    const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
    await page.goto(`${gateway!.url}/inspect`);
    await page.fill('#token', token);
    await page.click('#connect');
    await page.locator('#state', { hasText: 'connected' }).waitFor();
    await page.fill('#channel', channel);
    await page.click('#subscribe');
    await page.locator('#log', { hasText: `subscribed ${channel}` }).waitFor();
    await page.fill('#pub-data', '{"hello":"inspector"}');
    await page.click('#publish');
    await page.locator('#pub-result', { hasText: 'published at offset 1' }).waitFor();
    const row = page.locator('#messages tr', { hasText: 'inspector' });
    await row.waitFor();
    expect(await row.locator('td').allTextContents()).toEqual([
      expect.any(String),
      channel,
      '1',
      expect.any(String),
      '{"hello":"inspector"}',
    ]);
    expect(await page.textContent('#transport')).toBe('websocket');
    // A message from elsewhere (the engine) shows up too, rendered as text.
    await runtime.engine.publish({ channel, data: '<b>not markup</b>' });
    await page.locator('#messages td.data', { hasText: '"<b>not markup</b>"' }).waitFor();
    await page.screenshot({ path: artifactPath('inspector.png'), fullPage: true });
    await page.close();
  }, 60_000);

  it("shows a channel's members live in the inspector", async () => {
    const channel = `room:${uniqueName('inspect')}`;
    const page = await browser.newPage();
    await page.goto(`${gateway!.url}/inspect`);
    await page.fill('#token', token);
    await page.click('#connect');
    await page.locator('#state', { hasText: 'connected' }).waitFor();
    await page.fill('#channel', channel);
    await page.click('#subscribe');
    await page.locator('#subscriptions li', { hasText: '1 online: browser' }).waitFor();
    const guestToken = await signToken({ sub: 'guest', channels: ['room:*'] });
    const guest = await WsTestClient.connect(`${gateway!.url.replace(/^http/, 'ws')}/v1/ws?token=${guestToken}`);
    expect((await guest.request('subscribe', { channel })).op).toBe('subscribed');
    await page.locator('#subscriptions li', { hasText: '2 online: browser, guest' }).waitFor();
    guest.close();
    await page.locator('#subscriptions li', { hasText: '1 online: browser' }).waitFor();
    await page.locator('#log', { hasText: `leave ${channel} guest` }).waitFor();
    await page.close();
  }, 60_000);
});
