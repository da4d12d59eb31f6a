import type { CliIo } from './dlq.command';

export const ENDPOINTS_USAGE = `usage: endpoints list                               every endpoint, one JSON line each
       endpoints get <id>
       endpoints create --url <url> --events <a,b> [--description <text>] [--secret <whsec_…>]
                        [--rate <per second>] [--disabled]
       endpoints update <id> [--url <url>] [--events <a,b>] [--description <text>]
                        [--rate <per second>|none] [--enable|--disable]
       endpoints delete <id>
       endpoints rotate-secret <id> [--secret <whsec_…>]   the old secret signs 24 h more
       endpoints attempts <id> [--status failed|succeeded] [--limit <n>]
       endpoints replay <id> --since <ISO time>   queue again what was dead-lettered since then
       endpoints test <id>                        one signed test event, now
Talks to the notifier's endpoints API: SWITCHBOARD_URL (default http://127.0.0.1:$PORT,
PORT default 8080) with ADMIN_API_KEY from the environment.`;

class UsageError extends Error {}

interface Request {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  body?: Record<string, unknown>;
  /** Print a list one JSON line per item (this field of the answer). */
  lines?: string;
}

/** `--name value` pairs and bare `--flags` after the positional arguments. */
function options(rest: readonly string[], allowed: Record<string, 'value' | 'flag'>): Map<string, string | true> {
  const result = new Map<string, string | true>();
  for (let i = 0; i < rest.length; i++) {
    const name = rest[i];
    const kind = allowed[name];
    if (kind === undefined) throw new UsageError(`unknown option ${name}`);
    if (kind === 'flag') result.set(name, true);
    else {
      const value = rest[++i];
      if (value === undefined) throw new UsageError(`${name} needs a value`);
      result.set(name, value);
    }
  }
  return result;
}

function idOf(rest: readonly string[], verb: string): [string, string[]] {
  const [id, ...more] = rest;
  if (id === undefined || id.startsWith('--')) throw new UsageError(`${verb} takes an endpoint id`);
  return [encodeURIComponent(id), more];
}

function rate(value: string): number | null {
  if (value === 'none') return null;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError('--rate must be a positive number or none');
  return n;
}

const list = (value: string): string[] =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);

