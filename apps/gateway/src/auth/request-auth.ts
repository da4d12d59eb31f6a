import type { IncomingMessage } from 'node:http';

/**
 * The client token of an HTTP request or WebSocket handshake: `Authorization: Bearer`,
 * else the `token` query parameter (EventSource and browser WebSockets cannot set headers).
 */
export function tokenFromRequest(req: IncomingMessage, query: URLSearchParams): string | undefined {
  const header = req.headers.authorization;
  if (typeof header === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (match) return match[1];
  }
  return query.get('token') ?? undefined;
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
