import { startService, type RunningService } from '@switchboard/platform';
import { freePort, TEST_JWT_SECRET } from '@switchboard/testing';
import { createServer, type Server } from 'node:http';
import type { Browser, Page } from 'playwright-core';
import { standaloneDefinition } from '@switchboard/standalone';
import { launchChromium } from '../support/browser';
import { startGateway } from '../support/gateway';

/** The inspector page (`/inspect`): not frameable, no script but its own, and a switch to turn it off. */
describe('security: the inspector page', () => {
  let gw: RunningService;
  let framer: Server;
  let framerUrl: string;
  let browser: Browser;

  beforeAll(async () => {
    gw = await startGateway({ INSPECTOR_ENABLED: 'true' });
    // Another site (another origin: another port) that puts the inspector in an iframe.
    const port = await freePort();
    framer = createServer((_req, res) => {
      res.setHeader('Content-Type', 'text/html');
      res.end(`<!doctype html><title>framer</title><iframe id="victim" src="${gw.url}/inspect"></iframe>`);
    });
    await new Promise<void>((resolve) => framer.listen(port, '127.0.0.1', resolve));
    framerUrl = `http://127.0.0.1:${port}/`;
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => framer?.close(resolve));
    await gw?.stop();
  });

  /** A page that records console messages (CSP refusals are reported there). */
  const openPage = async (): Promise<{ page: Page; console: string[] }> => {
    const page = await browser.newPage();
    const console: string[] = [];
    page.on('console', (m) => console.push(m.text()));
    return { page, console };
  };

  it("sends a Content-Security-Policy with frame-ancestors 'none' and no 'unsafe-inline'", async () => {
    const res = await fetch(`${gw.url}/inspect`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp.split(/;\s*/)).toEqual(expect.arrayContaining(["frame-ancestors 'none'", "default-src 'none'", "base-uri 'none'"]));
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
  });

  it('cannot be framed by another site (clickjacking)', async () => {
    const { page, console } = await openPage();
    try {
      // `load` waits for the iframe too.
      await page.goto(framerUrl);
      const frame = await (await page.$('#victim'))!.contentFrame();
      // Chromium replaces a refused frame with its error page: nothing of the inspector runs there.
      expect(await frame!.$('#connect')).toBeNull();
      expect(console.join('\n')).toMatch(/frame-ancestors 'none'.*blocked/);
    } finally {
      await page.close();
    }
  });

  it('still works under its policy: its inline script and the SDK bundle run, and nothing is refused', async () => {
    const { page, console } = await openPage();
    try {
      await page.goto(`${gw.url}/inspect`);
      // The inline script fills the gateway URL; the bundle defines the global `Switchboard`.
      expect(await page.inputValue('#url')).toBe(gw.url);
      expect(await page.evaluate(() => typeof (globalThis as { Switchboard?: unknown }).Switchboard)).toBe('object');
      expect(await page.evaluate(() => getComputedStyle(document.body).maxWidth)).toBe('1100px');
      expect(console.filter((line) => /Content Security Policy/i.test(line))).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('is off in the gateway service unless INSPECTOR_ENABLED, and on in the single process', async () => {
    const plain = await startGateway();
    const single = await startService(standaloneDefinition, {
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      DRAIN_SECONDS: '0',
      JWT_SECRET: TEST_JWT_SECRET,
    });
    try {
      expect((await fetch(`${plain.url}/inspect`)).status).toBe(404);
      expect((await fetch(`${plain.url}/inspect/switchboard-client.js`)).status).toBe(404);
      const page = await fetch(`${single.url}/inspect`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    } finally {
      await plain.stop();
      await single.stop();
    }
  });
});
