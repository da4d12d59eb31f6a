import { Cursor, decodeCursor, channelNameError, SwitchboardError } from '@switchboard/protocol';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { canSubscribe, Principal } from '../../auth/principal';
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
 * Parses and authorizes an SSE / long-poll request. Errors are plain HTTP (SPEC): 401 token,
 * 403 a channel not allowed (or origin), 400 an invalid channel name, cursor or parameter.
 * The token is checked first, so an anonymous caller learns nothing about channels.
 */
export async function parseChannelRequest(
  req: IncomingMessage,
  verifier: TokenVerifier,
  options: GatewayOptions,
  cursorValue: (query: URLSearchParams) => string | undefined,
): Promise<ChannelRequest> {
  const query = new URL(req.url ?? '/', 'http://localhost').searchParams;
  if (!originAllowed(req, options.allowedOrigins)) throw new SwitchboardError('forbidden', 'origin not allowed');
  const principal = await verifier.verify(tokenFromRequest(req, query));
  const channels = [...new Set(query.getAll('channel'))];
  if (channels.length === 0) throw new SwitchboardError('bad_request', 'at least one "channel" parameter is required');
  if (channels.length > options.maxSubscriptionsPerConnection) {
    throw new SwitchboardError('bad_request', `at most ${options.maxSubscriptionsPerConnection} channels per request`);
  }
  for (const channel of channels) {
    const problem = channelNameError(channel);
    if (problem !== undefined)
      throw new SwitchboardError('bad_request', `invalid channel ${JSON.stringify(channel.slice(0, 130))}: ${problem}`);
  }
  for (const channel of channels) {
    if (!canSubscribe(principal, channel)) throw new SwitchboardError('forbidden', `not allowed to subscribe to ${channel}`);
  }
  const raw = cursorValue(query);
  const cursor = raw === undefined || raw === '' ? undefined : decodeCursor(raw, new Set(channels));
  return { principal, channels, cursor, query };
}

/**
 * CORS for browser clients on other origins (EventSource, fetch): echo an allowed origin
 * (any when ALLOWED_ORIGINS is empty). Returns true when the request was a preflight.
 */
export function applyCors(req: IncomingMessage, res: ServerResponse, options: GatewayOptions): boolean {
  const origin = req.headers.origin;
  if (origin !== undefined && originAllowed(req, options.allowedOrigins)) {
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Vary', 'Origin');
    res.setHeader('Access-Control-Allow-Credentials', 'true');
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
  res.writeHead(err.httpStatus, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
  });
  res.end(body);
}
