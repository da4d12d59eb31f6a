import { SwitchboardError } from '@switchboard/protocol';
import type { NextFunction, Request, Response } from 'express';
import { sendError } from './http-error';

/**
 * Route middleware that reads a JSON body of at most `limitBytes` into `req.body`.
 * A declared Content-Length over the limit is refused before any byte is read; a body
 * that grows past it while streaming is refused as soon as it does (413 either way).
 * Anything that is not JSON is a 400. (The app has no global body parser: each app
 * parses its own routes.)
 */
export function jsonBody(limitBytes: number) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const tooLarge = (): void => {
      sendError(res, new SwitchboardError('too_large', `body is larger than ${limitBytes} bytes`), { Connection: 'close' });
      // Discard whatever is still coming; the connection closes after the answer.
      req.removeAllListeners('data');
      req.resume();
    };
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limitBytes) return tooLarge();
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) {
        failed = true;
        return tooLarge();
      }
      chunks.push(chunk);
    });
    req.once('error', () => {
      failed = true;
    });
    req.once('end', () => {
      if (failed) return;
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        req.body = text.length === 0 ? undefined : (JSON.parse(text) as unknown);
      } catch {
        return sendError(res, new SwitchboardError('bad_request', 'body is not valid JSON'));
      }
      next();
    });
  };
}
