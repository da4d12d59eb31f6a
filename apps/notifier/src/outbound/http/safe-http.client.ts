import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { Agent, buildConnector } from 'undici';
import { AddressPolicy, literalAddress } from './address-policy';

/** Resolves a host name to every address it has (the default is the system resolver). */
export type HostLookup = (hostname: string) => Promise<Array<{ address: string; family: number }>>;

const systemLookup: HostLookup = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/** Response bytes read at most (SPEC: 64 KiB); the rest is never read. */
export const MAX_RESPONSE_BYTES = 64 * 1024;

/** Why an attempt got no usable answer. `http_status` is an answer outside 2xx. */
export type HttpFailureCode =
  'blocked_address' | 'scheme_not_allowed' | 'invalid_url' | 'dns' | 'connect' | 'tls' | 'timeout' | 'network' | 'redirect' | 'http_status';

/** What one POST got. */
export interface HttpOutcome {
  /** True only for a 2xx answer within the timeout. */
  ok: boolean;
  statusCode?: number;
  /** `Retry-After` of the answer, seconds from now, when it had a valid one. */
  retryAfterSeconds?: number;
  /** Up to MAX_RESPONSE_BYTES of the response body. */
  body?: Buffer;
  durationMs: number;
  error?: { code: HttpFailureCode; message: string };
}

/** Refusal of the dialer: no TCP connection was made. */
export class BlockedAddressError extends Error {
  override readonly name = 'BlockedAddressError';
  readonly code = 'blocked_address';
}

export interface SafeHttpOptions {
  policy: AddressPolicy;
  /** Whole attempt: connect, answer and body. */
  timeoutMs: number;
  /** Name resolution (tests give a fixed table). */
  lookup?: HostLookup;
  /** Extra TLS options (tests pass a private CA). */
  tls?: Pick<ConnectionOptions, 'ca' | 'rejectUnauthorized'>;
}

/**
 * The HTTP client of outbound deliveries. Its undici `Agent` dials through a connector
 * that resolves the host once, refuses unless every address is allowed by the policy,
 * and connects to the checked address (TLS still verifies the certificate against the
 * host name): DNS rebinding cannot switch the target between the check and the dial, and
 * a refused URL never opens a TCP connection. Redirects are never followed (undici's
 * `request` does not), response bodies are read up to 64 KiB.
 */
export class SafeHttpClient {
  private readonly agent: Agent;
  private readonly lookup: HostLookup;

  constructor(private readonly options: SafeHttpOptions) {
    this.lookup = options.lookup ?? systemLookup;
    const base = buildConnector({ timeout: options.timeoutMs, allowH2: false, ...(options.tls ?? {}) });
    const policy = options.policy;
    const lookup = this.lookup;
    this.agent = new Agent({
      // No cap per origin: endpoints sharing a host (hooks.example.com/a, /b) must not queue behind
      // each other's slow requests. Each endpoint's window (OUTBOUND_CONCURRENCY) bounds its share.
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      keepAliveTimeout: 30_000,
      maxResponseSize: -1,
      connect: (opts, callback) => {
        const host = opts.hostname.startsWith('[') ? opts.hostname.slice(1, -1) : opts.hostname;
        resolveChecked(host, policy, lookup).then(
          (address) =>
            // SNI and certificate checks use the name; the socket goes to the address checked.
            base({ ...opts, hostname: address, servername: isIP(host) === 0 ? host : undefined }, callback),
          (err: unknown) => callback(err instanceof Error ? err : new Error(String(err)), null),
        );
      },
    });
  }

