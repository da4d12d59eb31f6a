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
/** In-band token refresh (SPEC "Token lifetime and refresh"): same `sub`, new expiry and permissions. */
export interface RefreshRequest {
  op: 'refresh';
  id: number;
  token: string;
}
/** Who is in a channel (SPEC "Presence"). */
export interface PresenceRequest {
  op: 'presence';
  id: number;
  channel: string;
}
export type ClientFrame = SubscribeRequest | UnsubscribeRequest | PublishRequestFrame | PingRequest | RefreshRequest | PresenceRequest;
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
/**
 * The reply to an `unsubscribe` (with its `id`), or the server ending a subscription on its
 * own (no `id`, with a `reason`: a refreshed token no longer allows the channel).
 */
export interface UnsubscribedReply {
  op: 'unsubscribed';
  id?: number;
  channel: string;
  reason?: UnsubscribeReason;
}
/** Why the server ended a subscription. */
export type UnsubscribeReason = 'forbidden';
export interface RefreshedReply {
  op: 'refreshed';
  id: number;
  /** The new token's expiry, ms since the epoch; null when it has none. */
  expiresAt: number | null;
}
/** A member of a channel: one user, however many connections it has there. */
export interface PresenceMember {
  user: string;
  info?: Record<string, unknown>;
  connections: number;
}
export interface PresenceReply {
  op: 'presence';
  id: number;
  channel: string;
  /** Members (users), exact. */
  count: number;
  /** Connections of all members, exact. */
  connections: number;
  /** At most PRESENCE_MAX_MEMBERS of them; `truncated` when there are more. */
  members: PresenceMember[];
  truncated?: true;
}
/** A user's first connection joined the channel (channels with `joinLeave`). */
export interface JoinNotice {
  op: 'join';
  channel: string;
  user: string;
  info?: Record<string, unknown>;
}
/** A user's last connection left the channel. */
export interface LeaveNotice {
  op: 'leave';
  channel: string;
  user: string;
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
  | SubscribedReply
  | UnsubscribedReply
  | AckReply
  | PongReply
  | RefreshedReply
  | PresenceReply
  | ErrorReply
  | RecoveryNotice
  | JoinNotice
  | LeaveNotice
  | MessageFrame;

/** Longest idempotency key accepted. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 256;

/** Longest token accepted in a `refresh` (a JWT with hundreds of patterns fits well within it). */
export const MAX_TOKEN_LENGTH = 16 * 1024;

export type ParsedFrame = { ok: true; frame: ClientFrame } | { ok: false; id?: number; message: string };

function isRequestId(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}

const CLIENT_OPS: ReadonlySet<string> = new Set<ClientOp>(['subscribe', 'unsubscribe', 'publish', 'ping', 'refresh', 'presence']);

/**
 * Parses and validates one client text frame of the WebSocket protocol. Never throws: a
 * bad frame yields the reason (and the request id when one could be read) for a
 * `bad_request` error reply.
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
  if (typeof f.op !== 'string' || !CLIENT_OPS.has(f.op)) {
    return { ok: false, id, message: typeof f.op === 'string' ? `unknown op ${JSON.stringify(f.op.slice(0, 32))}` : 'frame needs an "op"' };
  }
  return readClientRequest(f.op as ClientOp, f, id);
}

/**
 * Validates the fields of one request, whatever carried it: a WebSocket frame, or a
 * Socket.IO event (whose name is the op and whose ack replaces the id). Every transport
 * checks requests here, so a rule (an idempotency key's length, a token's size) exists once.
 */
export function readClientRequest(op: ClientOp, body: unknown, id = 0): ParsedFrame {
  const fail = (message: string): ParsedFrame => ({ ok: false, id, message });
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return fail(`${op} needs a JSON object`);
  const f = body as Record<string, unknown>;
  switch (op) {
    case 'ping':
      return { ok: true, frame: { op: 'ping', id } };
    case 'refresh': {
      const token = f.token;
      if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
        return fail(`refresh needs "token": a string of 1–${MAX_TOKEN_LENGTH} characters`);
      }
      return { ok: true, frame: { op: 'refresh', id, token } };
    }
    case 'subscribe':
    case 'unsubscribe':
    case 'publish':
    case 'presence': {
      const problem = channelNameError(f.channel);
      if (problem !== undefined) return fail(`invalid channel: ${problem}`);
      const channel = f.channel as string;
      if (op === 'unsubscribe' || op === 'presence') return { ok: true, frame: { op, id, channel } };
      if (op === 'subscribe') {
        if (f.since === undefined || f.since === null) return { ok: true, frame: { op: 'subscribe', id, channel } };
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
  }
}

/**
 * The WS `message` frame for a stored message JSON (which starts with `{"channel":`):
 * built by splicing, so a broadcast encodes once and never re-serialises `data`.
 */
export function encodeMessageFrame(messageJson: string): string {
  return '{"op":"message",' + messageJson.slice(1);
}
