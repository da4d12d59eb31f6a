import { ArgumentsHost, Catch, ExceptionFilter } from '@nestjs/common';
import { ErrorCode, SwitchboardError } from '@switchboard/protocol';
import type { Response } from 'express';

/**
 * The body of every error answer of the notifier's HTTP API: `error` is the protocol code
 * (the same values as WS error frames), as on every other HTTP error; `code` repeats it for
 * clients written against the first version of this API.
 */
export interface ErrorBody {
  error: ErrorCode;
  code: ErrorCode;
  message: string;
}

/** The error body of `err`. */
export function errorBody(err: SwitchboardError): ErrorBody {
  return { error: err.code, code: err.code, message: err.message };
}

/** Writes `err` as `{error, code, message}` with its HTTP status. */
export function sendError(res: Response, err: SwitchboardError, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  res.status(err.httpStatus).set(headers).json(errorBody(err));
}

/** Maps SwitchboardErrors thrown by the notifier's controllers to their HTTP answer. */
@Catch(SwitchboardError)
export class SwitchboardErrorFilter implements ExceptionFilter<SwitchboardError> {
  catch(err: SwitchboardError, host: ArgumentsHost): void {
    sendError(host.switchToHttp().getResponse<Response>(), err);
  }
}
