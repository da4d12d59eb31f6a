import type { ChannelEngine } from '@switchboard/engine';
import type { RunningService } from '@switchboard/platform';
import { eventually, signToken, uniqueName } from '@switchboard/testing';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from './support/browser';
import { startGateway } from './support/gateway';
import { TestProxy } from './support/proxy';

/** What the page under test exposes (window.__sb). */
interface PageState {
  offsets: number[];
  states: string[];
  /** How many times the subscription was confirmed (once per connection). */
  subscribed: number;
}

/**
 * The SDK's browser hooks in Chromium. A phone's OS kills a background tab's sockets
 * without a close (here: the proxy stops passing bytes), and the SDK's liveness check
 * (2 × 2 minutes here) would notice only much later. When the page is shown again
 * (`visibilitychange`), restored (`pageshow`) or the network comes back (`online`), the
 * SDK checks at once and catches up on what was published meanwhile: every offset, once,
 * in order. Headless Chromium never hides a page, so `hidden`/`visible` are set on
 * `document` and the event dispatched; `online` is Chromium's own (network emulation).
 */
describe('client SDK browser hooks (Chromium)', () => {
  let gw: RunningService;
  let engine: ChannelEngine;
  let browser: Browser;
  let token: string;

  beforeAll(async () => {
    gw = await startGateway({ INSPECTOR_ENABLED: 'true' });
    engine = gw.platform.runtime.engine;
    browser = await launchChromium();
    token = await signToken({ sub: 'hooks', channels: ['*'] });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
  });

  const state = (page: Page): Promise<PageState> => page.evaluate(() => (window as unknown as { __sb: PageState }).__sb);

  /** A page behind its own proxy, subscribed over WebSocket with a 2-minute liveness interval and a 1-minute backoff. */
  const openPage = async (channel: string): Promise<{ page: Page; proxy: TestProxy }> => {
    const proxy = new TestProxy(gw.url);
    await proxy.start();
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${proxy.url}/inspect`);
    await page.evaluate(
      ({ channel, token }) => {
        const sb = { offsets: [] as number[], states: [] as string[], subscribed: 0 };
        (window as unknown as { __sb: PageState }).__sb = sb;
        const { connect } = (window as unknown as { Switchboard: typeof import('@switchboard/client') }).Switchboard;
        const client = connect(location.origin, {
          token,
          transports: ['websocket'],
          livenessIntervalMs: 120_000,
          backoff: { baseMs: 60_000, capMs: 60_000 },
        });
        client.on('state', (s) => sb.states.push(s));
        const subscription = client.subscribe(channel);
        subscription.on('message', (m) => sb.offsets.push(m.offset));
        subscription.on('subscribed', () => sb.subscribed++);
      },
      { channel, token },
    );
    // Subscribed, not only connected: a live subscription starts when the gateway has it, so
    // messages published between the socket opening and the subscribe are not this page's.
    await eventually(async () => expect((await state(page)).subscribed).toBe(1), 10_000, 50);
    return { page, proxy };
  };

  const publish = async (channel: string, n: number): Promise<void> => {
    for (let i = 0; i < n; i++) await engine.publish({ channel, data: i });
  };

  /** Publishes 5, cuts the socket silently, publishes 20 more unseen, then `wake`s the page: all 25 arrive, once, in order. */
  const catchesUp = async (wake: (page: Page) => Promise<void>, sleep?: (page: Page) => Promise<void>): Promise<void> => {
    const channel = `hooks:${uniqueName('c')}`;
    const { page, proxy } = await openPage(channel);
    try {
      await publish(channel, 5);
      await eventually(async () => expect((await state(page)).offsets).toEqual([1, 2, 3, 4, 5]), 10_000, 50);
      await sleep?.(page);
      proxy.stallWebSockets();
      await publish(channel, 20);
      // Nothing reaches the page through the dead socket, and nothing tells the SDK so.
      expect((await state(page)).offsets).toHaveLength(5);
      await wake(page);
      await eventually(async () => expect((await state(page)).offsets).toEqual(Array.from({ length: 25 }, (_, i) => i + 1)), 20_000, 100);
      const states = (await state(page)).states;
      expect(states.slice(-2)).toEqual(['connecting', 'connected']);
    } finally {
      await page.context().close();
      await proxy.stop();
    }
  };

  const setVisibility = (page: Page, visibility: 'hidden' | 'visible'): Promise<void> =>
    page.evaluate((v) => {
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => v });
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => v === 'hidden' });
      document.dispatchEvent(new Event('visibilitychange'));
    }, visibility);

  it('a page hidden while messages were published catches up without loss when shown (visibilitychange)', async () => {
    await catchesUp(
      (page) => setVisibility(page, 'visible'),
      (page) => setVisibility(page, 'hidden'),
    );
  }, 60_000);

  it('a page restored from the back/forward cache catches up (pageshow)', async () => {
    await catchesUp(async (page) => {
      await page.evaluate(() => window.dispatchEvent(new PageTransitionEvent('pageshow', { persisted: true })));
    });
  }, 60_000);

  it('a page whose network comes back catches up at once, whatever the backoff (online)', async () => {
    await catchesUp(async (page) => {
      await page.context().setOffline(true);
      await page.context().setOffline(false);
    });
  }, 60_000);
});
