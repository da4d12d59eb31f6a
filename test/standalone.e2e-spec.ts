import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { eventually, freePort } from '@switchboard/testing';

const root = join(__dirname, '..');

/** `npm start`'s process: the built single-process platform, no NATS or Redis. */
describe('single process (npm start)', () => {
  it('serves /healthz, /readyz and /metrics with the memory engine and prints a dev token', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [join(root, 'dist/apps/standalone/main.js')], {
      env: { PATH: process.env.PATH, PORT: String(port), HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      const base = `http://127.0.0.1:${port}`;
      await eventually(async () => expect((await fetch(`${base}/healthz`)).status).toBe(200), 15000, 100);
      const ready = await fetch(`${base}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ ready: true, draining: false, checks: { memory: true } });
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toContain('switchboard_backend_up{backend="memory"} 1');
      await eventually(() => expect(out).toMatch(/TOKEN=eyJ[\w-]+\.[\w-]+\.[\w-]+/));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('stops with one line naming the variable when the config is wrong', async () => {
    const child = spawn(process.execPath, [join(root, 'dist/apps/standalone/main.js')], {
      env: { PATH: process.env.PATH, HISTORY_SIZE: 'lots' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code).toBe(1);
    expect(err.trim().split('\n')).toEqual([
      'switchboard: invalid configuration: HISTORY_SIZE must be an integer between 1 and 100000 (got "lots")',
    ]);
  });
});
