import fc from 'fast-check';
import { channelNameError } from './channel';
import { decodeBase64Url, decodeCursor, encodeBase64Url, encodeCursor, encodePositions } from './cursor';
import { StreamPosition } from './message';

// The cursor code as it was when it used Node's Buffer (before the protocol library had to
// run in browsers). Cursors it wrote are in clients' hands (EventSource ids, stored poll
// cursors): they must keep decoding to the same positions.
function bufferEncodeCursor(positions: Iterable<readonly [string, StreamPosition]>): string {
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
const bufferDecode = (cursor: string): string => Buffer.from(cursor, 'base64url').toString('utf8');

const RUNS = 5_000;
const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
beforeAll(() => console.log(`[fuzz] cursor compat seed=${seed} (FUZZ_SEED=${seed} to replay)`));

const channel = fc
  .array(fc.constantFrom(...'abcXYZ019_:@=./-'.split('')), { minLength: 1, maxLength: 40 })
  .map((cs) => cs.join(''))
  .filter((c) => channelNameError(c) === undefined);
// Epochs are engine-made ASCII, but the format takes any string: include every code point,
// lone surrogates too (both encoders write them as U+FFFD).
const epoch = fc.oneof(fc.string({ minLength: 1, maxLength: 16 }), fc.string({ unit: 'binary', minLength: 1, maxLength: 16 }));
const positions = fc.array(fc.tuple(channel, fc.record({ offset: fc.nat(), epoch })), { maxLength: 6 });

describe('cursor without Buffer', () => {
  it('writes the same bytes as the Buffer-based encoder, and decodes its cursors to the same positions', () => {
    fc.assert(
      fc.property(positions, (entries) => {
        const old = bufferEncodeCursor(entries);
        expect(encodeCursor(entries)).toBe(old);
        expect(
          encodePositions(
            entries.map(([c]) => c),
            entries.map(([, p]) => p),
          ),
        ).toBe(old);
        const wanted = new Set(entries.map(([c]) => c));
        const expected = new Map<string, StreamPosition>();
        const parsed = JSON.parse(bufferDecode(old)) as Record<string, [number, string]>;
        for (const c of wanted) expected.set(c, { offset: parsed[c][0], epoch: parsed[c][1] });
        expect(decodeCursor(old, wanted)).toEqual(expected);
      }),
      { numRuns: RUNS, seed },
    );
  });

  it('decodes any base64url text as Buffer did, and rejects the lengths no encoder writes', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.split('');
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...alphabet), { maxLength: 64 }), fc.integer({ min: 0, max: 2 }), (chars, pad) => {
        const text = chars.join('');
        const padded = text + '='.repeat(pad);
        if (text.length % 4 === 1) expect(() => decodeBase64Url(padded)).toThrow();
        else expect(decodeBase64Url(padded)).toBe(bufferDecode(padded));
      }),
      { numRuns: RUNS, seed },
    );
  });

  it('round-trips any text through base64url', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), (text) => {
        const encoded = encodeBase64Url(text);
        expect(encoded).toMatch(/^[A-Za-z0-9_-]*$/);
        expect(encoded).toBe(Buffer.from(text, 'utf8').toString('base64url'));
        expect(decodeBase64Url(encoded)).toBe(text);
      }),
      { numRuns: RUNS, seed },
    );
  });

  it('decodes a cursor from the documentation', () => {
    // docs/PROTOCOL.md, long-poll example.
    expect(decodeCursor('eyJvcmRlcnM6NDIiOlsxNiwiazN4OVFhMWIiXX0', new Set(['orders:42']))).toEqual(
      new Map([['orders:42', { offset: 16, epoch: 'k3x9Qa1b' }]]),
    );
    expect(encodeCursor([['orders:42', { offset: 16, epoch: 'k3x9Qa1b' }]])).toBe('eyJvcmRlcnM6NDIiOlsxNiwiazN4OVFhMWIiXX0');
  });
});
