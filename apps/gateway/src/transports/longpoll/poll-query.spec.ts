import { encodeCursor, SwitchboardError } from '@switchboard/protocol';
import { rawQueryOf } from '../http/channel-request';
import { PollQueryCache } from './poll-query';

describe('PollQueryCache (long-poll query strings, parsed once)', () => {
  const cursor = encodeCursor([
    ['a:1', { offset: 4, epoch: 'e1' }],
    ['b:2', { offset: 7, epoch: 'e2' }],
  ]);

  it('parses channels, cursor, timeout and token, and answers the same parse for the same string', () => {
    const cache = new PollQueryCache(25);
    const raw = rawQueryOf(`/v1/poll?channel=a%3A1&channel=b:2&channel=a:1&cursor=${cursor}&timeout=5&token=t#frag`);
    const parsed = cache.parse(raw);
    expect(parsed.problem).toBeUndefined();
    expect(parsed.token).toBe('t');
    expect(parsed.query).toMatchObject({ channels: ['a:1', 'b:2'], fresh: [], timeout: 5 });
    expect([...parsed.query!.cursor!]).toEqual([
      ['a:1', { offset: 4, epoch: 'e1' }],
      ['b:2', { offset: 7, epoch: 'e2' }],
    ]);
    expect(parsed.query!.since).toEqual([
      { offset: 4, epoch: 'e1' },
      { offset: 7, epoch: 'e2' },
    ]);
    expect(parsed.query!.key).toBe(`a:1\nb:2\n${cursor}`);
    expect(cache.parse(raw)).toBe(parsed);
    // Positions are shared between polls: they cannot be changed.
    expect(Object.isFrozen(parsed.query!.cursor!.get('a:1'))).toBe(true);
    expect(Object.isFrozen(parsed.query!.since[1])).toBe(true);
  });

  it('has no body key when a channel starts at its current position, and the default timeout', () => {
    const parsed = new PollQueryCache(25).parse(`channel=a:1&channel=c:3&cursor=${cursor}`);
    expect(parsed.query).toMatchObject({ channels: ['a:1', 'c:3'], fresh: ['c:3'], timeout: 25, key: undefined });
    expect(parsed.query!.since).toEqual([{ offset: 4, epoch: 'e1' }, undefined]);
    expect(new PollQueryCache(25).parse('channel=a:1').query).toMatchObject({ cursor: undefined, fresh: ['a:1'] });
  });

  it('returns the problem (with the token) instead of throwing, and remembers no invalid query', () => {
    const cache = new PollQueryCache(25);
    const cases: Array<[string, string]> = [
      ['token=t', 'at least one "channel" parameter is required'],
      ['channel=a..b&token=t', 'invalid channel "a..b"'],
      ['channel=a:1&cursor=%%%&token=t', 'cursor is not base64url'],
      ['channel=a:1&timeout=61&token=t', 'timeout must be an integer number of seconds from 0 to 60'],
    ];
    for (const [raw, message] of cases) {
      const parsed = cache.parse(raw);
      expect(parsed.query).toBeUndefined();
      expect(parsed.token).toBe('t');
      expect(parsed.problem).toBeInstanceOf(SwitchboardError);
      expect(parsed.problem!.code).toBe('bad_request');
      expect(parsed.problem!.message).toContain(message);
    }
    expect(cache.size).toBe(0);
  });

  it('stays within its size', () => {
    const cache = new PollQueryCache(25);
    for (let i = 0; i < 600; i++) cache.parse(`channel=c:${i}`);
    expect(cache.size).toBe(512);
  });
});
