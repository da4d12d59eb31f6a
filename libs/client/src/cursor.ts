import { Position } from './types';

// The cursor format of libs/protocol/src/cursor.ts (docs/PROTOCOL.md), written again here
// without Node's Buffer so the SDK runs in browsers; client.spec.ts checks they agree.

function toBase64Url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(value: string): string {
  const b64 = value.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** The SSE / long-poll cursor of these positions (docs/PROTOCOL.md "The cursor"). */
export function encodeCursor(positions: Iterable<[string, Position]>): string {
  const o: Record<string, [number, string]> = {};
  for (const [channel, p] of positions) o[channel] = [p.offset, p.epoch];
  return toBase64Url(JSON.stringify(o));
}

/** Positions in a cursor; malformed entries are skipped. */
export function decodeCursor(cursor: string): Map<string, Position> {
  const result = new Map<string, Position>();
  try {
    const o = JSON.parse(fromBase64Url(cursor)) as Record<string, unknown>;
    for (const [channel, entry] of Object.entries(o)) {
      if (Array.isArray(entry) && typeof entry[0] === 'number' && typeof entry[1] === 'string')
        result.set(channel, { offset: entry[0], epoch: entry[1] });
    }
  } catch {
    // Not a cursor.
  }
  return result;
}
