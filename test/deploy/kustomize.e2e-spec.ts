import { join } from 'node:path';
import { k8sTools, kubectl, Manifest, parseManifests, repoRoot } from './support/tools';
import { autoscalerOf, HpaSpec, matchLabelsOf, serviceDeployments, workloadSuite } from './support/workload-suite';
import { podTemplates } from './support/workloads';

function kustomize(dir: string): Manifest[] {
  const result = kubectl(['kustomize', join(repoRoot, dir)]);
  if (result.status !== 0) throw new Error(`kubectl kustomize ${dir} failed: ${result.stderr}`);
  return parseManifests(result.stdout);
}

beforeAll(() => {
  k8sTools();
});

describe.each([
  ['k8s/base', { minReplicas: 2, maxReplicas: 10 }],
  // One gateway in development (the PDB then lets a drain take it: development, not availability).
  ['k8s/overlays/dev', { minReplicas: 1, maxReplicas: 2 }],
])('kubectl kustomize %s', (dir, replicas) => {
  workloadSuite(() => kustomize(dir));

  it(`autoscales the gateway Deployment from ${replicas.minReplicas} to ${replicas.maxReplicas} pods at 70% CPU, one pod down per 2 minutes`, () => {
    const manifests = kustomize(dir);
    const gateway = serviceDeployments(manifests).get('gateway')!;
    const spec = autoscalerOf(manifests, 'gateway')!.spec as HpaSpec;
    expect(spec).toEqual({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: gateway.owner.metadata.name },
      ...replicas,
      metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }],
      behavior: {
        scaleDown: { stabilizationWindowSeconds: 600, policies: [{ type: 'Pods', value: 1, periodSeconds: 120 }] },
        scaleUp: { stabilizationWindowSeconds: 0, policies: [{ type: 'Percent', value: 100, periodSeconds: 60 }] },
      },
    });
  });

  it('gives each service a PodDisruptionBudget of maxUnavailable 1 on its Deployment’s own selector', () => {
    const manifests = kustomize(dir);
    for (const [component, pod] of serviceDeployments(manifests)) {
      const budget = manifests.find((m) => m.kind === 'PodDisruptionBudget' && m.metadata.name === pod.owner.metadata.name);
      expect({ component, spec: budget?.spec }).toEqual({
        component,
        spec: {
          maxUnavailable: 1,
          selector: { matchLabels: { 'app.kubernetes.io/name': 'switchboard', 'app.kubernetes.io/component': component } },
        },
      });
      expect(matchLabelsOf(budget!.spec)).toEqual(matchLabelsOf(pod.owner.spec));
    }
  });

  it('serves /metrics on port 9090 (METRICS_PORT), annotated for scraping', () => {
    for (const [component, pod] of serviceDeployments(kustomize(dir))) {
      expect({ component, annotations: pod.annotations }).toEqual({
        component,
        annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9090', 'prometheus.io/path': '/metrics' },
      });
    }
  });
});

describe('the dev overlay', () => {
  let manifests: Manifest[];
  beforeAll(() => {
    manifests = kustomize('k8s/overlays/dev');
  });

  it('puts everything in its own namespace', () => {
    const namespaced = manifests.filter((m) => m.kind !== 'Namespace');
    expect(new Set(namespaced.map((m) => m.metadata.namespace))).toEqual(new Set(['switchboard-dev']));
  });

  it('runs NATS with JetStream on a persistent volume, and Redis, where the services look for them', () => {
    const nats = manifests.find((m) => m.kind === 'StatefulSet' && m.metadata.name === 'nats')!;
    const natsPod = podTemplates([nats])[0].spec.containers[0];
    expect(natsPod.args).toContain('--jetstream');
    // A 3-node JetStream cluster: routes to every pod, streams with 3 replicas.
    expect((nats.spec as { replicas: number }).replicas).toBe(3);
    expect(natsPod.args).toEqual(
      expect.arrayContaining([
        '--cluster_name=switchboard',
        expect.stringMatching(/^--routes=(nats:\/\/nats-[0-2]\.nats-headless:6222,?){3}$/),
      ]),
    );
    expect((nats.spec as { volumeClaimTemplates: unknown[] }).volumeClaimTemplates).toHaveLength(1);
    expect(manifests.find((m) => m.kind === 'StatefulSet' && m.metadata.name === 'redis')).toBeDefined();
    const secret = manifests.find((m) => m.kind === 'Secret' && m.metadata.name.startsWith('switchboard-secrets'))!;
    const data = secret.data as Record<string, string>;
    const decode = (key: string): URL => new URL(Buffer.from(data[key], 'base64').toString('utf8'));
    const services = new Map(
      manifests.filter((m) => m.kind === 'Service').map((s) => [s.metadata.name, s.spec as { ports: Array<{ port: number }> }]),
    );
    for (const key of ['NATS_URL', 'REDIS_URL']) {
      const url = decode(key);
      expect(services.get(url.hostname)?.ports.map((p) => p.port)).toContain(Number(url.port));
    }
  });

  it('runs the locally built images', () => {
    const images = [...serviceDeployments(manifests).values()].map((pod) => pod.spec.containers[0].image);
    expect(images.sort()).toEqual(['switchboard/gateway:dev', 'switchboard/notifier:dev', 'switchboard/webhook-ingest:dev']);
  });
});
