/** A position in a channel: the offset of the last message received, in an epoch. */
export interface Position {
  offset: number;
  epoch: string;
}

/** A channel message as delivered by the gateway. */
export interface Message<T = unknown> {
  channel: string;
  offset: number;
  epoch: string;
  data: T;
  /** Event id (routed events). */
  id?: string;
  /** Event type (routed events). */
  type?: string;
  /** `sub` of the publishing client (client publishes). */
  from?: string;
  /** Publish time, ms. */
  ts: number;
}

export type TransportName = 'websocket' | 'sse' | 'longpoll';

export type ClientState = 'connecting' | 'connected' | 'disconnected' | 'closed';

/** Why the client asks for a token. */
export type TokenReason = 'initial' | 'refresh' | 'unauthorized';

/** An error the gateway or the client reports; `code` is the protocol's error code. */
export class SwitchboardClientError extends Error {
  override readonly name = 'SwitchboardClientError';
  constructor(
    readonly code: string,
    message: string,
    readonly channel?: string,
  ) {
    super(message);
  }
}
