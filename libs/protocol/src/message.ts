/** A position in one channel's stream: the offset of the last message seen, in an epoch. */
export interface StreamPosition {
  offset: number;
  epoch: string;
}

/**
 * A message as delivered to clients (SPEC "Channels"). `from` is only set for client
 * publishes, from the verified token. Field order is fixed: the engine builds this JSON
 * once, and consumers read `offset`/`epoch` from its head without a full parse.
 */
export interface ChannelMessage<T = unknown> {
  channel: string;
  offset: number;
  epoch: string;
  data: T;
  /** Event id (CloudEvent id for routed events). */
  id?: string;
  /** Event type (CloudEvent type for routed events). */
  type?: string;
  /** `sub` of the publishing client (client publishes only). */
  from?: string;
  /** Publish time, ms since the epoch. */
  ts: number;
}

/** Largest offset the protocol accepts (JSON numbers stay exact up to 2^53 - 1). */
export const MAX_OFFSET = Number.MAX_SAFE_INTEGER;

export function isStreamPosition(value: unknown): value is StreamPosition {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.offset === 'number' &&
    Number.isSafeInteger(v.offset) &&
    v.offset >= 0 &&
    typeof v.epoch === 'string' &&
    v.epoch.length > 0 &&
    v.epoch.length <= 64
  );
}
