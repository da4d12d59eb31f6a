import { Message, Position, TransportName } from '../types';

/** How a transport ended. */
export interface CloseInfo {
  /** Whether the transport had opened (for fallback: a transport that never opens is demoted). */
  opened: boolean;
  /** WebSocket close code, or HTTP status of a refused SSE / long-poll request. */
  code?: number;
  reason?: string;
  /** Delay the server advised (WS 1012 drain hint, SSE `retry:`), ms. */
  retryAfterMs?: number;
  /** The token was refused (WS 4001, HTTP 401). */
  unauthorized?: boolean;
  /** Do not reconnect (e.g. origin refused). */
  fatal?: boolean;
}

/** What a transport reports to the client. */
export interface TransportHandlers {
  open(): void;
  /** A channel is subscribed; `position` is where its stream starts (with `recovered` when resuming). */
  subscribed(channel: string, position: Position, recovered?: boolean): void;
  /** A position learned without a message (long-poll cursor); moves the resume point only after a loss. */
  position(channel: string, position: Position): void;
  message(message: Message): void;
  /** Messages could not be recovered for `channel` (recovered:false). */
  recovery(channel: string): void;
  /** A request for one channel was refused (forbidden, bad_request, …). */
  channelError(channel: string, code: string, message: string): void;
  /** Anything arrived: the connection is alive. */
  activity(): void;
  close(info: CloseInfo): void;
}

export interface TransportContext {
  /** Gateway base URL (`https://rt.example.com`). */
  baseUrl: string;
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

/** One way of talking to the gateway. The client switches between them without losing positions. */
export interface Transport {
  readonly name: TransportName;
  start(): void;
  subscribe(channel: string, since?: Position): void;
  unsubscribe(channel: string): void;
  publish(channel: string, data: unknown, idempotencyKey: string, timeoutMs: number): Promise<number>;
  /** Resolves true if the connection answers within `timeoutMs` (liveness check). */
  ping(timeoutMs: number): Promise<boolean>;
  close(): void;
}

/** `{error, message, channel?}` bodies of the gateway's HTTP errors. */
export async function readError(res: Response): Promise<{ code: string; message: string; channel?: string }> {
  try {
    const body = (await res.json()) as { error?: string; message?: string; channel?: string };
    return { code: body.error ?? String(res.status), message: body.message ?? res.statusText, channel: body.channel };
  } catch {
    return { code: String(res.status), message: res.statusText };
  }
}
