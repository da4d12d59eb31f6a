import fc from 'fast-check';
import { channelNameError, matchesChannelPattern } from './channel';
import { decodeCursor, encodeCursor } from './cursor';
import { isSwitchboardError } from './errors';
import { parseClientFrame } from './frames';

/** At least 10,000 cases per parser per run; the seed is printed so a failure can be replayed. */
const RUNS = 10_000;
const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
beforeAll(() => console.log(`[fuzz] protocol parsers seed=${seed} (FUZZ_SEED=${seed} to replay)`));

const channelChar = fc.constantFrom(...'abcXYZ019_:@=./-'.split(''));
const validChannel = fc
  .array(channelChar, { minLength: 1, maxLength: 40 })
  .map((cs) => cs.join(''))
  .filter((c) => channelNameError(c) === undefined);
const anyJson = fc.jsonValue({ maxDepth: 3 });

describe('fuzz: protocol parsers', () => {
  it('parseClientFrame never throws and only accepts well-formed requests', () => {
    const frameLike = fc.record(
      {
        op: fc.oneof(fc.constantFrom('subscribe', 'unsubscribe', 'publish', 'ping', 'refresh', 'presence', 'nope'), fc.string()),
        token: fc.oneof(fc.string({ maxLength: 40 }), fc.integer(), fc.constant(null)),
        id: fc.oneof(fc.integer(), fc.double(), fc.string(), fc.constant(null)),
        channel: fc.oneof(validChannel, fc.string({ maxLength: 200 }), fc.integer()),
        since: fc.oneof(
          fc.record({ offset: fc.oneof(fc.integer(), fc.double(), fc.string()), epoch: fc.oneof(fc.string(), fc.integer()) }),
          anyJson,
        ),
        data: anyJson,
        idempotencyKey: fc.oneof(fc.string({ maxLength: 300 }), fc.integer()),
      },
      { requiredKeys: [] },
    );
    const input = fc.oneof(
      frameLike.map((f) => JSON.stringify(f)),
      fc.string({ maxLength: 300 }),
      anyJson.map((j) => JSON.stringify(j)),
    );
    fc.assert(
      fc.property(input, (text) => {
        const parsed = parseClientFrame(text);
        if (!parsed.ok) return typeof parsed.message === 'string' && parsed.message.length > 0;
        const f = parsed.frame;
        expect(Number.isSafeInteger(f.id)).toBe(true);
        if (f.op === 'refresh') expect(f.token.length).toBeGreaterThan(0);
        else if (f.op !== 'ping') expect(channelNameError(f.channel)).toBeUndefined();
        if (f.op === 'subscribe' && f.since) {
          expect(Number.isSafeInteger(f.since.offset) && f.since.offset >= 0).toBe(true);
          expect(typeof f.since.epoch).toBe('string');
        }
        return true;
      }),
      { numRuns: RUNS, seed },
    );
  });

  it('decodeCursor accepts only well-formed entries of the named channels and never throws anything but bad_request', () => {
    const entry = fc.oneof(
      fc.tuple(fc.nat(), fc.string({ minLength: 1, maxLength: 20 })),
      anyJson,
      fc.tuple(fc.integer({ min: -5, max: -1 }), fc.string()),
    );
    const cursor = fc.oneof(
      fc
        .dictionary(fc.oneof(validChannel, fc.string({ maxLength: 20 })), entry, { maxKeys: 5 })
        .map((o) => Buffer.from(JSON.stringify(o)).toString('base64url')),
      fc.string({ maxLength: 200 }),
      fc.base64String({ maxLength: 200 }),
    );
    fc.assert(
      fc.property(cursor, fc.array(validChannel, { minLength: 1, maxLength: 4 }), (c, wanted) => {
        try {
          const decoded = decodeCursor(c, new Set(wanted));
          for (const [channel, pos] of decoded) {
            expect(wanted).toContain(channel);
            expect(Number.isSafeInteger(pos.offset) && pos.offset >= 0).toBe(true);
          }
        } catch (err) {
          expect(isSwitchboardError(err, 'bad_request')).toBe(true);
        }
      }),
      { numRuns: RUNS, seed },
    );
  });

  it('a cursor round-trips, and entries for other channels never leak into the result', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(validChannel, fc.nat(), fc.string({ minLength: 1, maxLength: 16 })), { maxLength: 6 }),
        validChannel,
        (entries, wanted) => {
          const map = new Map(entries.map(([c, o, e]) => [c, { offset: o, epoch: e }] as const));
          const decoded = decodeCursor(encodeCursor(map), new Set([wanted]));
          expect([...decoded.keys()].every((k) => k === wanted)).toBe(true);
          if (map.has(wanted)) expect(decoded.get(wanted)).toEqual(map.get(wanted));
        },
      ),
      { numRuns: RUNS, seed },
    );
  });

  it('channel validation matches the documented grammar; patterns never grant more than their prefix', () => {
    const reference = (s: string): boolean =>
      /^[A-Za-z0-9_:@=./-]{1,128}$/.test(s) && !s.startsWith('.') && !s.endsWith('.') && !s.includes('..');
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 140 }), validChannel), fc.string({ maxLength: 20 }), (name, prefix) => {
        expect(channelNameError(name) === undefined).toBe(reference(name));
        if (matchesChannelPattern(prefix + '*', name)) expect(name.startsWith(prefix)).toBe(true);
        if (!prefix.endsWith('*') && matchesChannelPattern(prefix, name)) expect(name).toBe(prefix);
      }),
      { numRuns: RUNS, seed },
    );
  });
});
