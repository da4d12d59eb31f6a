import { eventually, freePort } from '@switchboard/testing';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { artifactPath, launchChromium } from './support/browser';

const root = join(__dirname, '..');
const run = promisify(execFile);
const WEBHOOK_SECRET = 'console-test-webhook-secret';

/**
 * The newcomer's first hour and the console, in Debian's Chromium against `npm start`'s
 * process (built, memory engine, development keys generated): the printed link signs in,
 * the dev token connects, a curl publish arrives, each view shows live data and its
 * actions work, and Ctrl-C with no client connected ends the drain at once.
 */
describe('the console (/console) in a browser', () => {
  let cwd: string;
  let child: ChildProcess;
  let output = '';
  let url: string;
  let browser: Browser;
  let page: Page;
  let shots: string;

  const waitFor = (pattern: RegExp): Promise<void> =>
    eventually(
      () => {
        if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}: ${output}`);
        expect(output).toMatch(pattern);
      },
      20_000,
      50,
    );
  const banner = (name: string): string => new RegExp(`^ {2}${name}=(\\S+)`, 'm').exec(output)![1];

  /** Every view at desktop and phone width, light and dark, for review (test-artifacts/console/). */
  const screenshots = async (view: string): Promise<void> => {
    for (const [width, height, size] of [
      [1280, 900, 'desktop'],
      [390, 844, 'phone'],
    ] as const) {
      await page.setViewportSize({ width, height });
      for (const scheme of ['light', 'dark'] as const) {
        await page.emulateMedia({ colorScheme: scheme });
        // The page follows the system's scheme until a theme is picked.
        await page.waitForFunction((s) => document.documentElement.dataset.theme === s, scheme);
        await page.screenshot({ path: join(shots, `${view}-${size}-${scheme}.png`), fullPage: true });
      }
    }
    await page.setViewportSize({ width: 1280, height: 900 });
  };

  beforeAll(async () => {
    shots = artifactPath('console');
    mkdirSync(shots, { recursive: true });
    cwd = mkdtempSync(join(tmpdir(), 'sb-console-'));
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    child = spawn(process.execPath, [join(root, 'dist/apps/standalone/main.js')], {
      cwd,
      // What a newcomer has: no keys set (they are generated), the default drain window.
      env: {
        PATH: process.env.PATH,
        PORT: String(port),
        HOST: '127.0.0.1',
        STATS_INTERVAL_SECONDS: '1',
        CHANNEL_CONFIG: JSON.stringify([{ match: 'orders:*', presence: true }]),
        WEBHOOK_SOURCES: JSON.stringify([{ name: 'deploys', provider: 'hmac', secrets: [WEBHOOK_SECRET], header: 'X-Signature' }]),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    await waitFor(/Open http:\S+\/console#key=\S+ in a browser/);
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    if (child?.exitCode === null) child.kill('SIGKILL');
    rmSync(cwd, { recursive: true, force: true });
  });

  it('refuses the API without the admin key, and shows a login form that says when the key is wrong', async () => {
    expect((await fetch(`${url}/console/api/session`)).status).toBe(401);
    const res = await fetch(`${url}/console`);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    const login = await browser.newPage();
    await login.goto(`${url}/console`);
    await login.fill('#admin-key', 'not-the-key');
    await login.click('#login button[type=submit]');
    await login.locator('#login-error').waitFor();
    await login.fill('#admin-key', banner('ADMIN_API_KEY'));
    await login.click('#login button[type=submit]');
    await login.locator('#tab-cluster').waitFor();
    await login.close();
  });

  it('Live: the printed link signs in, the dev token connects, a curl publish and the console publishes arrive', async () => {
    const link = /Open (http:\S+\/console#key=\S+) in a browser/.exec(output)![1];
    await page.goto(link);
    // Signed in, and the key is gone from the address bar.
    await page.locator('#tab-live.active').waitFor();
    expect(page.url()).toBe(`${url}/console#/live`);

    await page.click('#dev-token');
    await page.locator('#state.state-connected').waitFor();
    await page.fill('#channel', 'orders:42');
    await page.click('#subscribe');
    await page.locator('#log', { hasText: 'subscribed orders:42' }).waitFor();

    // The banner's curl publish, as a newcomer runs it.
    const publishKey = banner('PUBLISH_API_KEY');
    const { stdout } = await run('curl', [
      '-sS',
      '-X',
      'POST',
      `${url}/v1/publish`,
      '-H',
      `Authorization: Bearer ${publishKey}`,
      '-H',
      'Content-Type: application/json',
      '-d',
      '{"channel":"orders:42","data":{"status":"paid","by":"curl"}}',
    ]);
    expect(JSON.parse(stdout)).toEqual({ offsets: { 'orders:42': 1 } });
    const curlRow = page.locator('#messages tr[data-offset="1"]');
    await curlRow.waitFor();
    expect(await curlRow.locator('td').allInnerTexts()).toEqual(
      expect.arrayContaining(['orders:42', '1', expect.stringMatching(/"by": "curl"/)]),
    );

    // Over WebSocket, as the dev token's subject.
    await page.fill('#pub-data', '{"via":"ws"}');
    await page.click('#publish');
    await page.locator('#pub-result', { hasText: 'published over WebSocket at offset 2' }).waitFor();
    expect(await page.locator('#messages tr[data-offset="2"] td').nth(6).innerText()).toBe('console');

    // Through the publish API, with the publish key.
    await page.check('#via-api');
    await page.fill('#publish-key', publishKey);
    await page.fill('#pub-data', '{"via":"api"}');
    await page.click('#publish');
    await page.locator('#pub-result', { hasText: 'published through the API at offset 3' }).waitFor();
    await page.locator('#messages tr[data-offset="3"]').waitFor();

    // A refused publish says why, inline.
    await page.fill('#publish-key', 'wrong');
    await page.click('#publish');
    await page.locator('#pub-result.inline-error', { hasText: 'unauthorized' }).waitFor();

    // Presence: the console's own connection is the channel's one member.
    await page.click('.subs button:has-text("Presence")');
    await page.locator('#presence:not(.inline-error)').waitFor();
    const presence = await page.locator('#presence pre').innerText();
    expect(JSON.parse(presence)).toMatchObject({ count: 1, members: [expect.objectContaining({ user: 'console' })] });

    await screenshots('live');
  });

  it("Cluster: this gateway from its stats, with the console's own connection and channel", async () => {
    await page.click('#tab-cluster');
    const pod = page.locator('#pods tbody tr');
    await pod.waitFor();
    await eventually(async () => {
      expect(await pod.locator('td[data-transport="ws"]').innerText()).toBe('1');
      expect(await pod.locator('td[data-field="channels"]').innerText()).toBe('1');
    }, 10_000);
    expect(await page.locator('.chart canvas').count()).toBeGreaterThanOrEqual(3);
    await page.locator('#backends', { hasText: 'In memory' }).waitFor();
    await screenshots('cluster');
  });

  it('Webhooks: source counts, a dead letter replayed, an endpoint disabled and its secret rotated', async () => {
    // One verified webhook (no route: it becomes a dead letter at once) and one with a bad signature.
    const body = JSON.stringify({ event: 'deployed', id: 17 });
    const post = (signature: string) =>
      fetch(`${url}/v1/webhooks/deploys`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-signature': signature },
        body,
      });
    expect((await post(createHmac('sha256', WEBHOOK_SECRET).update(body).digest('hex'))).status).toBe(202);
    expect((await post('00'.repeat(32))).status).toBe(401);

    const admin = { authorization: `Bearer ${banner('ADMIN_API_KEY')}`, 'content-type': 'application/json' };
    const created = await fetch(`${url}/v1/endpoints`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ url: 'https://hooks.example.com/in', events: ['deploys.*'], description: 'console test' }),
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };

    await page.click('#tab-webhooks');
    const source = page.locator('#sources tr[data-source="deploys"]');
    await source.waitFor();
    expect(await source.locator('td[data-field="accepted"]').innerText()).toBe('1');
    expect(await source.locator('td[data-field="rejected"]').innerText()).toBe('1');

    // The verified one among the last deliveries the notifier took.
    await page.locator('#recent tbody tr', { hasText: 'deploys.event' }).waitFor();
    expect(await page.locator('#recent tbody tr').first().locator('td').nth(1).innerText()).toBe('deploys');

    const letter = page.locator('#dlq tbody tr').first();
    await letter.waitFor();
    const seq = await letter.getAttribute('data-seq');
    await screenshots('webhooks');
    await letter.locator('button:has-text("Replay")').click();
    // Republished onto EVENTS (the answer names the event) and removed from the queue.
    await page.locator('#notice', { hasText: `replay ${seq}: {"dlqSeq":${seq},"eventId":` }).waitFor();
    await page.locator(`#dlq tr[data-seq="${seq}"]`).waitFor({ state: 'detached' });

    const endpoint = page.locator(`#endpoints tr[data-endpoint="${id}"]`);
    await endpoint.locator('button[data-action="toggle"]').click();
    await endpoint.locator('td[data-field="state"]', { hasText: 'disabled' }).waitFor();
    const after = (await (await fetch(`${url}/v1/endpoints/${id}`, { headers: admin })).json()) as { disabled: boolean };
    expect(after.disabled).toBe(true);
    await endpoint.locator('button:has-text("Rotate secret")').click();
    await page.locator('#notice', { hasText: 'new secret whsec_' }).waitFor();
  });

  it('Ctrl-C with no client connected ends the drain at once and exits 0', async () => {
    await browser.close();
    // The server sees the WebSocket close.
    await eventually(async () => {
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toMatch(/switchboard_connections\{transport="ws"\} 0/);
    }, 5_000);
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    const drain = /"ms":(\d+)[^\n]*"drain complete"|"drain complete"[^\n]*"ms":(\d+)/.exec(output);
    expect(drain).not.toBeNull();
    expect(Number(drain![1] ?? drain![2])).toBeLessThan(2000);
  });
});
