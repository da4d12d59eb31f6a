import { Cursor, decodeCursor, channelNameError, SwitchboardError } from '@switchboard/protocol';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Principal } from '../../auth/principal';
import { originAllowed, tokenFromRequest } from '../../auth/request-auth';
import { TokenVerifier } from '../../auth/token-verifier';
import { GatewayOptions } from '../../hub/gateway-options';

/** A validated SSE or long-poll request: who, which channels, from where. */
export interface ChannelRequest {
  principal: Principal;
  /** Requested channels, deduplicated, in request order. */
  channels: string[];
  /** Positions from the cursor for the requested channels (others ignored). */
  cursor?: Cursor;
  query: URLSearchParams;
}

/**
 * Parses an SSE / long-poll request and verifies its token. Errors are plain HTTP: 401
 * token, 403 origin, 400 an invalid channel name, cursor or parameter. The token is
 * checked first, so an anonymous caller learns nothing about channels; permissions and
 * limits are the session's (`ClientSession.checkChannels`).
 */
export async function parseChannelRequest(
  req: IncomingMessage,
  verifier: TokenVerifier,
  options: GatewayOptions,
  cursorValue: (query: URLSearchParams) => string | undefined,
): Promise<ChannelRequest> {
  const query = queryOf(req.url ?? '/');
  if (!originAllowed(req, options.allowedOrigins)) throw new SwitchboardError('forbidden', 'origin not allowed');
  const principal = await verifier.verify(tokenFromRequest(req, query));
  const channels = requestedChannels(query);
  const raw = cursorValue(query);
  const cursor = raw === undefined || raw === '' ? undefined : decodeCursor(raw, new Set(channels));
  return { principal, channels, cursor, query };
}

/** The `channel` parameters, deduplicated, in request order; 400 when there is none or one is not a valid name. */
export function requestedChannels(query: URLSearchParams): string[] {
  const channels = [...new Set(query.getAll('channel'))];
  if (channels.length === 0) throw new SwitchboardError('bad_request', 'at least one "channel" parameter is required');
  for (const channel of channels) {
    const problem = channelNameError(channel);
    if (problem !== undefined)
      throw new SwitchboardError('bad_request', `invalid channel ${JSON.stringify(channel.slice(0, 130))}: ${problem}`);
  }
  return channels;
}

/** The query of a request target (the fragment cut off), as `new URL(target, base).search` has it without `?`. */
export function rawQueryOf(target: string): string {
  const q = target.indexOf('?');
  if (q < 0) return '';
  const hash = target.indexOf('#', q);
  return hash < 0 ? target.slice(q + 1) : target.slice(q + 1, hash);
}

/**
 * The query of a request target, as `new URL(target, base).searchParams` has it, without
 * parsing the whole URL.
 */
export function queryOf(target: string): URLSearchParams {
  return new URLSearchParams(rawQueryOf(target));
}

/**
 * CORS for browser clients on other origins (EventSource, fetch): echo an allowed origin
 * (any when ALLOWED_ORIGINS is empty). Never `Access-Control-Allow-Credentials`: tokens are
 * bearer tokens, never cookies, so no cross-site request needs the browser's credentials.
 * Returns true when the request was a preflight.
 */
export function applyCors(req: IncomingMessage, res: ServerResponse, options: GatewayOptions): boolean {
  const origin = req.headers.origin;
  if (origin !== undefined && originAllowed(req, options.allowedOrigins)) {
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Vary', 'Origin');
  }
  if (req.method === 'OPTIONS') {
    res.setHeader('Access-Control-Allow-Methods', 'GET, OPTIONS');
    res.setHeader('Access-Control-Allow-Headers', 'Authorization, Last-Event-ID, Cache-Control');
    res.setHeader('Access-Control-Max-Age', '600');
    res.statusCode = 204;
    res.end();
    return true;
  }
  return false;
}

/** Writes a protocol error as JSON `{error, message}` with its HTTP status. */
export function sendError(res: ServerResponse, err: SwitchboardError): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const body = JSON.stringify({ error: err.code, message: err.message });
  const headers: Record<string, string | number> = {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
  };
  // Refusals for load or rate say when to come back.
  if (err.code === 'overloaded' || err.code === 'rate_limited') headers['Retry-After'] = 1;
  res.writeHead(err.httpStatus, headers);
  res.end(body);
}
