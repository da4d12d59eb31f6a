import { join } from 'node:path';
import { k8sTools, kubectl, Manifest, parseManifests, repoRoot } from './support/tools';
import { autoscalerOf, serviceDeployments, workloadSuite } from './support/workload-suite';
import { podTemplates } from './support/workloads';

function kustomize(dir: string): Manifest[] {
  const result = kubectl(['kustomize', join(repoRoot, dir)]);
  if (result.status !== 0) throw new Error(`kubectl kustomize ${dir} failed: ${result.stderr}`);
  return parseManifests(result.stdout);
}

beforeAll(() => {
  k8sTools();
});

describe.each(['k8s/base', 'k8s/overlays/dev'])('kubectl kustomize %s', (dir) => {
  workloadSuite(() => kustomize(dir));

  it('autoscales the gateway', () => {
    expect(autoscalerOf(kustomize(dir), 'gateway')).toBeDefined();
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
