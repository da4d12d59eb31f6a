import type { IncomingMessage } from 'node:http';

/**
 * The client token of an HTTP request or WebSocket handshake: `Authorization: Bearer`,
 * else the `token` query parameter (EventSource and browser WebSockets cannot set headers).
 */
export function tokenFromRequest(req: IncomingMessage, query: URLSearchParams): string | undefined {
  return bearerToken(req.headers.authorization) ?? query.get('token') ?? undefined;
}

/** `tokenFromRequest` with the `token` parameter already read from the query. */
export function tokenFromHeaderOr(req: IncomingMessage, queryToken: string | undefined): string | undefined {
  return bearerToken(req.headers.authorization) ?? queryToken;
}

/**
 * The client token of a Socket.IO handshake: `auth.token` (the client's `auth` option), else
 * the `token` query parameter, else `Authorization: Bearer`.
 */
export function tokenFromHandshake(auth: unknown, query: Record<string, unknown>, authorization: string | undefined): string | undefined {
  const fromAuth = typeof auth === 'object' && auth !== null ? (auth as Record<string, unknown>).token : undefined;
  if (typeof fromAuth === 'string') return fromAuth;
  if (typeof query.token === 'string') return query.token;
  return bearerToken(authorization);
}

/** `Authorization: Bearer <token>`, any case and spacing. */
const BEARER = /^Bearer\s+(\S+)\s*$/i;
/** The form clients send: tested without a match array (every long-poll carries its token). */
const PLAIN_BEARER = /^Bearer \S+$/;

/** The token of an `Authorization: Bearer <token>` header. */
export function bearerToken(header: string | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  if (PLAIN_BEARER.test(header)) return header.slice(7);
  return BEARER.exec(header)?.[1];
}

/**
 * Cross-site protection for WebSocket and SSE: with ALLOWED_ORIGINS set, a browser
 * request (one that sends `Origin`) must come from one of them. Non-browser clients send
 * no Origin and are governed by their token alone.
 */
export function originAllowed(req: IncomingMessage, allowed: readonly string[]): boolean {
  if (allowed.length === 0) return true;
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  return allowed.includes(origin) || allowed.includes('*');
}
