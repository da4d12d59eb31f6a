import { Coturn, freePort } from '@switchboard/testing';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { turnCredential } from '../../apps/gateway/src/webrtc/ice-servers.controller';
import { chartDir, helm, helmTemplate, k8sTools, Manifest } from './support/tools';
import { serviceDeployments } from './support/workload-suite';
import { podTemplates, PodTemplate, resolveEnv } from './support/workloads';

/** The chart's optional coturn (coturn.enabled). The Kubernetes-schema and lockdown checks run in chart.e2e-spec.ts (everything-values enables it). */

const COMPONENT = 'app.kubernetes.io/component';
const coturnPod = (manifests: Manifest[]): PodTemplate | undefined => podTemplates(manifests).find((p) => p.labels[COMPONENT] === 'coturn');
const coturnObjects = (manifests: Manifest[]): Manifest[] => manifests.filter((m) => m.metadata.labels?.[COMPONENT] === 'coturn');

interface ServicePort {
  name: string;
  port: number;
  targetPort: string | number;
  protocol: string;
}

/** The gateway container's environment, secrets resolved. */
function gatewayEnv(manifests: Manifest[]): Record<string, string> {
  const pod = serviceDeployments(manifests).get('gateway')!;
  const resolved = resolveEnv(pod, pod.spec.containers[0], manifests);
  resolved.cleanup();
  return resolved.env;
}

beforeAll(() => {
  k8sTools();
});

describe('coturn off (the default)', () => {
  it('renders no coturn object, and the gateway lists no STUN or TURN server', () => {
    const manifests = helmTemplate(['ci/minimal-values.yaml'], ['gateway.webrtc.turnSecret=a-turn-secret']);
    expect(coturnObjects(manifests)).toEqual([]);
    const env = gatewayEnv(manifests);
    expect(env.TURN_SECRET).toBe('a-turn-secret');
    expect(env.TURN_URLS).toBeUndefined();
    expect(env.STUN_URLS).toBeUndefined();
  });
});

describe('coturn with everything-values', () => {
  let manifests: Manifest[];
  beforeAll(() => {
    manifests = helmTemplate(['ci/everything-values.yaml']);
  });

  it('runs one turnserver (no shell entrypoint) with the gateway’s TURN_SECRET, realm, external IP, relay range, quotas and peer deny list', () => {
    const pod = coturnPod(manifests)!;
    expect(pod.owner.kind).toBe('Deployment');
    expect(pod.owner.spec).toMatchObject({ replicas: 1, strategy: { type: 'Recreate' } });
    const container = pod.spec.containers[0];
    expect(container.image).toBe('docker.io/coturn/coturn@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef');
    expect(container.command).toEqual(['turnserver']);
    const args = container.args!;
    expect(args).toEqual(
      expect.arrayContaining([
        '--listening-port=3478',
        '--min-port=50000',
        '--max-port=50019',
        '--external-ip=203.0.113.10/10.0.3.7',
        '--realm=example.com',
        '--use-auth-secret',
        '--no-cli',
        '--denied-peer-ip=10.0.0.0-10.255.255.255',
        '--denied-peer-ip=169.254.0.0-169.254.255.255',
        '--user-quota=12',
        '--total-quota=18',
        '--max-bps=1250000',
        '--bps-capacity=0',
        '--max-allocate-lifetime=600',
      ]),
    );
    // The secret is in a file (-c), never on the command line (`ps` shows it to every user of the node).
    expect(args.slice(0, 2)).toEqual(['-c', '/run/coturn/turnserver.conf']);
    expect(args.filter((a) => /secret|TURN_SECRET/i.test(a) && a !== '--use-auth-secret')).toEqual([]);
    expect(container.env ?? []).toEqual([]);
    expect(container.volumeMounts).toContainEqual({ name: 'config', mountPath: '/run/coturn', readOnly: true });
    // The init container writes it there, into memory, from the gateway's Secret.
    const init = pod.spec.initContainers!;
    expect(init.map((c) => c.name)).toEqual(['secret-file']);
    expect(init[0].image).toBe(container.image);
    expect(init[0].volumeMounts).toEqual([{ name: 'config', mountPath: '/run/coturn' }]);
    expect(pod.spec.volumes).toContainEqual({ name: 'config', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } });
    // The same secret the gateway signs credentials with, from the same Secret.
    const resolved = resolveEnv(pod, init[0], manifests);
    resolved.cleanup();
    expect(resolved.env.TURN_SECRET).toBe('everything-turn-secret');
    expect(resolved.env.TURN_SECRET).toBe(gatewayEnv(manifests).TURN_SECRET);
    // A new secret restarts coturn (the Secret is the chart's, not existingSecret).
    const rotated = coturnPod(helmTemplate(['ci/everything-values.yaml'], ['gateway.webrtc.turnSecret=a-rotated-secret']))!;
    expect(pod.annotations['checksum/secret']).toMatch(/^[0-9a-f]{64}$/);
    expect(rotated.annotations['checksum/secret']).not.toBe(pod.annotations['checksum/secret']);
  });

  it('exposes the listening port over UDP and TCP and every relay port over UDP, keeping client addresses', () => {
    const service = coturnObjects(manifests).find((m) => m.kind === 'Service')!;
    const spec = service.spec as { type: string; externalTrafficPolicy?: string; ports: ServicePort[] };
    expect(spec.type).toBe('LoadBalancer');
    expect(spec.externalTrafficPolicy).toBe('Local');
    expect(service.metadata.annotations).toEqual({ 'service.beta.kubernetes.io/aws-load-balancer-type': 'nlb' });
    expect(spec.ports.slice(0, 2)).toEqual([
      { name: 'turn-udp', port: 3478, targetPort: 'turn-udp', protocol: 'UDP' },
      { name: 'turn-tcp', port: 3478, targetPort: 'turn-tcp', protocol: 'TCP' },
    ]);
    const relay = spec.ports.slice(2);
    expect(relay.map((p) => p.port)).toEqual(Array.from({ length: 20 }, (_, i) => 50000 + i));
    expect(relay.every((p) => p.protocol === 'UDP' && p.targetPort === p.port && p.name === `relay-${p.port}`)).toBe(true);
  });

  it('lets in only those ports through its NetworkPolicy', () => {
    const policy = coturnObjects(manifests).find((m) => m.kind === 'NetworkPolicy')!;
    expect(policy.spec).toMatchObject({
      policyTypes: ['Ingress'],
      ingress: [
        {
          ports: [
            { port: 'turn-udp', protocol: 'UDP' },
            { port: 'turn-tcp', protocol: 'TCP' },
            { port: 50000, endPort: 50019, protocol: 'UDP' },
          ],
        },
      ],
    });
    expect((policy.spec as { ingress: Array<{ from?: unknown }> }).ingress[0].from).toBeUndefined();
  });
});