  /** POSTs `body` to `url`; never throws, every failure is in the outcome. */
  async post(url: string, headers: Record<string, string>, body: Uint8Array): Promise<HttpOutcome> {
    const started = performance.now();
    const elapsed = (): number => Math.round((performance.now() - started) * 10) / 10;
    const checked = this.options.policy.checkUrl(url);
    if ('problem' in checked) return { ok: false, durationMs: 0, error: { code: checked.problem.code, message: checked.problem.message } };
    const target = checked.url;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), this.options.timeoutMs);
    try {
      const res = await this.agent.request({
        origin: target.origin,
        path: target.pathname + target.search,
        method: 'POST',
        headers,
        body,
        signal: abort.signal,
      });
      const received = await readCapped(res.body, MAX_RESPONSE_BYTES);
      const statusCode = res.statusCode;
      const retryAfterSeconds = parseRetryAfter(res.headers['retry-after'], Date.now());
      const outcome: HttpOutcome = {
        ok: statusCode >= 200 && statusCode < 300,
        statusCode,
        body: received,
        durationMs: elapsed(),
        ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
      };
      if (statusCode >= 300 && statusCode < 400) {
        const location = res.headers.location;
        outcome.error = {
          code: 'redirect',
          message: `answered ${statusCode}${typeof location === 'string' ? ` to ${location.slice(0, 200)}` : ''}; redirects are not followed`,
        };
      } else if (!outcome.ok) outcome.error = { code: 'http_status', message: `answered ${statusCode}` };
      return outcome;
    } catch (err) {
      return { ok: false, durationMs: elapsed(), error: classify(err, abort.signal.aborted, this.options.timeoutMs) };
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

/** Resolves once, checks every address, returns the one to dial (the first). */
async function resolveChecked(host: string, policy: AddressPolicy, lookup: HostLookup): Promise<string> {
  const literal = literalAddress(host);
  let addresses: string[];
  if (literal !== undefined) addresses = [literal];
  else {
    try {
      addresses = (await lookup(host)).map((a) => a.address);
    } catch (err) {
      throw Object.assign(new Error(`cannot resolve ${host}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`), {
        code: 'dns',
      });
    }
    if (addresses.length === 0) throw Object.assign(new Error(`${host} has no address`), { code: 'dns' });
  }
  for (const address of addresses) {
    const reason = policy.blockedReason(address);
    // One bad address refuses the name: a mixed answer is how rebinding attacks start.
    if (reason !== undefined) throw new BlockedAddressError(literal === undefined ? `${host} resolves to ${reason}` : reason);
  }
  return addresses[0];
}

/** Reads at most `max` bytes of a body, then stops reading (the connection is dropped rather than drained). */
async function readCapped(body: AsyncIterable<Buffer> & { destroy(): void }, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const room = max - size;
    if (chunk.length >= room) {
      chunks.push(chunk.subarray(0, room));
      size = max;
      body.destroy();
      break;
    }
    chunks.push(chunk);
    size += chunk.length;
  }
  return Buffer.concat(chunks, size);
}

/** `Retry-After` as seconds from now: delta-seconds or an HTTP date; undefined when absent or invalid. */
export function parseRetryAfter(value: string | string[] | undefined, now: number): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined) return undefined;
  const trimmed = text.trim();
  if (/^\d{1,10}$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - now) / 1000));
}

function classify(err: unknown, timedOut: boolean, timeoutMs: number): { code: HttpFailureCode; message: string } {
  if (err instanceof BlockedAddressError) return { code: 'blocked_address', message: err.message };
  if (timedOut) return { code: 'timeout', message: `no complete answer within ${timeoutMs / 1000} s` };
  const e = err as NodeJS.ErrnoException & { cause?: unknown };
  const code = e.code ?? '';
  if (code === 'dns' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') return { code: 'dns', message: e.message };
  if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return { code: 'timeout', message: `no complete answer within ${timeoutMs / 1000} s` };
  }
  if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') {
    return { code: 'connect', message: `${code}: ${e.message}` };
  }
  if (code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || /certificate|self[- ]signed|SSL|TLS/i.test(e.message)) {
    return { code: 'tls', message: e.message };
  }
  return { code: 'network', message: code === '' ? e.message : `${code}: ${e.message}` };
}
