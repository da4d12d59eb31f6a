import { requireCoturn } from '@switchboard/testing';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

interface Candidate {
  type: string;
  address: string;
  port: number;
  relayProtocol?: string | null;
}
interface Signals {
  sent: number;
  acked: number;
  failed: number;
  kinds: Record<string, number>;
}
interface Peer {
  peer: string | null;
  readyError: { code: string | null; message: string } | null;
  open: boolean;
  errors: string[];
  candidateTypes: string[];
  candidateErrors: Array<{ code: number; url: string }>;
  states: string[];
}
interface RelayPeer extends Peer {
  received: string[];
  candidates: Array<{ type: string; address: string; port: number }>;
  signals: Signals;
  pair: {
    state: string;
    local: Candidate;
    remote: Candidate;
    /** Every candidate pair that carried bytes. */
    traffic: Array<{ local: Candidate; remote: Candidate; bytesSent: number; bytesReceived: number }>;
  } | null;
}
interface RefusedPeer extends Peer {
  signalingState: string | null;
  remoteDescription: string | null;
  iceConnectionState: string | null;
}
interface JoinOutcome {
  settled: string;
  code?: string | null;
  message?: string;
}
/** The one JSON line test/support/webrtc-scenario.mjs prints. */
interface ScenarioResult {
  error?: string;
  turnPort: number;
  relay: { room: string; openMs: number; relayPorts: { min: number; max: number }; peers: Record<'alice' | 'bob', RelayPeer> };
  metrics: { clientPublishes: Record<string, number>; logLines: Record<string, number> };
  refused: {
    room: string;
    gatheringDone: boolean;
    waitedMs: number;
    openedAfterMs: number | null;
    peers: Record<'carol' | 'dave', RefusedPeer>;
  };
  forbidden: Record<'listenOnly' | 'otherRoom', JoinOutcome>;
}

const root = join(__dirname, '..');
const script = join(__dirname, 'support', 'webrtc-scenario.mjs');
/**
 * The scenario stops itself after SCENARIO_DEADLINE_MS; the test kills it a little later. A
 * guard against a hung scenario, not a timing goal: it takes 15–40 s on a busy 2-core machine.
 */
const SCENARIO_DEADLINE_MS = 90_000;

/** Fails with one line saying what is missing (never skips). */
function requirePrerequisites(): void {
  if (process.getuid?.() !== 0) throw new Error('the WebRTC browser test runs in a private network namespace (unshare -n): run it as root');
  for (const tool of ['unshare', 'ip'])
    if (spawnSync(tool, ['--version'], { stdio: 'ignore' }).error) throw new Error(`${tool} is missing (util-linux / iproute2)`);
  requireCoturn();
  const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(chromium)) throw new Error(`${chromium} is missing: run scripts/setup-test-deps.sh`);
  for (const file of [
    'dist/apps/gateway/main.js',
    'dist/apps/gateway/public/switchboard-client.js',
    'dist/apps/gateway/public/switchboard-rtc.js',
  ])
    if (!existsSync(join(root, file))) throw new Error(`${file} is missing: run npm run build`);
}

/**
 * Two Chromium pages (separate contexts, microphone permission, loopback allowed in peer
 * connections) join one room through the SDK's `RtcRoom`, negotiate over the gateway and
 * open an RTCDataChannel relayed by a real coturn (`iceTransportPolicy: 'relay'`, credentials
 * from /v1/webrtc/ice-servers). The whole scenario — coturn, two built gateways on the memory
 * engine, Chromium — runs in test/support/webrtc-scenario.mjs inside a network namespace
 * that has only loopback (NOTES.md), and reports one JSON line asserted on here.
 */
