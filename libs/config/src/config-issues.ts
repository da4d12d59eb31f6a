import { z } from 'zod';

/**
 * Zod issues in words an operator reads: where the value belongs, what is wrong and what is
 * allowed — never the value itself (it may be a secret). Used for environment variables and
 * for config files (WEBHOOK_CONFIG, ROUTES_CONFIG, WEBHOOK_SOURCES).
 */

type Path = ReadonlyArray<PropertyKey>;

/** `routes[0].match.type`; `base` is prepended (`sources` for a file's `sources:` list). */
export function formatPath(path: Path, base = ''): string {
  let out = base;
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

/** One problem: `path` is where the value belongs (relative to the validated value). */
export interface ConfigProblem {
  path: PropertyKey[];
  message: string;
}

/**
 * The problems of a failed parse of `input` by `schema`, one per mistake: an unknown key
 * that looks like a misspelt known one is reported once, with the key it should be
 * ("did you mean …"), not also as that key missing. `base` is the path of `input` in its
 * file, for the suggestion.
 */
export function configProblems(schema: z.ZodType, input: unknown, error: z.ZodError, base = ''): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const covered = new Set<string>();
  const flat = flatten(error.issues, input);
  for (const issue of flat) {
    if (issue.code !== 'unrecognized_keys') continue;
    const known = knownKeys(schema, issue.path, input);
    for (const key of issue.keys) {
      const suggestion = known === undefined ? undefined : closest(key, known);
      if (suggestion !== undefined) covered.add(JSON.stringify([...issue.path, suggestion]));
      problems.push({
        path: [...issue.path, key],
        message:
          suggestion !== undefined
            ? `is not a known key; did you mean ${formatPath([...issue.path, suggestion], base)}?`
            : `is not a known key${known !== undefined && known.length > 0 ? ` (known keys: ${known.join(', ')})` : ''}`,
      });
    }
  }
  for (const issue of flat) {
    if (issue.code === 'unrecognized_keys') continue;
    if (isMissing(issue, input) && covered.has(JSON.stringify(issue.path))) continue;
    problems.push({ path: [...issue.path], message: issueMessage(issue, input) });
  }
  return problems;
}

/** `routes[0].chanels: is not a known key; …; routes[0].match: …` in one line. */
export function describeProblems(problems: ConfigProblem[], base = ''): string {
  return problems.map((p) => (p.path.length === 0 && base === '' ? p.message : `${formatPath(p.path, base)}: ${p.message}`)).join('; ');
}

/** Zod's own wording starts like this; messages written in our schemas do not. */
const ZOD_WORDING = /^(Invalid|Too (small|big)|Unrecognized|Expected)/;

/** The message of one issue, in our words when zod's are the generic ones. */
export function issueMessage(issue: z.core.$ZodIssue, input?: unknown): string {
  if (!ZOD_WORDING.test(issue.message)) return issue.message;
  switch (issue.code) {
    case 'invalid_type':
      return isMissing(issue, input) ? 'is required' : `must be ${typeName(issue.expected)}`;
    case 'invalid_value':
      return issue.values.length === 1 ? `must be ${String(issue.values[0])}` : `must be one of ${issue.values.map(String).join(', ')}`;
    case 'too_small':
      return sizeMessage('at least', '≥', issue.origin, Number(issue.minimum), issue.inclusive !== false);
    case 'too_big':
      return sizeMessage('at most', '≤', issue.origin, Number(issue.maximum), issue.inclusive !== false);
    case 'invalid_format':
      return issue.format === 'regex' ? 'has characters or a form that is not allowed' : `must be a valid ${issue.format}`;
    case 'not_multiple_of':
      return `must be a multiple of ${String(issue.divisor)}`;
    default:
      return 'is not valid';
  }
}

function sizeMessage(words: string, sign: string, origin: string, bound: number, inclusive: boolean): string {
  if (origin === 'string') return bound === 1 && words === 'at least' ? 'must not be empty' : `must be ${words} ${bound} characters`;
  if (origin === 'array' || origin === 'set') return `must list ${words} ${bound} item${bound === 1 ? '' : 's'}`;
  return `must be ${inclusive ? sign : sign.replace('≥', '>').replace('≤', '<')} ${bound}`;
}

