import { ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, freePort } from '@switchboard/testing';

const root = join(__dirname, '..');
const JWT = /eyJ[\w-]+\.[\w-]+\.[\w-]+/;
const BANNER = /Switchboard is running at/;

/** `npm start`'s process: the built single process, in its own working directory (where it keeps development keys). */
class Standalone {
  output = '';
  readonly exited: Promise<number | null>;

  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
  ) {
    child.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  static async spawn(cwd: string, env: Record<string, string> = {}): Promise<Standalone> {
    const port = await freePort();
    const child = spawn(process.execPath, [join(root, 'dist/apps/standalone/main.js')], {
      cwd,
      // A short drain: these processes hold no clients when they are stopped.
      env: { PATH: process.env.PATH, PORT: String(port), HOST: '127.0.0.1', DRAIN_SECONDS: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new Standalone(child, `http://127.0.0.1:${port}`);
  }

  async waitFor(pattern: RegExp): Promise<void> {
    await eventually(
      () => {
        if (this.child.exitCode !== null) throw new Error(`exited ${this.child.exitCode}: ${this.output}`);
        expect(this.output).toMatch(pattern);
      },
      20000,
      50,
    );
  }

  /** SIGTERM, and the exit code. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
    return this.exited;
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  /** `NAME=value` of the banner's keys block. */
  key(name: string): string | undefined {
    return new RegExp(`^  ${name}=(\\S+)`, 'm').exec(this.output)?.[1];
  }

  /** The banner's shell lines under the comment that starts with `title`, up to the next comment. */
  example(title: string): string {
    const lines = this.output.split('\n');
    const start = lines.findIndex((l) => l.startsWith(`  # ${title}`));
    if (start < 0) throw new Error(`no example "${title}" in: ${this.output}`);
    const end = lines.findIndex((l, i) => i > start && (l.startsWith('  #') || l.trim() === ''));
    return lines.slice(start + 1, end).join('\n');
  }

  /** The banner's keys as shell assignments (what a user pastes first). */
  keys(): string {
    return ['TOKEN', 'PUBLISH_API_KEY', 'ADMIN_API_KEY'].map((n) => (this.key(n) === undefined ? '' : `${n}=${this.key(n)}`)).join('\n');
  }
}

/** Runs shell lines as a user pasting them would (bash, PATH only), in `cwd`. */
function shell(cwd: string, script: string): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile('bash', ['-c', script], { cwd, env: { PATH: process.env.PATH }, timeout: 20000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}\n${stdout}\n${stderr}`)) : resolve(stdout),
    ),
  );
}

/** Long-running pasted commands still running, ended after each test whatever its outcome. */
const pasted: ChildProcess[] = [];

/** A long-running pasted command (`exec`, so the process is the command itself); its stdout. */
function shellProcess(cwd: string, script: string): { output: () => string } {
  const child = spawn('bash', ['-c', script], { cwd, env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'ignore'] });
  pasted.push(child);
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  return { output: () => output };
}

describe('single process (npm start)', () => {
  const dirs: string[] = [];
  const running: Standalone[] = [];
  const workdir = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-standalone-'));
    dirs.push(dir);
    return dir;
  };
  const start = async (cwd: string, env: Record<string, string> = {}): Promise<Standalone> => {
    const s = await Standalone.spawn(cwd, env);
    running.push(s);
    return s;
  };
  afterEach(() => {
    for (const s of running.splice(0)) s.kill();
    for (const child of pasted.splice(0)) child.kill('SIGKILL');
  });
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('serves /healthz, /readyz and /metrics with the memory engine and prints a dev token once it listens', async () => {
    const s = await start(workdir());
    await s.waitFor(BANNER);
    // The banner comes after the server listens: the first request succeeds, no retry.
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    expect(s.output.indexOf('"msg":"switchboard listening"')).toBeLessThan(s.output.search(BANNER));
    const ready = await fetch(`${s.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true, draining: false, checks: { memory: true } });
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    expect(metrics).toContain('switchboard_backend_up{backend="memory"} 1');
    await s.waitFor(/^ {2}TOKEN=eyJ[\w-]+\.[\w-]+\.[\w-]+ /m);
    expect(await s.stop()).toBe(0);
  });

  it('sends a browser from / to the console, and to the inspector when the console is off', async () => {
    const s = await start(workdir(), { LOG_LEVEL: 'warn' });
    await s.waitFor(BANNER);
    const res = await fetch(`${s.url}/`, { redirect: 'manual' });
    expect([res.status, res.headers.get('location')]).toEqual([302, '/console']);
    const page = await fetch(`${s.url}/`);
    expect([page.status, page.url, page.headers.get('content-type')]).toEqual([200, `${s.url}/console`, 'text/html; charset=utf-8']);
    expect(await s.stop()).toBe(0);

    const off = await start(workdir(), { LOG_LEVEL: 'warn', CONSOLE_ENABLED: 'false' });
    await off.waitFor(BANNER);
    const old = await fetch(`${off.url}/`, { redirect: 'manual' });
    expect([old.status, old.headers.get('location')]).toEqual([302, '/inspect']);
    expect((await fetch(`${off.url}/console`)).status).toBe(404);
  });

  it('a second Ctrl-C during a drain says it forces, and exits at once', async () => {
    // A client stays connected, so the drain would take its whole window (30 s).
    const s = await start(workdir(), { DRAIN_SECONDS: '30' });
    await s.waitFor(/^ {2}TOKEN=/m);
    const ws = new WebSocket(`${s.url.replace('http', 'ws')}/v1/ws?token=${s.key('TOKEN')}`);
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = reject;
    });
    try {
      s.child.kill('SIGINT');
      await s.waitFor(/draining connections/);
      s.child.kill('SIGINT');
      expect(await s.exited).toBe(1);
      expect(s.output).toMatch(/second signal: forcing exit without finishing the drain/);
      expect(s.output).not.toMatch(/drain complete/);
    } finally {
      ws.close();
    }
  });

  it('prints no token, no key and no secret that the operator supplied', async () => {
    const supplied = {
      JWT_SECRET: 'operator-jwt-secret-0123456789abcdefghijklmnop',
      PUBLISH_API_KEY: 'operator-publish-key-7f3a',
      ADMIN_API_KEY: 'operator-admin-key-91bc',
      WEBHOOK_SOURCES: JSON.stringify([{ name: 'billing', provider: 'hmac', secrets: ['operator-webhook-secret'], header: 'X-Signature' }]),
    };
    const cwd = workdir();
    const s = await start(cwd, { ...supplied, LOG_LEVEL: 'debug' });
    await s.waitFor(BANNER);
    await s.waitFor(/# health and metrics/);
    expect(await s.stop()).toBe(0);
    for (const secret of [supplied.JWT_SECRET, supplied.PUBLISH_API_KEY, supplied.ADMIN_API_KEY, 'operator-webhook-secret']) {
      expect(s.output).not.toContain(secret);
    }
    expect(s.output).not.toMatch(JWT);
    expect(s.output).toContain('Your own JWT_SECRET, PUBLISH_API_KEY, ADMIN_API_KEY are in use (not shown).');
    // Nothing was generated, so nothing was written.
    expect(() => statSync(join(cwd, '.switchboard'))).toThrow(/ENOENT/);
  });

  it('generates nothing and prints no banner with NODE_ENV=production', async () => {
    const cwd = workdir();
    const bare = await start(cwd, { NODE_ENV: 'production' });
    expect(await bare.exited).toBe(1);
    expect(bare.output.trim()).toBe(
      'switchboard: invalid configuration: JWT_SECRET or JWT_JWKS_URL must be set (client tokens cannot be verified otherwise)',
    );

    const JWT_SECRET = 'production-jwt-secret-0123456789abcdefghijkl';
    const configured = await start(cwd, { NODE_ENV: 'production', JWT_SECRET, LOG_LEVEL: 'debug' });
    await eventually(async () => expect((await fetch(`${configured.url}/readyz`)).status).toBe(200), 20000, 100);
    expect(await configured.stop()).toBe(0);
    expect(configured.output).not.toMatch(BANNER);
    for (const s of [bare, configured]) {
      expect(s.output).not.toMatch(JWT);
      expect(s.output).not.toMatch(/dev-(publish|admin)-/);
      expect(s.output).not.toContain(JWT_SECRET);
    }
    expect(() => statSync(join(cwd, '.switchboard'))).toThrow(/ENOENT/);
  }, 60_000);

  it('keeps generated development keys across restarts, in a file only its owner reads', async () => {
    const cwd = workdir();
    const first = await start(cwd, { LOG_LEVEL: 'warn' });
    await first.waitFor(/ADMIN_API_KEY=/);
    const keys = { token: first.key('TOKEN'), publish: first.key('PUBLISH_API_KEY'), admin: first.key('ADMIN_API_KEY') };
    expect(keys.publish).toMatch(/^dev-publish-/);
    expect(await first.stop()).toBe(0);
    expect(statSync(join(cwd, '.switchboard/dev-secrets.json')).mode & 0o777).toBe(0o600);
    expect(statSync(join(cwd, '.switchboard')).mode & 0o777).toBe(0o700);

    const second = await start(cwd, { LOG_LEVEL: 'warn' });
    await second.waitFor(/ADMIN_API_KEY=/);
    expect({ publish: second.key('PUBLISH_API_KEY'), admin: second.key('ADMIN_API_KEY') }).toEqual({
      publish: keys.publish,
      admin: keys.admin,
    });
    // A token pasted into the inspector before the restart still works after it.
    const poll = await fetch(`${second.url}/v1/poll?channel=orders:1&timeout=0`, { headers: { authorization: `Bearer ${keys.token}` } });
    expect(poll.status).toBe(200);
  }, 60_000);

  // The walk-through starts curl, Node and bash processes besides the server: on a busy
  // 2-core machine that takes longer than jest's default 30 s (the waits are conditions).
  it("runs the banner's examples as printed: publish, long-poll with the cursor, SSE, WebSocket, a signed hmac webhook", async () => {
    const cwd = workdir();
    const webhookSecret = 'hmac-secret-for-the-example';
    const s = await start(cwd, {
      LOG_LEVEL: 'warn',
      WEBHOOK_SOURCES: JSON.stringify([
        { name: 'gh', provider: 'github', secrets: ['unused'] },
        {
          name: 'billing',
          provider: 'hmac',
          secrets: [webhookSecret],
          header: 'X-Signature',
          prefix: 'sha256=',
          deliveryIdHeader: 'X-Delivery',
        },
      ]),
    });
    await s.waitFor(/# health and metrics/);
    expect(s.output).not.toContain(webhookSecret);
    expect(s.output).not.toMatch(/websocat|\bopen http/);
    const keys = s.keys();
    const [firstPoll, nextPoll] = s.example('long-poll').split('\n');
    expect(nextPoll).toContain('&cursor=$CURSOR');

    const sse = shellProcess(cwd, `${keys}\nexec ${s.example('Server-Sent Events')}`);
    const ws = shellProcess(cwd, `${keys}\nexec ${s.example('WebSocket')}`);
    await eventually(() => expect(sse.output()).toMatch(/^retry: /m), 20000, 50);
    await eventually(() => expect(ws.output()).toContain('"op":"subscribed"'), 20000, 50);
    // Cursor first, then a publish, then the follow-up poll returns what was published after the cursor.
    const polled = await shell(cwd, `${keys}\n${firstPoll}\n${s.example('publish a message')}\necho\n${nextPoll}`);
    const [published, answer] = polled.trim().split('\n');
    expect(JSON.parse(published)).toEqual({ offsets: { 'orders:42': 1 } });
    expect(JSON.parse(answer)).toMatchObject({ messages: [{ channel: 'orders:42', offset: 1, data: { status: 'paid' } }] });
    await eventually(() => expect(sse.output()).toMatch(/event: message\ndata: \{"channel":"orders:42","offset":1,/), 10000, 50);
    await eventually(() => expect(ws.output()).toMatch(/"op":"message","channel":"orders:42","offset":1,/), 10000, 50);

    const webhook = s.example('a signed webhook to source "billing"').replace(/^ {2}SECRET=.*$/m, `SECRET='${webhookSecret}'`);
    expect(JSON.parse(await shell(cwd, webhook))).toMatchObject({ accepted: true });
  }, 120_000);

  it("signs the banner's Standard Webhooks example as the source verifies it", async () => {
    const cwd = workdir();
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const s = await start(cwd, {
      LOG_LEVEL: 'warn',
      WEBHOOK_SOURCES: JSON.stringify([{ name: 'std', provider: 'standard', secrets: [secret] }]),
    });
    await s.waitFor(/# health and metrics/);
    expect(s.output).not.toContain(secret);
    const webhook = s.example('a signed webhook to source "std"').replace(/^ {2}SECRET=.*$/m, `SECRET='${secret}'`);
    expect(JSON.parse(await shell(cwd, webhook))).toMatchObject({ accepted: true });
  });

  it('stops with one line naming the variable when the config is wrong, leaving no key file behind', async () => {
    const cwd = workdir();
    const s = await start(cwd, { HISTORY_SIZE: 'lots' });
    expect(await s.exited).toBe(1);
    expect(s.output.trim().split('\n')).toEqual([
      'switchboard: invalid configuration: HISTORY_SIZE must be an integer between 1 and 100000 (got "lots")',
    ]);
    expect(() => statSync(join(cwd, '.switchboard'))).toThrow(/ENOENT/);
  });
});
