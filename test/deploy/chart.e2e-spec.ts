import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { appsWithDefinitions, serviceDefinitions } from './support/services';
import { chartDir, helm, helmTemplate, k8sTools, Manifest, repoRoot } from './support/tools';
import { autoscalerOf, HpaSpec, matchLabelsOf, serviceDeployments, workloadSuite } from './support/workload-suite';
import { podTemplates } from './support/workloads';

/** The default values, then every example in ci/ (minimal, production, everything-enabled). */
const exampleFiles = readdirSync(join(chartDir, 'ci'))
  .filter((f) => f.endsWith('-values.yaml'))
  .sort();
const valueSets: Array<[string, string[]]> = [['default values', []], ...exampleFiles.map((f): [string, string[]] => [f, [`ci/${f}`]])];

const find = (manifests: Manifest[], kind: string, suffix: string): Manifest | undefined =>
  manifests.find((m) => m.kind === kind && m.metadata.name.endsWith(suffix));

beforeAll(() => {
  k8sTools();
});

it('keeps the three example values files and a Deployment per service', () => {
  expect(exampleFiles).toEqual(expect.arrayContaining(['minimal-values.yaml', 'production-values.yaml', 'everything-values.yaml']));
  // A new service (apps/<name>/src/<name>.definition.ts) must be added to the chart and these tests.
  expect(appsWithDefinitions()).toEqual(serviceDefinitions.map((d) => d.name).sort());
  const everything = serviceDeployments(helmTemplate(['ci/everything-values.yaml']));
  expect([...everything.keys()].sort()).toEqual(appsWithDefinitions());
});

describe.each(valueSets)('helm lint --strict, %s', (_name, files) => {
  it('passes without warnings', () => {
    const result = helm(['lint', '--strict', chartDir, ...files.flatMap((f) => ['-f', join(chartDir, f)])]);
    expect(result.stderr).toBe('');
    expect(result.stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
    expect(result.status).toBe(0);
  });
});

describe.each(valueSets)('helm template, %s', (_name, files) => {
  // The defaults cannot hold a token key (the chart never generates secrets): the gateway
  // refuses to start with one line saying so, and NOTES.txt says what to set.
  const configErrors = files.length === 0 ? { gateway: /JWT_SECRET or JWT_JWKS_URL must be set/ } : undefined;
  workloadSuite(() => helmTemplate(files), { configErrors });
});

describe('default values', () => {
  let manifests: Manifest[];
  beforeAll(() => {
    manifests = helmTemplate([]);
  });

  it('run all three services, the gateway with an HPA and a PodDisruptionBudget', () => {
    expect([...serviceDeployments(manifests).keys()].sort()).toEqual(['gateway', 'notifier', 'webhook-ingest']);
    expect(autoscalerOf(manifests, 'gateway')).toBeDefined();
    expect(find(manifests, 'PodDisruptionBudget', '-gateway')).toBeDefined();
  });

  it('scale the gateway as values.yaml says: its Deployment, 2 to 10 pods at 70% CPU, down one pod per 2 minutes', () => {
    const values = parse(readFileSync(join(chartDir, 'values.yaml'), 'utf8')) as {
      gateway: { autoscaling: { minReplicas: number; maxReplicas: number; targetCPUUtilizationPercentage: number; behavior: unknown } };
    };
    const a = values.gateway.autoscaling;
    const gateway = serviceDeployments(manifests).get('gateway')!;
    expect(autoscalerOf(manifests, 'gateway')!.spec).toEqual({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: gateway.owner.metadata.name },
      minReplicas: a.minReplicas,
      maxReplicas: a.maxReplicas,
      metrics: [
        {
          type: 'Resource',
          resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: a.targetCPUUtilizationPercentage } },
        },
      ],
      behavior: a.behavior,
    });
    expect([a.minReplicas, a.maxReplicas, a.targetCPUUtilizationPercentage]).toEqual([2, 10, 70]);
    // With maxUnavailable 1, two pods keep one serving through a node drain.
    expect(find(manifests, 'PodDisruptionBudget', '-gateway')!.spec).toEqual({
      maxUnavailable: 1,
      selector: { matchLabels: matchLabelsOf(gateway.owner.spec) },
    });
  });

  it('annotate every service pod for scraping on METRICS_PORT 9090, and keep /metrics off the http port', () => {
    for (const [component, pod] of serviceDeployments(manifests)) {
      expect({ component, annotations: pod.annotations }).toEqual({
        component,
        annotations: expect.objectContaining({
          'prometheus.io/scrape': 'true',
          'prometheus.io/port': '9090',
          'prometheus.io/path': '/metrics',
        }),
      });
      expect(pod.spec.containers[0].env).toContainEqual({ name: 'METRICS_PORT', value: '9090' });
    }
    const off = helmTemplate([], ['metrics.scrapeAnnotations=false', 'metrics.port=9100']);
    for (const pod of serviceDeployments(off).values()) {
      expect(Object.keys(pod.annotations).filter((k) => k.startsWith('prometheus.io/'))).toEqual([]);
      expect(pod.spec.containers[0].ports).toContainEqual({ name: 'metrics', containerPort: 9100, protocol: 'TCP' });
    }
  });

  it('create no secret the operator did not give (the chart never generates one)', () => {
    const secrets = manifests.filter((m) => m.kind === 'Secret');
    expect(secrets.map((s) => Object.keys((s.data as Record<string, string>) ?? {}))).toEqual([['NATS_URL', 'REDIS_URL']]);
  });

  it('render the helm test pod, with the gateway image and node', () => {
    const pod = manifests.find((m) => m.kind === 'Pod')!;
    expect(pod.metadata.annotations?.['helm.sh/hook']).toBe('test');
    const container = podTemplates([pod])[0].spec.containers[0];
    expect(container.command).toEqual(['node', '/helm-test/helm-test.mjs']);
    expect(container.image).toMatch(/\/gateway:/);
    const script = manifests.find((m) => m.kind === 'ConfigMap' && m.metadata.annotations?.['helm.sh/hook'] === 'test');
    expect((script?.data as Record<string, string>)['helm-test.mjs']).toBe(readFileSync(join(chartDir, 'files', 'helm-test.mjs'), 'utf8'));
  });
});

