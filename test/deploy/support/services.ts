import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { CommonConfig } from '@switchboard/config';
import type { ServiceDefinition } from '@switchboard/platform';
import { gatewayDefinition } from '@switchboard/gateway';
import { notifierDefinition } from '@switchboard/notifier';
import { webhookIngestDefinition } from '@switchboard/webhook-ingest';
import { repoRoot } from './tools';

/** The services a cluster runs one Deployment each for (the single process is not one of them). */
export const serviceDefinitions: ReadonlyArray<ServiceDefinition<CommonConfig>> = [
  gatewayDefinition,
  webhookIngestDefinition,
  notifierDefinition,
];

/** Apps with a `<name>.definition.ts` of their own, except the single process. */
export function appsWithDefinitions(): string[] {
  return readdirSync(join(repoRoot, 'apps'))
    .filter((name) => name !== 'standalone' && existsSync(join(repoRoot, 'apps', name, 'src', `${name}.definition.ts`)))
    .sort();
}

export function definitionOf(component: string): ServiceDefinition<CommonConfig> {
  const definition = serviceDefinitions.find((d) => d.name === component);
  if (!definition) throw new Error(`no service definition named ${component}`);
  return definition;
}

/**
 * The environment variables a service reads: the keys of its zod object schema. A
 * refinement may wrap the object (zod pipes keep it in `def.in`), so unwrap until it shows.
 */
export function envNamesOf(schema: z.ZodType): Set<string> {
  let current: unknown = schema;
  for (let depth = 0; depth < 5 && !(current instanceof z.ZodObject); depth++) {
    const def = (current as { def?: { in?: unknown; schema?: unknown; innerType?: unknown } }).def;
    current = def?.in ?? def?.schema ?? def?.innerType;
  }
  if (!(current instanceof z.ZodObject)) throw new Error('the service schema is not an object schema');
  return new Set(Object.keys(current.shape));
}
