import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Pod } from 'kubernetes-models/v1/Pod';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { join } from 'node:path';
import ts from 'typescript';
import { Manifest, repoRoot } from './tools';

interface Validatable {
  validate(): void;
}
/** A model class; its constructor's data type differs per kind, and rendered YAML is untyped anyway. */
type ModelClass = new (data: never) => Validatable;

/** Every kind the chart and the manifests may render: its model, and where its TypeScript interface lives. */
const MODELS: Record<string, { model: ModelClass; module: string }> = {
  'apps/v1/Deployment': { model: Deployment, module: 'kubernetes-models/apps/v1/Deployment' },
  'apps/v1/StatefulSet': { model: StatefulSet, module: 'kubernetes-models/apps/v1/StatefulSet' },
  'autoscaling/v2/HorizontalPodAutoscaler': {
    model: HorizontalPodAutoscaler,
    module: 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler',
  },
  'networking.k8s.io/v1/Ingress': { model: Ingress, module: 'kubernetes-models/networking.k8s.io/v1/Ingress' },
  'networking.k8s.io/v1/NetworkPolicy': { model: NetworkPolicy, module: 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy' },
  'policy/v1/PodDisruptionBudget': { model: PodDisruptionBudget, module: 'kubernetes-models/policy/v1/PodDisruptionBudget' },
  'v1/ConfigMap': { model: ConfigMap, module: 'kubernetes-models/v1/ConfigMap' },
  'v1/Namespace': { model: Namespace, module: 'kubernetes-models/v1/Namespace' },
  'v1/Pod': { model: Pod, module: 'kubernetes-models/v1/Pod' },
  'v1/Secret': { model: Secret, module: 'kubernetes-models/v1/Secret' },
  'v1/Service': { model: Service, module: 'kubernetes-models/v1/Service' },
  'v1/ServiceAccount': { model: ServiceAccount, module: 'kubernetes-models/v1/ServiceAccount' },
  'monitoring.coreos.com/v1/ServiceMonitor': {
    model: ServiceMonitor,
    module: '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor',
  },
  'monitoring.coreos.com/v1/PrometheusRule': {
    model: PrometheusRule,
    module: '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule',
  },
};

const kindKey = (m: Manifest): string => `${m.apiVersion}/${m.kind}`;

/**
 * The TypeScript interfaces of the models, read with the compiler API: the JSON schemas
 * behind `validate()` accept unknown fields (a misspelt `readOnlyRootFilesytem` passes), the
 * interfaces do not. Built once per test file.
 */
class ModelTypes {
  private readonly checker: ts.TypeChecker;
  private readonly roots = new Map<string, ts.Type>();

  constructor() {
    const keys = Object.keys(MODELS);
    // A virtual file at the repository root, so the packages resolve from its node_modules.
    const fileName = join(repoRoot, '__k8s_model_types__.ts');
    const source = keys
      .map((key, i) => `import type { I${key.split('/').pop()} as T${i} } from '${MODELS[key].module}';\nexport type Root${i} = T${i};`)
      .join('\n');
    const options: ts.CompilerOptions = {
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: [],
      module: ts.ModuleKind.CommonJS,
      moduleResolution: ts.ModuleResolutionKind.Node10,
    };
    const host = ts.createCompilerHost(options);
    const getSourceFile = host.getSourceFile.bind(host);
    host.getSourceFile = (name, languageVersion, ...rest) =>
      name === fileName ? ts.createSourceFile(name, source, languageVersion) : getSourceFile(name, languageVersion, ...rest);
    const fileExists = host.fileExists.bind(host);
    host.fileExists = (name) => name === fileName || fileExists(name);
    const program = ts.createProgram([fileName], options, host);
    const diagnostics = ts.getPreEmitDiagnostics(program).filter((d) => d.file?.fileName === fileName);
    if (diagnostics.length > 0) throw new Error(`model types: ${ts.flattenDiagnosticMessageText(diagnostics[0].messageText, '\n')}`);
    this.checker = program.getTypeChecker();
    const file = program.getSourceFile(fileName)!;
    const moduleSymbol = this.checker.getSymbolAtLocation(file)!;
    for (const exported of this.checker.getExportsOfModule(moduleSymbol)) {
      const index = Number(exported.name.replace('Root', ''));
      this.roots.set(keys[index], this.checker.getDeclaredTypeOfSymbol(exported));
    }
  }

  /** Paths of fields the model's interface does not declare. */
  unknownFields(manifest: Manifest): string[] {
    const root = this.roots.get(kindKey(manifest));
    if (!root) throw new Error(`no model type for ${kindKey(manifest)}`);
    const found: string[] = [];
    this.walk(manifest, root, '', found);
    return found;
  }

  private walk(value: unknown, type: ts.Type, path: string, found: string[]): void {
    if (value === null || typeof value !== 'object') return;
    const t = this.checker.getNonNullableType(type);
    if (Array.isArray(value)) {
      const element = this.checker.getIndexTypeOfType(t, ts.IndexKind.Number);
      if (element) value.forEach((item, i) => this.walk(item, element, `${path}[${i}]`, found));
      return;
    }
    // IntOrString-like unions hold no object; a union of several object shapes is not walked.
    const objects = t.isUnion() ? t.types.filter((member) => (member.getFlags() & ts.TypeFlags.Object) !== 0) : [t];
    if (objects.length !== 1 || (objects[0].getFlags() & ts.TypeFlags.Object) === 0) return;
    const shape = objects[0];
    const index = this.checker.getIndexTypeOfType(shape, ts.IndexKind.String);
    if (!index && shape.getProperties().length === 0) return; // free-form object
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
      const property = shape.getProperty(key);
      if (property) this.walk(child, this.checker.getTypeOfSymbol(property), `${path}.${key}`, found);
      else if (index) this.walk(child, index, `${path}.${key}`, found);
      else found.push(`${path}.${key}`.slice(1));
    }
  }
}

let types: ModelTypes | undefined;

/**
 * Validates a manifest against the Kubernetes (or prometheus-operator) schema — types,
 * required fields, enums — and against the model's interface for unknown fields. Returns
 * the problems, empty when it is valid.
 */
export function validateManifest(manifest: Manifest): string[] {
  const entry = MODELS[kindKey(manifest)];
  if (!entry) return [`${kindKey(manifest)} has no model: add it to test/deploy/support/k8s-models.ts`];
  const problems: string[] = [];
  try {
    const Model = entry.model as unknown as new (data: Manifest) => Validatable;
    new Model(manifest).validate();
  } catch (err) {
    problems.push(err instanceof Error ? err.message : String(err));
  }
  types ??= new ModelTypes();
  for (const field of types.unknownFields(manifest)) problems.push(`unknown field ${field}`);
  return problems.map((p) => `${manifest.kind}/${manifest.metadata?.name}: ${p}`);
}