describe('WebRTC: two real browsers', () => {
  let child: ChildProcess | undefined;
  let result: ScenarioResult;
  let stderr = '';

  beforeAll(async () => {
    requirePrerequisites();
    // Paths go in as positional parameters: nothing is interpolated into the shell command.
    const proc = spawn('unshare', ['-n', 'sh', '-c', 'ip link set lo up && exec "$0" "$1"', process.execPath, script], {
      cwd: root,
      env: { ...process.env, SCENARIO_DEADLINE_MS: String(SCENARIO_DEADLINE_MS) },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: afterAll kills the scenario and the servers it started at once.
      detached: true,
    });
    child = proc;
    let stdout = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | string | null>((resolve) => {
      const timer = setTimeout(() => {
        killGroup(proc);
        resolve('killed: no result in time');
      }, SCENARIO_DEADLINE_MS + 10_000);
      proc.once('exit', (c, signal) => {
        clearTimeout(timer);
        resolve(c ?? signal);
      });
    });
    const line = stdout.trim().split('\n').at(-1) ?? '';
    try {
      result = JSON.parse(line) as ScenarioResult;
    } catch {
      throw new Error(`scenario printed no result (exit ${code}): ${stdout}\n${stderr}`);
    }
    if (result.error !== undefined) throw new Error(`scenario failed (exit ${code}): ${result.error}\n${stderr}`);
    const { alice, bob } = result.relay.peers;
    console.log(
      `[webrtc] relay: data channel open after ${result.relay.openMs} ms, alice ${JSON.stringify(alice.pair?.local)} ⇄ bob ${JSON.stringify(bob.pair?.local)}, ` +
        `offers alice ${alice.signals.kinds.offer ?? 0} / bob ${bob.signals.kinds.offer ?? 0} (both > 0: glare resolved); ` +
        `wrong secret: ${JSON.stringify(result.refused.peers.carol.candidateErrors)}`,
    );
  }, SCENARIO_DEADLINE_MS + 15_000);

  afterAll(() => {
    if (child !== undefined) killGroup(child);
  });

  it('connects two relay-only pages through coturn and carries data-channel messages both ways', () => {
    const { relayPorts, peers } = result.relay;
    const { alice, bob } = peers;
    for (const [me, other] of [
      [alice, 'bob'],
      [bob, 'alice'],
    ] as const) {
      expect(me.readyError).toBeNull();
      expect(me.errors).toEqual([]);
      expect(me.peer).toBe(other);
      expect(me.open).toBe(true);
      expect(me.received).toEqual([1, 2, 3, 4, 5].map((i) => `${other} #${i}`));
      // Relay policy: only relayed candidates are gathered, and the pair in use is relay ⇄ relay
      // on coturn's relay ports (not a host port: the data went through coturn).
      expect(me.candidateTypes.length).toBeGreaterThan(0);
      expect(new Set(me.candidateTypes)).toEqual(new Set(['relay']));
      expect(me.pair).toMatchObject({ state: 'succeeded', local: { type: 'relay' }, remote: { type: 'relay' } });
      // The data went through coturn: every pair that carried bytes is relay ⇄ relay on its ports.
      const { traffic } = me.pair!;
      expect(traffic.length).toBeGreaterThan(0);
      expect(traffic.reduce((n, t) => n + t.bytesSent, 0)).toBeGreaterThan(0);
      expect(traffic.reduce((n, t) => n + t.bytesReceived, 0)).toBeGreaterThan(0);
      for (const c of [me.pair!.local, me.pair!.remote, ...traffic.flatMap((t) => [t.local, t.remote])]) {
        expect(c.type).toBe('relay');
        expect(c.port).toBeGreaterThanOrEqual(relayPorts.min);
        expect(c.port).toBeLessThanOrEqual(relayPorts.max);
      }
    }
    // Each side sends to a relayed address the other side allocated and signalled. (Each page
    // holds two allocations, over UDP and TCP to coturn; ICE may pick a different one per
    // direction, so the two selected pairs need not mirror each other.)
    for (const [me, other] of [
      [alice, bob],
      [bob, alice],
    ]) {
      const theirs = other.candidates.map((c) => c.port);
      for (const remote of [me.pair!.remote, ...me.pair!.traffic.map((t) => t.remote)]) expect(theirs).toContain(remote.port);
    }
  });

  it("does not connect relay-only pages whose TURN credentials come from a gateway with another secret than coturn's", () => {
    const { peers, gatheringDone, openedAfterMs, waitedMs } = result.refused;
    expect(waitedMs).toBeGreaterThanOrEqual(5000);
    // Both pages got coturn's answer (or finished gathering) before the wait began.
    expect(gatheringDone).toBe(true);
    for (const [me, other] of [
      [peers.carol, 'dave'],
      [peers.dave, 'carol'],
    ] as const) {
      // Signaling went through: each page knows the other and holds its description…
      expect(me.peer).toBe(other);
      expect(me.signalingState).toBe('stable');
      expect(me.remoteDescription).not.toBeNull();
      // …but coturn refused both allocations (401), so there is no candidate and no connection.
      expect(me.candidateTypes).toEqual([]);
      expect(me.candidateErrors).toEqual(
        expect.arrayContaining([
          { code: 401, url: `turn:127.0.0.1:${result.turnPort}?transport=udp` },
          { code: 401, url: `turn:127.0.0.1:${result.turnPort}?transport=tcp` },
        ]),
      );
      expect(me.open).toBe(false);
      expect(me.states).not.toContain('connected');
    }
    expect(openedAfterMs).toBeNull();
  });

  it("counts the signaling in the gateway's client publishes metric and logs each one on the rtc channel", () => {
    const { alice, bob } = result.relay.peers;
    for (const p of [alice, bob]) {
      expect(p.signals.failed).toBe(0);
      expect(p.signals.acked).toBe(p.signals.sent);
      expect(p.signals.kinds.hello).toBeGreaterThanOrEqual(1);
      expect(p.signals.kinds.candidate).toBeGreaterThanOrEqual(1);
    }
    expect((alice.signals.kinds.offer ?? 0) + (bob.signals.kinds.offer ?? 0)).toBeGreaterThanOrEqual(1);
    expect((alice.signals.kinds.answer ?? 0) + (bob.signals.kinds.answer ?? 0)).toBeGreaterThanOrEqual(1);
    // That gateway took no other client publish: the counter is exactly the room's signals.
    expect(result.metrics.clientPublishes).toEqual({ ws: alice.signals.acked + bob.signals.acked });
    expect(result.metrics.logLines).toEqual({ alice: alice.signals.acked, bob: bob.signals.acked });
  });

  it('refuses to join a room the token does not allow: new RtcRoom(…).ready rejects with forbidden', () => {
    // Forging `from` is covered at the protocol level in gateway-ws.e2e-spec.ts.
    // May listen (channels: rtc:*) but not signal (publish elsewhere): its hello is refused.
    expect(result.forbidden.listenOnly).toMatchObject({
      settled: 'rejected',
      code: 'forbidden',
      message: expect.stringContaining('publish'),
    });
    // May not even subscribe: before the fix `ready` never settled.
    expect(result.forbidden.otherRoom).toMatchObject({
      settled: 'rejected',
      code: 'forbidden',
      message: expect.stringContaining('subscribe'),
    });
  });
});

/** The scenario, and whatever it started that is still in its process group. */
function killGroup(proc: ChildProcess): void {
  if (proc.pid === undefined) return;
  try {
    process.kill(-proc.pid, 'SIGKILL');
  } catch {
    // Nothing left in the group.
  }
}
