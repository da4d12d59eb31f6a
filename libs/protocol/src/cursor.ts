import { isValidChannel } from './channel';
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
  for (const [channel, pos] of positions) json += (json.length > 1 ? ',' : '') + entryJson(channel, pos);
  return encodeBase64Url(json + '}');
}

/** `encodeCursor` of `channels[i]` at `positions[i]`, for callers that keep positions by index (no pairs made). */
export function encodePositions(channels: readonly string[], positions: readonly StreamPosition[]): string {
  let json = '{';
  for (let i = 0; i < channels.length; i++) json += (i > 0 ? ',' : '') + entryJson(channels[i], positions[i]);
  return encodeBase64Url(json + '}');
}

function entryJson(channel: string, pos: StreamPosition): string {
  return jsonString(channel) + ':[' + pos.offset + ',' + jsonString(pos.epoch) + ']';
}

/**
 * `JSON.stringify(s)` for a string, byte for byte; names and epochs need no escaping, and
 * checking that is cheaper than the serializer (measured: bench/cursor.mjs).
 */
function jsonString(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // Control characters, quote and backslash are escaped; lone surrogates too (ES2019).
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(s);
  }
  return '"' + s + '"';
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
    parsed = JSON.parse(decodeBase64Url(cursor));
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
    if (!isStreamPosition(position) || !isValidChannel(channel)) {
      throw new SwitchboardError('bad_request', `cursor entry for ${JSON.stringify(channel)} is malformed`);
    }
    result.set(channel, position);
  }
  return result;
}

// base64url of UTF-8 text with what every runtime has (browsers, Node, workers) and no
// Buffer, so the SDK shares this library. btoa/atob are native (simdutf in Node >= 22).

const utf8 = new TextEncoder();
/** Reused by isAscii: the SSE/long-poll hot path allocates no byte array per call. */
let scratch = new Uint8Array(256);

/** Whether every character of `text` is ASCII (then the text is its own UTF-8). */
function isAscii(text: string): boolean {
  // encodeInto is one native call (a regex test was 10x slower here); a non-ASCII
  // character writes 2+ bytes, so written === read === length only for ASCII.
  if (scratch.length < text.length) scratch = new Uint8Array(Math.max(text.length, 2 * scratch.length));
  const { read, written } = utf8.encodeInto(text, scratch);
  return read === text.length && written === text.length;
}

/** base64url (RFC 4648 section 5, no padding) of the UTF-8 bytes of `text`. */
export function encodeBase64Url(text: string): string {
  let binary = text;
  if (!isAscii(text)) {
    binary = '';
    const bytes = utf8.encode(text);
    for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  let b64 = btoa(binary);
  let end = b64.length;
  while (end > 0 && b64.charCodeAt(end - 1) === 61 /* = */) end--;
  if (end !== b64.length) b64 = b64.slice(0, end);
  if (b64.includes('+')) b64 = b64.replaceAll('+', '-');
  if (b64.includes('/')) b64 = b64.replaceAll('/', '_');
  return b64;
}

/**
 * The UTF-8 text of base64url `value`; padding is optional and, like Buffer and atob, the
 * standard alphabet's `+` `/` are accepted too. Throws on other characters and on a length
 * that no encoder writes (1 more than a multiple of 4). Invalid UTF-8 becomes U+FFFD.
 */
export function decodeBase64Url(value: string): string {
  let b64 = value;
  if (b64.includes('-')) b64 = b64.replaceAll('-', '+');
  if (b64.includes('_')) b64 = b64.replaceAll('_', '/');
  let end = b64.length;
  while (end > 0 && b64.charCodeAt(end - 1) === 61 /* = */) end--;
  const binary = atob(end === b64.length ? b64 : b64.slice(0, end));
  if (isAscii(binary)) return binary;
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return new TextDecoder().decode(bytes);
}
