import fc from 'fast-check';
import { ChannelTable } from './channel-table';

type Op = { op: 'set'; key: string; value: number } | { op: 'delete'; key: string } | { op: 'clear' };

const key = fc.constantFrom('a', 'b', 'c', 'd');
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('set' as const), key, value: fc.integer() }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('delete' as const), key }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('clear' as const) }) },
);

function entries(table: ChannelTable<number>): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  table.forEach((value, channel) => out.push([channel, value]));
  return out;
}

describe('ChannelTable (a session’s channels)', () => {
  it('answers as a Map does after any sequence of sets, deletes and clears (order aside)', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
        const table = new ChannelTable<number>();
        const map = new Map<string, number>();
        for (const o of ops) {
          if (o.op === 'set') {
            table.set(o.key, o.value);
            map.set(o.key, o.value);
          } else if (o.op === 'delete') {
            expect(table.delete(o.key)).toBe(map.delete(o.key));
          } else {
            table.clear();
            map.clear();
          }
          expect(table.size).toBe(map.size);
          for (const k of ['a', 'b', 'c', 'd']) {
            expect(table.has(k)).toBe(map.has(k));
            expect(table.get(k)).toBe(map.get(k));
          }
          expect(entries(table).sort()).toEqual([...map].sort());
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it('keeps null values apart from absent ones (a subscribe in progress)', () => {
    const table = new ChannelTable<number | null>();
    table.set('a', null);
    table.set('b', null);
    expect(table.has('a') && table.has('b')).toBe(true);
    expect(table.get('a')).toBeNull();
    expect(table.get('c')).toBeUndefined();
  });

  it('lets forEach delete what it visits', () => {
    const table = new ChannelTable<number>();
    for (const [i, k] of ['a', 'b', 'c'].entries()) table.set(k, i);
    const seen: string[] = [];
    table.forEach((_, channel) => {
      seen.push(channel);
      table.delete(channel);
    });
    expect(seen.sort()).toEqual(['a', 'b', 'c']);
    expect(table.size).toBe(0);
  });

  it('calls forEach with thisArg, as Map.forEach does', () => {
    const table = new ChannelTable<number>();
    table.set('a', 1);
    table.set('b', 2);
    const sums = { total: 0 };
    table.forEach(function (this: { total: number }, value) {
      this.total += value;
    }, sums);
    expect(sums.total).toBe(3);
  });
});