describe('coturn settings', () => {
  it('reads the shared secret from existingSecret when the values give none, and never as optional', () => {
    const manifests = helmTemplate(['ci/minimal-values.yaml'], ['coturn.enabled=true', 'existingSecret=my-secrets']);
    const env = coturnPod(manifests)!.spec.initContainers![0].env!;
    expect(env).toEqual([{ name: 'TURN_SECRET', valueFrom: { secretKeyRef: { name: 'my-secrets', key: 'TURN_SECRET' } } }]);
  });

  it('limits allocations and bandwidth by default: per user, in total (one per relay port) and per second', () => {
    const manifests = helmTemplate(['ci/minimal-values.yaml'], ['coturn.enabled=true', 'gateway.webrtc.turnSecret=a-turn-secret']);
    const args = coturnPod(manifests)!.spec.containers[0].args!;
    expect(args.filter((a) => /^--(user-quota|total-quota|max-bps|bps-capacity)=/.test(a))).toEqual([
      '--user-quota=10',
      '--total-quota=41',
      '--max-bps=625000',
      '--bps-capacity=25000000',
    ]);
  });

  it('points the gateway at coturn when it has no STUN/TURN URLs: publicHost, else externalIp, else the Service name', () => {
    const base = ['coturn.enabled=true', 'gateway.webrtc.turnSecret=a-turn-secret', 'coturn.port=3479'];
    const urls = (set: string[]): [string | undefined, string | undefined] => {
      const env = gatewayEnv(helmTemplate(['ci/minimal-values.yaml'], [...base, ...set]));
      return [env.STUN_URLS, env.TURN_URLS];
    };
    expect(urls(['coturn.publicHost=turn.example.com', 'coturn.externalIp=198.51.100.4'])).toEqual([
      'stun:turn.example.com:3479',
      'turn:turn.example.com:3479?transport=udp,turn:turn.example.com:3479?transport=tcp',
    ]);
    expect(urls(['coturn.externalIp=198.51.100.4/10.1.2.3'])).toEqual([
      'stun:198.51.100.4:3479',
      'turn:198.51.100.4:3479?transport=udp,turn:198.51.100.4:3479?transport=tcp',
    ]);
    expect(urls([])).toEqual([
      'stun:sb-switchboard-coturn.realtime.svc:3479',
      'turn:sb-switchboard-coturn.realtime.svc:3479?transport=udp,turn:sb-switchboard-coturn.realtime.svc:3479?transport=tcp',
    ]);
    // URLs given in values win.
    expect(
      urls(['gateway.webrtc.turnUrls[0]=turns:turn.example.net:443', 'gateway.webrtc.stunUrls[0]=stun:stun.example.net:3478']),
    ).toEqual(['stun:stun.example.net:3478', 'turns:turn.example.net:443']);
  });

  it('uses a ClusterIP Service without an external traffic policy when asked', () => {
    const manifests = helmTemplate(
      ['ci/minimal-values.yaml'],
      ['coturn.enabled=true', 'gateway.webrtc.turnSecret=a-turn-secret', 'coturn.service.type=ClusterIP'],
    );
    expect(coturnObjects(manifests).find((m) => m.kind === 'Service')!.spec).not.toHaveProperty('externalTrafficPolicy');
  });

  it.each([
    [['coturn.enabled=true'], 'coturn.enabled needs a shared secret'],
    [
      ['coturn.enabled=true', 'gateway.webrtc.turnSecret=s', 'coturn.relayPorts.min=50010', 'coturn.relayPorts.max=50000'],
      'min is greater than',
    ],
    [
      ['coturn.enabled=true', 'gateway.webrtc.turnSecret=s', 'coturn.relayPorts.min=40000', 'coturn.relayPorts.max=41000'],
      'more than 1000 ports',
    ],
    [['coturn.enabled=true', 'gateway.webrtc.turnSecret=s', 'coturn.port=49170'], 'coturn.port lies inside coturn.relayPorts'],
  ])('%j fails the render saying what to set', (set, message) => {
    const result = helm(['template', 'sb', chartDir, ...set.flatMap((pair) => ['--set', pair])]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(message);
  });

  it.each([
    ['a host name as externalIp', ['coturn.externalIp=turn.example.com'], '/coturn/externalIp'],
    ['a relay port below 1024', ['coturn.relayPorts.min=80'], '/coturn/relayPorts/min'],
    ['a peer range that is not one', ['coturn.deniedPeerIps[0]=10.0.0.0/8'], '/coturn/deniedPeerIps/0'],
    ['an unknown key', ['coturn.replicaCount=3'], 'replicaCount'],
  ])('values.schema.json rejects %s', (_what, set, mentioned) => {
    const result = helm(['template', 'sb', chartDir, ...set.flatMap((pair) => ['--set', pair])]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(mentioned);
  });
});

/**
 * The rendered command line on a real turnserver: every flag is one coturn knows (it exits on
 * an unknown one), the credentials the gateway issues from the same Secret are accepted, and
 * the peer deny list keeps relayed traffic away from private and loopback addresses.
 * Test-only additions: listen and relay on 127.0.0.1 (a shared machine), and coturn's own
 * loopback block lifted, so what refuses a loopback peer is the chart's deny list.
 */
describe('the rendered coturn on a real turnserver', () => {
  const running: Coturn[] = [];
  afterAll(() => running.forEach((t) => t.stop()));

  /**
   * What the kubelet does with the coturn pod: the init container's command with its env (it
   * writes the secret file), then turnserver with the container's args. The pod's volumes
   * (/tmp and /run/coturn, both emptyDirs) are one temp dir.
   */
  const runPod = (manifests: Manifest[]): { args: string[]; dir: string; init: { status: number | null; stderr: string } } => {
    const pod = coturnPod(manifests)!;
    const dir = mkdtempSync(join(tmpdir(), 'sb-chart-turn-'));
    const volumes = (text: string): string => text.replace(/\/run\/coturn\//g, `${dir}/`).replace(/=\/tmp\//, `=${dir}/`);
    const init = pod.spec.initContainers![0];
    const initEnv = resolveEnv(pod, init, manifests);
    initEnv.cleanup();
    const ran = spawnSync(init.command![0], init.command!.slice(1).map(volumes), {
      env: { PATH: process.env.PATH, ...initEnv.env },
      encoding: 'utf8',
      timeout: 10_000,
    });
    const container = pod.spec.containers[0];
    expect(container.command).toEqual(['turnserver']);
    return { args: container.args!.map(volumes), dir, init: { status: ran.status, stderr: ran.stderr } };
  };

  const start = async (set: string[]): Promise<{ turn: Coturn; gatewaySecret: string }> => {
    const port = await freePort();
    const manifests = helmTemplate(
      ['ci/minimal-values.yaml'],
      [
        'coturn.enabled=true',
        'gateway.webrtc.turnSecret=chart-turn-secret',
        `coturn.port=${port}`,
        // Below Linux's ephemeral range (32768–60999), where freePort() never lands.
        'coturn.relayPorts.min=31100',
        'coturn.relayPorts.max=31199',
        'coturn.externalIp=127.0.0.1',
        ...set,
      ],
    );
    const { args, dir, init } = runPod(manifests);
    expect(init).toEqual({ status: 0, stderr: '' });
    const turn = await Coturn.launch([...args, '--listening-ip=127.0.0.1', '--relay-ip=127.0.0.1', '--allow-loopback-peers'], port, dir);
    running.push(turn);
    return { turn, gatewaySecret: gatewayEnv(manifests).TURN_SECRET };
  };

  it('accepts the gateway’s credentials, refuses a wrong secret, and relays to no loopback peer', async () => {
    const { turn, gatewaySecret } = await start([]);
    expect(turn.running).toBe(true);
    const { username, credential } = turnCredential(gatewaySecret, 'alice', Math.floor(Date.now() / 1000) + 600);
    const accepted = await turn.allocate(username, credential);
    expect(accepted.output).not.toContain('Cannot complete Allocation');
    // turnutils_uclient relays to its own relayed address, 127.0.0.1: the deny list refuses it.
    expect(accepted.output).toContain('403 (Forbidden IP)');
    expect(accepted.ok).toBe(false);
    const wrong = turnCredential('not-the-chart-secret', 'alice', Math.floor(Date.now() / 1000) + 600);
    expect((await turn.allocate(wrong.username, wrong.credential)).output).toContain('Cannot complete Allocation');
    expect(turn.running).toBe(true);
  }, 30_000);

  it('reads the secret from its file: not on its command line (ps), and the file is readable by its user only', async () => {
    const { turn, gatewaySecret } = await start([]);
    const cmdline = readFileSync(`/proc/${turn.pid}/cmdline`, 'utf8').split('\0').join(' ');
    expect(cmdline).toContain('turnserver.conf');
    expect(cmdline).not.toContain(gatewaySecret);
    expect(readFileSync(`/proc/${turn.pid}/environ`, 'utf8')).not.toContain(gatewaySecret);
    const config = cmdline.split(' ')[cmdline.split(' ').indexOf('-c') + 1];
    expect(statSync(config).mode & 0o777).toBe(0o600);
    expect(readFileSync(config, 'utf8')).toBe(`static-auth-secret=${gatewaySecret}\n`);
  }, 30_000);

  it('agrees with the gateway on a secret with spaces, #, = and quotes inside', async () => {
    const { turn, gatewaySecret } = await start(['coturn.deniedPeerIps=null', 'gateway.webrtc.turnSecret=in side #1 a=b "c"d']);
    expect(gatewaySecret).toBe('in side #1 a=b "c"d');
    const { username, credential } = turnCredential(gatewaySecret, 'alice', Math.floor(Date.now() / 1000) + 600);
    expect((await turn.allocate(username, credential)).ok).toBe(true);
  }, 30_000);

  it.each([
    ['a leading space', ' secret'],
    ['a trailing space', 'secret '],
    ['surrounding double quotes', '"secret"'],
    ['a line break', 'sec\nret'],
  ])('refuses a secret with %s (coturn would read another one from its file)', (_what, secret) => {
    const manifests = helmTemplate(['ci/minimal-values.yaml'], ['coturn.enabled=true', 'existingSecret=my-secrets']);
    const pod = coturnPod(manifests)!;
    const dir = mkdtempSync(join(tmpdir(), 'sb-chart-turn-'));
    try {
      const command = pod.spec.initContainers![0].command!.map((c) => c.replace(/\/run\/coturn\//g, `${dir}/`));
      const ran = spawnSync(command[0], command.slice(1), { env: { PATH: process.env.PATH, TURN_SECRET: secret }, encoding: 'utf8' });
      expect(ran.status).not.toBe(0);
      expect(ran.stderr).toContain('coturn cannot read it from its config file');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('enforces the per-user allocation quota (the same run passes with the default quota below)', async () => {
    const { turn, gatewaySecret } = await start(['coturn.deniedPeerIps=null', 'coturn.quotas.user=2']);
    const { username, credential } = turnCredential(gatewaySecret, 'alice', Math.floor(Date.now() / 1000) + 600);
    // One uclient run holds more than two allocations as this user (its own and its peer's).
    const run = await turn.allocate(username, credential);
    expect(run.output).toContain('486 (Allocation Quota Reached)');
    expect(run.ok).toBe(false);
  }, 30_000);

  it('relays to that peer once deniedPeerIps is empty (so the refusal above was the deny list), within the default quotas', async () => {
    const { turn, gatewaySecret } = await start(['coturn.deniedPeerIps=null']);
    const { username, credential } = turnCredential(gatewaySecret, 'alice', Math.floor(Date.now() / 1000) + 600);
    const result = await turn.allocate(username, credential);
    expect(result.output).not.toContain('403');
    expect(result.output).not.toContain('486');
    expect(result.ok).toBe(true);
  }, 30_000);
});
