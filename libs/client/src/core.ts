// Everything the SDK exports but WebRTC: the entry of the <script> bundle
// (switchboard-client.js); RtcRoom is its own script (switchboard-rtc.js, rtc-global.ts).
export { connect, SwitchboardClient } from './client';
export type { ClientEvents, ClientOptions } from './client';
export { backoffDelay, DEFAULT_BACKOFF } from './backoff';
export type { BackoffOptions } from './backoff';
export { LocalStoragePositionStore, MemoryPositionStore } from './position-store';
export type { PositionStore } from './position-store';
export { Subscription } from './subscription';
export type { SubscriptionEvents, SubscriptionOptions } from './subscription';
export { tokenExpiry, tokenSubject } from './token-source';
export type { GetToken } from './token-source';
export { SwitchboardClientError } from './types';
export type {
  ClientErrorCode,
  ClientState,
  JoinNotice,
  LeaveNotice,
  Message,
  Position,
  PresenceMember,
  PresenceResult,
  TokenReason,
  TransportName,
} from './types';
// The wire format the SDK speaks, from the protocol library (inlined in the bundles).
export { decodeCursor, encodeCursor } from '@switchboard/protocol';
export type { ErrorCode, ServerFrame } from '@switchboard/protocol';
