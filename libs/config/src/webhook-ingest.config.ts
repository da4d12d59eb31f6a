import { z } from 'zod';
import { engineEnv, forwardingEnv, refineEngine, refineForwarding, refineService, serviceEnv } from './common.config';
import { envInt, envNumber, envOptionalString } from './env';
import { ConfigError, readConfigFile } from './load-config';
import { WebhookSource, webhookSourceSchema } from './webhook-sources.schema';
import { closest, configProblems, formatPath } from './config-issues';

/** Settings of webhook-ingest (SPEC "Webhook ingest"). */
export const webhookIngestEnv = {
  /** Webhook sources file (YAML or JSON): `sources: [...]` or a bare list. Default: none. */
  WEBHOOK_CONFIG: envOptionalString(),
  /** Webhook sources as a JSON list (instead of, or added to, WEBHOOK_CONFIG). Default: none. */
  WEBHOOK_SOURCES: envOptionalString(),
  /** Largest webhook body, bytes (413 beyond). Default 1 MiB. */
  WEBHOOK_MAX_BYTES: envInt(1_048_576, 1024, 64 * 1024 * 1024),
  /** Seconds a delivery id is remembered per source (Stripe retries for up to three days). Default 259200. */
  WEBHOOK_DEDUPE_SECONDS: envInt(259_200, 60, 30 * 86400),
  ...forwardingEnv,
  /**
   * Requests per second each client address (IPv6: each /64) may make before its bodies are
   * verified; burst 2 × rate; a request that verifies gives its share back. Checked before
   * the body is read and shared by replicas through Redis (per process with the memory
   * engine). Over it: 429. 0 turns it off. Default 10.
   */
  WEBHOOK_UNVERIFIED_RATE: envNumber(10, 0, 1_000_000),
  /** Seconds a webhook body has to arrive once the ingest starts reading it (408 after). Default 10. */
  WEBHOOK_BODY_TIMEOUT_SECONDS: envInt(10, 1, 300),
  /** Unverified bodies this process reads at once (503 with Retry-After past it). Default 256. */
  WEBHOOK_MAX_CONCURRENT_READS: envInt(256, 1, 100_000),
};

export const webhookIngestSchema = z.object({ ...serviceEnv, ...engineEnv, ...webhookIngestEnv }).superRefine((c, ctx) => {
  refineService(c, ctx);
  refineEngine(c, ctx);
  refineForwarding(c, ctx);
  refineWebhookIngest(c, ctx);
});

export type WebhookIngestConfig = z.output<typeof webhookIngestSchema>;

/** The variables the sources come from. */
export interface WebhookSourcesEnv {
  WEBHOOK_CONFIG?: string;
  WEBHOOK_SOURCES?: string;
}

/** A problem in the sources, attributed to the variable it came from; never holds a secret. */
interface SourcesProblem {
  variable: 'WEBHOOK_CONFIG' | 'WEBHOOK_SOURCES';
  message: string;
}

/**
 * Cross-field rules of webhook-ingest: the sources of
 * WEBHOOK_CONFIG / WEBHOOK_SOURCES are valid, so a bad source stops the process before it
 * connects anywhere. Issues name the variable and never echo a secret.
 */
export function refineWebhookIngest(c: WebhookSourcesEnv, ctx: z.RefinementCtx): void {
  const result = parseWebhookSources(c);
  if ('problem' in result) ctx.addIssue({ code: 'custom', path: [result.problem.variable], message: result.problem.message });
}

/**
 * The webhook sources of WEBHOOK_CONFIG and WEBHOOK_SOURCES together (names unique across
 * both). No sources is valid: every source is then unknown (404). Throws a ConfigError
 * naming the variable.
 */
export function loadWebhookSources(env: WebhookSourcesEnv): WebhookSource[] {
  const result = parseWebhookSources(env);
  if ('problem' in result) throw new ConfigError(`${result.problem.variable} ${result.problem.message}`);
  return result.sources;
}

