import { bearerToken } from './request-auth';

describe('bearerToken', () => {
  it('takes the token of the plain form and of any case and spacing', () => {
    expect(bearerToken('Bearer abc.def-ghi')).toBe('abc.def-ghi');
    expect(bearerToken('bearer abc')).toBe('abc');
    expect(bearerToken('BEARER \t abc  ')).toBe('abc');
    expect(bearerToken('Bearer  abc')).toBe('abc');
  });

  it('refuses what is not one bearer token', () => {
    for (const header of [undefined, '', 'Bearer', 'Bearer ', 'Basic abc', 'Bearer a b', 'Bearerabc', ' Bearer abc', 'Bearer a\u00a0b']) {
      expect(bearerToken(header)).toBeUndefined();
    }
  });
});
