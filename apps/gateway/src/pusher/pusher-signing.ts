import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { PusherApp } from '@switchboard/config';

/** Hex HMAC-SHA256 of `text` with the app's secret (channel auth, HTTP API, webhooks). */
export function pusherHmac(secret: string, text: string | Buffer): string {
  return createHmac('sha256', secret).update(text).digest('hex');
}

/** Constant-time comparison of two hex/ASCII strings. */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Checks a private/presence channel's `auth` (`<key>:<hex HMAC-SHA256(secret, "<socket_id>:<channel>[:<channel_data>]")>`),
 * as the app's auth endpoint made it with its Pusher server library.
 */
export function channelAuthValid(app: PusherApp, socketId: string, channel: string, auth: unknown, channelData?: string): boolean {
  if (typeof auth !== 'string') return false;
  const colon = auth.indexOf(':');
  if (colon < 0 || auth.slice(0, colon) !== app.key) return false;
  const signed = channelData === undefined ? `${socketId}:${channel}` : `${socketId}:${channel}:${channelData}`;
  return safeEqual(auth.slice(colon + 1), pusherHmac(app.secret, signed));
}

/** Hex MD5 of a request body (Pusher's `body_md5`). */
export function bodyMd5(body: Buffer): string {
  return createHash('md5').update(body).digest('hex');
}

/** How far an HTTP API request's `auth_timestamp` may be from our clock, seconds (Pusher's 600). */
export const API_TIMESTAMP_TOLERANCE_SECONDS = 600;

/** Why a signed HTTP API request is refused, or undefined when its signature holds. */
export function apiSignatureProblem(
  app: PusherApp,
  method: string,
  path: string,
  query: URLSearchParams,
  body: Buffer,
  nowSeconds: number,
): string | undefined {
  if (query.get('auth_key') !== app.key) return 'auth_key is not the key of this app';
  if (query.get('auth_version') !== '1.0') return 'auth_version must be 1.0';
  const ts = Number(query.get('auth_timestamp'));
  if (!Number.isInteger(ts)) return 'auth_timestamp is missing';
  if (Math.abs(nowSeconds - ts) > API_TIMESTAMP_TOLERANCE_SECONDS) {
    return `auth_timestamp is more than ${API_TIMESTAMP_TOLERANCE_SECONDS} s from the server's time`;
  }
  const signature = query.get('auth_signature');
  if (signature === null) return 'auth_signature is missing';
  if (body.length > 0) {
    const md5 = query.get('body_md5');
    if (md5 === null || !safeEqual(md5, bodyMd5(body))) return 'body_md5 does not match the body';
  }
  // Every parameter but the signature, keys lower-cased, sorted by key, joined unescaped (Pusher's scheme).
  const params: Array<[string, string]> = [];
  for (const [k, v] of query) if (k !== 'auth_signature') params.push([k.toLowerCase(), v]);
  params.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const signed = `${method.toUpperCase()}\n${path}\n${params.map(([k, v]) => `${k}=${v}`).join('&')}`;
  return safeEqual(signature, pusherHmac(app.secret, signed)) ? undefined : 'auth_signature does not match';
}
