import { routesFileSchema } from '@switchboard/config';
import type { CloudEvent } from '@switchboard/engine';
import { EventRouter, globToRegExp } from './event-router';

function event(fields: Partial<CloudEvent> & { data?: unknown }): CloudEvent {
  return { specversion: '1.0', id: 'e1', source: 'webhook/gh', type: 'github.push', ...fields };
}

function router(yamlLike: unknown): EventRouter {
  return new EventRouter(routesFileSchema.parse(yamlLike).routes);
}

describe('EventRouter', () => {
  const rules = router({
    routes: [
      { match: { type: 'github.push', source: 'webhook/gh' }, channels: ['repo:{data.repository.full_name}'] },
      { match: { type: 'stripe.payment_intent.*' }, channels: ['payments:{data.data.object.customer}'] },
      { match: { type: '*' }, channels: ['audit:{source}', 'audit:all'] },
      { match: { source: 'webhook/gh' }, channels: ['gh:{type}:{id}'] },
    ],
  });

  it('uses the channels attribute when present, and no rule', () => {
    const d = rules.route(event({ channels: ' orders:1, user:alice ,orders:1,, ' }));
    expect(d).toEqual({ channels: ['orders:1', 'user:alice'], via: 'attribute', skips: [] });
  });

  it('skips invalid entries of the attribute and counts them', () => {
    const d = rules.route(event({ channels: 'orders:1,bad channel,a..b' }));
    expect(d.channels).toEqual(['orders:1']);
    expect(d.skips.map((s) => s.reason)).toEqual(['invalid_channel', 'invalid_channel']);
    expect(rules.route(event({ channels: ['orders:1'] as unknown as string })).skips[0].detail).toMatch(/comma-separated string/);
  });

  it('falls back to the rules when the attribute is empty, and applies the union of every matching rule', () => {
    const d = rules.route(event({ channels: '  ', data: { repository: { full_name: 'acme/api' } } }));
    expect(d.via).toBe('rules');
    expect(d.channels).toEqual(['repo:acme/api', 'audit:webhook/gh', 'audit:all', 'gh:github.push:e1']);
  });

  it('matches type with * across dots, and source exactly', () => {
    const d = rules.route(
      event({ type: 'stripe.payment_intent.succeeded', source: 'webhook/stripe', data: { data: { object: { customer: 'cus_42' } } } }),
    );
    expect(d.channels).toEqual(['payments:cus_42', 'audit:webhook/stripe', 'audit:all']);
    expect(rules.route(event({ type: 'stripe.payment_intent', source: 'x' })).channels).toEqual(['audit:x', 'audit:all']);
  });

  it('skips a whole rule whose template path is missing or gives an invalid channel, and says why', () => {
    const d = rules.route(event({ data: { repository: { full_name: 'has space' } } }));
    expect(d.channels).toEqual(['audit:webhook/gh', 'audit:all', 'gh:github.push:e1']);
    expect(d.skips).toEqual([
      { reason: 'invalid_channel', where: 'routes[0].channels[0]', detail: expect.stringMatching(/"repo:has space"/) },
    ]);
    const missing = rules.route(event({ data: {} }));
    expect(missing.skips).toEqual([
      { reason: 'missing_path', where: 'routes[0].channels[0]', detail: expect.stringMatching(/data.repository.full_name/) },
    ]);
    const both = router({ routes: [{ match: { type: '*' }, channels: ['a:{data.x}', 'b:{data.y}'] }] }).route(event({ data: { x: 1 } }));
    expect(both.channels).toEqual([]);
  });

  it('fills placeholders with strings, numbers and booleans only, and own properties only', () => {
    const r = router({ routes: [{ match: { type: '*' }, channels: ['v:{data.v}'] }] });
    const fill = (v: unknown): string[] => r.route(event({ data: { v } })).channels;
    expect(fill('x')).toEqual(['v:x']);
    expect(fill(42)).toEqual(['v:42']);
    expect(fill(true)).toEqual(['v:true']);
    expect(fill(null)).toEqual([]);
    expect(fill({ a: 1 })).toEqual([]);
    expect(fill(['a'])).toEqual([]);
    expect(
      router({ routes: [{ match: { type: '*' }, channels: ['v:{data.items.1.id}'] }] }).route(
        event({ data: { items: [{ id: 'a' }, { id: 'b' }] } }),
      ).channels,
    ).toEqual(['v:b']);
    const proto = router({ routes: [{ match: { type: '*' }, channels: ['v:{data.__proto__.x}', 'w:{data.constructor}'] }] });
    expect(proto.route(event({ data: {} })).channels).toEqual([]);
  });

  it('returns no channel when nothing matches', () => {
    expect(router({ routes: [] }).route(event({}))).toEqual({ channels: [], via: 'rules', skips: [] });
  });

  it('builds anchored globs with literal regex characters', () => {
    expect(globToRegExp('a.b').test('aXb')).toBe(false);
    expect(globToRegExp('a.*').test('a.b.c')).toBe(true);
    expect(globToRegExp('*.created').test('x.y.created')).toBe(true);
    expect(globToRegExp('*.created').test('x.created.no')).toBe(false);
    expect(globToRegExp('(x)+').test('(x)+')).toBe(true);
  });
});
