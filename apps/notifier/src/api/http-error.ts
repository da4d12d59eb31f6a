import { ArgumentsHost, Catch, ExceptionFilter } from '@nestjs/common';
import { ErrorCode, SwitchboardError } from '@switchboard/protocol';
import type { Response } from 'express';

/**
 * The body of every error answer of the notifier's HTTP API: `error` is the code (the same
 * values as WS error frames); `code` repeats it for clients written before `error` existed.
 */
export interface ErrorBody {
  error: ErrorCode;
  code: ErrorCode;
  message: string;
}

/** Writes `err` as `{code, message}` with its HTTP status. */
export function sendError(res: Response, err: SwitchboardError, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  res
    .status(err.httpStatus)
    .set(headers)
    .json({ error: err.code, code: err.code, message: err.message } satisfies ErrorBody);
}

/** Maps SwitchboardErrors thrown by the notifier's controllers to their HTTP answer. */
@Catch(SwitchboardError)
export class SwitchboardErrorFilter implements ExceptionFilter<SwitchboardError> {
  catch(err: SwitchboardError, host: ArgumentsHost): void {
    sendError(host.switchToHttp().getResponse<Response>(), err);
  }
}
