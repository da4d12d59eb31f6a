import { jsonDepthExceeds } from './json-body.middleware';

const deep = (text: string, max: number): boolean => jsonDepthExceeds(Buffer.from(text), max);

describe('jsonDepthExceeds', () => {
  it('counts nested arrays and objects, not scalars', () => {
    expect(deep('1', 0)).toBe(false);
    expect(deep('"x"', 0)).toBe(false);
    expect(deep('[]', 0)).toBe(true);
    expect(deep('[]', 1)).toBe(false);
    expect(deep('{"a":[{"b":[]}]}', 4)).toBe(false);
    expect(deep('{"a":[{"b":[]}]}', 3)).toBe(true);
    // Siblings do not add up: the deepest branch counts.
    expect(deep('[[1],[2],[[3]]]', 3)).toBe(false);
    expect(deep('[[1],[2],[[3]]]', 2)).toBe(true);
  });

  it('ignores brackets inside strings, escaped quotes and backslashes included', () => {
    expect(deep('{"a":"[[[[{{{{"}', 1)).toBe(false);
    expect(deep('["\\"[[[", "\\\\", "[["]', 1)).toBe(false);
    expect(deep('["\\\\"]', 1)).toBe(false);
    expect(deep('["\\\\", [[]]]', 2)).toBe(true);
    // Multi-byte UTF-8 never looks like a bracket.
    expect(deep(JSON.stringify({ ünïcødé: '〔［｛' }), 1)).toBe(false);
  });

  it('scans a million levels without recursion', () => {
    const text = '['.repeat(1_000_000) + ']'.repeat(1_000_000);
    expect(deep(text, 64)).toBe(true);
    expect(deep(text, 1_000_000)).toBe(false);
  });
});
