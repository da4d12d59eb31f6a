import { ArgumentsHost, Catch, ExceptionFilter, HttpException } from '@nestjs/common';
import type { Logger } from '@switchboard/observability';
import { SwitchboardError } from '@switchboard/protocol';
import type { Response } from 'express';

/**
 * The body of every HTTP error answer of every service:
 * `{"error":"<code>","message":"<text>"}`, plus extra fields where a route needs them
 * (webhook-ingest adds `reason`). `error` is a protocol code (`libs/protocol/src/errors.ts`)
 * where one fits; `message` is for people and never holds secrets or payloads.
 */
export interface ErrorBody {
  error: string;
  message: string;
  [extra: string]: unknown;
}

/** Codes of HTTP statuses that Nest, Express or a route may answer with. */
const CODE_OF_STATUS: Readonly<Record<number, string>> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  406: 'not_acceptable',
  408: 'timeout',
  409: 'conflict',
  410: 'gone',
  413: 'too_large',
  415: 'unsupported_media_type',
  422: 'bad_request',
  429: 'rate_limited',
  501: 'not_implemented',
  503: 'unavailable',
};

/** The `error` code of an HTTP status. */
export function errorCodeOf(status: number): string {
  return CODE_OF_STATUS[status] ?? (status >= 500 ? 'internal' : 'bad_request');
}

/** The answer to an error that says nothing about its cause. */
export const INTERNAL_ERROR: ErrorBody = { error: 'internal', message: 'internal error' };

/** Status and body for `err`; unknown errors become 500 `internal` without their details. */
export function errorAnswer(err: unknown): { status: number; body: ErrorBody; known: boolean } {
  if (err instanceof SwitchboardError) {
    return { status: err.httpStatus, body: { error: err.code, message: err.message }, known: true };
  }
  if (err instanceof HttpException) {
    const status = err.getStatus();
    return { status, body: { error: errorCodeOf(status), message: httpExceptionMessage(err) }, known: status < 500 };
  }
  // Errors of Express middleware follow http-errors: `status` plus `expose` when the message is safe to show.
  const status = (err as { status?: unknown } | null)?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const expose = (err as { expose?: unknown }).expose === true && err instanceof Error;
    return { status, body: { error: errorCodeOf(status), message: expose ? err.message : 'request refused' }, known: true };
  }
  return { status: 500, body: { ...INTERNAL_ERROR }, known: false };
}

function httpExceptionMessage(err: HttpException): string {
  const response = err.getResponse();
  if (typeof response === 'string') return response;
  const message = (response as { message?: unknown }).message;
  if (Array.isArray(message)) return message.map(String).join('; ');
  return typeof message === 'string' ? message : err.message;
}

/**
 * Answers every error a Nest route, guard or middleware throws with one body shape
 * (`ErrorBody`), whatever the service: Nest's own exceptions (the 404 of an unknown
 * route), `SwitchboardError`s with their protocol code, and anything else as
 * `500 {"error":"internal","message":"internal error"}` with the details only in the log.
 * Registered for every app by `startService`.
 */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  constructor(private readonly logger: Logger) {}

  catch(err: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') return;
    const res = host.switchToHttp().getResponse<Response>();
    const { status, body, known } = errorAnswer(err);
    if (!known) this.logger.error({ err }, 'request failed');
    if (res.headersSent) {
      // Part of an answer is out: the client can only learn of the failure from a cut connection.
      res.destroy();
      return;
    }
    res.status(status).set('Cache-Control', 'no-store').json(body);
  }
}
