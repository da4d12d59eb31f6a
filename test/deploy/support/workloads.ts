import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { Manifest } from './tools';

/** A pod template found in the rendered manifests, with the workload it belongs to. */
export interface PodTemplate {
  owner: Manifest;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  spec: IPodSpec;
}

const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job']);

export function podTemplates(manifests: Manifest[]): PodTemplate[] {
  const found: PodTemplate[] = [];
  for (const m of manifests) {
    if (WORKLOADS.has(m.kind)) {
      const template = (
        m.spec as { template: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec: IPodSpec } }
      ).template;
      found.push({
        owner: m,
        labels: template.metadata?.labels ?? {},
        annotations: template.metadata?.annotations ?? {},
        spec: template.spec,
      });
    } else if (m.kind === 'Pod') {
      found.push({ owner: m, labels: m.metadata.labels ?? {}, annotations: m.metadata.annotations ?? {}, spec: m.spec as IPodSpec });
    }
  }
  return found;
}

export function containersOf(pod: PodTemplate): IContainer[] {
  return [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
}

const where = (pod: PodTemplate, c: IContainer): string => `${pod.owner.kind}/${pod.owner.metadata.name} container ${c.name}`;

/**
 * What SPEC "Deployment" asks of every container: non-root, read-only, no escalation, no
 * capabilities, RuntimeDefault seccomp. `allowedCapabilities` names the ones a container
 * may add back (coturn's image needs NET_BIND_SERVICE, the one the "restricted" Pod
 * Security Standard allows).
 */
export function lockdownProblems(pod: PodTemplate, allowedCapabilities: string[] = []): string[] {
  const problems: string[] = [];
  const podContext = pod.spec.securityContext ?? {};
  for (const c of containersOf(pod)) {
    const sc = c.securityContext ?? {};
    const at = where(pod, c);
    if ((sc.runAsNonRoot ?? podContext.runAsNonRoot) !== true) problems.push(`${at}: runAsNonRoot is not true`);
    if ((sc.runAsUser ?? podContext.runAsUser) === 0) problems.push(`${at}: runs as uid 0`);
    if (sc.readOnlyRootFilesystem !== true) problems.push(`${at}: readOnlyRootFilesystem is not true`);
    if (sc.allowPrivilegeEscalation !== false) problems.push(`${at}: allowPrivilegeEscalation is not false`);
    if (sc.privileged === true) problems.push(`${at}: privileged`);
    if (!(sc.capabilities?.drop ?? []).includes('ALL')) problems.push(`${at}: capabilities do not drop ALL`);
    const added = (sc.capabilities?.add ?? []).filter((c) => !allowedCapabilities.includes(c));
    if (added.length > 0) problems.push(`${at}: adds capabilities ${added.join(', ')}`);
    if ((sc.seccompProfile ?? podContext.seccompProfile)?.type !== 'RuntimeDefault')
      problems.push(`${at}: seccomp profile is not RuntimeDefault`);
  }
  return problems;
}

/** Liveness, readiness and startup probes on every container of a long-running workload. */
export function probeProblems(pod: PodTemplate, paths?: { liveness: string; readiness: string }): string[] {
  const problems: string[] = [];
  for (const c of pod.spec.containers) {
    const at = where(pod, c);
    for (const probe of ['livenessProbe', 'readinessProbe'] as const) {
      if (!c[probe]) problems.push(`${at}: no ${probe}`);
    }
    if (paths) {
      if (c.startupProbe?.httpGet?.path !== paths.liveness) problems.push(`${at}: startup probe is not ${paths.liveness}`);
      if (c.livenessProbe?.httpGet?.path !== paths.liveness) problems.push(`${at}: liveness probe is not ${paths.liveness}`);
      if (c.readinessProbe?.httpGet?.path !== paths.readiness) problems.push(`${at}: readiness probe is not ${paths.readiness}`);
    }
  }
  return problems;
}

/** Secret values a test cannot see (they live in a Secret the operator creates): realistic stand-ins. */
const EXTERNAL_SECRET_STAND_INS: Record<string, string> = {
  NATS_URL: 'nats://nats:4222',
  REDIS_URL: 'redis://redis:6379',
  JWT_SECRET: 'an-external-secret-of-at-least-32-bytes',
  TURN_SECRET: 'external-turn-secret',
  PUBLISH_API_KEY: 'external-publish-key',
  ADMIN_API_KEY: 'external-admin-key',
};

/** A container's environment as the kubelet would build it, with mounted config files written to a temp dir. */
export interface ResolvedEnv {
  /** Every variable name the manifests set (env and envFrom). */
  names: string[];
  /** Values, mount paths rewritten to the temp dir. */
  env: Record<string, string>;
  /** Removes the temp dir. */
  cleanup(): void;
}

function findData(manifests: Manifest[], kind: 'Secret' | 'ConfigMap', name: string): Record<string, string> | undefined {
  const m = manifests.find((x) => x.kind === kind && x.metadata.name === name);
  if (!m) return undefined;
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries((m.stringData as Record<string, string> | undefined) ?? {})) data[k] = v;
  for (const [k, v] of Object.entries((m.data as Record<string, string> | undefined) ?? {})) {
    data[k] = kind === 'Secret' ? Buffer.from(v, 'base64').toString('utf8') : v;
  }
  return data;
}

