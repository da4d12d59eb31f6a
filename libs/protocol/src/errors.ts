/**
 * Error codes of the wire protocol. Every transport maps them the same way:
 * WS/Socket.IO carry `code` in an error frame/ack, SSE/long-poll/HTTP map them to a status.
 */
export const ERROR_CODES = [
  'bad_request',
  'unauthorized',
  'forbidden',
  'not_found',
  'already_subscribed',
  'rate_limited',
  'too_large',
  'unavailable',
  'overloaded',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** HTTP status for each error code (SSE, long-poll, publish API). */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  already_subscribed: 409,
  rate_limited: 429,
  too_large: 413,
  unavailable: 503,
  overloaded: 503,
};

/**
 * A failure with a protocol code, safe to show to the client (`message` never holds
 * secrets or payloads). `cause` keeps the internal error for logs.
 */
export class SwitchboardError extends Error {
  override readonly name = 'SwitchboardError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  get httpStatus(): number {
    return HTTP_STATUS[this.code];
  }
}

/** True when `err` is a SwitchboardError with one of the given codes (or any code). */
export function isSwitchboardError(err: unknown, ...codes: ErrorCode[]): err is SwitchboardError {
  return err instanceof SwitchboardError && (codes.length === 0 || codes.includes(err.code));
}

/**
 * WebSocket close codes. 1xxx are RFC 6455; 4000–4499 are terminal for this
 * connection's credentials (fix the token first), which tells SDKs whether to retry as is.
 */
export const CloseCode = {
  /** The server is going away (shutdown without drain). Reconnect. */
  GoingAway: 1001,
  /** Policy violation (e.g. origin not allowed). Do not retry unchanged. */
  Policy: 1008,
  /** A message exceeded MAX_MESSAGE_BYTES. */
  TooBig: 1009,
  /** Drain: this pod is restarting, reconnect (to another pod) after the advised delay. */
  ServiceRestart: 1012,
  /** Slow consumer or overload: reconnect later with backoff. */
  TryAgainLater: 1013,
  /** Missing, invalid or expired token: refresh the token, then reconnect. */
  Unauthorized: 4001,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** Whether a client should reconnect after the server closed with `code`. */
export function shouldReconnect(code: number): boolean {
  return code !== CloseCode.Policy && code !== CloseCode.TooBig;
}