function typeName(expected: string): string {
  switch (expected) {
    case 'array':
      return 'a list';
    case 'object':
      return 'a mapping of keys to values';
    case 'boolean':
      return 'true or false';
    case 'int':
      return 'an integer';
    default:
      return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
  }
}

function valueAt(input: unknown, path: Path): unknown {
  let value = input;
  for (const part of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[part];
  }
  return value;
}

function isMissing(issue: z.core.$ZodIssue, input: unknown): boolean {
  return issue.code === 'invalid_type' && valueAt(input, issue.path) === undefined;
}

/**
 * Issues with unions resolved: of a union's branches, the one the value was meant for (the
 * first that does not refuse the value's type outright) gives the issues.
 */
function flatten(issues: readonly z.core.$ZodIssue[], input: unknown, prefix: PropertyKey[] = []): z.core.$ZodIssue[] {
  const out: z.core.$ZodIssue[] = [];
  for (const raw of issues) {
    const issue = { ...raw, path: [...prefix, ...raw.path] } as z.core.$ZodIssue;
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const meant = issue.errors.find(
        (branch) => !branch.some((i) => i.path.length === 0 && (i.code === 'invalid_type' || i.code === 'invalid_value')),
      );
      if (meant !== undefined) {
        out.push(...flatten(meant, input, issue.path));
        continue;
      }
    }
    out.push(issue);
  }
  return out;
}

interface SchemaDef {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  options?: z.ZodType[];
  left?: z.ZodType;
  right?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  valueType?: z.ZodType;
  values?: unknown[];
  getter?: () => z.ZodType;
}

const defOf = (schema: z.ZodType): SchemaDef => (schema as unknown as { _zod: { def: SchemaDef } })._zod.def;

/** The object, array and literal schemas `schema` stands for, through wrappers and unions. */
function concrete(schema: z.ZodType): z.ZodType[] {
  const def = defOf(schema);
  switch (def.type) {
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'catch':
    case 'readonly':
    case 'nonoptional':
      return concrete(def.innerType!);
    case 'pipe':
      // z.preprocess is a pipe from a transform into the real schema; .transform() the other way round.
      return defOf(def.in!).type === 'transform' ? concrete(def.out!) : concrete(def.in!);
    case 'lazy':
      return concrete(def.getter!());
    case 'union':
      return def.options!.flatMap(concrete);
    case 'intersection':
      return [...concrete(def.left!), ...concrete(def.right!)];
    default:
      return [schema];
  }
}

/** Object schemas whose literal fields (a discriminator such as `provider`) agree with `value`. */
function matchingObjects(candidates: z.ZodType[], value: unknown): z.ZodType[] {
  const objects = candidates.filter((c) => defOf(c).type === 'object');
  if (value === null || typeof value !== 'object') return objects;
  const matching = objects.filter((o) =>
    Object.entries(defOf(o).shape!).every(([key, field]) => {
      const def = defOf(field);
      const given = (value as Record<string, unknown>)[key];
      return def.type !== 'literal' || given === undefined || def.values!.includes(given);
    }),
  );
  return matching.length > 0 ? matching : objects;
}

/** The keys an object at `path` of `input` may have, or undefined when the schema does not say. */
export function knownKeys(schema: z.ZodType, path: Path, input: unknown): string[] | undefined {
  let candidates = concrete(schema);
  for (let i = 0; i < path.length; i++) {
    const part = path[i];
    const here = valueAt(input, path.slice(0, i));
    const next: z.ZodType[] = [];
    for (const c of candidates) {
      const def = defOf(c);
      if (def.type === 'array' && typeof part === 'number') next.push(def.element!);
      else if (def.type === 'record') next.push(def.valueType!);
    }
    for (const o of matchingObjects(candidates, here)) {
      const field = defOf(o).shape![String(part)];
      if (field !== undefined) next.push(field);
    }
    candidates = next.flatMap(concrete);
  }
  const objects = matchingObjects(candidates, valueAt(input, path));
  if (objects.length === 0) return undefined;
  return [...new Set(objects.flatMap((o) => Object.keys(defOf(o).shape!)))];
}

/** The known key `key` was probably meant to be: same letters in another case, or a typo or two away. */
export function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = candidate.toLowerCase() === key.toLowerCase() ? 0 : editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const allowed = Math.max(1, Math.floor(key.length / 4));
  return bestDistance <= allowed ? best : undefined;
}

/** Levenshtein distance with adjacent transpositions counted as one edit. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}
