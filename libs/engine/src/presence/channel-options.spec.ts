import { ChannelOptionsResolver, NO_CHANNEL_OPTIONS, tracksPresence } from './channel-options';

describe('ChannelOptionsResolver', () => {
  const resolver = new ChannelOptionsResolver([
    { match: 'lobby', lifecycleEvents: true },
    { match: 'rooms:vip:*', presence: true, joinLeave: true, lifecycleEvents: true },
    { match: 'rooms:*', presence: true },
    { match: 'rooms:quiet' },
    { match: 'chat.*', joinLeave: true },
  ]);

  it('takes the first matching rule, exact or prefix, and defaults to all off', () => {
    expect(resolver.channelOptions('lobby')).toEqual({ presence: false, joinLeave: false, lifecycleEvents: true });
    expect(resolver.channelOptions('lobby2')).toBe(NO_CHANNEL_OPTIONS);
    expect(resolver.channelOptions('rooms:vip:1')).toEqual({ presence: true, joinLeave: true, lifecycleEvents: true });
    expect(resolver.channelOptions('rooms:1')).toEqual({ presence: true, joinLeave: false, lifecycleEvents: false });
    // An exact rule after a prefix that covers it never applies (the config refuses it; the resolver agrees).
    expect(resolver.channelOptions('rooms:quiet').presence).toBe(true);
    expect(resolver.channelOptions('chat.general').joinLeave).toBe(true);
    expect(resolver.channelOptions('chat')).toBe(NO_CHANNEL_OPTIONS);
    expect(tracksPresence(resolver.channelOptions('other'))).toBe(false);
  });

  it('answers the same from its cache, and after the cache starts over', () => {
    for (let i = 0; i < 25_000; i++) expect(resolver.channelOptions(`rooms:${i}`).presence).toBe(true);
    expect(resolver.channelOptions('rooms:1').presence).toBe(true);
    expect(resolver.channelOptions('lobby').lifecycleEvents).toBe(true);
  });

  it('an exact rule before a prefix wins', () => {
    const r = new ChannelOptionsResolver([{ match: 'a:1' }, { match: 'a:*', presence: true }]);
    expect(r.channelOptions('a:1')).toEqual(NO_CHANNEL_OPTIONS);
    expect(r.channelOptions('a:2').presence).toBe(true);
    expect(new ChannelOptionsResolver([]).channelOptions('x')).toBe(NO_CHANNEL_OPTIONS);
  });
});
