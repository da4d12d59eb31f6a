import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { configProblems, describeProblems, issueMessage } from './config-issues';

/** A configuration problem: one line naming the variable, safe to print (never echoes secrets). */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Names of variables whose values must never be echoed back in an error. */
const SECRET_NAME = /SECRET|KEY|TOKEN|PASSWORD|CREDENTIAL|SOURCES|PUSHER_APPS/i;

/**
 * Validates `env` against `schema`. On failure throws a ConfigError whose message names
 * every bad variable, what is allowed and the value given (never a secret's), e.g.
 * `HISTORY_SIZE must be ≥ 1 (got "0")`.
 */
export function loadConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.output<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = issue.path.map(String).join('.') || 'configuration';
    const raw = issue.path.length > 0 ? env[String(issue.path[0])] : undefined;
    const message = issueMessage(issue, env);
    // A message that starts with the value (a file's path) needs no echo of it.
    const shown =
      raw === undefined || SECRET_NAME.test(name) || message.startsWith(`${raw}:`) ? '' : ` (got ${JSON.stringify(shownValue(raw))})`;
    return `${name} ${message}${shown}`;
  });
  throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
}

/** A value as echoed in an error: shortened, and a URL's password masked (REDIS_URL may carry one). */
function shownValue(raw: string): string {
  const masked = raw.replace(/(\/\/[^/:@\s]*):[^@/\s]*@/g, '$1:***@');
  return masked.length > 80 ? masked.slice(0, 80) + '…' : masked;
}

/**
 * Reads a YAML or JSON config file (YAML is a superset of JSON). Errors name the
 * variable that pointed at the file and the file.
 */
export function readConfigFile(path: string, variable: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`${variable} ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try {
    return parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${variable} ${path}: not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`);
  }
}

/**
 * Reads and validates the config file that `variable` names: one line naming the
 * variable, the file, where in the file each value belongs and what is allowed there,
 * e.g. `ROUTES_CONFIG /etc/routes.yaml: routes[0].chanels: is not a known key; did you
 * mean routes[0].channels?`. Values are never echoed (files hold secrets).
 */
export function loadConfigFile<S extends z.ZodType>(schema: S, path: string, variable: string): z.output<S> {
  const raw = readConfigFile(path, variable);
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  throw new ConfigError(`${variable} ${path}: ${describeProblems(configProblems(schema, raw, parsed.error))}`);
}
