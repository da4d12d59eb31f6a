// Two real Chromium pages join one WebRTC room through the SDK (`Switchboard.RtcRoom`, switchboard-rtc.js) and talk
// over an RTCDataChannel relayed by a real coturn; then the same with a gateway whose
// TURN_SECRET is not coturn's. Run by test/webrtc-browser.e2e-spec.ts INSIDE a private
// network namespace that has only loopback (../shared/NOTES.md: Chromium's mDNS/multicast
// must not leave the machine), and refuses to run anywhere else:
//
//   unshare -n sh -c 'ip link set lo up && exec node_modules/.bin/node test/support/webrtc-scenario.mjs'
//
// Everything runs in here: coturn, two built gateways (dist/apps/gateway/main.js, memory
// engine: the shared NATS/Redis are not reachable in the namespace) and Chromium. The
// script signs its own tokens with a secret it makes up, prints ONE JSON line on stdout
// (what the jest test asserts on; progress goes to stderr), stops everything it started
// and exits by itself within SCENARIO_DEADLINE_MS.
import { spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DEADLINE_MS = Number(process.env.SCENARIO_DEADLINE_MS ?? 90_000);
/** coturn's relay ports: a relayed candidate must use one of these (it is coturn's, not a host port). */
const RELAY_PORTS = { min: 40000, max: 40199 };
const MESSAGES = 5;
/** How long relay-only pages with refused TURN credentials get to connect (they must not). */
const REFUSED_WAIT_MS = Number(process.env.SCENARIO_REFUSED_WAIT_MS ?? 6000);

const log = (...args) => console.error('[webrtc-scenario]', ...args);
const cleanups = [];

async function cleanup() {
  for (const fn of cleanups.splice(0).reverse()) {
    try {
      await fn();
    } catch (err) {
      log('cleanup:', err.message);
    }
  }
}

let finished = false;
function finish(result, code) {
  if (finished) return;
  finished = true;
  process.stdout.write(JSON.stringify(result) + '\n');
  void cleanup().finally(() => process.exit(code));
}

const deadline = setTimeout(() => finish({ error: `scenario deadline (${DEADLINE_MS} ms) passed` }, 2), DEADLINE_MS);

/** Waits for `check()` to return a truthy value; throws `what` after `timeoutMs`. */
async function until(what, check, timeoutMs, intervalMs = 50) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await sleep(intervalMs);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(port, '127.0.0.1', () => done(true));
  });
}

/** An HS256 client token as the gateway expects it. */
function signToken(secret, claims) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ iat: now, exp: now + 600, ...claims })}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

function trackChild(name, child) {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.race([exited, sleep(2000)]);
  });
  child.once('exit', (code, signal) => log(`${name} exited (${code ?? signal})`));
  return child;
}

/** coturn on 127.0.0.1 with the REST-API shared secret (use-auth-secret), flags from NOTES.md. */
async function startCoturn(secret) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'sb-rtc-turn-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  // The secret in a config file, as the chart passes it (never on the command line).
  const config = join(dir, 'turnserver.conf');
  writeFileSync(config, `static-auth-secret=${secret}\n`, { mode: 0o600 });
  const child = trackChild(
    'turnserver',
    spawn(
      'turnserver',
      [
        '-c',
        config,
        '--listening-ip=127.0.0.1',
        `--listening-port=${port}`,
        '--relay-ip=127.0.0.1',
        `--min-port=${RELAY_PORTS.min}`,
        `--max-port=${RELAY_PORTS.max}`,
        '--use-auth-secret',
        '--realm=switchboard.test',
        '--allow-loopback-peers',
        '--no-tls',
        '--no-dtls',
        '--no-cli',
        `--pidfile=${join(dir, 'turn.pid')}`,
        `--db=${join(dir, 'turn.db')}`,
        '--log-file=stdout',
      ],
      { stdio: 'ignore' },
    ),
  );
  // coturn listens on TCP and UDP on the same port: TCP accepting means it is up.
  await until(
    'coturn listening',
    async () => (child.exitCode !== null ? Promise.reject(new Error('turnserver exited')) : canConnect(port)),
    10_000,
  );
  return { port };
}

