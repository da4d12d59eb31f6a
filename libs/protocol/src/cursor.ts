import { channelNameError } from './channel';
import { SwitchboardError } from './errors';
import { isStreamPosition, StreamPosition } from './message';

/**
 * The cursor of SSE (`id:` / `Last-Event-ID`) and long-poll (SPEC "Client transports"):
 * `base64url(JSON.stringify({"<channel>":[<offset>,"<epoch>"], …}))`, the position after
 * the last message delivered on each channel.
 */
export type Cursor = Map<string, StreamPosition>;

/** Largest cursor accepted (128 channels × a long name and epoch fit well within it). */
export const MAX_CURSOR_LENGTH = 32 * 1024;

export function encodeCursor(positions: Iterable<readonly [string, StreamPosition]>): string {
  let json = '{';
  let first = true;
  for (const [channel, pos] of positions) {
    if (!first) json += ',';
    first = false;
    json += JSON.stringify(channel) + ':[' + pos.offset + ',' + JSON.stringify(pos.epoch) + ']';
  }
  json += '}';
  return Buffer.from(json, 'utf8').toString('base64url');
}

/**
 * Decodes a cursor, keeping only the channels in `wanted`: entries for other channels are
 * ignored even when malformed (SPEC), so a client can reuse one cursor for a subset.
 * Throws `bad_request` when the cursor itself, or an entry for a wanted channel, is malformed.
 */
export function decodeCursor(cursor: string, wanted: ReadonlySet<string>): Cursor {
  if (cursor.length > MAX_CURSOR_LENGTH) throw new SwitchboardError('bad_request', 'cursor is too long');
  if (!/^[A-Za-z0-9_-]*={0,2}$/.test(cursor)) throw new SwitchboardError('bad_request', 'cursor is not base64url');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new SwitchboardError('bad_request', 'cursor is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new SwitchboardError('bad_request', 'cursor must be an object of channel positions');
  }
  const result: Cursor = new Map();
  for (const channel of wanted) {
    if (!Object.prototype.hasOwnProperty.call(parsed, channel)) continue;
    const entry = (parsed as Record<string, unknown>)[channel];
    const position = Array.isArray(entry) && entry.length === 2 ? { offset: entry[0], epoch: entry[1] } : undefined;
    if (!isStreamPosition(position) || channelNameError(channel) !== undefined) {
      throw new SwitchboardError('bad_request', `cursor entry for ${JSON.stringify(channel)} is malformed`);
    }
    result.set(channel, position);
  }
  return result;
}
