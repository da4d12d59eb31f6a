import { replyJson } from '@switchboard/platform';
import { SwitchboardError } from '@switchboard/protocol';
import type { NextFunction, Request, Response } from 'express';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorBody } from './http-error';

/** Options of jsonBody beyond the size limit. */
export interface JsonBodyOptions {
  /** Deepest nesting of arrays and objects accepted (400 beyond), checked before parsing. */
  readonly maxDepth: number;
  /** Called once per body refused for its size (the limit metric). */
  readonly onTooLarge?: () => void;
}

/**
 * Route middleware that reads a JSON body of at most `limitBytes` into `req.body`
 * (`readJsonBody`). (The app has no global body parser: each app parses its own routes.)
 */
export function jsonBody(limitBytes: number, options: JsonBodyOptions) {
  return (req: Request, res: Response, next: NextFunction): void =>
    readJsonBody(req, res, limitBytes, options, (parsed) => {
      req.body = parsed;
      next();
    });
}

/**
 * Reads a JSON body of at most `limitBytes` and hands it to `onParsed` (`undefined` when
 * empty). A declared Content-Length over the limit is refused before any byte is read; a
 * body that grows past it while streaming is refused as soon as it does (413 either way,
 * answered so the client can read it: replyJson). A body nesting arrays/objects deeper
 * than `maxDepth` is a 400 before JSON.parse builds it; anything that is not JSON is a 400.
 * Used by the `jsonBody` middleware and by routes served ahead of Express.
 */
export function readJsonBody(
  req: IncomingMessage,
  res: ServerResponse,
  limitBytes: number,
  options: JsonBodyOptions,
  onParsed: (body: unknown) => void,
): void {
  const tooLarge = (): void => {
    options.onTooLarge?.();
    const err = new SwitchboardError('too_large', `body is larger than ${limitBytes} bytes`);
    replyJson(req, res, { status: err.httpStatus, body: errorBody(err) });
  };
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limitBytes) return tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  const onData = (chunk: Buffer): void => {
    size += chunk.length;
    if (size <= limitBytes) return void chunks.push(chunk);
    req.off('data', onData);
    req.off('end', onEnd);
    chunks.length = 0;
    tooLarge();
  };
  const onEnd = (): void => {
    const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
    if (jsonDepthExceeds(body, options.maxDepth))
      return fail(req, res, `body nests arrays and objects more than ${options.maxDepth} levels deep`);
    let parsed: unknown;
    try {
      parsed = body.length === 0 ? undefined : (JSON.parse(body.toString('utf8')) as unknown);
    } catch {
      return fail(req, res, 'body is not valid JSON');
    }
    onParsed(parsed);
  };
  req.on('data', onData);
  req.once('end', onEnd);
}

function fail(req: IncomingMessage, res: ServerResponse, message: string): void {
  const err = new SwitchboardError('bad_request', message);
  replyJson(req, res, { status: err.httpStatus, body: errorBody(err) });
}

const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * True when the JSON text nests arrays/objects more than `maxDepth` deep. One pass over the
 * bytes, brackets inside strings ignored (UTF-8 continuation bytes never equal these ASCII
 * codes). Invalid JSON may pass; JSON.parse refuses it next. Deeper data would fail later
 * and unpredictably — JSON.stringify's recursion overflows the stack at a depth that
 * depends on the stack left, and many subscribers' parsers have limits (.NET 64, Ruby 100).
 */
export function jsonDepthExceeds(text: Uint8Array, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > maxDepth) return true;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) depth--;
  }
  return false;
}