describe('minimal values', () => {
  it('run one gateway without an HPA', () => {
    const manifests = helmTemplate(['ci/minimal-values.yaml']);
    const gateway = serviceDeployments(manifests).get('gateway')!;
    expect((gateway.owner.spec as { replicas: number }).replicas).toBe(1);
    expect(autoscalerOf(manifests, 'gateway')).toBeUndefined();
    expect(serviceDeployments(manifests).has('webhook-ingest')).toBe(false);
  });
});

describe('everything-enabled values', () => {
  let manifests: Manifest[];
  beforeAll(() => {
    manifests = helmTemplate(['ci/everything-values.yaml']);
  });

  it('expose only the client routes through an Ingress that keeps WebSocket and SSE streams open', () => {
    const ingress = find(manifests, 'Ingress', '-gateway')!;
    const annotations = ingress.metadata.annotations ?? {};
    expect(Number(annotations['nginx.ingress.kubernetes.io/proxy-read-timeout'])).toBeGreaterThanOrEqual(3600);
    expect(Number(annotations['nginx.ingress.kubernetes.io/proxy-send-timeout'])).toBeGreaterThanOrEqual(3600);
    expect(annotations['nginx.ingress.kubernetes.io/proxy-buffering']).toBe('off');
    const rules = (ingress.spec as { rules: Array<{ http: { paths: Array<{ path: string; backend: { service: { name: string } } }> } }> })
      .rules;
    const paths = rules.flatMap((r) => r.http.paths);
    expect(new Set(paths.map((p) => p.path))).toEqual(new Set(['/v1/ws', '/v1/sse', '/v1/poll', '/socket.io', '/v1/webrtc']));
    expect(new Set(paths.map((p) => p.backend.service.name))).toEqual(new Set([find(manifests, 'Service', '-gateway')!.metadata.name]));
  });

  it('add the connections-per-pod metric to the gateway HPA', () => {
    const metrics = (autoscalerOf(manifests, 'gateway')!.spec as { metrics: Array<{ type: string; pods?: { metric: { name: string } } }> })
      .metrics;
    expect(metrics.find((m) => m.type === 'Pods')?.pods?.metric.name).toBe('switchboard_connections');
  });

  it('give every service a NetworkPolicy that opens only its HTTP port and its metrics port (to metricsFrom only), and restricts egress to DNS, NATS, Redis and the JWKS host', () => {
    for (const [component, pod] of serviceDeployments(manifests)) {
      const policy = manifests.find(
        (m) =>
          m.kind === 'NetworkPolicy' &&
          Object.entries((m.spec as { podSelector: { matchLabels: Record<string, string> } }).podSelector.matchLabels).every(
            ([k, v]) => pod.labels[k] === v,
          ),
      );
      expect({ component, found: policy !== undefined }).toEqual({ component, found: true });
      const spec = policy!.spec as {
        ingress: Array<{ ports: Array<{ port: unknown }>; from?: unknown[] }>;
        egress: Array<{ ports?: Array<{ port: unknown }> }>;
      };
      expect(spec.ingress.flatMap((r) => r.ports.map((p) => p.port))).toEqual(['http', 'metrics']);
      // Prometheus (metricsFrom) reaches the metrics port and nothing else does.
      expect(spec.ingress[1].from).toEqual([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }]);
      expect(JSON.stringify(spec.ingress[0].from ?? [])).not.toContain('monitoring');
      const egressPorts = spec.egress.flatMap((r) => (r.ports ?? []).map((p) => p.port));
      expect(egressPorts).toEqual(expect.arrayContaining([53, 4222, 6379]));
      if (component === 'gateway') expect(egressPorts).toContain(8443);
    }
  });

  it('mount the webhook sources from a Secret and the routes from a ConfigMap', () => {
    const deployments = serviceDeployments(manifests);
    const ingest = deployments.get('webhook-ingest')!.spec;
    expect(ingest.volumes?.find((v) => v.name === 'sources')?.secret?.secretName).toMatch(/-webhook-ingest$/);
    const notifier = deployments.get('notifier')!.spec;
    expect(notifier.volumes?.find((v) => v.name === 'routes')?.configMap?.name).toMatch(/-notifier$/);
    // Nothing secret is in a ConfigMap.
    const configMaps = JSON.stringify(manifests.filter((m) => m.kind === 'ConfigMap'));
    for (const secret of [
      'whsec_b2xkc2VjcmV0',
      'github-webhook-secret',
      'everything-publish-key',
      'everything-values-secret-of-at-least-32-bytes',
    ]) {
      expect(configMaps).not.toContain(secret);
    }
  });
});