/**
 * A built gateway (memory engine: no NATS_URL/REDIS_URL) at LOG_LEVEL=debug, so client publishes
 * are logged, with the inspector on: the pages load the SDK bundle from it.
 */
async function startGateway(name, env) {
  const port = await freePort();
  const main = join(root, 'dist/apps/gateway/main.js');
  const child = trackChild(
    name,
    spawn(process.execPath, [main], {
      env: {
        PATH: process.env.PATH,
        HOST: '127.0.0.1',
        PORT: String(port),
        LOG_LEVEL: 'debug',
        DRAIN_SECONDS: '1',
        INSPECTOR_ENABLED: 'true',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  const lines = [];
  let partial = '';
  child.stdout.on('data', (d) => {
    const text = partial + d.toString();
    const parts = text.split('\n');
    partial = parts.pop();
    lines.push(...parts);
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  await until(
    `${name} ready`,
    async () => {
      if (child.exitCode !== null) throw new Error(`${name} exited: ${stderr}${lines.join('\n')}`);
      try {
        return (await fetch(`${url}/readyz`)).status === 200;
      } catch {
        return false;
      }
    },
    20_000,
    100,
  );
  return {
    url,
    /** Parsed JSON log lines so far. */
    logs: () =>
      lines.flatMap((l) => {
        try {
          return [JSON.parse(l)];
        } catch {
          return [];
        }
      }),
  };
}

/**
 * Runs in the page (the inspector page, which loads the SDK bundle: global `Switchboard`):
 * connects, joins the room with the SDK, creates the data channel and records what happens
 * in `window.__rtc`. Each side creates the same negotiated channel (id 0), so both want to
 * offer: perfect negotiation's glare path is part of every run.
 */
async function joinRoom({ token, room, relayOnly }) {
  const s = {
    peer: null,
    readyError: null,
    errors: [],
    signals: { sent: 0, acked: 0, failed: 0, kinds: {} },
    candidateTypes: [],
    /** What this page gathered (and signalled): type, address, port. */
    candidates: [],
    candidateErrors: [],
    gatheringDone: false,
    states: [],
    open: false,
    received: [],
  };
  window.__rtc = s;
  const client = window.Switchboard.connect(location.origin, { token, transports: ['websocket'] });
  window.__client = client;
  // Count the signals the room helper publishes (compared with the gateway's metrics).
  const publish = client.publish.bind(client);
  client.publish = async (channel, data, options) => {
    s.signals.sent++;
    s.signals.kinds[data.kind] = (s.signals.kinds[data.kind] ?? 0) + 1;
    try {
      const offset = await publish(channel, data, options);
      s.signals.acked++;
      return offset;
    } catch (err) {
      s.signals.failed++;
      throw err;
    }
  };
  const rtc = new window.Switchboard.RtcRoom(client, room, relayOnly ? { configuration: { iceTransportPolicy: 'relay' } } : {});
  window.__room = rtc;
  rtc.on('error', (err) => s.errors.push(String(err?.message ?? err)));
  rtc.on('peer', (peer) => (s.peer = peer));
  let pc;
  try {
    pc = await rtc.ready;
  } catch (err) {
    s.readyError = { code: err.code ?? null, message: String(err.message) };
    return;
  }
  window.__pc = pc;
  pc.addEventListener('icecandidate', (e) => {
    if (e.candidate) {
      s.candidateTypes.push(e.candidate.type);
      s.candidates.push({ type: e.candidate.type, address: e.candidate.address, port: e.candidate.port });
    } else s.gatheringDone = true;
  });
  pc.addEventListener('icecandidateerror', (e) => s.candidateErrors.push({ code: e.errorCode, url: e.url }));
  pc.addEventListener('connectionstatechange', () => s.states.push(pc.connectionState));
  const dc = pc.createDataChannel('chat', { negotiated: true, id: 0 });
  window.__dc = dc;
  dc.onopen = () => (s.open = true);
  dc.onmessage = (e) => s.received.push(e.data);
}

/** Runs in the page: the selected candidate pair from getStats. */
async function selectedPair() {
  const stats = await window.__pc.getStats();
  let pairId;
  stats.forEach((r) => {
    if (r.type === 'transport' && r.selectedCandidatePairId) pairId = r.selectedCandidatePairId;
  });
  const pair = pairId === undefined ? undefined : stats.get(pairId);
  if (pair === undefined) return null;
  const local = stats.get(pair.localCandidateId);
  const remote = stats.get(pair.remoteCandidateId);
  // Every pair that carried data (ICE may move to another pair after the messages went).
  const traffic = [];
  stats.forEach((r) => {
    if (r.type !== 'candidate-pair' || (r.bytesSent ?? 0) + (r.bytesReceived ?? 0) === 0) return;
    const l = stats.get(r.localCandidateId);
    const rm = stats.get(r.remoteCandidateId);
    traffic.push({
      local: { type: l.candidateType, port: l.port },
      remote: { type: rm.candidateType, port: rm.port },
      bytesSent: r.bytesSent,
      bytesReceived: r.bytesReceived,
    });
  });
  return {
    state: pair.state,
    local: { type: local.candidateType, address: local.address, port: local.port, relayProtocol: local.relayProtocol ?? null },
    remote: { type: remote.candidateType, address: remote.address, port: remote.port },
    traffic,
  };
}

/**
 * The selected pair once its own connectivity check has succeeded: ICE may select a pair on
 * the other side's check while this side's is still in progress (seen under load).
 */
async function settledPair(page) {
  let pair = null;
  await until(
    'selected pair succeeded',
    async () => {
      pair = await page.evaluate(selectedPair);
      return pair?.state === 'succeeded';
    },
    5000,
    100,
  ).catch(() => undefined);
  return pair;
}

const pageState = (page) => page.evaluate(() => window.__rtc);

/** Two pages, each in its own browser context with the microphone permission, joined to `room`. */
async function twoPeers(browser, gateway, jwtSecret, room, subs) {
  const pages = [];
  for (const sub of subs) {
    const context = await browser.newContext({ permissions: ['microphone'] });
    cleanups.push(() => context.close());
    const page = await context.newPage();
    page.on('pageerror', (err) => log(`${sub} page error:`, err.message));
    await page.goto(`${gateway.url}/inspect`);
    const token = signToken(jwtSecret, { sub, channels: [`rtc:${room}`], publish: [`rtc:${room}`] });
    pages.push({ sub, page, token });
  }
  await Promise.all(pages.map(({ page, token }) => page.evaluate(joinRoom, { token, room, relayOnly: true })));
  return pages;
}

async function relayCase(browser, gateway, jwtSecret) {
  const room = `call-${randomBytes(4).toString('hex')}`;
  const started = Date.now();
  const [a, b] = await twoPeers(browser, gateway, jwtSecret, room, ['alice', 'bob']);
  const bothOpen = async () => (await pageState(a.page)).open && (await pageState(b.page)).open;
  let opened = true;
  try {
    await until('data channel open on both pages', bothOpen, 15_000);
  } catch {
    opened = false;
  }
  const openMs = Date.now() - started;
  if (opened) {
    for (const p of [a, b])
      await p.page.evaluate(
        ({ sub, n }) => {
          for (let i = 1; i <= n; i++) window.__dc.send(`${sub} #${i}`);
        },
        { sub: p.sub, n: MESSAGES },
      );
    await until(
      'messages both ways',
      async () => (await pageState(a.page)).received.length >= MESSAGES && (await pageState(b.page)).received.length >= MESSAGES,
      5000,
    ).catch(() => undefined);
  }
  // Every signal acknowledged (none in flight) before the gateway's counter is read.
  const settled = async () => {
    const [sa, sb] = [await pageState(a.page), await pageState(b.page)];
    return sa.signals.sent === sa.signals.acked + sa.signals.failed && sb.signals.sent === sb.signals.acked + sb.signals.failed;
  };
  await until('signals acknowledged', settled, 5000).catch(() => undefined);
  const peers = {};
  for (const p of [a, b]) {
    const s = await pageState(p.page);
    peers[p.sub] = {
      peer: s.peer,
      readyError: s.readyError,
      open: s.open,
      received: s.received,
      errors: s.errors,
      signals: s.signals,
      candidateTypes: s.candidateTypes,
      candidates: s.candidates,
      candidateErrors: s.candidateErrors,
      states: s.states,
      pair: s.open ? await settledPair(p.page) : null,
    };
  }
  return { room, openMs, relayPorts: RELAY_PORTS, peers };
}

async function refusedCase(browser, gateway, jwtSecret) {
  const room = `call-${randomBytes(4).toString('hex')}`;
  const [a, b] = await twoPeers(browser, gateway, jwtSecret, room, ['carol', 'dave']);
  // Signaling works (descriptions exchanged), gathering ends with no relayed candidate,
  // then the pages get REFUSED_WAIT_MS more to connect anyway.
  // Refused: both allocations (UDP and TCP) answered 401 on both pages, or gathering ended.
  // (On a loaded machine Chromium can take long to declare gathering complete after the 401s.)
  const refusedOrDone = (st) => st.gatheringDone || st.candidateErrors.filter((e) => e.code === 401).length >= 2;
  const gathered = async () => {
    const [sa, sb] = [await pageState(a.page), await pageState(b.page)];
    return refusedOrDone(sa) && refusedOrDone(sb);
  };
  const gatheringDone = await until('gathering done', gathered, 15_000)
    .then(() => true)
    .catch(() => false);
  const waitStart = Date.now();
  const openedAt = await until(
    'data channel open (must not happen)',
    async () => (await pageState(a.page)).open || (await pageState(b.page)).open,
    REFUSED_WAIT_MS,
  )
    .then(() => Date.now() - waitStart)
    .catch(() => null);
  const peers = {};
  for (const p of [a, b]) {
    const s = await pageState(p.page);
    const negotiation = await p.page.evaluate(() => ({
      signalingState: window.__pc?.signalingState ?? null,
      remoteDescription: window.__pc?.remoteDescription?.type ?? null,
      iceConnectionState: window.__pc?.iceConnectionState ?? null,
    }));
    peers[p.sub] = {
      peer: s.peer,
      readyError: s.readyError,
      open: s.open,
      errors: s.errors,
      candidateTypes: s.candidateTypes,
      candidateErrors: s.candidateErrors,
      states: s.states,
      ...negotiation,
    };
  }
  return { room, gatheringDone, waitedMs: REFUSED_WAIT_MS, openedAfterMs: openedAt, peers };
}

/**
 * Tokens that may not signal in the room: subscribe-only (`channels: rtc:*`, publish elsewhere)
 * and neither. The SDK's `ready` must reject with the gateway's `forbidden`, not hang.
 */
async function forbiddenCase(browser, gateway, jwtSecret) {
  const room = `call-${randomBytes(4).toString('hex')}`;
  const context = await browser.newContext({ permissions: ['microphone'] });
  cleanups.push(() => context.close());
  const results = {};
  const tokens = {
    listenOnly: signToken(jwtSecret, { sub: 'mallory', channels: ['rtc:*'], publish: ['rtc:mallory-only'] }),
    otherRoom: signToken(jwtSecret, { sub: 'mallory', channels: ['rtc:mallory-only'], publish: ['rtc:mallory-only'] }),
  };
  for (const [name, token] of Object.entries(tokens)) {
    const page = await context.newPage();
    await page.goto(`${gateway.url}/inspect`);
    // Bounded: a `ready` that never settles is reported as such.
    results[name] = await page.evaluate(
      async ({ token, room }) => {
        const client = window.Switchboard.connect(location.origin, { token, transports: ['websocket'] });
        const rtc = new window.Switchboard.RtcRoom(client, room);
        const outcome = await Promise.race([
          rtc.ready.then(
            () => ({ settled: 'resolved' }),
            (err) => ({ settled: 'rejected', code: err.code ?? null, message: String(err.message) }),
          ),
          new Promise((r) => setTimeout(() => r({ settled: 'pending after 5 s' }), 5000)),
        ]);
        rtc.close();
        client.close();
        return outcome;
      },
      { token, room },
    );
    await page.close();
  }
  return results;
}

/** `switchboard_client_publishes_total` by transport, from the gateway's /metrics. */
async function clientPublishes(gateway) {
  const text = await (await fetch(`${gateway.url}/metrics`)).text();
  const counts = {};
  for (const m of text.matchAll(/^switchboard_client_publishes_total\{transport="([^"]+)"\} (\d+)/gm)) counts[m[1]] = Number(m[2]);
  return counts;
}

/** The gateway's debug `client publish` lines for one channel, counted by sender. */
function publishLogLines(gateway, channel) {
  const bySender = {};
  for (const l of gateway.logs()) if (l.msg === 'client publish' && l.channel === channel) bySender[l.from] = (bySender[l.from] ?? 0) + 1;
  return bySender;
}

async function main() {
  const interfaces = Object.keys(networkInterfaces());
  if (interfaces.some((name) => name !== 'lo')) {
    throw new Error(
      `refusing to run outside a loopback-only network namespace (interfaces: ${interfaces.join(', ')}); run: unshare -n sh -c 'ip link set lo up && exec <node> ${fileURLToPath(import.meta.url)}'`,
    );
  }
  for (const file of ['dist/apps/gateway/main.js', 'dist/apps/gateway/public/switchboard-client.js', 'dist/apps/gateway/public/switchboard-rtc.js'])
    if (!existsSync(join(root, file))) throw new Error(`${file} is missing: run npm run build`);

  const jwtSecret = randomBytes(32).toString('hex');
  const turnSecret = randomBytes(16).toString('hex');
  const turn = await startCoturn(turnSecret);
  const urls = {
    TURN_URLS: `turn:127.0.0.1:${turn.port}?transport=udp,turn:127.0.0.1:${turn.port}?transport=tcp`,
    STUN_URLS: `stun:127.0.0.1:${turn.port}`,
    TURN_TTL_SECONDS: '600',
  };
  const [good, wrong] = await Promise.all([
    startGateway('gateway', { JWT_SECRET: jwtSecret, TURN_SECRET: turnSecret, ...urls }),
    startGateway('gateway-wrong-secret', { JWT_SECRET: jwtSecret, TURN_SECRET: `not-${turnSecret}`, ...urls }),
  ]);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    // The flags of ../shared/NOTES.md, shared with test/support/browser.ts.
    args: [...JSON.parse(readFileSync(join(root, 'test/support/chromium-args.json'), 'utf8')), '--allow-loopback-in-peer-connection'],
  });
  cleanups.push(() => browser.close());
  log('servers up; relay case');

  const relay = await relayCase(browser, good, jwtSecret);
  const metrics = { clientPublishes: await clientPublishes(good), logLines: publishLogLines(good, `rtc:${relay.room}`) };
  log('refused case');
  const refused = await refusedCase(browser, wrong, jwtSecret);
  log('forbidden case');
  const forbidden = await forbiddenCase(browser, good, jwtSecret);
  return { turnPort: turn.port, relay, metrics, refused, forbidden };
}

main().then(
  (result) => {
    clearTimeout(deadline);
    finish(result, 0);
  },
  (err) => {
    clearTimeout(deadline);
    finish({ error: String(err?.stack ?? err) }, 1);
  },
);
