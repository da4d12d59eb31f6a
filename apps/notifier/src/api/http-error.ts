import { ArgumentsHost, Catch, ExceptionFilter } from '@nestjs/common';
import type { ErrorBody } from '@switchboard/platform';
import { SwitchboardError } from '@switchboard/protocol';
import type { Response } from 'express';

/** Writes `err` as `{error, message}` (every service's error body) with its HTTP status. */
export function sendError(res: Response, err: SwitchboardError, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  res
    .status(err.httpStatus)
    .set(headers)
    .json({ error: err.code, message: err.message } satisfies ErrorBody);
}

/** Maps SwitchboardErrors thrown by the notifier's controllers to their HTTP answer. */
@Catch(SwitchboardError)
export class SwitchboardErrorFilter implements ExceptionFilter<SwitchboardError> {
  catch(err: SwitchboardError, host: ArgumentsHost): void {
    sendError(host.switchToHttp().getResponse<Response>(), err);
  }
}