describe('checksum annotations', () => {
  const checksums = (set: string[]): Record<string, Record<string, string>> => {
    const result: Record<string, Record<string, string>> = {};
    for (const [component, pod] of serviceDeployments(helmTemplate(['ci/everything-values.yaml'], set))) {
      result[component] = Object.fromEntries(Object.entries(pod.annotations).filter(([k]) => k.startsWith('checksum/')));
    }
    return result;
  };

  it('roll exactly the services whose secret or config changed', () => {
    const before = checksums([]);
    for (const component of Object.keys(before)) expect(before[component]['checksum/secret']).toMatch(/^[0-9a-f]{64}$/);
    const jwt = checksums(['gateway.auth.jwtSecret=another-secret-of-at-least-32-bytes-long']);
    expect(jwt.gateway['checksum/secret']).not.toBe(before.gateway['checksum/secret']);
    expect(jwt.notifier).toEqual(before.notifier);
    expect(jwt['webhook-ingest']).toEqual(before['webhook-ingest']);
    const routes = checksums(['notifier.routes[0].channels[0]=repo:other']);
    expect(routes.notifier['checksum/config']).not.toBe(before.notifier['checksum/config']);
    expect(routes.gateway).toEqual(before.gateway);
    const redis = checksums(['redis.url=redis://other:6379']);
    for (const component of Object.keys(before)) expect(redis[component]['checksum/secret']).not.toBe(before[component]['checksum/secret']);
  });
});

