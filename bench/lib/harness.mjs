// The bench's moving parts: server processes (ours or a baseline, each with the probe
// preloaded), client processes (load-client.mjs) and the publisher.
import { fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import hdr from 'hdr-histogram-js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PROBE = join(ROOT, 'bench/lib/probe.cjs');
const CLIENT = join(ROOT, 'bench/lib/load-client.mjs');
export const now = () => performance.timeOrigin + performance.now();

export async function freePort() {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address();
  srv.close();
  return port;
}

const TICK_US = 10_000; // USER_HZ = 100 on Linux
const SERVICES = new Set(['nats-server', 'redis-server']);

/**
 * CPU time (µs) used so far by this machine's NATS and Redis server processes (what ours
 * runs on with the real engine, and the bare servers never touch) and by the whole machine
 * (busy time of every core: servers, load clients, publisher, everything). Read from
 * /proc in clock ticks (10 ms), so only windows of seconds mean anything; zeros where
 * /proc is missing. Only a quiet machine's figures mean anything for the machine's share.
 */
export function systemCpu() {
  try {
    let services = 0;
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      let stat;
      try {
        stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      } catch {
        continue; // gone meanwhile
      }
      const close = stat.lastIndexOf(')');
      if (!SERVICES.has(stat.slice(stat.indexOf('(') + 1, close))) continue;
      const fields = stat.slice(close + 2).split(' ');
      services += (Number(fields[11]) + Number(fields[12])) * TICK_US; // utime, stime
    }
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
    const busy = cpu.slice(0, 8).reduce((a, b) => a + b, 0) - cpu[3] - cpu[4]; // all but idle and iowait
    return { servicesUs: services, machineUs: busy * TICK_US };
  } catch {
    return { servicesUs: 0, machineUs: 0 };
  }
}

/** A server process with the probe preloaded; `probe()` returns its CPU time and memory after GC. */
export class ServerProcess {
  static async start(name, script, env = {}, readyPath = '/healthz', nodeArgs = []) {
    const port = await freePort();
    // BENCH_PROFILE=1: each server writes a V8 CPU profile to bench/results/profiles/ (for --cpu-prof work).
    const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${join(ROOT, 'bench/results/profiles')}`] : [];
    // BENCH_NODE_ARGS: more node flags for the server (e.g. --perf-basic-prof for `perf record`).
    const extra = process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
    const args = ['--expose-gc', '--max-old-space-size=4096', ...nodeArgs, ...profile, ...extra, '--require', PROBE, script];
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOST: '127.0.0.1', LOG_LEVEL: 'error', ...env, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const server = new ServerProcess(name, child, `http://127.0.0.1:${port}`);
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${name} exited: ${server.output.slice(-2000)}`);
      try {
        const res = await fetch(server.url + readyPath);
        if (res.status === 200) break;
      } catch {
        // Not listening yet.
      }
      if (Date.now() > deadline) throw new Error(`${name} not ready in 60 s: ${server.output.slice(-2000)}`);
      await sleep(100);
    }
    return server;
  }

  constructor(name, child, url) {
    this.name = name;
    this.child = child;
    this.url = url;
    this.output = '';
    this.waiters = [];
    let buffer = '';
    child.stdout.on('data', (d) => {
      buffer += d.toString();
      let nl;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line.startsWith('__PROBE__ ')) this.waiters.shift()?.(JSON.parse(line.slice(10)));
        else this.output += line + '\n';
      }
    });
    child.stderr.on('data', (d) => (this.output += d.toString()));
  }

  /** {cpuUs, rss, heapUsed} now, after a full GC. */
  async probe() {
    const result = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: no probe answer`)), 30_000);
      this.waiters.push((v) => {
        clearTimeout(timer);
        resolve(v);
      });
    });
    this.child.kill('SIGUSR2');
    return result;
  }

  async stop() {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    // A profiled server must exit by itself to write its profile.
    this.child.kill(process.env.BENCH_PROFILE ? 'SIGTERM' : 'SIGKILL');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
    // BENCH_SERVER_OUTPUT=1: what the server printed (e.g. with BENCH_NODE_ARGS=--trace-gc) goes to bench/results/output/.
    if (process.env.BENCH_SERVER_OUTPUT) {
      const dir = join(ROOT, 'bench/results/output');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `${this.name.replace(/[^\w.-]+/g, '_')}.${this.child.pid}.log`), this.output);
    }
  }
}