/** The HTTP request a command line stands for. */
export function parseEndpointsArgs(args: readonly string[]): Request {
  const [verb, ...rest] = args;
  switch (verb) {
    case 'list':
      if (rest.length > 0) throw new UsageError('list takes no arguments');
      return { method: 'GET', path: '/v1/endpoints', lines: 'endpoints' };
    case 'get': {
      const [id, more] = idOf(rest, verb);
      if (more.length > 0) throw new UsageError('get takes one id');
      return { method: 'GET', path: `/v1/endpoints/${id}` };
    }
    case 'create': {
      const o = options(rest, {
        '--url': 'value',
        '--events': 'value',
        '--description': 'value',
        '--secret': 'value',
        '--rate': 'value',
        '--disabled': 'flag',
      });
      if (!o.has('--url') || !o.has('--events')) throw new UsageError('create needs --url and --events');
      const body: Record<string, unknown> = { url: o.get('--url'), events: list(o.get('--events') as string) };
      if (o.has('--description')) body.description = o.get('--description');
      if (o.has('--secret')) body.secret = o.get('--secret');
      if (o.has('--rate')) body.rateLimitPerSecond = rate(o.get('--rate') as string);
      if (o.has('--disabled')) body.disabled = true;
      return { method: 'POST', path: '/v1/endpoints', body };
    }
    case 'update': {
      const [id, more] = idOf(rest, verb);
      const o = options(more, {
        '--url': 'value',
        '--events': 'value',
        '--description': 'value',
        '--rate': 'value',
        '--enable': 'flag',
        '--disable': 'flag',
      });
      if (o.has('--enable') && o.has('--disable')) throw new UsageError('--enable or --disable, not both');
      const body: Record<string, unknown> = {};
      if (o.has('--url')) body.url = o.get('--url');
      if (o.has('--events')) body.events = list(o.get('--events') as string);
      if (o.has('--description')) body.description = o.get('--description');
      if (o.has('--rate')) body.rateLimitPerSecond = rate(o.get('--rate') as string);
      if (o.has('--enable')) body.disabled = false;
      if (o.has('--disable')) body.disabled = true;
      if (Object.keys(body).length === 0) throw new UsageError('update needs at least one option');
      return { method: 'PATCH', path: `/v1/endpoints/${id}`, body };
    }
    case 'delete': {
      const [id, more] = idOf(rest, verb);
      if (more.length > 0) throw new UsageError('delete takes one id');
      return { method: 'DELETE', path: `/v1/endpoints/${id}` };
    }
    case 'rotate-secret': {
      const [id, more] = idOf(rest, verb);
      const o = options(more, { '--secret': 'value' });
      return { method: 'POST', path: `/v1/endpoints/${id}/rotate-secret`, body: o.has('--secret') ? { secret: o.get('--secret') } : {} };
    }
    case 'attempts': {
      const [id, more] = idOf(rest, verb);
      const o = options(more, { '--status': 'value', '--limit': 'value' });
      const query = new URLSearchParams();
      if (o.has('--status')) query.set('status', o.get('--status') as string);
      if (o.has('--limit')) query.set('limit', o.get('--limit') as string);
      const q = query.toString();
      return { method: 'GET', path: `/v1/endpoints/${id}/attempts${q === '' ? '' : '?' + q}`, lines: 'attempts' };
    }
    case 'replay': {
      const [id, more] = idOf(rest, verb);
      const o = options(more, { '--since': 'value' });
      if (!o.has('--since')) throw new UsageError('replay needs --since <ISO time>');
      return { method: 'POST', path: `/v1/endpoints/${id}/replay`, body: { since: o.get('--since') } };
    }
    case 'test': {
      const [id, more] = idOf(rest, verb);
      if (more.length > 0) throw new UsageError('test takes one id');
      return { method: 'POST', path: `/v1/endpoints/${id}/test` };
    }
    default:
      throw new UsageError(verb === undefined ? 'a command is required' : `unknown command ${verb}`);
  }
}

const processIo: CliIo = {
  out: (line) => process.stdout.write(line + '\n'),
  err: (line) => process.stderr.write(line + '\n'),
};

/**
 * `endpoints <verb> …` (`node dist/apps/notifier/main.js endpoints …`, or
 * `npm run endpoints -- …`): the endpoints API from the command line, so it works the same
 * against the single process (memory engine) and a cluster. Returns the exit code:
 * 0 done, 1 refused or unreachable, 2 usage or configuration error.
 */
export async function runEndpointsCommand(
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  io: CliIo = processIo,
): Promise<number> {
  let request: Request;
  try {
    request = parseEndpointsArgs(args);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(`endpoints: ${err.message}\n${ENDPOINTS_USAGE}`);
    return 2;
  }
  const key = env.ADMIN_API_KEY ?? env.DLQ_API_KEY;
  if (key === undefined || key === '') {
    io.err('endpoints: ADMIN_API_KEY is not set (the key of the admin routes of the notifier you talk to)');
    return 2;
  }
  const base = (env.SWITCHBOARD_URL ?? `http://127.0.0.1:${env.PORT ?? 8080}`).replace(/\/+$/, '');
  let res: Response;
  try {
    res = await fetch(base + request.path, {
      method: request.method,
      headers: { authorization: `Bearer ${key}`, ...(request.body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
      signal: AbortSignal.timeout(60_000),
    });
  } catch (err) {
    io.err(`endpoints: cannot reach ${base}: ${(err as Error).message} (set SWITCHBOARD_URL)`);
    return 1;
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    body = text;
  }
  if (res.status >= 400) {
    const message = (body as { message?: string } | undefined)?.message ?? text;
    io.err(`endpoints: ${res.status} ${message}`);
    return 1;
  }
  if (body === undefined) io.out(JSON.stringify({ status: res.status }));
  else if (request.lines !== undefined) {
    for (const item of (body as Record<string, unknown[]>)[request.lines] ?? []) io.out(JSON.stringify(item));
  } else io.out(JSON.stringify(body, null, 2));
  return 0;
}
