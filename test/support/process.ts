import { ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, freePort } from '@switchboard/testing';

const root = join(__dirname, '..', '..');

/** A built service (`node dist/apps/<name>/main.js`) in its own process, for signal and memory tests. */
export class ServiceProcess {
  output = '';
  private exit?: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
  ) {
    child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
    this.exit = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  /**
   * Starts `app` on a free port, or on `env.PORT` (a restart on the same address), and
   * waits up to `readyWithinMs` for its `/readyz`.
   */
  static async start(app: string, env: Record<string, string>, readyWithinMs = 20_000): Promise<ServiceProcess> {
    const port = env.PORT !== undefined ? Number(env.PORT) : await freePort();
    const child = spawn(process.execPath, [join(root, 'dist/apps', app, 'main.js')], {
      env: { PATH: process.env.PATH, HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const service = new ServiceProcess(child, `http://127.0.0.1:${port}`);
    await eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`${app} exited: ${service.output}`);
        const res = await fetch(`${service.url}/readyz`);
        if (res.status !== 200) throw new Error(`not ready: ${res.status}`);
      },
      readyWithinMs,
      100,
    );
    return service;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Resident set size in bytes, from /proc. */
  rss(): number {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
    return kb * 1024;
  }

  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.exit!;
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }
}
