import { loadConfig, loadRoutesFile } from '@switchboard/config';
import { validateManifest } from './k8s-models';
import { definitionOf, envNamesOf, serviceDefinitions } from './services';
import type { Manifest } from './tools';
import { lockdownProblems, podTemplates, PodTemplate, preStopSeconds, probeProblems, resolveEnv, selects } from './workloads';

/** Seconds a service keeps running after its drain before it exits by itself (runMain's own deadline). */
const EXIT_MARGIN_SECONDS = 10;

const COMPONENT = 'app.kubernetes.io/component';

/**
 * Capabilities a component may add back after dropping ALL. coturn's image sets the
 * NET_BIND_SERVICE file capability on turnserver: without it in the bounding set the kernel
 * refuses to exec the binary (the only capability the "restricted" Pod Security Standard allows).
 */
const CAPABILITIES_ALLOWED: Record<string, string[]> = { coturn: ['NET_BIND_SERVICE'] };

/** The Deployments of Switchboard's services, by component. */
export function serviceDeployments(manifests: Manifest[]): Map<string, PodTemplate> {
  const names = new Set(serviceDefinitions.map((d) => d.name));
  const found = new Map<string, PodTemplate>();
  for (const pod of podTemplates(manifests)) {
    const component = pod.labels[COMPONENT];
    if (pod.owner.kind === 'Deployment' && names.has(component)) found.set(component, pod);
  }
  return found;
}

/** What a rendering is known to leave to the operator: a component's expected config error. */
export interface SuiteOptions {
  configErrors?: Record<string, RegExp>;
}

/**
 * The checks every rendering of Switchboard must pass, whatever produced it (the Helm
 * chart with any values, or Kustomize). `render` is called once, in beforeAll.
 */
