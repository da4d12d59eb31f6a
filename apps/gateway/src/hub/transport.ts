import type { StoredMessage } from '@switchboard/engine';

/** Client transports, as they appear in metric labels. */
export type TransportName = 'ws' | 'socketio' | 'sse' | 'poll';

/**
 * Where a session's messages go: one per connection, implemented by each transport.
 * Calls are synchronous; a sink that is closed ignores them.
 */
export interface SessionSink {
  readonly transport: TransportName;
  /** Writes one message (encoded once per broadcast by the transport) and applies backpressure. */
  deliver(message: StoredMessage): void;
  /** Live delivery on `channel` lost messages: tell the client `recovered:false`. */
  lost(channel: string): void;
}
