import { createHmac, createSecretKey, KeyObject, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { reject, Rejected } from './verifier';

export type HmacAlgorithm = 'sha1' | 'sha256' | 'sha512';

/** Digest length in bytes per algorithm: a decoded signature of another length cannot match. */
export const DIGEST_BYTES: Readonly<Record<HmacAlgorithm, number>> = { sha1: 20, sha256: 32, sha512: 64 };

/**
 * Secrets as KeyObjects, made once: on Node 24 an HMAC keyed with a Buffer costs several
 * times one keyed with a KeyObject (the key is imported on every call).
 */
const keyObjects = new WeakMap<Buffer, KeyObject>();

/** HMAC of the concatenated parts (strings as UTF-8, buffers as is). */
export function hmac(algorithm: HmacAlgorithm, key: Buffer, ...parts: Array<string | Buffer>): Buffer {
  let keyObject = keyObjects.get(key);
  if (keyObject === undefined) {
    keyObject = createSecretKey(key);
    keyObjects.set(key, keyObject);
  }
  const mac = createHmac(algorithm, keyObject);
  for (const part of parts) mac.update(part);
  return mac.digest();
}

const HEX = /^[0-9a-fA-F]+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Strict decoders: Buffer.from() silently skips invalid characters, which would let a
 * mangled signature decode to something else. Undefined unless the text is exactly
 * `bytes` bytes of valid hex / base64.
 */
export function decodeHex(text: string, bytes: number): Buffer | undefined {
  return text.length === bytes * 2 && HEX.test(text) ? Buffer.from(text, 'hex') : undefined;
}

export function decodeBase64(text: string, bytes: number): Buffer | undefined {
  if (!BASE64.test(text)) return undefined;
  const decoded = Buffer.from(text, 'base64');
  return decoded.length === bytes ? decoded : undefined;
}

/**
 * Index of the first expected signature (one per secret) that equals one of the
 * candidates, or -1. Every pair is compared with timingSafeEqual, so the time taken does
 * not depend on where (or whether) a match is.
 */
export function findMatch(
  expected: readonly Buffer[],
  candidates: readonly Buffer[],
): { secretIndex: number; signature: string } | undefined {
  let match: { secretIndex: number; signature: string } | undefined;
  for (let i = 0; i < expected.length; i++) {
    for (const candidate of candidates) {
      // Lengths are fixed by the algorithm, not secret: comparing them first leaks nothing.
      if (candidate.length === expected[i].length && timingSafeEqual(candidate, expected[i]) && match === undefined) {
        match = { secretIndex: i, signature: candidate.toString('hex') };
      }
    }
  }
  return match;
}

/** One header's value; undefined when absent or empty. Repeated headers arrive joined with ", ". */
export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  const text = Array.isArray(value) ? value.join(', ') : value;
  return text === undefined || text.trim() === '' ? undefined : text.trim();
}

/** A required header, or a `missing_header` refusal naming it. */
export function requireHeader(headers: IncomingHttpHeaders, name: string, display: string): string | Rejected {
  return header(headers, name) ?? reject('missing_header', `${display} header is missing`);
}

/**
 * Checks a signed UNIX timestamp (seconds) against `nowSeconds`: refused when more than
 * `toleranceSeconds` in the past OR in the future (stricter than stripe-node and Slack's
 * SDK, which only refuse old ones; a future timestamp would stretch the replay window).
 */
export function checkTimestamp(text: string, display: string, nowSeconds: number, toleranceSeconds: number): number | Rejected {
  if (!/^\d{1,12}$/.test(text)) return reject('malformed_header', `${display} must be a UNIX timestamp in seconds`);
  const timestamp = Number(text);
  if (nowSeconds - timestamp > toleranceSeconds) return reject('timestamp_too_old', `${display} is older than ${toleranceSeconds} s`);
  if (timestamp - nowSeconds > toleranceSeconds) {
    return reject('timestamp_too_new', `${display} is more than ${toleranceSeconds} s in the future`);
  }
  return timestamp;
}

/** Tells a refusal from a header value or timestamp (strings and numbers only). */
export function isRejected(value: string | number | Rejected): value is Rejected {
  return typeof value === 'object';
}