export function workloadSuite(render: () => Manifest[], options: SuiteOptions = {}): void {
  let manifests: Manifest[] = [];
  beforeAll(() => {
    manifests = render();
  });

  it('renders objects that validate against the Kubernetes schemas, without unknown fields', () => {
    expect(manifests.length).toBeGreaterThan(0);
    expect(manifests.flatMap(validateManifest)).toEqual([]);
  });

  it('locks down every container and mounts no service account token', () => {
    const pods = podTemplates(manifests);
    expect(pods.length).toBeGreaterThan(0);
    expect(pods.flatMap((pod) => lockdownProblems(pod, CAPABILITIES_ALLOWED[pod.labels[COMPONENT]]))).toEqual([]);
    for (const pod of pods)
      expect({ pod: pod.owner.metadata.name, automount: pod.spec.automountServiceAccountToken }).toEqual({
        pod: pod.owner.metadata.name,
        automount: false,
      });
    for (const pod of serviceDeployments(manifests).values()) {
      const account = manifests.find((m) => m.kind === 'ServiceAccount' && m.metadata.name === pod.spec.serviceAccountName);
      expect(account?.automountServiceAccountToken).toBe(false);
    }
  });

  it('probes every long-running container; the services on /healthz and /readyz', () => {
    const services = serviceDeployments(manifests);
    expect(services.size).toBeGreaterThan(0);
    const problems = podTemplates(manifests)
      .filter((pod) => pod.owner.kind !== 'Pod')
      .flatMap((pod) =>
        probeProblems(pod, [...services.values()].includes(pod) ? { liveness: '/healthz', readiness: '/readyz' } : undefined),
      );
    expect(problems).toEqual([]);
  });

  it('gives every service a grace period that covers preStop, DRAIN_SECONDS and its exit margin, and a startup probe that outlasts STARTUP_TIMEOUT_SECONDS', () => {
    const problems: string[] = [];
    for (const [component, pod] of serviceDeployments(manifests)) {
      const container = pod.spec.containers[0];
      const resolved = resolveEnv(pod, container, manifests);
      resolved.cleanup();
      const drain = Number(resolved.env.DRAIN_SECONDS ?? 30);
      const needed = preStopSeconds(container) + drain + EXIT_MARGIN_SECONDS;
      const grace = pod.spec.terminationGracePeriodSeconds ?? 30;
      if (grace < needed) problems.push(`${component}: grace ${grace}s < preStop + DRAIN_SECONDS ${drain}s + ${EXIT_MARGIN_SECONDS}s`);
      if (preStopSeconds(container) <= 0) problems.push(`${component}: no preStop sleep`);
      // The app's own "cannot reach NATS/Redis" exit must come before the kubelet's restart.
      const startup = container.startupProbe;
      const window = (startup?.periodSeconds ?? 10) * (startup?.failureThreshold ?? 3);
      const startupTimeout = Number(resolved.env.STARTUP_TIMEOUT_SECONDS ?? 60);
      if (window < startupTimeout)
        problems.push(`${component}: startup probe gives up after ${window}s < STARTUP_TIMEOUT_SECONDS ${startupTimeout}s`);
    }
    expect(problems).toEqual([]);
  });

  it("sets only variables the services read, and each service's configuration loads", () => {
    for (const [component, pod] of serviceDeployments(manifests)) {
      const definition = definitionOf(component);
      const known = envNamesOf(definition.schema);
      for (const container of pod.spec.containers) {
        const resolved = resolveEnv(pod, container, manifests);
        try {
          expect({ component, unknown: resolved.names.filter((name) => !known.has(name)) }).toEqual({ component, unknown: [] });
          // The real schema, with the rendered values and the mounted files (webhook sources, routes).
          const expected = options.configErrors?.[component];
          if (expected) {
            expect(() => loadConfig(definition.schema, resolved.env)).toThrow(expected);
            continue;
          }
          const config = loadConfig(definition.schema, resolved.env) as { ROUTES_CONFIG?: string };
          if (component === 'notifier') expect(() => loadRoutesFile(config.ROUTES_CONFIG)).not.toThrow();
        } finally {
          resolved.cleanup();
        }
      }
    }
  });

  it('gives every service a PodDisruptionBudget of maxUnavailable 1 that selects its pods', () => {
    for (const [component, pod] of serviceDeployments(manifests)) {
      const budgets = manifests.filter(
        (m) =>
          m.kind === 'PodDisruptionBudget' &&
          selects((m.spec as { selector?: { matchLabels?: Record<string, string> } }).selector?.matchLabels, pod.labels),
      );
      expect({ component, budgets: budgets.map((b) => (b.spec as { maxUnavailable?: unknown }).maxUnavailable) }).toEqual({
        component,
        budgets: [1],
      });
    }
  });

  it('spreads every service across zones and nodes', () => {
    for (const [component, pod] of serviceDeployments(manifests)) {
      const constraints = pod.spec.topologySpreadConstraints ?? [];
      const keys = constraints.filter((c) => selects(c.labelSelector?.matchLabels, pod.labels)).map((c) => c.topologyKey);
      expect({ component, keys: keys.sort() }).toEqual({ component, keys: ['kubernetes.io/hostname', 'topology.kubernetes.io/zone'] });
    }
  });

  it('lets each HorizontalPodAutoscaler scale a service Deployment on CPU and own its replica count', () => {
    for (const hpa of manifests.filter((m) => m.kind === 'HorizontalPodAutoscaler')) {
      const spec = hpa.spec as {
        scaleTargetRef: { kind: string; name: string };
        metrics: Array<{ type: string; resource?: { name: string } }>;
      };
      const target = [...serviceDeployments(manifests).values()].find((pod) => pod.owner.metadata.name === spec.scaleTargetRef.name);
      expect({ hpa: hpa.metadata.name, kind: spec.scaleTargetRef.kind, found: target !== undefined }).toEqual({
        hpa: hpa.metadata.name,
        kind: 'Deployment',
        found: true,
      });
      expect(spec.metrics.some((m) => m.type === 'Resource' && m.resource?.name === 'cpu')).toBe(true);
      expect((target!.owner.spec as { replicas?: number }).replicas).toBeUndefined();
    }
  });
}

/** The HorizontalPodAutoscaler that scales a component's Deployment, if any. */
export function autoscalerOf(manifests: Manifest[], component: string): Manifest | undefined {
  const pod = serviceDeployments(manifests).get(component);
  return manifests.find(
    (m) =>
      m.kind === 'HorizontalPodAutoscaler' &&
      (m.spec as { scaleTargetRef: { name: string } }).scaleTargetRef.name === pod?.owner.metadata.name,
  );
}
