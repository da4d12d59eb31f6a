import { z } from 'zod';
import { closest, configProblems, describeProblems, formatPath, knownKeys } from './config-issues';

const schema = z.strictObject({
  items: z.array(
    z.discriminatedUnion('kind', [
      z.strictObject({ kind: z.literal('a'), alpha: z.string(), shared: z.number().int().min(1).optional() }),
      z.strictObject({ kind: z.literal('b'), beta: z.array(z.string()).min(2), shared: z.number().optional() }),
    ]),
  ),
  mode: z.enum(['fast', 'safe']).default('safe'),
});

function problems(input: unknown): string {
  const parsed = schema.safeParse(input);
  if (parsed.success) return 'ok';
  return describeProblems(configProblems(schema, input, parsed.error));
}

describe('config problems', () => {
  it('formats paths as they are written in YAML/JSON', () => {
    expect(formatPath(['routes', 0, 'match', 'type'])).toBe('routes[0].match.type');
    expect(formatPath([1, 'secrets', 0], '')).toBe('[1].secrets[0]');
    expect(formatPath(['name'], 'sources[2]')).toBe('sources[2].name');
  });

  it('suggests the known key a misspelt one was meant to be, and does not also call that key missing', () => {
    expect(problems({ items: [{ kind: 'a', aplha: 'x' }] })).toBe('items[0].aplha: is not a known key; did you mean items[0].alpha?');
    expect(problems({ Items: [] })).toBe('Items: is not a known key; did you mean items?');
    // Keys of the variant the discriminator picks, not of every variant.
    expect(knownKeys(schema, ['items', 0], { items: [{ kind: 'b' }] })).toEqual(['kind', 'beta', 'shared']);
    expect(knownKeys(schema, ['items', 0], { items: [{}] })).toEqual(['kind', 'alpha', 'shared', 'beta']);
  });

  it('lists the known keys when nothing is close', () => {
    expect(problems({ items: [{ kind: 'b', beta: ['x', 'y'], colour: 1 }] })).toBe(
      'items[0].colour: is not a known key (known keys: kind, beta, shared)',
    );
  });

  it("says what is allowed in words, not zod's", () => {
    expect(problems({ items: [{ kind: 'b', beta: ['x'], shared: 'many' }], mode: 'quick' })).toBe(
      'items[0].beta: must list at least 2 items; items[0].shared: must be a number; mode: must be one of fast, safe',
    );
    expect(problems({ items: [{ kind: 'a', alpha: 1, shared: 0 }] })).toBe(
      'items[0].alpha: must be a string; items[0].shared: must be ≥ 1',
    );
    expect(problems({ items: [{ kind: 'a' }] })).toBe('items[0].alpha: is required');
    expect(problems({ items: 'x' })).toBe('items: must be a list');
  });

  it('takes a typo or two, or another case, as a misspelling, and nothing further off', () => {
    expect(closest('chanels', ['match', 'channels'])).toBe('channels');
    expect(closest('tyep', ['type', 'source'])).toBe('type');
    expect(closest('PUBLICURL', ['publicUrl'])).toBe('publicUrl');
    expect(closest('colour', ['match', 'channels'])).toBeUndefined();
    expect(closest('ab', ['xy'])).toBeUndefined();
  });
});
