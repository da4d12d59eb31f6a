import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/** A configuration problem: one line naming the variable, safe to print (never echoes secrets). */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Names of variables whose values must never be echoed back in an error. */
const SECRET_NAME = /SECRET|KEY|TOKEN|PASSWORD|CREDENTIAL|SOURCES/i;

/**
 * Validates `env` against `schema`. On failure throws a ConfigError whose message names
 * every bad variable, e.g. `HISTORY_SIZE must be ≥ 1 (got "0")`.
 */
export function loadConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.output<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = issue.path.map(String).join('.') || 'configuration';
    const raw = issue.path.length > 0 ? env[String(issue.path[0])] : undefined;
    const shown =
      raw === undefined || SECRET_NAME.test(name) ? '' : ` (got ${JSON.stringify(raw.length > 80 ? raw.slice(0, 80) + '…' : raw)})`;
    return `${name} ${issue.message}${shown}`;
  });
  throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
}

/**
 * Reads a YAML or JSON config file (YAML is a superset of JSON). Errors name the
 * variable that pointed at the file.
 */
export function readConfigFile(path: string, variable: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`${variable}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${variable}: ${path} is not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`);
  }
}

/** Formats zod issues of a structured value (file or JSON variable) into one line. */
export function describeIssues(variable: string, error: z.ZodError): string {
  return `${variable}: ` + error.issues.map((i) => `${i.path.length ? i.path.join('.') + ': ' : ''}${i.message}`).join('; ');
}
