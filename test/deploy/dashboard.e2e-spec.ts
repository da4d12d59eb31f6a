import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CommonConfig } from '@switchboard/config';
import { RunningService, startService } from '@switchboard/platform';
import { TEST_JWT_SECRET } from '@switchboard/testing';
import { serviceDefinitions } from './support/services';
import { exposedSeries, seriesNames } from './support/promql';
import { chartDir, helmTemplate, k8sTools } from './support/tools';

interface Dashboard {
  panels: Array<{ id: number; type: string; title: string; targets?: Array<{ expr: string }>; datasource?: { uid: string } }>;
  templating: { list: Array<{ name: string; type: string; query?: string | { query: string } }> };
}

const dashboard = JSON.parse(readFileSync(join(chartDir, 'dashboards', 'switchboard.json'), 'utf8')) as Dashboard;

/** Every PromQL expression of the dashboard, with where it is. */
function dashboardQueries(): Array<{ where: string; expr: string }> {
  const queries = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `panel "${p.title}"`, expr: t.expr })));
  for (const variable of dashboard.templating.list.filter((v) => v.type === 'query')) {
    const query = typeof variable.query === 'string' ? variable.query : (variable.query?.query ?? '');
    // label_values(<series>, <label>): only the first argument is a series.
    const series = /^label_values\(\s*([^,]+),/.exec(query)?.[1] ?? query;
    queries.push({ where: `variable $${variable.name}`, expr: series });
  }
  return queries;
}

it('reads series names out of PromQL', () => {
  expect(
    seriesNames(
      'histogram_quantile(0.99, sum by (le, pod) (rate(a_bucket{namespace="$ns", x=~"b|c"}[$__rate_interval]))) / on(pod) group_left b_total > bool 0',
    ),
  ).toEqual(['a_bucket', 'b_total']);
  expect(seriesNames('sum(increase(c{outcome="x"}[24h])) and d offset 5m')).toEqual(['c', 'd']);
});

it('draws connections, deliveries, latency quantiles, slow consumers, webhook outcomes and dead letters', () => {
  const all = dashboardQueries()
    .map((q) => q.expr)
    .join('\n');
  for (const needed of [
    'switchboard_connections',
    'switchboard_messages_delivered_total',
    'histogram_quantile(0.99, sum by (le) (rate(switchboard_delivery_latency_seconds_bucket',
    'switchboard_slow_consumer_disconnects_total',
    'switchboard_webhook_requests_total',
    'dead_lettered',
  ]) {
    expect(all).toContain(needed);
  }
  const ids = dashboard.panels.map((p) => p.id);
  expect(new Set(ids).size).toBe(ids.length);
  for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) expect(panel.datasource?.uid).toBe('${datasource}');
});

/**
 * The three services running in this process (in-memory engine), scraped: every series the
 * dashboard, the alerts and the HPA's custom metric use must be one they export.
 */
describe('metric names against the running services', () => {
  const services: RunningService<CommonConfig>[] = [];
  let exported = new Set<string>();

  beforeAll(async () => {
    k8sTools();
    for (const definition of serviceDefinitions) {
      services.push(
        await startService(definition, {
          PORT: '0',
          HOST: '127.0.0.1',
          LOG_LEVEL: 'warn',
          DRAIN_SECONDS: '0',
          JWT_SECRET: TEST_JWT_SECRET,
        }),
      );
    }
    exported = new Set<string>();
    for (const service of services) {
      const res = await fetch(`${service.url}/metrics`);
      expect(res.status).toBe(200);
      for (const name of exposedSeries(await res.text())) exported.add(name);
    }
  });

  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop()));
  });

  it('scraped Switchboard metrics and the process metrics from every service', () => {
    expect(services.length).toBe(serviceDefinitions.length);
    expect(exported.has('switchboard_ready')).toBe(true);
    expect(exported.has('process_cpu_seconds_total')).toBe(true);
  });

  it('the dashboard uses only exported series', () => {
    const missing = dashboardQueries().flatMap((q) =>
      seriesNames(q.expr)
        .filter((name) => !exported.has(name))
        .map((name) => `${q.where}: ${name}`),
    );
    expect(missing).toEqual([]);
  });

  it('the alerts and the HPA custom metric use only exported series', () => {
    const manifests = helmTemplate(['ci/everything-values.yaml']);
    const rule = manifests.find((m) => m.kind === 'PrometheusRule')!;
    const rules = (rule.spec as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> }).groups.flatMap((g) => g.rules);
    expect(rules.length).toBeGreaterThan(5);
    // `up` is written by Prometheus itself for every target.
    const missing = rules.flatMap((r) =>
      seriesNames(r.expr)
        .filter((name) => name !== 'up' && !exported.has(name))
        .map((name) => `${r.alert}: ${name}`),
    );
    expect(missing).toEqual([]);
    const hpa = manifests.find((m) => m.kind === 'HorizontalPodAutoscaler' && m.metadata.name.endsWith('-gateway'))!;
    const metrics = (hpa.spec as { metrics: Array<{ pods?: { metric: { name: string } } }> }).metrics;
    const custom = metrics.flatMap((m) => (m.pods ? [m.pods.metric.name] : []));
    expect(custom.length).toBe(1);
    expect(custom.filter((name) => !exported.has(name))).toEqual([]);
  });
});