describe('settings the chart cannot work with', () => {
  it.each([
    [['nats.url='], 'nats.url is empty and there is no existingSecret holding NATS_URL'],
    [['redis.url='], 'redis.url is empty and there is no existingSecret holding REDIS_URL'],
    [['gateway.ingress.enabled=true'], 'the gateway ingress needs at least one host'],
    [
      ['gateway.console.enabled=true'],
      'gateway.console.enabled needs the admin key: notifier.adminApiKey, or ADMIN_API_KEY in existingSecret',
    ],
  ])('%j fail the render saying what to set', (set, message) => {
    const result = helm(['template', 'sb', chartDir, ...set.flatMap((pair) => ['--set', pair])]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(message);
  });

  it.each([
    [['gateway.auth.jwksUrl=http://id.example.com/jwks.json', 'gateway.auth.audience=sb'], 'gateway.auth.jwksUrl must be https'],
    [['gateway.auth.jwksUrl=https://id.example.com/jwks.json'], 'gateway.auth.jwksUrl needs gateway.auth.audience'],
    [['metrics.port=8080'], 'metrics.port must not be 8080'],
  ])('%j fail the render saying why', (set, message) => {
    const result = helm(['template', 'sb', chartDir, ...set.flatMap((pair) => ['--set', pair])]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(message);
  });

  it("give the console the notifier's admin key, from the notifier's Secret", () => {
    const manifests = helmTemplate([], ['gateway.console.enabled=true', 'notifier.adminApiKey=admin-key']);
    const env = serviceDeployments(manifests).get('gateway')!.spec.containers[0].env!;
    expect(env).toContainEqual({ name: 'CONSOLE_ENABLED', value: 'true' });
    const admin = env.find((e: { name: string }) => e.name === 'ADMIN_API_KEY');
    const secret = find(manifests, 'Secret', '-notifier')!;
    expect(admin?.valueFrom?.secretKeyRef).toEqual({ name: secret.metadata.name, key: 'ADMIN_API_KEY' });
    expect(Buffer.from((secret.data as Record<string, string>).ADMIN_API_KEY, 'base64').toString()).toBe('admin-key');
  });

  it('allow an http JWKS URL only with the development flag', () => {
    const manifests = helmTemplate(
      [],
      ['gateway.auth.jwksUrl=http://id.dev.svc/jwks.json', 'gateway.auth.audience=sb', 'gateway.env.JWT_JWKS_ALLOW_HTTP=true'],
    );
    expect(serviceDeployments(manifests).get('gateway')!.spec.containers[0].env).toContainEqual({
      name: 'JWT_JWKS_ALLOW_HTTP',
      value: 'true',
    });
  });

  it('follow the autoscaling and disruption values', () => {
    const manifests = helmTemplate(
      [],
      [
        'gateway.autoscaling.minReplicas=3',
        'gateway.autoscaling.maxReplicas=7',
        'gateway.autoscaling.targetCPUUtilizationPercentage=55',
        'gateway.pdb.maxUnavailable=2',
        'webhookIngest.autoscaling.enabled=true',
      ],
    );
    const gateway = autoscalerOf(manifests, 'gateway')!.spec as HpaSpec;
    expect([gateway.minReplicas, gateway.maxReplicas, gateway.metrics[0].resource?.target.averageUtilization]).toEqual([3, 7, 55]);
    expect((find(manifests, 'PodDisruptionBudget', '-gateway')!.spec as { maxUnavailable: number }).maxUnavailable).toBe(2);
    const ingest = autoscalerOf(manifests, 'webhook-ingest')!.spec as HpaSpec;
    expect(ingest.scaleTargetRef.name).toBe(serviceDeployments(manifests).get('webhook-ingest')!.owner.metadata.name);
    expect([ingest.minReplicas, ingest.maxReplicas]).toEqual([2, 6]);
  });

  it('render nothing but the ServiceAccount when every service is off', () => {
    const manifests = helmTemplate([], ['gateway.enabled=false', 'webhookIngest.enabled=false', 'notifier.enabled=false']);
    expect(manifests.map((m) => m.kind)).toEqual(['ServiceAccount']);
  });
});

describe('values.schema.json', () => {
  it.each([
    ['a string where a number belongs', ['gateway.replicaCount=many'], '/gateway/replicaCount'],
    ['a boolean given as a word', ['gateway.pdb.enabled=sometimes'], '/gateway/pdb/enabled'],
    ['a misspelt key', ['gateway.autoscalling.enabled=true'], 'autoscalling'],
    ['an unknown log level', ['logLevel=loud'], '/logLevel'],
    ['a short JWT secret', ['gateway.auth.jwtSecret=short'], '/gateway/auth/jwtSecret'],
    ['a Redis URL of another scheme', ['redis.url=http://redis:6379'], '/redis/url'],
  ])('rejects %s (helm template and helm lint)', (_what, set, mentioned) => {
    const args = set.flatMap((pair) => ['--set', pair]);
    for (const command of [
      ['template', 'sb', chartDir],
      ['lint', chartDir],
    ]) {
      const result = helm([...command, ...args]);
      expect(result.status).not.toBe(0);
      expect(result.stdout + result.stderr).toContain(mentioned);
    }
  });

  it('rejects a wrong type given in a values file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-values-'));
    try {
      const file = join(dir, 'values.yaml');
      writeFileSync(file, 'notifier:\n  maxDeliver: "ten"\n');
      const result = helm(['lint', '--strict', chartDir, '-f', file]);
      expect(result.status).not.toBe(0);
      expect(result.stdout + result.stderr).toContain('/notifier/maxDeliver');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('documentation of the values', () => {
  const valuesText = readFileSync(join(chartDir, 'values.yaml'), 'utf8');
  const values = parse(valuesText) as Record<string, unknown>;
  const documented = [...valuesText.matchAll(/^\s*## @param (\S+) /gm)].map((m) => m[1]);
  const schema = JSON.parse(readFileSync(join(chartDir, 'values.schema.json'), 'utf8')) as SchemaNode & {
    $defs: Record<string, SchemaNode>;
  };

  interface SchemaNode {
    $ref?: string;
    properties?: Record<string, SchemaNode>;
    allOf?: SchemaNode[];
  }
  const deref = (node: SchemaNode): SchemaNode => (node.$ref ? deref(schema.$defs[node.$ref.replace('#/$defs/', '')]) : node);
  const schemaAt = (path: string): SchemaNode | undefined => {
    let node: SchemaNode | undefined = schema;
    for (const key of path.split('.')) node = node && deref(node).properties?.[key];
    return node;
  };
  const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

  it('documents every value with ## @param (itself or a documented parent)', () => {
    const undocumented: string[] = [];
    const walk = (node: Record<string, unknown>, prefix: string): void => {
      for (const [key, value] of Object.entries(node)) {
        const path = prefix + key;
        if (documented.includes(path)) continue;
        if (isPlainObject(value) && Object.keys(value).length > 0) walk(value, path + '.');
        else undocumented.push(path);
      }
    };
    walk(values, '');
    expect(undocumented).toEqual([]);
  });

  it('documents only values that exist, each once, and each is in values.schema.json', () => {
    const lookup = (path: string): boolean => {
      let node: unknown = values;
      for (const key of path.split('.')) {
        if (!isPlainObject(node) || !(key in node)) return false;
        node = node[key];
      }
      return true;
    };
    expect(documented.filter((p) => !lookup(p))).toEqual([]);
    expect(documented.filter((p, i) => documented.indexOf(p) !== i)).toEqual([]);
    expect(documented.filter((p) => schemaAt(p) === undefined)).toEqual([]);
  });

  it('keeps README.md generated from the current values.yaml', () => {
    const result = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'helm-readme.mjs'), '--check'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});