function parseWebhookSources(env: WebhookSourcesEnv): { sources: WebhookSource[] } | { problem: SourcesProblem } {
  const sources: WebhookSource[] = [];
  const origin = new Map<string, string>();
  const inputs: Array<{ variable: SourcesProblem['variable']; file?: string; read: () => unknown }> = [];
  if (env.WEBHOOK_CONFIG !== undefined) {
    const path = env.WEBHOOK_CONFIG;
    inputs.push({ variable: 'WEBHOOK_CONFIG', file: path, read: () => readConfigFile(path, 'WEBHOOK_CONFIG') });
  }
  if (env.WEBHOOK_SOURCES !== undefined) {
    const text = env.WEBHOOK_SOURCES;
    inputs.push({ variable: 'WEBHOOK_SOURCES', read: () => parseJson(text) });
  }
  for (const { variable, file, read } of inputs) {
    // Messages of a file start with its path, so the error says which file is wrong.
    const problem = (message: string): { problem: SourcesProblem } => ({
      problem: { variable, message: file === undefined ? message : `${file}: ${message}` },
    });
    let raw: unknown;
    try {
      raw = read();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      return { problem: { variable, message: message.replace(new RegExp(`^${variable}:? `), '') } };
    }
    const list = listOf(raw, variable);
    if ('message' in list) return problem(list.message);
    for (const [index, item] of list.items.entries()) {
      const parsed = webhookSourceSchema.safeParse(item);
      if (!parsed.success) return problem(describeSourceIssues(formatPath([index], list.base), item, parsed.error));
      const previous = origin.get(parsed.data.name);
      if (previous !== undefined) {
        return problem(`source "${parsed.data.name}" is defined twice (first in ${previous})`);
      }
      origin.set(parsed.data.name, variable);
      sources.push(parsed.data);
    }
  }
  return { sources };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the input, which holds secrets.
    throw new ConfigError('WEBHOOK_SOURCES: is not valid JSON');
  }
}

/**
 * A file holds `sources: [...]` or a bare list; WEBHOOK_SOURCES a list. Empty file: no
 * sources. `base` is the path of the list in the file, for messages.
 */
function listOf(raw: unknown, variable: SourcesProblem['variable']): { items: unknown[]; base: string } | { message: string } {
  if (raw === null || raw === undefined) return { items: [], base: '' };
  if (Array.isArray(raw)) return { items: raw, base: '' };
  if (variable === 'WEBHOOK_CONFIG' && typeof raw === 'object') {
    const { sources, ...rest } = raw as { sources?: unknown };
    const unknownKeys = Object.keys(rest);
    if (unknownKeys.length > 0) {
      const meant = unknownKeys.find((k) => closest(k, ['sources']) !== undefined);
      const hint = meant !== undefined && sources === undefined ? `; did you mean sources?` : ' (the file holds "sources:" only)';
      return { message: `${unknownKeys.join(', ')}: is not a known key${hint}` };
    }
    if (sources === null) return { items: [], base: 'sources' };
    if (Array.isArray(sources)) return { items: sources, base: 'sources' };
  }
  return { message: variable === 'WEBHOOK_CONFIG' ? 'must hold "sources:" with a list of sources' : 'must be a JSON list of sources' };
}

/**
 * `source "gh": sources[1].secrets[0]: must not be empty` — where each value belongs and
 * what is allowed there, never the values.
 */
function describeSourceIssues(where: string, item: unknown, error: z.ZodError): string {
  const name =
    typeof item === 'object' && item !== null && typeof (item as { name?: unknown }).name === 'string'
      ? `source "${String((item as { name: string }).name).slice(0, 64)}": `
      : '';
  const problems = configProblems(webhookSourceSchema, item, error, where);
  return name + problems.map((p) => `${formatPath(p.path, where)}: ${p.message}`).join('; ');
}
