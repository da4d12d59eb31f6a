import { channelNameError as gatewayRule } from '@switchboard/protocol';
import fc from 'fast-check';
import { channelNameError } from './channel-name';

/** The publisher carries its own copy of the channel rule (it has no Switchboard dependency): it must agree. */
describe('publisher channel-name rule', () => {
  it('agrees with the protocol library on every name', () => {
    const chars = fc.constantFrom(...'abcXYZ019_:@=./-. *,#é'.split(''));
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: chars, maxLength: 140 }), fc.string({ maxLength: 10 })), (name) => {
        expect(channelNameError(name)).toBe(gatewayRule(name));
      }),
      { numRuns: 2000 },
    );
    for (const edge of ['', '.a', 'a.', 'a..b', 'x'.repeat(128), 'x'.repeat(129), 'orders:42', 'repo:acme/api']) {
      expect(channelNameError(edge)).toBe(gatewayRule(edge));
    }
  });
});
