import type { ChannelMessage, ErrorCode, PresenceMember, StreamPosition } from '@switchboard/protocol';
export type { JoinNotice, LeaveNotice, PresenceMember } from '@switchboard/protocol';

/** Who is in a channel (`channel.presence()`): counts exact, `members` capped by the gateway (`truncated`). */
export interface PresenceResult {
  channel: string;
  count: number;
  connections: number;
  members: PresenceMember[];
  truncated?: true;
}

/** A position in a channel: the offset of the last message received, in an epoch. */
export type Position = StreamPosition;

/** A channel message as delivered by the gateway (docs/PROTOCOL.md). */
export type Message<T = unknown> = ChannelMessage<T>;

export type TransportName = 'websocket' | 'sse' | 'longpoll';

export type ClientState = 'connecting' | 'connected' | 'disconnected' | 'closed';

/**
 * Why the client asks for a token: at start (`initial`), before the current one's `exp`
 * (`refresh`), or after the gateway refused or expired it (`unauthorized`).
 */
export type TokenReason = 'initial' | 'refresh' | 'unauthorized';

/**
 * What went wrong: the protocol's error codes (docs/PROTOCOL.md: `unauthorized`,
 * `forbidden`, `rate_limited`, …), or one only the client sees: `closed` (the client was
 * closed), `timeout` (no answer in time), `unsupported` (publish without WebSocket),
 * `overflow` (an iterator fell behind), `policy` (the gateway refused the connection for
 * good, e.g. its origin), `token` (getToken threw).
 */
export type ClientErrorCode = ErrorCode | 'closed' | 'timeout' | 'unsupported' | 'overflow' | 'policy' | 'token';

/** An error the gateway or the client reports. */
export class SwitchboardClientError extends Error {
  override readonly name = 'SwitchboardClientError';
  constructor(
    readonly code: ClientErrorCode,
    message: string,
    readonly channel?: string,
  ) {
    super(message);
  }
}
