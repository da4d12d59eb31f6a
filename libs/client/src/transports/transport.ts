import { ERROR_CODES, type ErrorCode, type JoinNotice, type LeaveNotice } from '@switchboard/protocol';
import { ClientErrorCode, Message, Position, SwitchboardClientError, TransportName } from '../types';

/** How a transport ended. */
export interface CloseInfo {
  /** Whether the transport had opened (for fallback: a transport that never opens is demoted). */
  opened: boolean;
  /** WebSocket close code, or HTTP status of a refused SSE / long-poll request. */
  code?: number;
  reason?: string;
  /** Delay the server advised (WS 1012 drain hint, SSE `retry:`), ms. */
  retryAfterMs?: number;
  /**
   * The token was refused (HTTP 401, a refused WS handshake) or expired (WS 4001, SSE
   * `expired`, a poll's 401): a matter of the token, never a reason to change transport.
   */
  unauthorized?: boolean;
  /** Do not reconnect (e.g. origin refused). */
  fatal?: boolean;
}

/** What a transport reports about channels (the channel book listens). */
export interface ChannelHandlers {
  /** A channel is subscribed; `position` is where its stream starts (with `recovered` when resuming). */
  subscribed(channel: string, position: Position, recovered?: boolean): void;
  /** A position learned without a message (long-poll cursor); moves the resume point only after a loss. */
  position(channel: string, position: Position): void;
  message(message: Message): void;
  /** Messages could not be recovered for `channel` (recovered:false). */
  recovery(channel: string): void;
  /** A user's first connection joined / last one left a channel with join/leave (WS, SSE). */
  presence(notice: JoinNotice | LeaveNotice): void;
  /** A request for one channel was refused (forbidden, bad_request, …) or got no answer (timeout). */
  channelError(channel: string, code: ClientErrorCode, message: string): void;
}

/** What a transport reports to the client. */
export interface TransportHandlers extends ChannelHandlers {
  open(): void;
  /** Anything arrived: the connection is alive. */
  activity(): void;
  close(info: CloseInfo): void;
}

export interface TransportContext {
  /** Gateway base URL (`https://rt.example.com`). */
  baseUrl: string;
  /** The token to open with (`refresh` hands over the next ones). */
  token: string;
  /** The channels held and their positions (undefined: from the current position). */
  channels(): Map<string, Position | undefined>;
  handlers: TransportHandlers;
  /** Optional constructor for environments without a global WebSocket (Node 20: `ws`). */
  WebSocket?: typeof WebSocket;
  fetch: typeof fetch;
  /** Long-poll hold, seconds. */
  pollTimeoutSeconds: number;
}

/**
 * How a transport took a new token: `refreshed` (in use now or from its next request),
 * `refused` (the gateway said `forbidden`: the old token stays valid until its `exp`), or
 * `failed` (no answer, or a gateway without in-band refresh: reconnect with the new token).
 */
export type RefreshOutcome = 'refreshed' | 'refused' | 'failed';

/** One way of talking to the gateway. The client switches between them without losing positions. */
export interface Transport {
  readonly name: TransportName;
  start(): void;
  subscribe(channel: string, since?: Position): void;
  unsubscribe(channel: string): void;
  publish(channel: string, data: unknown, idempotencyKey: string, timeoutMs: number): Promise<number>;
  /** Resolves true if the connection answers within `timeoutMs` (liveness check). */
  ping(timeoutMs: number): Promise<boolean>;
  /** Hands over a new token before the current one expires, without losing a message. */
  refresh(token: string): Promise<RefreshOutcome>;
  close(): void;
}

/** The `channel` parameters of an SSE / poll request, and the positions known to resume from. */
export function channelQuery(channels: Map<string, Position | undefined>): { params: URLSearchParams; known: Array<[string, Position]> } {
  const params = new URLSearchParams();
  const known: Array<[string, Position]> = [];
  for (const [channel, position] of channels) {
    params.append('channel', channel);
    if (position !== undefined) known.push([channel, position]);
  }
  return { params, known };
}

/**
 * What a refused SSE / poll request means: one channel refused (reported; the transport
 * goes on without it: undefined) or the end of the transport (401 token, 403 origin, …).
 */
export async function refusal(res: Response, opened: boolean, handlers: ChannelHandlers): Promise<CloseInfo | undefined> {
  const err = await readError(res);
  const status = res.status;
  if (status === 401) return { opened, code: 401, reason: err.message, unauthorized: true };
  if ((status === 403 || status === 400) && err.channel !== undefined) {
    handlers.channelError(err.channel, err.code, err.message);
    return undefined;
  }
  return { opened, code: status, fatal: status === 403 || status === 400, reason: err.message };
}

/** `publish` of the receive-only transports (the client says why before it gets here). */
export function noPublish(): Promise<number> {
  return Promise.reject(new SwitchboardClientError('unsupported', 'publish needs the WebSocket transport'));
}

/** The protocol's code for a code string the gateway sent (an unknown one reads as `unavailable`). */
export function errorCode(value: unknown): ErrorCode {
  return (ERROR_CODES as readonly unknown[]).includes(value) ? (value as ErrorCode) : 'unavailable';
}

/** `{error, message, channel?}` bodies of the gateway's HTTP errors. */
export async function readError(res: Response): Promise<{ code: ErrorCode; message: string; channel?: string }> {
  try {
    const body = (await res.json()) as { error?: unknown; message?: unknown; channel?: unknown };
    return {
      code: errorCode(body.error),
      message: typeof body.message === 'string' ? body.message : res.statusText,
      channel: typeof body.channel === 'string' ? body.channel : undefined,
    };
  } catch {
    return { code: 'unavailable', message: res.statusText || `HTTP ${res.status}` };
  }
}

/**
 * Why a WebSocket closed before opening, when the gateway refused it: browsers hide a
 * refused handshake's status (401 token, 403 origin) behind a bare close 1006, just like a
 * network failure. `GET /v1/poll` without a channel checks origin and token first and
 * answers 403 / 401, else 400 (docs/PROTOCOL.md), so one request tells them apart.
 * Undefined when the gateway accepts the token (or cannot be asked): a transport failure.
 */
export async function probeRefusal(ctx: TransportContext, token: string): Promise<CloseInfo | undefined> {
  try {
    const res = await ctx.fetch(`${ctx.baseUrl}/v1/poll`, { headers: { Authorization: `Bearer ${token}` }, cache: 'no-store' });
    if (res.status !== 401 && res.status !== 403) {
      await res.body?.cancel();
      return undefined;
    }
    const err = await readError(res);
    // Only the gateway's own refusals count (a proxy's 403 page is a transport problem).
    if (res.status === 401 && err.code === 'unauthorized') return { opened: false, code: 401, reason: err.message, unauthorized: true };
    if (res.status === 403 && err.code === 'forbidden' && err.channel === undefined)
      return { opened: false, code: 403, reason: err.message, fatal: true };
    return undefined;
  } catch {
    return undefined;
  }
}
