import { requireSharedServers } from '@switchboard/testing';
import { spawn } from 'node:child_process';
import { join } from 'node:path';

/**
 * `npm run bench -- --quick` end to end: every scenario runs against its bare baseline
 * and nothing is lost or duplicated. Not a timing test: the figures are printed, not judged.
 */
describe('bench --quick', () => {
  it('runs every scenario, prints the ratio tables, and loses no message', async () => {
    await requireSharedServers();
    const root = join(__dirname, '..');
    const child = spawn(process.execPath, ['--disable-warning=MODULE_TYPELESS_PACKAGE_JSON', join(root, 'bench/run.mjs'), '--quick'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: a hung run is stopped with every server and client process it started.
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // ~2 minutes on a quiet machine; the bound only stops a hung run (other test files share the cores).
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 420_000);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    clearTimeout(timer);
    console.log(stdout);
    if (code !== 0) throw new Error(`bench exited ${code}:\n${stdout}\n${stderr.slice(-4000)}`);
    expect(stdout).toContain('No message lost or duplicated.');
    for (const row of [
      'fan-out ws ×200 (memory)',
      'fan-out sio',
      'fan-out sse',
      'fan-out lp',
      'fan-out pusher ×200 (memory)',
      '(NATS+Redis)',
      'channels',
      'channels vs stored-ws',
      'vs io.emit',
      'idle ws',
      'idle sio',
      'idle sse',
      'storm',
      'POST /v1/publish',
      'publisher library → JetStream',
      'webhook stripe',
      'webhook github',
      'webhook github → JetStream vs stored-ingest',
      'end to end',
      'end to end (3 processes)',
      'events → 1 endpoint',
    ]) {
      expect(stdout).toContain(row);
    }
    // Every comparison produced a ratio.
    expect(stdout).not.toMatch(/\| n\/a/);
  }, 440_000);
});
