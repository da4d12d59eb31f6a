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

  it('gives every service a PodDisruptionBudget of maxUnavailable 1 (no minAvailable) that selects its pods and no others', () => {
    const pods = podTemplates(manifests);
    for (const [component, pod] of serviceDeployments(manifests)) {
      const budgets = manifests.filter((m) => m.kind === 'PodDisruptionBudget' && selects(matchLabelsOf(m.spec), pod.labels));
      expect({ component, budgets: budgets.map((b) => b.spec) }).toEqual({
        component,
        budgets: [{ maxUnavailable: 1, selector: { matchLabels: matchLabelsOf(pod.owner.spec) } }],
      });
      // Another component's pods (coturn, NATS, the test pod) are not in this budget.
      const others = pods.filter(
        (p) => p.owner.metadata.name !== pod.owner.metadata.name && selects(matchLabelsOf(budgets[0].spec), p.labels),
      );
      expect({ component, others: others.map((p) => p.owner.metadata.name) }).toEqual({ component, others: [] });
    }
  });

  it("selects each Deployment's pods with its own selector and its Service, and nothing else", () => {
    const pods = podTemplates(manifests);
    for (const [component, pod] of serviceDeployments(manifests)) {
      const selector = matchLabelsOf(pod.owner.spec);
      expect({ component, own: selects(selector, pod.labels) }).toEqual({ component, own: true });
      const services = manifests.filter(
        (m) => m.kind === 'Service' && selects((m.spec as { selector?: Record<string, string> }).selector, pod.labels),
      );
      expect({ component, services: services.length }).toEqual({ component, services: 1 });
      const selected = pods.filter((p) => selects((services[0].spec as { selector: Record<string, string> }).selector, p.labels));
      expect({ component, selected: selected.map((p) => p.owner.metadata.name) }).toEqual({
        component,
        selected: [pod.owner.metadata.name],
      });
    }
  });

  it('serves /metrics on METRICS_PORT: a `metrics` port of the container and of its Service, scrape annotations and NetworkPolicy agree', () => {
    const problems: string[] = [];
    for (const [component, pod] of serviceDeployments(manifests)) {
      const container = pod.spec.containers[0];
      const resolved = resolveEnv(pod, container, manifests);
      resolved.cleanup();
      const port = Number(resolved.env.METRICS_PORT);
      const ports = new Map((container.ports ?? []).map((p) => [p.name, p.containerPort]));
      if (!Number.isInteger(port) || port <= 0) problems.push(`${component}: METRICS_PORT is ${resolved.env.METRICS_PORT}`);
      if (ports.get('metrics') !== port)
        problems.push(`${component}: container port "metrics" is ${ports.get('metrics')}, METRICS_PORT ${port}`);
      if (port === ports.get('http')) problems.push(`${component}: METRICS_PORT is the http port`);
      const annotations = pod.annotations;
      if (annotations['prometheus.io/scrape'] === 'true') {
        if (annotations['prometheus.io/port'] !== String(port)) problems.push(`${component}: prometheus.io/port is not METRICS_PORT`);
        if (annotations['prometheus.io/path'] !== '/metrics') problems.push(`${component}: prometheus.io/path is not /metrics`);
      }
      const service = manifests.find(
        (m) => m.kind === 'Service' && selects((m.spec as { selector?: Record<string, string> }).selector, pod.labels),
      );
      const servicePorts = (service?.spec as { ports?: Array<{ name: string; targetPort: unknown }> } | undefined)?.ports ?? [];
      if (!servicePorts.some((p) => p.name === 'metrics' && (p.targetPort === 'metrics' || p.targetPort === port)))
        problems.push(`${component}: its Service has no "metrics" port to the container's`);
      for (const monitor of manifests.filter((m) => m.kind === 'ServiceMonitor')) {
        if (service === undefined || !selects(matchLabelsOf(monitor.spec), service.metadata.labels ?? {})) continue;
        const endpoints = (monitor.spec as { endpoints: Array<{ port?: string; path?: string }> }).endpoints;
        for (const e of endpoints)
          if (e.port !== 'metrics' || e.path !== '/metrics') problems.push(`${component}: ServiceMonitor scrapes ${e.port}${e.path}`);
      }
      for (const policy of manifests.filter((m) => m.kind === 'NetworkPolicy')) {
        const spec = policy.spec as {
          podSelector: { matchLabels?: Record<string, string> };
          ingress?: Array<{ ports?: Array<{ port: unknown }> }>;
        };
        if (!selects(spec.podSelector.matchLabels, pod.labels)) continue;
        const open = (spec.ingress ?? []).flatMap((r) => (r.ports ?? []).map((p) => p.port));
        if (!open.includes('metrics') && !open.includes(port))
          problems.push(`${component}: NetworkPolicy ${policy.metadata.name} keeps the metrics port closed`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('spreads every service across zones and nodes', () => {
    for (const [component, pod] of serviceDeployments(manifests)) {
      const constraints = pod.spec.topologySpreadConstraints ?? [];
      const keys = constraints.filter((c) => selects(c.labelSelector?.matchLabels, pod.labels)).map((c) => c.topologyKey);
      expect({ component, keys: keys.sort() }).toEqual({ component, keys: ['kubernetes.io/hostname', 'topology.kubernetes.io/zone'] });
    }
  });

  it('lets each HorizontalPodAutoscaler scale a service Deployment on CPU within sane bounds and own its replica count', () => {
    for (const hpa of manifests.filter((m) => m.kind === 'HorizontalPodAutoscaler')) {
      const spec = hpa.spec as HpaSpec;
      const target = [...serviceDeployments(manifests).values()].find((pod) => pod.owner.metadata.name === spec.scaleTargetRef.name);
      expect({ hpa: hpa.metadata.name, ref: spec.scaleTargetRef, found: target !== undefined }).toEqual({
        hpa: hpa.metadata.name,
        ref: { apiVersion: 'apps/v1', kind: 'Deployment', name: target?.owner.metadata.name },
        found: true,
      });
      // In the same namespace as its target (an HPA cannot reach across).
      expect(hpa.metadata.namespace).toBe(target!.owner.metadata.namespace);
      expect(spec.minReplicas).toBeGreaterThanOrEqual(1);
      expect(spec.maxReplicas).toBeGreaterThanOrEqual(spec.minReplicas);
      const cpu = spec.metrics.find((m) => m.type === 'Resource' && m.resource?.name === 'cpu');
      expect(cpu?.resource?.target.type).toBe('Utilization');
      expect(cpu?.resource?.target.averageUtilization).toBeGreaterThan(0);
      expect(cpu?.resource?.target.averageUtilization).toBeLessThanOrEqual(100);
      // Utilization is of the CPU request: without one the HPA cannot compute it.
      expect(target!.spec.containers[0].resources?.requests?.cpu).toBeDefined();
      expect((target!.owner.spec as { replicas?: number }).replicas).toBeUndefined();
    }
  });
}

/** The fields of a HorizontalPodAutoscaler the tests read. */
export interface HpaSpec {
  scaleTargetRef: { apiVersion: string; kind: string; name: string };
  minReplicas: number;
  maxReplicas: number;
  metrics: Array<{
    type: string;
    resource?: { name: string; target: { type: string; averageUtilization?: number } };
    pods?: { metric: { name: string }; target: { type: string; averageValue: string } };
  }>;
  behavior?: unknown;
}

/** `selector.matchLabels` of a spec (Deployment, PodDisruptionBudget, ServiceMonitor). */
export function matchLabelsOf(spec: unknown): Record<string, string> | undefined {
  return (spec as { selector?: { matchLabels?: Record<string, string> } }).selector?.matchLabels;
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