export function resolveEnv(pod: PodTemplate, container: IContainer, manifests: Manifest[]): ResolvedEnv {
  const dir = mkdtempSync(join(tmpdir(), 'sb-env-'));
  const names: string[] = [];
  const env: Record<string, string> = {};
  const mounts: Array<[string, string]> = [];
  for (const mount of container.volumeMounts ?? []) {
    const volume = (pod.spec.volumes ?? []).find((v) => v.name === mount.name);
    const source = volume?.secret
      ? findData(manifests, 'Secret', volume.secret.secretName ?? '')
      : volume?.configMap
        ? findData(manifests, 'ConfigMap', volume.configMap.name ?? '')
        : undefined;
    if (!source) continue;
    const target = join(dir, mount.name);
    mkdirSync(target, { recursive: true });
    for (const [key, value] of Object.entries(source)) writeFileSync(join(target, key), value);
    mounts.push([mount.mountPath, target]);
  }
  for (const from of container.envFrom ?? []) {
    const ref = from.configMapRef ?? from.secretRef;
    const data = findData(manifests, from.configMapRef ? 'ConfigMap' : 'Secret', ref?.name ?? '');
    if (!data) throw new Error(`${container.name}: envFrom names ${ref?.name}, which is not rendered`);
    for (const [key, value] of Object.entries(data)) {
      names.push((from.prefix ?? '') + key);
      env[(from.prefix ?? '') + key] = value;
    }
  }
  for (const variable of container.env ?? []) {
    names.push(variable.name);
    const ref = variable.valueFrom;
    let value: string | undefined = variable.value;
    if (ref?.fieldRef) value = 'pod-0';
    else if (ref?.secretKeyRef || ref?.configMapKeyRef) {
      const keyRef = (ref.secretKeyRef ?? ref.configMapKeyRef)!;
      const data = findData(manifests, ref.secretKeyRef ? 'Secret' : 'ConfigMap', keyRef.name ?? '');
      value = data ? data[keyRef.key] : EXTERNAL_SECRET_STAND_INS[keyRef.key];
      if (value === undefined && !keyRef.optional)
        throw new Error(`${container.name}: ${variable.name} reads ${keyRef.name}/${keyRef.key}, which nothing provides`);
    }
    if (value === undefined) continue;
    for (const [mountPath, target] of mounts) if (value.startsWith(mountPath + '/')) value = target + value.slice(mountPath.length);
    env[variable.name] = value;
  }
  return { names, env, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Seconds of the preStop sleep (0 without one). */
export function preStopSeconds(container: IContainer): number {
  return container.lifecycle?.preStop?.sleep?.seconds ?? 0;
}

/** Pods whose labels match a selector's matchLabels. */
export function selects(matchLabels: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  return matchLabels !== undefined && Object.entries(matchLabels).every(([k, v]) => labels[k] === v);
}
