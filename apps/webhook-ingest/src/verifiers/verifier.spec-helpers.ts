import type { IncomingHttpHeaders } from 'node:http';
import type { Rejected, Verified, VerifyFailure, WebhookRequest } from './verifier';

/** A fixed "now" (seconds) for verifier specs. */
export const NOW = 1_767_225_600;

/** A verifier's view of a request; `body` as given (bytes are what is signed). */
export function webhookRequest(init: {
  headers?: IncomingHttpHeaders;
  body: string | Buffer;
  mediaType?: string;
  url?: string;
}): WebhookRequest {
  const headers: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(init.headers ?? {})) headers[name.toLowerCase()] = value;
  return {
    headers,
    body: typeof init.body === 'string' ? Buffer.from(init.body) : init.body,
    mediaType: init.mediaType ?? 'application/json',
    url: init.url ?? 'https://hooks.example.com/v1/webhooks/src',
  };
}

/** The same bytes with one byte changed at `index` (default: the middle). */
export function flipByte(value: Buffer | string, index?: number): Buffer {
  const copy = Buffer.from(value);
  const at = index ?? Math.floor(copy.length / 2);
  copy[at] = copy[at] ^ 0x01;
  return copy;
}

/** A string with one character changed, keeping it in the same alphabet (hex stays hex). */
export function flipChar(value: string, index: number): string {
  const c = value[index];
  const replacement = c === '0' ? '1' : c === 'a' ? 'b' : c === 'A' ? 'B' : /[0-9]/.test(c) ? '0' : 'a';
  return value.slice(0, index) + replacement + value.slice(index + 1);
}

export function expectVerified(result: Verified | Rejected): Verified {
  if (!result.ok) throw new Error(`expected the request to verify, got ${result.reason}: ${result.detail}`);
  return result;
}

export function expectRejected(result: Verified | Rejected, reason: VerifyFailure): void {
  if (result.ok) throw new Error(`expected ${reason}, but the request verified`);
  if (result.reason !== reason) throw new Error(`expected ${reason}, got ${result.reason}: ${result.detail}`);
}