/** Client processes sharing the connections of one run. */
export class Clients {
  static async start(processes) {
    const children = [];
    for (let i = 0; i < processes; i++) {
      const child = fork(CLIENT, [], {
        cwd: ROOT,
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        execArgv: ['--max-old-space-size=4096'],
      });
      await waitFor(child, 'hello');
      children.push(child);
    }
    return new Clients(children);
  }

  constructor(children) {
    this.children = children;
  }

  /**
   * Opens one connection per entry of `channels` (each entry: that connection's channels),
   * split across the processes. Returns opened/failed counts, elapsed time and handshake percentiles.
   */
  async open(options, channels, tokens) {
    const n = this.children.length;
    const split = (list) => this.children.map((_, i) => list.filter((__, k) => k % n === i));
    const parts = split(channels);
    const tokenParts = tokens === undefined ? undefined : split(tokens);
    const replies = await Promise.all(
      this.children.map((c, i) => ask(c, { cmd: 'open', ...options, channels: parts[i], tokens: tokenParts?.[i] }, 'opened', 600_000)),
    );
    return {
      opened: replies.reduce((a, r) => a + r.opened, 0),
      failed: replies.reduce((a, r) => a + r.failed, 0),
      firstError: replies.find((r) => r.firstError)?.firstError,
      elapsedMs: Math.max(...replies.map((r) => r.elapsedMs)),
      handshakeP50Ms: Math.max(...replies.map((r) => r.handshakeP50Ms)),
      handshakeP99Ms: Math.max(...replies.map((r) => r.handshakeP99Ms)),
    };
  }

  async reset() {
    await Promise.all(this.children.map((c) => ask(c, { cmd: 'reset' }, 'reset')));
  }

  /** Totals over all processes. */
  async count() {
    const replies = await Promise.all(this.children.map((c) => ask(c, { cmd: 'count' }, 'count')));
    return sum(replies);
  }

  /** Totals plus the merged latency histogram (ms percentiles). */
  async report() {
    const replies = await Promise.all(this.children.map((c) => ask(c, { cmd: 'report' }, 'report')));
    const merged = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
    for (const r of replies) merged.add(hdr.decodeFromCompressedBase64(r.histogram));
    return {
      ...sum(replies),
      p50Ms: merged.getValueAtPercentile(50) / 1000,
      p99Ms: merged.getValueAtPercentile(99) / 1000,
      maxMs: merged.maxValue / 1000,
    };
  }

  async close() {
    await Promise.all(this.children.map((c) => ask(c, { cmd: 'close' }, 'closed').catch(() => c.kill('SIGKILL'))));
  }
}

function sum(replies) {
  const total = { received: 0, lost: 0, dup: 0, errors: 0, closed: 0, answers: 0 };
  for (const r of replies) for (const k of Object.keys(total)) total[k] += r[k];
  return total;
}

function waitFor(child, cmd, timeoutMs = 30_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`client process: no ${cmd} in ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (m) => {
      if (m.cmd !== cmd) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(m);
    };
    const onExit = (code) => reject(new Error(`client process exited ${code}`));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

function ask(child, msg, reply, timeoutMs) {
  const answer = waitFor(child, reply, timeoutMs);
  child.send(msg);
  return answer;
}

/**
 * Publishes over HTTP: ours `POST /v1/publish` (bearer key), a baseline `POST /publish`.
 * Each message's data is `{s, t}`: its sequence in the channel and the publish time.
 */
export class Publisher {
  constructor(url, apiKey) {
    this.url = apiKey === undefined ? `${url}/publish` : `${url}/v1/publish`;
    this.headers = { 'Content-Type': 'application/json', ...(apiKey ? { Authorization: `Bearer ${apiKey}` } : {}) };
    this.seq = new Map();
    this.published = 0;
  }

  async publish(channel, extra) {
    const s = (this.seq.get(channel) ?? 0) + 1;
    this.seq.set(channel, s);
    const res = await fetch(this.url, {
      method: 'POST',
      headers: this.headers,
      body: JSON.stringify({ channel, data: { s, t: now(), ...extra } }),
    });
    if (res.status !== 200) throw new Error(`publish answered ${res.status}: ${await res.text()}`);
    await res.arrayBuffer();
    this.published++;
  }
}
