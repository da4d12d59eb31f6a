import { channelNameError } from './channel';
import { ErrorCode } from './errors';
import { ChannelMessage, isStreamPosition, StreamPosition } from './message';

/** Client → server frames of the WebSocket protocol (SPEC "Client transports" 1). */
export interface SubscribeRequest {
  op: 'subscribe';
  id: number;
  channel: string;
  since?: StreamPosition;
}
export interface UnsubscribeRequest {
  op: 'unsubscribe';
  id: number;
  channel: string;
}
export interface PublishRequestFrame {
  op: 'publish';
  id: number;
  channel: string;
  data: unknown;
  idempotencyKey?: string;
}
export interface PingRequest {
  op: 'ping';
  id: number;
}
/** In-band token refresh (SPEC "Token lifetime and refresh"); answered `refreshed` or `error` `forbidden`. */
export interface RefreshRequest {
  op: 'refresh';
  id: number;
  token: string;
}
export type ClientFrame = SubscribeRequest | UnsubscribeRequest | PublishRequestFrame | PingRequest;
export type ClientOp = ClientFrame['op'];

/** Server → client frames. The gateway builds `message` frames from the stored JSON, see `encodeMessageFrame`. */
export interface SubscribedReply {
  op: 'subscribed';
  id: number;
  channel: string;
  offset: number;
  epoch: string;
  /** Present only when the request carried `since`. */
  recovered?: boolean;
}
export interface UnsubscribedReply {
  op: 'unsubscribed';
  /** Absent when the server ended the subscription itself (`reason`). */
  id?: number;
  channel: string;
  /** Set when the server ended it: a refreshed token no longer allows the channel. */
  reason?: 'forbidden';
}
export interface AckReply {
  op: 'ack';
  id: number;
  offset: number;
}
export interface PongReply {
  op: 'pong';
  id: number;
}
export interface ErrorReply {
  op: 'error';
  id?: number;
  code: ErrorCode;
  message: string;
}
/** The token was replaced in-band; `expiresAt` is the new token's `exp` in ms (null: none). */
export interface RefreshedReply {
  op: 'refreshed';
  id: number;
  expiresAt: number | null;
}
/** A channel message, `{"op":"message", …message fields}` (built by `encodeMessageFrame`). */
export interface MessageFrame<T = unknown> extends ChannelMessage<T> {
  op: 'message';
}
/** Live delivery could not be complete for `channel` (messages left history, or the epoch changed). */
export interface RecoveryNotice {
  op: 'recovery';
  channel: string;
  recovered: false;
}
export type ServerFrame =
  SubscribedReply | UnsubscribedReply | AckReply | PongReply | ErrorReply | RecoveryNotice | RefreshedReply | MessageFrame;

/** Longest idempotency key accepted. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 256;

export type ParsedFrame = { ok: true; frame: ClientFrame } | { ok: false; id?: number; message: string };

function isRequestId(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}

/**
 * Parses and validates one client text frame. Never throws: a bad frame yields the
 * reason (and the request id when one could be read) for a `bad_request` error reply.
 */
export function parseClientFrame(text: string): ParsedFrame {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, message: 'frame is not valid JSON' };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, message: 'frame must be a JSON object' };
  }
  const f = raw as Record<string, unknown>;
  const id = isRequestId(f.id) ? f.id : undefined;
  if (id === undefined) return { ok: false, message: 'frame needs a numeric "id"' };
  const fail = (message: string): ParsedFrame => ({ ok: false, id, message });
  switch (f.op) {
    case 'ping':
      return { ok: true, frame: { op: 'ping', id } };
    case 'subscribe':
    case 'unsubscribe':
    case 'publish': {
      const problem = channelNameError(f.channel);
      if (problem !== undefined) return fail(`invalid channel: ${problem}`);
      const channel = f.channel as string;
      if (f.op === 'unsubscribe') return { ok: true, frame: { op: 'unsubscribe', id, channel } };
      if (f.op === 'subscribe') {
        if (f.since === undefined) return { ok: true, frame: { op: 'subscribe', id, channel } };
        if (!isStreamPosition(f.since)) return fail('"since" must be {"offset": <integer ≥ 0>, "epoch": "<string>"}');
        return { ok: true, frame: { op: 'subscribe', id, channel, since: { offset: f.since.offset, epoch: f.since.epoch } } };
      }
      if (!('data' in f)) return fail('publish needs "data"');
      const key = f.idempotencyKey;
      if (key !== undefined && (typeof key !== 'string' || key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH)) {
        return fail(`"idempotencyKey" must be a string of 1–${MAX_IDEMPOTENCY_KEY_LENGTH} characters`);
      }
      const frame: PublishRequestFrame = { op: 'publish', id, channel, data: f.data };
      if (key !== undefined) frame.idempotencyKey = key;
      return { ok: true, frame };
    }
    default:
      return fail(typeof f.op === 'string' ? `unknown op ${JSON.stringify(f.op.slice(0, 32))}` : 'frame needs an "op"');
  }
}

/**
 * The WS `message` frame for a stored message JSON (which starts with `{"channel":`):
 * built by splicing, so a broadcast encodes once and never re-serialises `data`.
 */
export function encodeMessageFrame(messageJson: string): string {
  return '{"op":"message",' + messageJson.slice(1);
}
