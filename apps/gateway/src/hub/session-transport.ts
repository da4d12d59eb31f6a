import type { StoredMessage } from '@switchboard/engine';
import type { UnsubscribeReason } from '@switchboard/protocol';
import type { PresenceNotice } from './presence-hub';

/** Client transports, as they appear in metric labels. */
export type TransportName = 'ws' | 'socketio' | 'sse' | 'poll' | 'pusher';

export const TRANSPORT_NAMES: readonly TransportName[] = ['ws', 'socketio', 'sse', 'poll', 'pusher'];

/**
 * Why the session core ends a connection. Each transport says it its own way:
 * - `expired`: the token's `exp` passed (WS close 4001, SSE `event: expired`, Socket.IO `expired` + disconnect, held poll 401);
 * - `slow_consumer`: more than SEND_QUEUE_MAX_BYTES queued (WS 1013, SSE end, Socket.IO disconnect);
 * - `drain`: this process is shutting down; reconnect after `reconnectAfterMs` (WS 1012, SSE `retry` + end,
 *   Socket.IO `drain` + transport close, held poll answered);
 * - `shutdown`: whatever the drain left when the process stops (WS 1001).
 */
export type EndReason = 'expired' | 'slow_consumer' | 'drain' | 'shutdown';

/**
 * One connection as the session core sees it: the transport encodes and writes, the core
 * decides. Implemented by each transport's connection class; calls are synchronous and a
 * connection that has ended ignores them.
 */
export interface SessionTransport {
  readonly transport: TransportName;
  /** Writes one message, encoded once per broadcast (hot path: nothing allocated per recipient). */
  deliver(message: StoredMessage): void;
  /** Live delivery on `channel` lost messages: tell the client `recovered:false`. */
  lost(channel: string): void;
  /** The server ended a subscription on its own (a refreshed token no longer allows it). */
  unsubscribed(channel: string, reason: UnsubscribeReason): void;
  /**
   * Bytes written for the client and not yet taken by it — replies and errors included, and
   * anything held before a stream started. The core compares it with SEND_QUEUE_MAX_BYTES.
   */
  queuedBytes(): number;
  /** Ends the connection for `reason`; `reconnectAfterMs` accompanies `drain`. */
  end(reason: EndReason, reconnectAfterMs?: number): void;
  /**
   * A join/leave on a held channel with `joinLeave` (write `notice`'s shared encoding for
   * this transport). Transports without join/leave (long-poll) leave it out.
   */
  presenceNotice?(notice: PresenceNotice): void;
}
