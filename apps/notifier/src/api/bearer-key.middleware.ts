import { replyJson } from '@switchboard/platform';
import { SwitchboardError } from '@switchboard/protocol';
import type { NextFunction, Request, Response } from 'express';
import { hash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorBody } from './http-error';

/** Equal-length digests, so the comparison takes the same time whatever the presented key. */
function digest(value: string): Buffer {
  // One-shot: no Hash object per request (~2 µs instead of ~5).
  return hash('sha256', value, 'buffer');
}

/** The configured key's digest, made once per key rather than per request (one key per route, rarely two). */
const keyDigests = new Map<string, Buffer>();

function keyDigest(key: string): Buffer {
  let d = keyDigests.get(key);
  if (d === undefined) {
    if (keyDigests.size >= 16) keyDigests.clear();
    d = digest(key);
    keyDigests.set(key, d);
  }
  return d;
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/** True when `authorization` is `Bearer <key>`; constant-time in the key; false whenever no key is configured. */
export function bearerKeyMatches(authorization: string | undefined, key: string | undefined): boolean {
  const match = BEARER.exec(authorization ?? '');
  const presented = match?.[1] ?? '';
  // Compare even when nothing usable was sent, so timing does not tell which part was wrong.
  const equal = timingSafeEqual(digest(presented), keyDigest(key ?? ''));
  return equal && key !== undefined && match !== null;
}

/**
 * Route middleware: answers 401 unless the request carries `Authorization: Bearer <key>`.
 * Runs before the body is read, so a caller without the key learns nothing else.
 */
export function requireBearerKey(key: string | undefined, realm: string, disabledMessage = `${realm} is disabled: no key is configured`) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (admitBearerKey(req, res, key, realm, disabledMessage)) next();
  };
}

/**
 * True when the request carries `Authorization: Bearer <key>`; otherwise answers 401 (with
 * `WWW-Authenticate`) and returns false. The body is never read: answered so that a client
 * still uploading can read it. Used by `requireBearerKey` and by routes served ahead of Express.
 */
export function admitBearerKey(
  req: IncomingMessage,
  res: ServerResponse,
  key: string | undefined,
  realm: string,
  disabledMessage = `${realm} is disabled: no key is configured`,
): boolean {
  if (bearerKeyMatches(req.headers.authorization, key)) return true;
  const err = new SwitchboardError('unauthorized', key === undefined ? disabledMessage : 'missing or wrong API key');
  replyJson(req, res, { status: err.httpStatus, body: errorBody(err), headers: { 'WWW-Authenticate': `Bearer realm="${realm}"` } });
  return false;
}
