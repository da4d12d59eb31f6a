import { z } from 'zod';

/**
 * Zod builders for environment variables. Every variable is a string or absent; an empty
 * string counts as absent so `FOO=` in a manifest means "use the default".
 */
const blankToUndefined = (v: unknown): unknown => (typeof v === 'string' && v.trim() === '' ? undefined : v);

/** An integer in [min, max] with a default. */
export function envInt(defaultValue: number, min: number, max = Number.MAX_SAFE_INTEGER) {
  return z.preprocess(
    blankToUndefined,
    z
      .string()
      .trim()
      .regex(/^-?\d+$/, `must be an integer between ${min} and ${max}`)
      .transform(Number)
      .pipe(z.number().int().min(min, `must be ≥ ${min}`).max(max, `must be ≤ ${max}`))
      .optional()
      .transform((v) => v ?? defaultValue),
  );
}

/** A number (fractions allowed) in [min, max] with a default. */
export function envNumber(defaultValue: number, min: number, max = Number.MAX_VALUE) {
  return z.preprocess(
    blankToUndefined,
    z
      .string()
      .trim()
      .regex(/^-?\d+(\.\d+)?$/, 'must be a number')
      .transform(Number)
      .pipe(z.number().min(min, `must be ≥ ${min}`).max(max, `must be ≤ ${max}`))
      .optional()
      .transform((v) => v ?? defaultValue),
  );
}

export function envString(defaultValue: string) {
  return z.preprocess(
    blankToUndefined,
    z
      .string()
      .optional()
      .transform((v) => v ?? defaultValue),
  );
}

export function envOptionalString() {
  return z.preprocess(blankToUndefined, z.string().optional());
}

export function envBool(defaultValue: boolean) {
  return z.preprocess(
    blankToUndefined,
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
      .optional()
      .transform((v) => (v === undefined ? defaultValue : v === 'true' || v === '1' || v === 'yes')),
  );
}

/** A comma-separated list; empty entries dropped. */
export function envList() {
  return z.preprocess(
    blankToUndefined,
    z
      .string()
      .optional()
      .transform((v) =>
        v === undefined
          ? []
          : v
              .split(',')
              .map((s) => s.trim())
              .filter((s) => s.length > 0),
      ),
  );
}

/**
 * A comma-separated list of browser origins, `scheme://host[:port]` (http or https, no path),
 * or `*` for any. Each entry is stored as a browser serializes it (lower-case host, no
 * default port), so an `Origin` header compares equal.
 */
export function envOriginList() {
  return envList().pipe(
    z.array(z.string()).transform((entries, ctx) => {
      const origins: string[] = [];
      const bad: string[] = [];
      for (const entry of entries) {
        const origin = entry === '*' ? entry : originOf(entry);
        if (origin === undefined) bad.push(entry);
        else origins.push(origin);
      }
      if (bad.length > 0) {
        ctx.addIssue({
          code: 'custom',
          message: `must list origins as scheme://host[:port] (http or https, no path), e.g. https://app.example.com, or * for any; not an origin: ${bad.map((b) => JSON.stringify(b)).join(', ')}`,
        });
        return z.NEVER;
      }
      return origins;
    }),
  );
}

/** Host: a DNS name, an IPv4 address, or an IPv6 address in brackets. */
const ICE_HOST = String.raw`(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)`;
const STUN_URL = new RegExp(String.raw`^stuns?:${ICE_HOST}(?::(\d{1,5}))?$`);
const TURN_URL = new RegExp(String.raw`^turns?:${ICE_HOST}(?::(\d{1,5}))?(?:\?transport=(?:udp|tcp))?$`);

/**
 * A comma-separated list of STUN (RFC 7064: `stun:host[:port]`, `stuns:`) or TURN (RFC 7065:
 * `turn:host[:port][?transport=udp|tcp]`, `turns:`) URLs, as a browser's `RTCPeerConnection`
 * accepts them: one malformed entry makes it refuse the whole ICE server list, so every call
 * of every client would fail, long after the gateway started. Checked here instead.
 */
export function envIceUrlList(kind: 'stun' | 'turn') {
  const pattern = kind === 'stun' ? STUN_URL : TURN_URL;
  const shape = kind === 'stun' ? 'stun:host[:port] or stuns:host[:port]' : 'turn:host[:port][?transport=udp|tcp] or turns:…';
  return envList().pipe(
    z.array(z.string()).superRefine((entries, ctx) => {
      const bad = entries.filter((entry) => !isIceUrl(entry, pattern));
      if (bad.length > 0) {
        ctx.addIssue({
          code: 'custom',
          message: `must list URLs as ${shape}; not such a URL: ${bad.map((b) => JSON.stringify(b)).join(', ')}`,
        });
      }
    }),
  );
}

function isIceUrl(entry: string, pattern: RegExp): boolean {
  const match = pattern.exec(entry);
  if (match === null) return false;
  const port = match[1];
  return port === undefined || (Number(port) >= 1 && Number(port) <= 65_535);
}

function originOf(entry: string): string | undefined {
  if (!/^https?:\/\/[^/?#@\s]+$/i.test(entry)) return undefined;
  try {
    return new URL(entry).origin;
  } catch {
    return undefined;
  }
}

/** A URL with one of the given schemes (several servers may be comma-separated). */
export function envUrl(schemes: readonly string[], options: { list?: boolean } = {}) {
  return z.preprocess(
    blankToUndefined,
    z
      .string()
      .trim()
      .refine(
        (v) =>
          (options.list ? v.split(',') : [v]).every((part) => {
            try {
              return schemes.includes(new URL(part.trim()).protocol.replace(/:$/, ''));
            } catch {
              return false;
            }
          }),
        { message: `must be a ${schemes.join(' or ')} URL` },
      )
      .optional(),
  );
}

/** An integer in [min, max], or undefined when unset. */
export function envOptionalInt(min: number, max = Number.MAX_SAFE_INTEGER) {
  return z.preprocess(
    blankToUndefined,
    z
      .string()
      .trim()
      .regex(/^-?\d+$/, `must be an integer between ${min} and ${max}`)
      .transform(Number)
      .pipe(z.number().int().min(min, `must be ≥ ${min}`).max(max, `must be ≤ ${max}`))
      .optional(),
  );
}

/** A comma-separated list of `host:port` (Redis Cluster nodes, sentinels); empty when unset. */
export function envHostPorts() {
  return z.preprocess(
    blankToUndefined,
    z
      .string()
      .optional()
      .transform((v) =>
        v === undefined
          ? []
          : v
              .split(',')
              .map((s) => s.trim())
              .filter((s) => s.length > 0),
      )
      .superRefine((list, ctx) => {
        const bad = list.filter(
          (s) => !/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(s) || Number(s.slice(s.lastIndexOf(':') + 1)) > 65535,
        );
        if (bad.length > 0) ctx.addIssue({ code: 'custom', message: `must be comma-separated host:port entries (bad: ${bad.join(', ')})` });
      }),
  );
}
